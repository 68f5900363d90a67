package iofs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/strata-storage/strata/iofs"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

var tree = map[string]string{
	"index.html":               "<h1>hi</h1>",
	"media/a.jpg":              "jpeg bytes",
	"media/a.jpg.thumb":        "thumb",
	"media/b/c/d.png":          "png bytes",
	"media/b/e.txt":            "e",
	"media.txt":                "a file beside a directory of almost its name",
	"local_content/ab/cd/efgh": "synapse layout",
}

func fill(t *testing.T, p storage.Provider) {
	t.Helper()
	for k, v := range tree {
		if _, err := p.Put(context.Background(), k, strings.NewReader(v), nil); err != nil {
			t.Fatal(err)
		}
	}
}

func providers(t *testing.T) map[string]storage.Provider {
	l, err := local.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return map[string]storage.Provider{"memory": memory.New(), "local": l}
}

func TestFSPassesFstest(t *testing.T) {
	for name, p := range providers(t) {
		t.Run(name, func(t *testing.T) {
			fill(t, p)
			fsys := iofs.New(context.Background(), p)
			var files []string
			for k := range tree {
				files = append(files, k)
			}
			if err := fstest.TestFS(fsys, files...); err != nil {
				t.Fatal(err)
			}
			sub, err := fs.Sub(fsys, "media/b")
			if err != nil {
				t.Fatal(err)
			}
			if err := fstest.TestFS(sub, "c/d.png", "e.txt"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFSErrors(t *testing.T) {
	p := memory.New()
	fill(t, p)
	fsys := iofs.New(context.Background(), p)
	for _, name := range []string{"nope", "media/nope", "media/b/c/d.png/x", `media\a.jpg`} {
		if _, err := fsys.Open(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q): %v, want fs.ErrNotExist", name, err)
		}
		if _, err := fs.Stat(fsys, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q): %v, want fs.ErrNotExist", name, err)
		}
	}
	for _, name := range []string{"/index.html", "../x", "media/", ""} {
		if _, err := fsys.Open(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v, want fs.ErrInvalid", name, err)
		}
	}
	if _, err := fs.ReadFile(fsys, "media"); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a directory: %v", err)
	}
	p.Close()
	if _, err := fsys.Open("index.html"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Open after the provider was closed: %v", err)
	}
}

// ranges records the byte ranges read through it.
type ranges struct {
	storage.Provider
	mu  sync.Mutex
	got []storage.Range
}

func (r *ranges) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	r.mu.Lock()
	rg := storage.Range{}
	if opts != nil && opts.Range != nil {
		rg = *opts.Range
	}
	r.got = append(r.got, rg)
	r.mu.Unlock()
	return r.Provider.Get(ctx, key, opts)
}

func TestFileServerFSServesARangeWithoutReadingTheStart(t *testing.T) {
	ctx := context.Background()
	video := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	rp := &ranges{Provider: memory.New()}
	if _, err := rp.Put(ctx, "v.mp4", bytes.NewReader(video), nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServerFS(iofs.New(ctx, rp)))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/v.mp4", nil)
	req.Header.Set("Range", "bytes=15000000-15000099")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, video[15000000:15000100]) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	// The open reads nothing; the range is one ranged Get at its start.
	if len(rp.got) != 1 || rp.got[0].Offset != 15000000 {
		t.Fatalf("Gets made: %v; want one ranged Get at 15000000", rp.got)
	}
}
