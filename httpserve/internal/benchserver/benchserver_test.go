package benchserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestServersServeTheSameBytes checks what BenchmarkServe and
// scripts/serve-bench.sh measure: every server, FileServer and httpserve over each store and
// tree, answers the JPEG whole, a range of the MP4 and the whole MP4 with
// the same bytes and media type, so the benchmark compares like with like.
func TestServersServeTheSameBytes(t *testing.T) {
	for _, c := range []struct {
		mode  string
		plain bool
	}{{"fs", false}, {"local", false}, {"local", true}, {"tiered", false}, {"tiered", true}, {"tiered-noverify", false}} {
		t.Run(fmt.Sprintf("%s/plain=%v", c.mode, c.plain), func(t *testing.T) {
			h, _, closeStore, err := New(c.mode, t.TempDir(), c.plain)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore()
			srv := httptest.NewServer(h)
			defer srv.Close()
			want := Files()
			big := want[Video]
			for _, g := range []struct {
				path, rng, ctype string
				status           int
				want             []byte
			}{
				{Image, "", "image/jpeg", http.StatusOK, want[Image]},
				{Video, "bytes=33554432-33619967", "video/mp4", http.StatusPartialContent, big[32<<20 : 32<<20+64<<10]},
				{Video, "", "video/mp4", http.StatusOK, big},
			} {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/media/"+g.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if g.rng != "" {
					req.Header.Set("Range", g.rng)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != g.status || resp.Header.Get("Content-Type") != g.ctype || !bytes.Equal(got, g.want) {
					t.Errorf("GET %s (Range %q): %d %q, %d bytes (same: %v); want %d %q, %d bytes",
						g.path, g.rng, resp.StatusCode, resp.Header.Get("Content-Type"), len(got), bytes.Equal(got, g.want), g.status, g.ctype, len(g.want))
				}
			}
		})
	}
}

// TestNewRefusesBadInput: no directory, an unknown mode, and a
// directory that holds something (which the server would write into).
func TestNewRefusesBadInput(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mode, dir string }{{"fs", ""}, {"nginx", t.TempDir()}, {"local", full}} {
		if _, _, _, err := New(c.mode, c.dir, false); err == nil {
			t.Errorf("New(%q, %q) did not fail", c.mode, c.dir)
		}
	}
	if b, err := os.ReadFile(filepath.Join(full, "keep")); err != nil || string(b) != "mine" {
		t.Errorf("the file in the directory given: %q, %v", b, err)
	}
}
