package minio

import (
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// plainHTTPServer starts a plain-HTTP server on loopback that answers 404
// to every request, and returns its host:port and the number of
// connections it accepted.
func plainHTTPServer(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{
		Handler:           http.NotFoundHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String(), &conns
}

// A minio:// URL is HTTPS unless it says secure=false; when the server
// speaks plain HTTP the error says so at once, with what to add to the
// URL, and nothing is retried.
func TestPlainHTTPServerWithSecureURL(t *testing.T) {
	t.Parallel()
	host, conns := plainHTTPServer(t)
	p, err := New(t.Context(), Config{Endpoint: host, Bucket: "media", Secure: true, AccessKey: "AKIDFAKE", SecretKey: "fake-secret", MaxRetries: 5})
	require.NoError(t, err)
	defer p.Close()
	// MaxRetries 5 would make a retried call dial 5 times or more.
	calls := map[string]func() error{
		"list": func() error {
			for _, err := range p.List(t.Context(), nil) {
				return err
			}
			return nil
		},
		"stat": func() error { _, err := p.Stat(t.Context(), "k"); return err },
		"get":  func() error { _, _, err := p.Get(t.Context(), "k", nil); return err },
		"put":  func() error { _, err := p.Put(t.Context(), "k", strings.NewReader("data"), nil); return err },
	}
	for name, call := range calls {
		before := conns.Load()
		err := call()
		require.ErrorIs(t, err, storage.ErrInvalidArgument, name)
		assert.NotErrorIs(t, err, storage.ErrUnavailable, name)
		assert.Contains(t, err.Error(), "plain HTTP", name)
		assert.Contains(t, err.Error(), host+" speaks plain HTTP", name)
		assert.Contains(t, err.Error(), "secure=false", name)
		assert.NotContains(t, err.Error(), "\n", name)
		assert.LessOrEqual(t, conns.Load()-before, int32(2), "%s: no retries", name)
	}
}
