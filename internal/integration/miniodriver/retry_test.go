package miniodriver_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

// flakyProxy forwards requests to a MinIO server, except that it answers
// the first attempt of every upload (a PUT with a body: an object or a
// part) with 503 SlowDown after reading only the first KiB of its body,
// as a busy server does. The client is still sending the rest when the
// answer comes, so the retry starts while the first attempt's body is
// being read: the case where minio-go's own retry, which seeks the one
// body back and sends it again, races with net/http.
type flakyProxy struct {
	*httptest.Server
	mu       sync.Mutex
	attempts map[string]int // guarded by mu; by request URI
}

func newFlakyProxy(t *testing.T, endpoint string) *flakyProxy {
	t.Helper()
	target, err := url.Parse("http://" + endpoint)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the Host header, which is signed
	p := &flakyProxy{attempts: map[string]int{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.ContentLength > 0 && r.Header.Get("X-Amz-Copy-Source") == "" {
			p.mu.Lock()
			p.attempts[r.URL.RequestURI()]++
			first := p.attempts[r.URL.RequestURI()] == 1
			p.mu.Unlock()
			if first {
				io.CopyN(io.Discard, r.Body, 1024)
				w.Header().Set("Content-Type", "application/xml")
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
					`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// uploads returns how many distinct uploads (objects or parts) the proxy
// saw and how many attempts they took in all.
func (p *flakyProxy) uploads() (distinct, attempts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.attempts {
		distinct++
		attempts += n
	}
	return distinct, attempts
}

// TestUploadRetries checks that uploads (single PUTs, parts of a stream,
// parts of a seekable reader) survive a server that fails each first
// attempt part way through its body, store exactly the bytes given, and,
// under go test -race, that no attempt's body is read by the transport
// while the next attempt reuses it: the data race minio-go's retries of a
// seekable body had (see sendBody).
func TestUploadRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	proxy := newFlakyProxy(t, e.srv.Endpoint)
	// Retries 1 ms apart, to keep the test fast; the backoff's shape is
	// minio-go's.
	knobs := s3proto.Knobs{RetryUnit: time.Millisecond}
	s, err := minio.New(s3proto.WithKnobs(t.Context(), knobs), minio.Config{Endpoint: strings.TrimPrefix(proxy.URL, "http://"), Region: e.srv.Region,
		AccessKey: e.srv.AccessKey, SecretKey: e.srv.SecretKey, Bucket: e.bucket, PartSize: testPartSize,
		Concurrency: 2, MaxAttempts: 3, RecordLargeSHA256: true})
	require.NoError(t, err)
	defer s.Close()

	cases := []struct {
		name   string
		data   []byte
		reader func([]byte) io.Reader
		size   bool
	}{
		{"single", randomBytes(31, 2<<20), func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }, true},
		{"stream", randomBytes(32, 3*testPartSize+1000), func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} }, false},
		{"seekable", randomBytes(33, 3*testPartSize+1000), func(b []byte) io.Reader { return bytes.NewReader(b) }, true},
	}
	for _, c := range cases {
		opts := &storage.PutOptions{}
		if c.size {
			opts.Size = int64(len(c.data))
		}
		info, err := s.Put(t.Context(), c.name, c.reader(c.data), opts)
		require.NoError(t, err, c.name)
		assert.Equal(t, sha(c.data), info.SHA256, c.name)
		got, ginfo := readAll(t, e.store, c.name, nil) // straight from MinIO, verified
		require.Equal(t, sha(c.data), sha(got), "%s: the stored bytes are the ones given", c.name)
		assert.Equal(t, sha(c.data), ginfo.SHA256, c.name)
	}
	distinct, attempts := proxy.uploads()
	assert.Equal(t, 1+4+4, distinct, "one PUT and four parts twice")
	assert.Equal(t, 2*distinct, attempts, "every upload failed once, then succeeded")
	assert.Empty(t, incomplete(t, e.srv.Client(), e.bucket))
}
