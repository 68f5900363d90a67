package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/storage"
)

// onlyReader hides every method but Read, so Put cannot learn the length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestServerDetected checks that a Store learns from its first response
// that its server is MinIO, which turns PrefixCheckAuto on, and that
// another server leaves it off. (MinIO itself answers Server: MinIO; the
// tests against it are in internal/integration.)
func TestServerDetected(t *testing.T) {
	t.Parallel()
	for server, isMinIO := range map[string]bool{"MinIO": true, "AmazonS3": false} {
		st, _ := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", server)
			if r.URL.Path == "/b/missing" {
				errorXML(w, r, http.StatusNotFound, "NoSuchKey")
			} // and 200 to the HEAD of the bucket
		}, nil)
		_, known := st.d.server.MinIO()
		require.False(t, known, "no request yet")
		_, err := st.Stat(t.Context(), "missing")
		require.ErrorIs(t, err, storage.ErrNotFound)
		minio, known := st.d.server.MinIO()
		assert.True(t, known, "%s: an error response's Server header tells", server)
		assert.Equal(t, isMinIO, minio, server)
		assert.Equal(t, isMinIO, st.d.set.PrefixCheck.On(&st.d.server), server)
	}
}

// multipartS3 answers the requests of a multipart upload as S3 does (the
// parts are read and dropped), and 404 to anything else.
func multipartS3(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		fmt.Fprint(w, `<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`)
	case r.Method == http.MethodPut && q.Has("uploadId"):
		w.Header().Set("ETag", `"part`+q.Get("partNumber")+`"`)
	case r.Method == http.MethodPost && q.Has("uploadId"):
		fmt.Fprint(w, `<CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>"done-12"</ETag></CompleteMultipartUploadResult>`)
	default:
		errorXML(w, r, http.StatusNotFound, "NoSuchKey")
	}
}

func TestMemoryBound(t *testing.T) {
	// Not parallel: it reads a process-wide gauge of upload buffers.
	st, n := fakeS3(t, multipartS3, func(c *Config) { c.PartSize = MinPartSize; c.Concurrency = 3; c.PrefixCheck = PrefixCheckOff })
	blocksPeak.Store(blocksOut.Load())
	base := blocksOut.Load()
	size := int64(12 * MinPartSize)
	_, err := st.Put(t.Context(), "k", onlyReader{conformance.RandomReader(9, size)}, nil)
	require.NoError(t, err)
	peak := blocksPeak.Load() - base
	limit := int64(st.d.set.Concurrency+1) * MinPartSize / blockSize
	assert.LessOrEqual(t, peak, limit, "an upload holds at most (Concurrency+1) parts")
	assert.Less(t, peak*blockSize, size/2, "far less than the object")
	assert.Equal(t, base, blocksOut.Load(), "every buffer is returned")
	assert.GreaterOrEqual(t, n.Load(), int32(1+12+1), "a create, 12 parts and a complete")
	t.Logf("peak %d MiB of buffers for a %d MiB upload", peak*blockSize>>20, size>>20)
}

func TestPresignLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := New(ctx, Config{Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "s"})
	require.NoError(t, err)
	for _, d := range []time.Duration{0, time.Millisecond, 8 * 24 * time.Hour} {
		_, err := st.PresignGet(ctx, "k", d)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, "expiry %v", d)
	}
	u, err := st.PresignGet(ctx, "dir/k", time.Hour)
	require.NoError(t, err)
	assert.Contains(t, u, "http://127.0.0.1:1/b/dir/k?")
	assert.Contains(t, u, "X-Amz-Expires=3600")

	enc, err := New(ctx, Config{Bucket: "b", Endpoint: "http://127.0.0.1:1", AccessKeyID: "a", SecretAccessKey: "s",
		SSE: SSE{Mode: SSEC, CustomerKey: make([]byte, 32)}})
	require.NoError(t, err)
	_, err = enc.PresignGet(ctx, "k", time.Hour)
	assert.ErrorIs(t, err, storage.ErrUnsupported, "a presigned URL cannot carry an SSE-C key")
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	ok := Config{Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no bucket", func(c *Config) { c.Bucket = "" }},
		{"bucket with slash", func(c *Config) { c.Bucket = "a/b" }},
		{"endpoint without scheme", func(c *Config) { c.Endpoint = "127.0.0.1:9000" }},
		{"endpoint with user", func(c *Config) { c.Endpoint = "http://u:p@127.0.0.1:9000" }},
		{"endpoint with query", func(c *Config) { c.Endpoint = "http://127.0.0.1:9000?x=1" }},
		{"secret without id", func(c *Config) { c.AccessKeyID = "" }},
		{"id without secret", func(c *Config) { c.SecretAccessKey = "" }},
		{"short SSE-C key", func(c *Config) { c.SSE = SSE{Mode: SSEC, CustomerKey: make([]byte, 16)} }},
		{"bad SSE mode", func(c *Config) { c.SSE.Mode = 9 }},
		{"bad addressing", func(c *Config) { c.Addressing = 7 }},
		{"part too small", func(c *Config) { c.PartSize = MinPartSize - 1 }},
		{"part too large", func(c *Config) { c.PartSize = MaxPartSize + 1 }},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }},
		{"negative attempts", func(c *Config) { c.MaxAttempts = -1 }},
	}
	for _, tt := range tests {
		c := ok
		tt.change(&c)
		_, err := New(context.Background(), c)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, tt.name)
		if err != nil {
			assert.NotContains(t, err.Error(), ":p@", tt.name)
		}
	}
	st, err := New(context.Background(), ok)
	require.NoError(t, err)
	assert.Equal(t, int64(DefaultPartSize), st.d.set.PartSize)
	assert.Equal(t, DefaultConcurrency, st.d.set.Concurrency)
	assert.Equal(t, DefaultRegion, st.Client().Options().Region)
	require.NoError(t, st.Close())
	require.NoError(t, st.Close(), "Close is idempotent")
	_, err = st.Stat(context.Background(), "k")
	assert.ErrorIs(t, err, storage.ErrClosed)
}

func TestHTTPClientKeepsConnectionsBounded(t *testing.T) {
	t.Parallel()
	st, err := New(context.Background(), Config{Bucket: "b", Concurrency: 16, AccessKeyID: "a", SecretAccessKey: "s"})
	require.NoError(t, err)
	require.NotNil(t, st.d.transport)
	assert.GreaterOrEqual(t, st.d.transport.MaxIdleConnsPerHost, 32, "idle connections for every part in flight")
	own := &http.Client{}
	st2, err := New(context.Background(), Config{Bucket: "b", HTTPClient: own, AccessKeyID: "a", SecretAccessKey: "s"})
	require.NoError(t, err)
	assert.Nil(t, st2.d.transport, "a caller's client is used as it is")
	assert.Same(t, own, st2.Client().Options().HTTPClient)
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

func checkNoSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	checkNoSecretsIn(t, err.Error(), secrets...)
	checkNoSecretsIn(t, fmt.Sprintf("%+v", err), secrets...)
}

func checkNoSecretsIn(t *testing.T, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		require.NotContains(t, s, sec, "a secret in %q", s)
	}
	for _, marker := range []string{"Signature=", "X-Amz-Signature", "X-Amz-Credential", "x-amz-server-side-encryption-customer-key:"} {
		require.NotContains(t, s, marker)
	}
}
