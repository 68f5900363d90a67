package httpserve_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
)

// TestRequestCosts counts the calls each kind of request makes on the
// provider (every call, through faults.WithObserver): a plain GET, with
// or without one range, is one Get; a request whose answer needs the
// size or the Info first adds one Stat, and then reads only the ranges it
// serves, each with a Get of its own.
func TestRequestCosts(t *testing.T) {
	ctx := context.Background()
	data := payload(1 << 20)
	for _, tc := range []struct {
		name        string
		method      string
		ctype       string // stored type; "" to be sniffed
		hdr         map[string]string
		status      int
		stats, gets int64
	}{
		{"whole", "GET", "video/mp4", nil, 200, 0, 1},
		{"range", "GET", "video/mp4", map[string]string{"Range": "bytes=500000-565535"}, 206, 0, 1},
		{"open range", "GET", "video/mp4", map[string]string{"Range": "bytes=500000-"}, 206, 0, 1},
		{"range from 0", "GET", "video/mp4", map[string]string{"Range": "bytes=0-999"}, 206, 0, 1},
		{"suffix range", "GET", "video/mp4", map[string]string{"Range": "bytes=-1000"}, 206, 1, 1},
		{"three ranges", "GET", "video/mp4", map[string]string{"Range": "bytes=0-9,500000-500099,-10"}, 206, 1, 3},
		{"range past the end", "GET", "video/mp4", map[string]string{"Range": "bytes=2000000-"}, 416, 1, 1},
		{"If-Range and range", "GET", "video/mp4", map[string]string{"Range": "bytes=500000-500099", "If-Range": `"other"`}, 200, 1, 1},
		{"If-None-Match", "GET", "video/mp4", map[string]string{"If-None-Match": `"other"`}, 200, 1, 1},
		{"HEAD", "HEAD", "video/mp4", nil, 200, 1, 0},
		{"whole, sniffed", "GET", "", nil, 200, 0, 1},
		{"range, sniffed", "GET", "", map[string]string{"Range": "bytes=500000-565535"}, 206, 0, 2},
		{"range from 0, sniffed", "GET", "", map[string]string{"Range": "bytes=0-999"}, 206, 0, 1},
		{"HEAD, sniffed", "HEAD", "", nil, 200, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			calls := map[faults.Op]int64{}
			m := memory.New()
			t.Cleanup(func() { m.Close() })
			_, err := m.Put(ctx, "v", bytes.NewReader(data), &storage.PutOptions{ContentType: tc.ctype})
			require.NoError(t, err)
			p := faults.Wrap(m, faults.WithObserver(func(c faults.Call) {
				if !c.Done {
					mu.Lock()
					calls[c.Op]++
					mu.Unlock()
				}
			}))
			h := httpserve.New(p, &httpserve.Options{Prefix: "/"})
			resp := serve(h, tc.method, "/v", tc.hdr)
			require.Equal(t, tc.status, resp.Code)
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, tc.stats, calls[faults.OpStat], "Stats")
			assert.Equal(t, tc.gets, calls[faults.OpGet], "Gets")
		})
	}
}

func serve(h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// replaceAfterStat replaces the object with other bytes of the same size
// once the first Stat has answered: the object changes between the Stat
// that gives a response its headers and the Get of its bytes.
type replaceAfterStat struct {
	storage.Provider
	once sync.Once
	with []byte
}

func (p *replaceAfterStat) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := p.Provider.Stat(ctx, key)
	p.once.Do(func() {
		if _, perr := p.Provider.Put(ctx, key, bytes.NewReader(p.with), &storage.PutOptions{ContentType: info.ContentType}); perr != nil {
			err = perr
		}
	})
	return info, err
}

// A response never sends the bytes of one version of an object under the
// headers (ETag, Content-Length) of another: when the object is replaced
// between the Stat and the Get, the answer is a 503 when no header is
// sent yet, and a body cut short otherwise.
func TestObjectReplacedMidRequestIsNotMixed(t *testing.T) {
	ctx := context.Background()
	old, replacement := payload(100_000), bytes.Repeat([]byte{'Z'}, 100_000)
	for _, tc := range []struct {
		name   string
		method string
		ctype  string
		hdr    map[string]string
		status int
	}{
		{"HEAD, sniffed", "HEAD", "", nil, 503},
		{"conditional range", "GET", "video/mp4", map[string]string{"Range": "bytes=5000-5999", "If-None-Match": `"other"`}, 206},
		{"three ranges", "GET", "video/mp4", map[string]string{"Range": "bytes=0-9,500-599,-10"}, 206},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memory.New()
			t.Cleanup(func() { m.Close() })
			info, err := m.Put(ctx, "v", bytes.NewReader(old), &storage.PutOptions{ContentType: tc.ctype})
			require.NoError(t, err)
			h := httpserve.New(&replaceAfterStat{Provider: m, with: replacement}, &httpserve.Options{Prefix: "/"})
			resp := serve(h, tc.method, "/v", tc.hdr)
			require.Equal(t, tc.status, resp.Code)
			if tc.status != 503 {
				assert.Equal(t, info.ETag, resp.Header().Get("ETag"))
				assert.NotContains(t, resp.Body.String(), "Z", "bytes of the new object under the old one's headers")
				if cl := resp.Header().Get("Content-Length"); cl != "" {
					assert.NotEqual(t, cl, strconv.Itoa(resp.Body.Len()), "the body is cut short")
				}
			}
		})
	}
}

// fileWriter is a ResponseWriter with a ReadFrom, as net/http's is, that
// records what it is handed: a local file reaches it as the file itself
// (under an io.LimitedReader), which a socket sends with sendfile(2).
type fileWriter struct {
	*httptest.ResponseRecorder
	files int // ReadFroms of an *os.File
}

func (w *fileWriter) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok {
		if _, ok := lr.R.(*os.File); ok {
			w.files++
		}
	}
	return io.Copy(writerOnly{w.ResponseRecorder}, src)
}

type writerOnly struct{ io.Writer }

// A whole local object, and a range of one, go to the ResponseWriter as
// the open file, so that the socket copies them with sendfile(2).
func TestLocalFileReachesTheWriterAsAFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p, err := local.New(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	data := payload(1 << 20)
	_, err = p.Put(ctx, "v.mp4", bytes.NewReader(data), &storage.PutOptions{ContentType: "video/mp4"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain.bin"), data, 0o644)) // no type: sniffed
	h := httpserve.New(p, &httpserve.Options{Prefix: "/"})
	for _, tc := range []struct {
		key, rng string
		want     []byte
	}{
		{"v.mp4", "", data},
		{"v.mp4", "bytes=500000-565535", data[500000:565536]},
		{"plain.bin", "", data},
	} {
		t.Run(tc.key+" "+tc.rng, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/"+tc.key, nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			w := &fileWriter{ResponseRecorder: httptest.NewRecorder()}
			h.ServeHTTP(w, req)
			require.Less(t, w.Code, 300)
			require.Equal(t, tc.want, w.Body.Bytes())
			assert.Positive(t, w.files, "the file reached the writer")
		})
	}
}
