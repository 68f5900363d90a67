package conformance

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// httpAttrs are the options of the HTTP attribute subtests: every
// attribute, each with characters a careless store would mangle (quotes,
// "%", ";", "=", a backslash).
var httpAttrs = storage.PutOptions{
	ContentType:        "text/plain; charset=utf-8",
	CacheControl:       "public, max-age=3600, s-maxage=60",
	ContentDisposition: `attachment; filename="a \"b\" %41;c.txt"; filename*=UTF-8''a%20%22b%22%20%C3%A9.txt`,
	ContentEncoding:    "gzip",
	ContentLanguage:    "en-GB, fr",
}

// gzipped returns s compressed with gzip: the content of an object stored
// with Content-Encoding gzip, which a client that decompresses on its own
// (Go's http.Transport does when it asked for gzip) would hand back
// changed.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, err := w.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return b.Bytes()
}

// requireHTTPAttrs checks that info carries the HTTP attributes and the
// content type of want.
func requireHTTPAttrs(t *testing.T, want *storage.PutOptions, info storage.Info, what string) {
	t.Helper()
	require.Equal(t, want.ContentType, info.ContentType, "%s: ContentType", what)
	require.Equal(t, want.CacheControl, info.CacheControl, "%s: CacheControl", what)
	require.Equal(t, want.ContentDisposition, info.ContentDisposition, "%s: ContentDisposition", what)
	require.Equal(t, want.ContentEncoding, info.ContentEncoding, "%s: ContentEncoding", what)
	require.Equal(t, want.ContentLanguage, info.ContentLanguage, "%s: ContentLanguage", what)
}

// requireQuotedETag checks that a non-empty ETag has the quoted form of
// an HTTP entity tag, `"..."` or `W/"..."`, as storage.Info.ETag says.
func requireQuotedETag(t *testing.T, etag, what string) {
	t.Helper()
	if etag == "" {
		return
	}
	tag := strings.TrimPrefix(etag, "W/")
	require.True(t, len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' && !strings.Contains(tag[1:len(tag)-1], `"`),
		"%s: ETag %q is not a quoted entity tag", what, etag)
}

func (s *suite) testHTTPAttributes(t *testing.T) {
	t.Run("ETagQuoted", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		pinfo := put(t, p, "e/k", []byte("etag"), nil)
		requireQuotedETag(t, pinfo.ETag, "Put")
		st, err := p.Stat(ctx(t), "e/k")
		require.NoError(t, err)
		requireQuotedETag(t, st.ETag, "Stat")
		_, ginfo := get(t, p, "e/k")
		requireQuotedETag(t, ginfo.ETag, "Get")
		for _, info := range list(t, p, nil) {
			requireQuotedETag(t, info.ETag, "List")
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		data := gzipped(t, "hello, attributes")
		opts := httpAttrs
		pinfo := put(t, p, "a/doc.txt", data, &opts)
		requireHTTPAttrs(t, &opts, pinfo, "Put")
		st := requireContent(t, p, "a/doc.txt", data) // the bytes as stored, not decompressed
		requireHTTPAttrs(t, &opts, st, "Stat")
		_, ginfo := get(t, p, "a/doc.txt")
		requireHTTPAttrs(t, &opts, ginfo, "Get")
		// A ranged read returns the Info of the whole object too.
		rc, rinfo, err := p.Get(ctx(t), "a/doc.txt", &storage.GetOptions{Range: &storage.Range{Offset: 1, Length: 4}})
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		requireHTTPAttrs(t, &opts, rinfo, "ranged Get")
	})
	t.Run("Overwrite", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		opts := httpAttrs
		put(t, p, "a/k", gzipped(t, "one"), &opts)
		put(t, p, "a/k", []byte("two"), nil)
		st, err := p.Stat(ctx(t), "a/k")
		require.NoError(t, err)
		requireHTTPAttrs(t, &storage.PutOptions{ContentType: st.ContentType}, st, "Stat after a Put without attributes")
	})
	t.Run("WithMetadata", func(t *testing.T) {
		// Every attribute beside the most user metadata the contract
		// allows: a store with few metadata slots (B2's ten file info
		// entries) must still take it.
		t.Parallel()
		p := s.provider(t)
		opts := httpAttrs
		opts.Metadata = manyEntries(storage.MaxMetadataEntries)
		data := gzipped(t, "full")
		put(t, p, "a/full", data, &opts)
		st := requireContent(t, p, "a/full", data)
		requireHTTPAttrs(t, &opts, st, "Stat")
		require.Equal(t, opts.Metadata, st.Metadata, "Stat Metadata")
		_, ginfo := get(t, p, "a/full")
		requireHTTPAttrs(t, &opts, ginfo, "Get")
		require.Equal(t, opts.Metadata, ginfo.Metadata, "Get Metadata")
	})
	t.Run("Copy", func(t *testing.T) {
		t.Parallel()
		if !s.h.Copy {
			t.Skip("Copy is not declared")
		}
		p := s.provider(t)
		opts := httpAttrs
		data := gzipped(t, "copied")
		put(t, p, "a/src", data, &opts)
		cinfo, err := p.(storage.Copier).Copy(ctx(t), "a/dst", "a/src")
		require.NoError(t, err)
		requireHTTPAttrs(t, &opts, cinfo, "Copy")
		requireQuotedETag(t, cinfo.ETag, "Copy")
		st := requireContent(t, p, "a/dst", data)
		requireHTTPAttrs(t, &opts, st, "Stat of the copy")
	})
	for _, tc := range []struct {
		name string
		set  func(o *storage.PutOptions)
	}{
		{"CacheControlNewline", func(o *storage.PutOptions) { o.CacheControl = "no-cache\r\nSet-Cookie: a=b" }},
		{"ContentDispositionNewline", func(o *storage.PutOptions) { o.ContentDisposition = "attachment\n; filename=x" }},
		{"ContentEncodingNonASCII", func(o *storage.PutOptions) { o.ContentEncoding = "gzíp" }},
		{"ContentLanguageTooLong", func(o *storage.PutOptions) { o.ContentLanguage = strings.Repeat("e", storage.MaxHTTPAttributeLen+1) }},
	} {
		t.Run("Invalid/"+tc.name, func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			opts := httpAttrs
			tc.set(&opts)
			_, err := p.Put(ctx(t), "a/bad", strings.NewReader("x"), &opts)
			requireErrorIs(t, err, storage.ErrInvalidArgument, "Put with an invalid HTTP attribute")
			requireMissing(t, p, "a/bad")
		})
	}
}
