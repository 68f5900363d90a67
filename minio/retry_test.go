package minio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUploadRetriesGiveUp checks that an upload that keeps failing is tried
// Config.MaxRetries times, then fails as an outage, leaving nothing behind.
func TestUploadRetriesGiveUp(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		attempts int
	)
	f := newFakeServer(t, func(_ *fakeServer, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			mu.Lock()
			attempts++
			mu.Unlock()
		}
		io.CopyN(io.Discard, r.Body, 10)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `<Error><Code>SlowDown</Code><Message>slow down</Message></Error>`)
	})
	s := f.store(t, func(c *Config) { c.MaxRetries = 4 })
	s.d.retryUnit = time.Millisecond
	_, err := s.Put(t.Context(), "k", bytes.NewReader(make([]byte, 100_000)), nil)
	requireUnavailable(t, err, "put")
	mu.Lock()
	assert.Equal(t, 4, attempts)
	mu.Unlock()

	// A context cancelled after the first attempt stops the retries, and
	// the error is the context's.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	attempts = 0
	s = newFakeServer(t, func(_ *fakeServer, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		cancel()
		w.WriteHeader(http.StatusServiceUnavailable)
	}).store(t, func(c *Config) { c.MaxRetries = 4 })
	s.d.retryCap = time.Hour
	s.d.retryUnit = time.Hour // a backoff that only the cancellation ends
	_, err = s.Put(ctx, "k", bytes.NewReader(make([]byte, 100)), nil)
	requireCallerContext(t, err, context.Canceled, "put")
	mu.Lock()
	assert.Equal(t, 1, attempts)
	mu.Unlock()
}

// TestUploadRetrySendsWholeBody checks that a PUT that failed is sent again
// whole, once per attempt of sendBody's: minio-go before v7.3.0 takes the
// body of Core.PutObject for one it can rewind, which it is not, and sent
// what was left of it (nothing) again within the same attempt.
func TestUploadRetrySendsWholeBody(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		lengths []int64 // of each PUT's body, as received
	)
	s := newFakeServer(t, func(_ *fakeServer, w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		mu.Lock()
		lengths = append(lengths, n)
		first := len(lengths) == 1
		mu.Unlock()
		if first {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<Error><Code>SlowDown</Code><Message>slow down</Message></Error>`)
			return
		}
		w.Header().Set("ETag", `"etag"`)
	}).store(t, func(c *Config) { c.MaxRetries = 4 })
	s.d.retryUnit = time.Millisecond
	data := strings.Repeat("x", 1000)
	_, err := s.Put(t.Context(), "k", struct{ io.Reader }{strings.NewReader(data)}, nil)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int64{1000, 1000}, lengths, "two attempts, each with the whole body")
}

// TestRetryable checks which failures of an upload are tried again.
func TestRetryable(t *testing.T) {
	t.Parallel()
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	resp := func(code string, status int) error {
		return miniogo.ErrorResponse{Code: code, StatusCode: status, Message: "m"}
	}
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want bool
	}{
		{live, resp("SlowDown", 503), true},
		{live, resp("InternalError", 500), true},
		{live, resp("ExpiredToken", 400), true},
		{live, resp("RequestTimeout", 400), true},
		{live, resp("ClientDisconnected", 499), true},
		{live, resp("502 Bad Gateway", 502), true},
		{live, io.ErrUnexpectedEOF, true},
		{live, &url.Error{Op: "Put", URL: "u", Err: headerTimeout{}}, true},
		{live, resp("AccessDenied", 403), false},
		{live, resp("XAmzContentSHA256Mismatch", 400), false},
		{live, resp("NoSuchUpload", 404), false},
		{live, resp("XMinioStorageFull", 507), false},
		{live, context.Canceled, true}, // not the caller's: a timeout inside
		{canceled, resp("SlowDown", 503), false},
		{canceled, context.Canceled, false},
	} {
		assert.Equal(t, c.want, retryable(c.ctx, c.err), "%v (ctx err %v)", c.err, c.ctx.Err())
	}
}
