package httpserve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/internal/testlog"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// recorder wraps a provider and records the range of every Get.
type recorder struct {
	storage.Provider
	mu     sync.Mutex
	ranges []storage.Range // {0,0} for a whole-object Get
	stats  atomic.Int64
}

func (r *recorder) Stat(ctx context.Context, key string) (storage.Info, error) {
	r.stats.Add(1)
	return r.Provider.Stat(ctx, key)
}

func (r *recorder) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	r.mu.Lock()
	var rg storage.Range
	if opts != nil && opts.Range != nil {
		rg = *opts.Range
	}
	r.ranges = append(r.ranges, rg)
	r.mu.Unlock()
	return r.Provider.Get(ctx, key, opts)
}

func (r *recorder) gets() []storage.Range {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]storage.Range(nil), r.ranges...)
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

type fixture struct {
	rec  *recorder
	h    *httpserve.Handler
	data []byte
	info storage.Info
}

func newFixture(t *testing.T, opts *httpserve.Options, contentType string, data []byte) *fixture {
	t.Helper()
	m := memory.New()
	t.Cleanup(func() { m.Close() })
	info, err := m.Put(context.Background(), "v/clip.mp4", bytes.NewReader(data), &storage.PutOptions{ContentType: contentType})
	require.NoError(t, err)
	rec := &recorder{Provider: m}
	if opts == nil {
		opts = &httpserve.Options{}
	}
	if opts.Prefix == "" {
		opts.Prefix = "/media/"
	}
	return &fixture{rec: rec, h: httpserve.New(rec, opts), data: data, info: info}
}

func (f *fixture) do(t *testing.T, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func TestGetWholeObject(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(10000))
	resp := f.do(t, "GET", "/media/v/clip.mp4", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, f.data, body(t, resp))
	assert.Equal(t, "10000", resp.Header.Get("Content-Length"))
	assert.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	assert.Equal(t, "bytes", resp.Header.Get("Accept-Ranges"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, httpserve.DefaultMediaContentSecurityPolicy, resp.Header.Get("Content-Security-Policy"))
	assert.NotEmpty(t, resp.Header.Get("ETag"))
	assert.True(t, strings.HasPrefix(resp.Header.Get("ETag"), `"`))
	lm, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	require.NoError(t, err)
	assert.WithinDuration(t, f.info.ModTime, lm, time.Second)
	assert.Empty(t, resp.Header.Get("Content-Disposition"), "video is inline-safe")
}

func TestHeadReadsNoBody(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(10000))
	resp := f.do(t, "HEAD", "/media/v/clip.mp4", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "10000", resp.Header.Get("Content-Length"))
	assert.Empty(t, body(t, resp))
	assert.Empty(t, f.rec.gets(), "HEAD must not read the object")
}

func TestSingleRangeIsARangedGet(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(100000))
	for _, tc := range []struct {
		hdr        string
		start, end int64 // inclusive
	}{
		{"bytes=0-99", 0, 99},
		{"bytes=5000-5999", 5000, 5999},
		{"bytes=99000-", 99000, 99999},
		{"bytes=-500", 99500, 99999},
		{"bytes=99990-200000", 99990, 99999},
	} {
		t.Run(tc.hdr, func(t *testing.T) {
			before := len(f.rec.gets())
			resp := f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": tc.hdr})
			require.Equal(t, 206, resp.StatusCode)
			assert.Equal(t, fmt.Sprintf("bytes %d-%d/100000", tc.start, tc.end), resp.Header.Get("Content-Range"))
			assert.Equal(t, f.data[tc.start:tc.end+1], body(t, resp))
			gets := f.rec.gets()[before:]
			require.Len(t, gets, 1)
			assert.Equal(t, tc.start, gets[0].Offset)
			// The provider is asked for the range the client asked for,
			// which it clips to the object (a Get is made before the size
			// is known): no byte outside the range is read.
			_, n, err := storage.CheckRange(&gets[0], int64(len(f.data)))
			require.NoError(t, err)
			assert.Equal(t, tc.end-tc.start+1, n, "the provider must be asked for exactly the range")
		})
	}
}

func TestMultipleRanges(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(50000))
	resp := f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": "bytes=0-9,20000-20099,-10"})
	require.Equal(t, 206, resp.StatusCode)
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "multipart/byteranges", mt)
	mr := multipart.NewReader(resp.Body, params["boundary"])
	want := [][2]int{{0, 10}, {20000, 20100}, {49990, 50000}}
	for i, w := range want {
		part, err := mr.NextPart()
		require.NoError(t, err, "part %d", i)
		assert.Equal(t, "video/mp4", part.Header.Get("Content-Type"))
		assert.Equal(t, fmt.Sprintf("bytes %d-%d/50000", w[0], w[1]-1), part.Header.Get("Content-Range"))
		got, err := io.ReadAll(part)
		require.NoError(t, err)
		assert.Equal(t, f.data[w[0]:w[1]], got)
	}
	_, err = mr.NextPart()
	assert.ErrorIs(t, err, io.EOF)
	for _, g := range f.rec.gets() {
		assert.NotEqual(t, storage.Range{}, g, "no whole-object read")
		assert.LessOrEqual(t, g.Length, int64(100))
		assert.Positive(t, g.Length)
	}
}

func TestUnsatisfiableRange(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(1000))
	resp := f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": "bytes=1000-"})
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, resp.StatusCode)
	assert.Equal(t, "bytes */1000", resp.Header.Get("Content-Range"))
	for _, g := range f.rec.gets() {
		_, _, err := storage.CheckRange(&g, 1000)
		assert.Error(t, err, "no Get but one the provider refuses, for a range past the end")
	}
}

func TestConditionalRequests(t *testing.T) {
	f := newFixture(t, nil, "image/png", payload(3000))
	first := f.do(t, "GET", "/media/v/clip.mp4", nil)
	tag := first.Header.Get("ETag")
	lm := first.Header.Get("Last-Modified")
	require.NotEmpty(t, tag)

	resp := f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"If-None-Match": tag})
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body(t, resp))
	assert.Equal(t, tag, resp.Header.Get("ETag"))

	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"If-None-Match": `"other"`})
	assert.Equal(t, 200, resp.StatusCode)

	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"If-Modified-Since": lm})
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)

	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"If-Match": `"other"`})
	assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)

	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"If-Unmodified-Since": time.Unix(0, 0).UTC().Format(http.TimeFormat)})
	assert.Equal(t, http.StatusPreconditionFailed, resp.StatusCode)

	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": "bytes=10-19", "If-Range": tag})
	assert.Equal(t, 206, resp.StatusCode)
	assert.Equal(t, f.data[10:20], body(t, resp))

	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": "bytes=10-19", "If-Range": `"stale"`})
	assert.Equal(t, 200, resp.StatusCode, "a stale If-Range gets the whole object")
	assert.Equal(t, f.data, body(t, resp))
}

func TestSniffsMissingContentType(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), payload(5000)...)
	f := newFixture(t, nil, "", png)
	resp := f.do(t, "GET", "/media/v/clip.mp4", nil)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	assert.Equal(t, png, body(t, resp))
	assert.Equal(t, []storage.Range{{}}, f.rec.gets(), "the type is sniffed from the Get that serves the object")

	// The handler remembers the type of this version of the object.
	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": "bytes=1000-1999"})
	assert.Equal(t, 206, resp.StatusCode)
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	assert.Equal(t, png[1000:2000], body(t, resp))
	assert.Equal(t, []storage.Range{{}, {Offset: 1000, Length: 1000}}, f.rec.gets())

	// Another version is sniffed again: a range that does not start at
	// the first byte from a Get of the first 512 bytes.
	gif := append([]byte("GIF89a"), payload(5000)...)
	_, err := f.rec.Put(context.Background(), "v/clip.mp4", bytes.NewReader(gif), nil)
	require.NoError(t, err)
	resp = f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": "bytes=1000-1999"})
	assert.Equal(t, 206, resp.StatusCode)
	assert.Equal(t, "image/gif", resp.Header.Get("Content-Type"))
	assert.Equal(t, gif[1000:2000], body(t, resp))
	assert.Equal(t, []storage.Range{{Offset: 1000, Length: 1000}, {Offset: 0, Length: 512}}, f.rec.gets()[2:], "sniffing reads only 512 bytes")

	// So is a HEAD, which opens nothing but for that.
	png2 := append([]byte("\x89PNG\r\n\x1a\n"), payload(6000)...)
	_, err = f.rec.Put(context.Background(), "v/clip.mp4", bytes.NewReader(png2), nil)
	require.NoError(t, err)
	resp = f.do(t, "HEAD", "/media/v/clip.mp4", nil)
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	assert.Equal(t, []storage.Range{{Offset: 0, Length: 512}}, f.rec.gets()[4:], "sniffing reads only 512 bytes")
}

// TestGetIsOneOpen checks that a GET opens the object once: a Get, and no
// Stat, unless the request is conditional.
func TestGetIsOneOpen(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(100000))
	for _, tc := range []struct {
		name        string
		hdr         map[string]string
		stats, gets int
	}{
		{"whole", nil, 0, 1},
		{"range", map[string]string{"Range": "bytes=5000-5999"}, 0, 1},
		{"open range", map[string]string{"Range": "bytes=5000-"}, 0, 1},
		{"suffix range", map[string]string{"Range": "bytes=-100"}, 1, 1},
		{"conditional", map[string]string{"If-None-Match": `"other"`}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stats, gets := f.rec.stats.Load(), len(f.rec.gets())
			resp := f.do(t, "GET", "/media/v/clip.mp4", tc.hdr)
			require.Less(t, resp.StatusCode, 300)
			body(t, resp)
			assert.Equal(t, tc.stats, int(f.rec.stats.Load()-stats), "Stats")
			assert.Equal(t, tc.gets, len(f.rec.gets())-gets, "Gets")
		})
	}
}

func TestUnsafeTypesAreAttachments(t *testing.T) {
	for _, ct := range []string{"text/html", "image/svg+xml", "application/xhtml+xml", "text/html; charset=utf-8", "application/javascript"} {
		f := newFixture(t, nil, ct, []byte("<script>alert(1)</script>"))
		resp := f.do(t, "GET", "/media/v/clip.mp4", nil)
		assert.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, "attachment", resp.Header.Get("Content-Disposition"), ct)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	}
	assert.True(t, httpserve.InlineSafe("image/jpeg"))
	assert.False(t, httpserve.InlineSafe("image/svg+xml"))
	assert.False(t, httpserve.InlineSafe("not a type"))
}

// TestPolicyByType checks the Content-Security-Policy and disposition of
// each kind of type: inert media inline and not sandboxed (a sandbox
// keeps a video opened directly from playing, see the browser test in
// examples/mediaserver), everything that can run script or that is unknown
// sandboxed and an attachment.
func TestPolicyByType(t *testing.T) {
	for _, tc := range []struct {
		ctype      string
		media      bool // inert media: no sandbox, inline
		attachment bool
	}{
		{"video/mp4", true, false},
		{"video/webm", true, false},
		{"video/quicktime", true, false},
		{"audio/mpeg", true, false},
		{"audio/mp4", true, false},
		{"image/png", true, false},
		{"image/jpeg", true, false},
		{"image/x-icon", true, false},
		{"IMAGE/PNG", true, false},
		{"image/svg+xml", false, true},
		{"image/svg", false, true},
		{"image/foo+xml", false, true},
		{"video/x-foo+xml", false, true},
		{"text/html", false, true},
		{"text/html; charset=utf-8", false, true},
		{"application/xhtml+xml", false, true},
		{"application/xml", false, true},
		{"text/xml", false, true},
		{"application/javascript", false, true},
		{"application/pdf", false, true},
		{"application/octet-stream", false, true},
		{"text/plain; charset=utf-8", false, false},
		{"application/json", false, false},
	} {
		f := newFixture(t, nil, tc.ctype, payload(100))
		resp := f.do(t, "GET", "/media/v/clip.mp4", nil)
		require.Equal(t, 200, resp.StatusCode, tc.ctype)
		csp := resp.Header.Get("Content-Security-Policy")
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), tc.ctype)
		if tc.media {
			assert.Equal(t, httpserve.DefaultMediaContentSecurityPolicy, csp, tc.ctype)
			assert.NotContains(t, csp, "sandbox", tc.ctype)
		} else {
			assert.Equal(t, httpserve.DefaultContentSecurityPolicy, csp, tc.ctype)
			assert.True(t, strings.HasPrefix(csp, "sandbox;"), tc.ctype)
		}
		if tc.attachment {
			assert.Equal(t, "attachment", resp.Header.Get("Content-Disposition"), tc.ctype)
		} else {
			assert.Empty(t, resp.Header.Get("Content-Disposition"), tc.ctype)
		}
		assert.Equal(t, tc.media, httpserve.InertMedia(tc.ctype), tc.ctype)
	}
	// Every policy forbids script, the media one included.
	for _, csp := range []string{httpserve.DefaultMediaContentSecurityPolicy, httpserve.DefaultContentSecurityPolicy} {
		assert.Contains(t, csp, "default-src 'none'")
		assert.Contains(t, csp, "script-src 'none'")
		assert.Contains(t, csp, "object-src 'none'")
	}

	// A sniffed type is classified the same way.
	f := newFixture(t, nil, "", append([]byte("\x89PNG\r\n\x1a\n"), payload(100)...))
	resp := f.do(t, "GET", "/media/v/clip.mp4", nil)
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	assert.Equal(t, httpserve.DefaultMediaContentSecurityPolicy, resp.Header.Get("Content-Security-Policy"))
	f = newFixture(t, nil, "", []byte("<!DOCTYPE html><script>alert(1)</script>"))
	resp = f.do(t, "GET", "/media/v/clip.mp4", nil)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, httpserve.DefaultContentSecurityPolicy, resp.Header.Get("Content-Security-Policy"))
	assert.Equal(t, "attachment", resp.Header.Get("Content-Disposition"))

	// Each policy can be replaced or turned off on its own.
	f = newFixture(t, &httpserve.Options{MediaContentSecurityPolicy: "-", ContentSecurityPolicy: "sandbox"}, "video/mp4", payload(10))
	resp = f.do(t, "GET", "/media/v/clip.mp4", nil)
	assert.Empty(t, resp.Header.Get("Content-Security-Policy"))
	f = newFixture(t, &httpserve.Options{MediaContentSecurityPolicy: "-", ContentSecurityPolicy: "sandbox"}, "text/html", payload(10))
	resp = f.do(t, "GET", "/media/v/clip.mp4", nil)
	assert.Equal(t, "sandbox", resp.Header.Get("Content-Security-Policy"))
}

func TestFilenameOption(t *testing.T) {
	f := newFixture(t, &httpserve.Options{
		Filename: func(r *http.Request, _ storage.Info) (string, bool) {
			return "Ünïcode clip.mp4", r.URL.Query().Get("download") == "1"
		},
		CacheControl:               "public, max-age=31536000, immutable",
		ContentSecurityPolicy:      "-",
		MediaContentSecurityPolicy: "-",
	}, "video/mp4", payload(10))
	resp := f.do(t, "GET", "/media/v/clip.mp4", nil)
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	require.NoError(t, err)
	assert.Equal(t, "Ünïcode clip.mp4", params["filename"])
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline"))
	assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))
	assert.Empty(t, resp.Header.Get("Content-Security-Policy"))

	resp = f.do(t, "GET", "/media/v/clip.mp4?download=1", nil)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment"))
}

func TestErrorStatuses(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(10))
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/media/missing", 404},
		{"GET", "/elsewhere/v/clip.mp4", 404},
		{"GET", "/media/a//b", 400},
		{"GET", "/media/../etc/passwd", 400},
		{"GET", "/media/", 400},
		{"POST", "/media/v/clip.mp4", 405},
		{"DELETE", "/media/v/clip.mp4", 405},
	} {
		resp := f.do(t, tc.method, tc.path, nil)
		assert.Equal(t, tc.code, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, http.StatusText(tc.code), strings.TrimSpace(string(body(t, resp))), "body is only the status text")
	}
}

func TestOutageIs503WithoutDetails(t *testing.T) {
	m := memory.New()
	defer m.Close()
	fp := faults.Wrap(m, faults.WithSeed(1))
	fp.Set(faults.Fault{FailRate: 1}, faults.AllOps...)
	h := httpserve.New(fp, &httpserve.Options{Prefix: "/"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/some/key", nil))
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.NotContains(t, w.Body.String(), "faults")
	assert.NotContains(t, w.Body.String(), "some/key")
}

func TestStatusMapping(t *testing.T) {
	assert.Equal(t, 404, httpserve.Status(storage.NewError("get", "s3", "k", storage.ErrNotFound, nil)))
	assert.Equal(t, 503, httpserve.Status(storage.NewError("get", "s3", "k", storage.ErrUnavailable, nil)))
	assert.Equal(t, 503, httpserve.Status(storage.NewError("read", "storage", "k", storage.ErrChanged, nil)))
	assert.Equal(t, 503, httpserve.Status(fmt.Errorf("wrapped: %w", context.DeadlineExceeded)))
	assert.Equal(t, 416, httpserve.Status(storage.ErrInvalidRange))
	assert.Equal(t, 403, httpserve.Status(storage.ErrPermission))
	assert.Equal(t, 500, httpserve.Status(storage.ErrCorrupt))
}

// presigner is a memory store that can presign, as S3 can.
type presigner struct {
	*memory.Store
	expiry time.Duration
}

func (p *presigner) PresignGet(_ context.Context, key string, expiry time.Duration) (string, error) {
	p.expiry = expiry
	return "https://objects.example/" + key + "?sig=abc", nil
}

func TestRedirectToPresignedURL(t *testing.T) {
	m := memory.New()
	defer m.Close()
	_, err := m.Put(context.Background(), "big/video.webm", strings.NewReader("x"), nil)
	require.NoError(t, err)
	p := &presigner{Store: m}
	h, err := httpserve.NewHandler(p, &httpserve.Options{Prefix: "/media/", Redirect: true, RedirectExpiry: 10 * time.Minute})
	require.NoError(t, err)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/media/big/video.webm", nil))
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, "https://objects.example/big/video.webm?sig=abc", w.Header().Get("Location"))
	assert.Equal(t, "private, max-age=300", w.Header().Get("Cache-Control"))
	assert.Equal(t, 10*time.Minute, p.expiry)

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/media/missing", nil))
	assert.Equal(t, 404, w.Code, "a missing key is a 404, not a redirect")

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("HEAD", "/media/big/video.webm", nil))
	assert.Equal(t, 200, w.Code, "HEAD is answered directly")

	h, err = httpserve.NewHandler(p, &httpserve.Options{Prefix: "/media/", Redirect: true})
	require.NoError(t, err)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/media/big/video.webm", nil))
	assert.Equal(t, http.StatusFound, w.Code)
}

// TestRedirectNeedsPresigner: asking for redirects over a provider that
// cannot presign is an error at construction, not a redirect that quietly
// never happens.
func TestRedirectNeedsPresigner(t *testing.T) {
	m := memory.New()
	defer m.Close()
	_, err := m.Put(context.Background(), "big/video.webm", strings.NewReader("x"), nil)
	require.NoError(t, err)

	h, err := httpserve.NewHandler(m, &httpserve.Options{Prefix: "/media/", Redirect: true})
	require.Error(t, err)
	assert.Nil(t, h)
	assert.ErrorIs(t, err, httpserve.ErrCannotRedirect)
	assert.ErrorIs(t, err, storage.ErrUnsupported)
	assert.Contains(t, err.Error(), "*memory.Store")

	h, err = httpserve.NewHandler(m, &httpserve.Options{Prefix: "/media/"})
	require.NoError(t, err, "without Redirect any provider will do")
	require.NotNil(t, h)

	// New has no error to return: it says so in the log, at construction,
	// and serves directly.
	var logs bytes.Buffer
	h = httpserve.New(m, &httpserve.Options{Prefix: "/media/", Redirect: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "cannot presign")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/media/big/video.webm", nil))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "x", w.Body.String())
}

// TestMatchesServeContent compares the handler with net/http's own
// ServeContent over the same bytes, for many Range headers.
func TestMatchesServeContent(t *testing.T) {
	data := payload(2000)
	f := newFixture(t, nil, "application/octet-stream", data)
	mod := f.info.ModTime
	headers := []string{
		"", "bytes=0-0", "bytes=0-1999", "bytes=1999-", "bytes=-1", "bytes=-2000", "bytes=-5000",
		"bytes=2000-2001", "bytes=5-10,20-30", "bytes=0-,-1",
		"bytes=10-20,15-25", "bytes= 3-4", "bytes=3-4 , 8-9", "bytes=0-0,0-",
	}
	for _, rh := range headers {
		got := f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": rh})
		req := httptest.NewRequest("GET", "/x", nil)
		if rh != "" {
			req.Header.Set("Range", rh)
		}
		w := httptest.NewRecorder()
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, req, "", mod, bytes.NewReader(data))
		want := w.Result()
		assert.Equal(t, want.StatusCode, got.StatusCode, "Range %q", rh)
		assert.Equal(t, want.Header.Get("Content-Range"), got.Header.Get("Content-Range"), "Range %q", rh)
		if want.StatusCode >= 300 {
			continue // error bodies differ on purpose: ours hold only the status text
		}
		if !strings.HasPrefix(want.Header.Get("Content-Type"), "multipart/") {
			assert.Equal(t, body(t, want), body(t, got), "Range %q", rh)
		} else {
			assert.Equal(t, want.Header.Get("Content-Length") != "", got.Header.Get("Content-Length") != "")
		}
	}
}

func TestMalformedRangeIsIgnored(t *testing.T) {
	f := newFixture(t, nil, "video/mp4", payload(2000))
	for _, rh := range []string{"bytes=100-50", "bytes=abc", "items=0-5", "bytes=-+0", "bytes=+1-2", "bytes=1", "0"} {
		resp := f.do(t, "GET", "/media/v/clip.mp4", map[string]string{"Range": rh})
		assert.Equal(t, 200, resp.StatusCode, "Range %q", rh)
		assert.Equal(t, f.data, body(t, resp), "Range %q", rh)
	}
}

func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=999-", "bytes=0-0,-1,500-600", "bytes=,", "bytes=-0"} {
		f.Add(s)
	}
	data := payload(1000)
	m := memory.New()
	_, err := m.Put(context.Background(), "k", bytes.NewReader(data), &storage.PutOptions{ContentType: "video/webm"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rh string) {
		rec := &recorder{Provider: m}
		h := httpserve.New(rec, &httpserve.Options{Prefix: "/"})
		req := httptest.NewRequest("GET", "/k", nil)
		req.Header["Range"] = []string{rh}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			if !bytes.Equal(w.Body.Bytes(), data) {
				t.Fatalf("Range %q: 200 with wrong body", rh)
			}
		case 206:
			if cr := w.Header().Get("Content-Range"); cr != "" {
				var start, end, size int64
				if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &start, &end, &size); err != nil {
					t.Fatalf("Range %q: bad Content-Range %q", rh, cr)
				}
				if size != 1000 || start < 0 || end >= size || start > end {
					t.Fatalf("Range %q: Content-Range %q out of bounds", rh, cr)
				}
				if !bytes.Equal(w.Body.Bytes(), data[start:end+1]) {
					t.Fatalf("Range %q: body does not match %q", rh, cr)
				}
				if n, _ := strconv.Atoi(w.Header().Get("Content-Length")); int64(n) != end-start+1 {
					t.Fatalf("Range %q: Content-Length %d for %q", rh, n, cr)
				}
			}
		case 416:
			// net/http answers a malformed header with a bare 416.
			if cr := w.Header().Get("Content-Range"); cr != "" && cr != "bytes */1000" {
				t.Fatalf("Range %q: 416 with Content-Range %q", rh, cr)
			}
		default:
			t.Fatalf("Range %q: status %d", rh, w.Code)
		}
		for _, g := range rec.gets() {
			if g.Offset < 0 || g.Offset >= 1000 || g.Length < 0 || g.Offset+g.Length > 1000 {
				t.Fatalf("Range %q: provider asked for %+v", rh, g)
			}
		}
	})
}

// TestSymlinkOutOfTheRootIs403: a symbolic link planted in a local store's
// directory that leads out of it is refused by the store
// (storage.ErrPermission); the handler answers 403, says nothing of the
// path, and logs a warning rather than an error.
func TestSymlinkOutOfTheRootIs403(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root:x:0:0"), 0o644))
	require.NoError(t, os.Symlink(secret, filepath.Join(root, "evil")))
	st, err := local.New(root, nil)
	require.NoError(t, err)
	defer st.Close()
	var logs bytes.Buffer
	h := httpserve.New(st, &httpserve.Options{Prefix: "/media/", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, method := range []string{"GET", "HEAD"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, "/media/evil", nil))
		assert.Equal(t, http.StatusForbidden, w.Code, method)
		assert.NotContains(t, w.Body.String(), "root:x")
		assert.NotContains(t, w.Body.String(), outside)
	}
	assert.Contains(t, logs.String(), "level=WARN")
	assert.NotContains(t, logs.String(), "level=ERROR")
}

// signingRemote is a memory store that presigns (with a made-up URL), as
// s3 and minio do without asking the server.
type signingRemote struct{ *memory.Store }

func (signingRemote) PresignGet(_ context.Context, key string, _ time.Duration) (string, error) {
	return "http://127.0.0.1:1/signed/" + key, nil
}

// A wrapper that has PresignGet but cannot presign (a tiered store over a
// remote that cannot) is refused at construction too; over a remote that
// can, redirects are on.
func TestRedirectNeedsPresignerUnderAWrapper(t *testing.T) {
	open := func(remote storage.Provider) *tiered.Store {
		c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
		require.NoError(t, err)
		s, err := tiered.New(c, remote, tiered.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	_, err := httpserve.NewHandler(open(memory.New()), &httpserve.Options{Redirect: true})
	require.ErrorIs(t, err, httpserve.ErrCannotRedirect)
	assert.Contains(t, err.Error(), "*tiered.Store")

	s := open(signingRemote{memory.New()})
	_, err = s.Put(t.Context(), "a/b", strings.NewReader("x"), nil)
	require.NoError(t, err)
	h, err := httpserve.NewHandler(s, &httpserve.Options{Prefix: "/media/", Redirect: true})
	require.NoError(t, err)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/media/a/b", nil))
	assert.Equal(t, http.StatusFound, w.Code)
	assert.Equal(t, "http://127.0.0.1:1/signed/a/b", w.Header().Get("Location"))
}

// TestDamagedCacheHitIsNotServedWhole serves a cache hit over real TCP
// (where the body goes out through the cache's own reader): a whole object
// whose bytes no longer match their checksum is cut short, not handed
// over whole, and the failure is logged; a range of it, which the cache
// cannot check, is served.
func TestDamagedCacheHitIsNotServedWhole(t *testing.T) {
	for _, ctype := range []string{"video/mp4", ""} {
		t.Run("type="+ctype, func(t *testing.T) {
			dir := t.TempDir()
			c, err := cache.Open(dir, cache.Options{MaxBytes: 64 << 20})
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			data := payload(300 << 10)
			_, err = c.Put(context.Background(), "v/clip.mp4", bytes.NewReader(data), &storage.PutOptions{ContentType: ctype})
			require.NoError(t, err)
			var logs syncBuffer
			srv := httptest.NewServer(httpserve.New(c, &httpserve.Options{Prefix: "/media/", Logger: slog.New(slog.NewTextHandler(&logs, nil))}))
			t.Cleanup(srv.Close)

			resp, err := http.Get(srv.URL + "/media/v/clip.mp4")
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, data, got, "an undamaged object is served whole")

			cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(len(data)/2))
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/media/v/clip.mp4", nil)
			require.NoError(t, err)
			req.Header.Set("Range", "bytes=1000-1999")
			resp, err = http.DefaultClient.Do(req)
			require.NoError(t, err)
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.Equal(t, data[1000:2000], got, "a range is not checked")

			resp, err = http.Get(srv.URL + "/media/v/clip.mp4")
			require.NoError(t, err)
			assert.Equal(t, 200, resp.StatusCode)
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Error(t, err, "the response is cut short")
			assert.Less(t, len(got), len(data), "the damaged content is not handed over whole")
			assert.Eventually(t, func() bool { return strings.Contains(logs.String(), "reading object failed mid-response") },
				5*time.Second, 10*time.Millisecond, "the failure is logged")
			assert.Contains(t, logs.String(), storage.ErrCorrupt.Error())
		})
	}
}

// syncBuffer is a buffer a test reads while others write to it.
type syncBuffer = testlog.Buffer
