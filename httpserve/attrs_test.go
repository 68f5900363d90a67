package httpserve_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// serveStored puts data under "k" with opts and returns the answer of a
// Handler with hopts to a request of method with the headers hdr.
func serveStored(t *testing.T, data []byte, opts *storage.PutOptions, hopts *httpserve.Options, method string, hdr ...string) *http.Response {
	t.Helper()
	m := memory.New()
	t.Cleanup(func() { m.Close() })
	_, err := m.Put(context.Background(), "k", bytes.NewReader(data), opts)
	require.NoError(t, err)
	if hopts == nil {
		hopts = &httpserve.Options{}
	}
	hopts.Prefix = "/"
	req := httptest.NewRequest(method, "/k", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	httpserve.New(m, hopts).ServeHTTP(w, req)
	return w.Result()
}

func TestStoredHTTPAttributesAreSent(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte("hello "), 100))
	require.NoError(t, zw.Close())
	opts := &storage.PutOptions{
		ContentType: "text/plain", CacheControl: "no-cache", ContentEncoding: "gzip", ContentLanguage: "de-CH",
		ContentDisposition: `inline; filename="gr\"u.txt"; filename*=UTF-8''gr%C3%BC.txt`,
	}
	hopts := &httpserve.Options{CacheControl: "public, max-age=60"}
	for _, method := range []string{"GET", "HEAD"} {
		resp := serveStored(t, gz.Bytes(), opts, hopts, method)
		require.Equal(t, 200, resp.StatusCode, method)
		assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), "the stored one replaces Options.CacheControl")
		assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		assert.Equal(t, "de-CH", resp.Header.Get("Content-Language"))
		assert.Equal(t, opts.ContentDisposition, resp.Header.Get("Content-Disposition"), "sent as stored")
		assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")
		assert.Equal(t, int64(gz.Len()), resp.ContentLength, "%s: Content-Length of the stored bytes", method)
		if method == "GET" {
			assert.Equal(t, gz.Bytes(), body(t, resp), "the stored bytes, not decoded")
		}
	}
	// A range of a gzip-encoded object is a range of the encoded bytes.
	resp := serveStored(t, gz.Bytes(), opts, nil, "GET", "Range", "bytes=2-5")
	require.Equal(t, 206, resp.StatusCode)
	assert.Equal(t, gz.Bytes()[2:6], body(t, resp))
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))

	// Without a stored Cache-Control, Options.CacheControl is sent.
	resp = serveStored(t, []byte("x"), &storage.PutOptions{ContentType: "text/plain"}, hopts, "GET")
	assert.Equal(t, "public, max-age=60", resp.Header.Get("Cache-Control"))
	assert.Empty(t, resp.Header.Get("Content-Encoding"))
	assert.Empty(t, resp.Header.Get("Content-Language"))
	assert.Empty(t, resp.Header.Get("Content-Disposition"))
}

// TestStoredInlineDispositionOfScriptIsAttachment checks that content that
// can run script is sent as an attachment, sandboxed, whatever
// Content-Disposition is stored with it, its file name kept.
func TestStoredInlineDispositionOfScriptIsAttachment(t *testing.T) {
	for _, tc := range []struct{ ctype, stored, want string }{
		{"text/html", `inline; filename="x.html"`, `attachment; filename="x.html"`},
		{"image/svg+xml", "inline", "attachment"},
		{"application/javascript", `INLINE;filename=a.js`, `attachment;filename=a.js`},
		{"text/html", `attachment; filename="y.html"`, `attachment; filename="y.html"`},
		{"image/png", `inline; filename="p.png"`, `inline; filename="p.png"`},
	} {
		resp := serveStored(t, []byte("<script>alert(1)</script>"),
			&storage.PutOptions{ContentType: tc.ctype, ContentDisposition: tc.stored}, nil, "GET")
		assert.Equal(t, tc.want, resp.Header.Get("Content-Disposition"), tc.ctype)
		if !httpserve.InertMedia(tc.ctype) {
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox", tc.ctype)
		}
	}
}

// TestFilenameOptionOverridesStoredDisposition checks that
// Options.Filename, when set, decides the Content-Disposition.
func TestFilenameOptionOverridesStoredDisposition(t *testing.T) {
	hopts := &httpserve.Options{Filename: func(r *http.Request, info storage.Info) (string, bool) { return "mine.txt", true }}
	resp := serveStored(t, []byte("x"), &storage.PutOptions{ContentType: "text/plain", ContentDisposition: `inline; filename="stored.txt"`}, hopts, "GET")
	assert.Equal(t, `attachment; filename=mine.txt`, resp.Header.Get("Content-Disposition"))
}

// TestETagForms checks the ETag header for each form a provider may give:
// quoted (the contract), bare (a provider not built on storage/driver, or
// an old one), weak, and none (the SHA-256 then).
func TestETagForms(t *testing.T) {
	for _, tc := range []struct{ etag, sha, want string }{
		{`"abc"`, "", `"abc"`},
		{`abc`, "", `"abc"`},
		{`W/"abc"`, "", `W/"abc"`},
		{``, "0123", `"0123"`},
		{`"a"b"`, "", ``},
		{`W/abc`, "", ``},
		{`""`, "", ``},
	} {
		p := &fixedETag{Provider: memory.New(), etag: tc.etag, sha: tc.sha}
		_, err := p.Put(context.Background(), "k", bytes.NewReader([]byte("x")), nil)
		require.NoError(t, err)
		w := httptest.NewRecorder()
		httpserve.New(p, &httpserve.Options{Prefix: "/"}).ServeHTTP(w, httptest.NewRequest("GET", "/k", nil))
		assert.Equal(t, tc.want, w.Result().Header.Get("ETag"), "ETag %q", tc.etag)
		if tc.want != "" {
			w := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/k", nil)
			req.Header.Set("If-None-Match", tc.want)
			httpserve.New(p, &httpserve.Options{Prefix: "/"}).ServeHTTP(w, req)
			assert.Equal(t, 304, w.Code, "If-None-Match %s", tc.want)
		}
		p.Close()
	}
}

// fixedETag is a provider whose Infos carry the given ETag and SHA-256.
type fixedETag struct {
	storage.Provider
	etag, sha string
}

func (f *fixedETag) fix(info storage.Info) storage.Info {
	info.ETag, info.SHA256 = f.etag, f.sha
	return info
}

func (f *fixedETag) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := f.Provider.Stat(ctx, key)
	return f.fix(info), err
}

func (f *fixedETag) Get(ctx context.Context, key string, opts *storage.GetOptions) (rc io.ReadCloser, info storage.Info, err error) {
	rc, info, err = f.Provider.Get(ctx, key, opts)
	return rc, f.fix(info), err
}
