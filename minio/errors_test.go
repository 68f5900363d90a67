package minio

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// fakeServer is an S3 endpoint on loopback answering every request with a
// handler of the test's. Handlers that hang return when the test ends.
type fakeServer struct {
	*httptest.Server
	stop chan struct{} // closed when the test ends
}

func newFakeServer(t *testing.T, h func(f *fakeServer, w http.ResponseWriter, r *http.Request)) *fakeServer {
	t.Helper()
	f := &fakeServer{stop: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(f, w, r) }))
	t.Cleanup(f.Close)                  // runs second: waits for the handlers
	t.Cleanup(func() { close(f.stop) }) // runs first: releases them
	return f
}

// hanging answers nothing until the client goes away or the test ends.
func hanging(f *fakeServer, _ http.ResponseWriter, r *http.Request) { f.hang(r) }

// hang blocks until the client goes away or the test ends.
func (f *fakeServer) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.stop:
	}
}

// store returns a Store on the fake server that tries each request once,
// with mod applied to its Config.
func (f *fakeServer) store(t *testing.T, mod func(*Config)) *Store {
	t.Helper()
	cfg := Config{Endpoint: strings.TrimPrefix(f.URL, "http://"), Region: "us-east-1", AccessKey: "access",
		SecretKey: "secret-never-shown", Bucket: "bucket", MaxRetries: 1, SkipPrefixCheck: true}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// operations returns each operation of s that sends a request, by name. A
// Get that succeeds is read to its end.
func operations(s *Store) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"stat": func(ctx context.Context) error { _, err := s.Stat(ctx, "k"); return err },
		"get": func(ctx context.Context) error {
			rc, _, err := s.Get(ctx, "k", nil)
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			return err
		},
		"put":    func(ctx context.Context) error { _, err := s.Put(ctx, "k", strings.NewReader("data"), nil); return err },
		"delete": func(ctx context.Context) error { return s.Delete(ctx, "k") },
		"list": func(ctx context.Context) error {
			for _, err := range s.List(ctx, nil) {
				return err
			}
			return errors.New("List yielded nothing")
		},
		"copy": func(ctx context.Context) error { _, err := s.Copy(ctx, "dst", "k"); return err },
	}
}

// every runs each operation of s with ctx and returns their errors by name.
func every(ctx context.Context, s *Store) map[string]error {
	errs := map[string]error{}
	for name, op := range operations(s) {
		errs[name] = op(ctx)
	}
	return errs
}

// requireUnavailable checks that err is an outage, not a context error.
func requireUnavailable(t *testing.T, err error, what string) {
	t.Helper()
	require.ErrorIs(t, err, storage.ErrUnavailable, what)
	require.NotErrorIs(t, err, storage.ErrNotFound, what)
	require.False(t, storage.IsContextError(err), "%s: %v matches a context error, but the caller's context is live", what, err)
	assert.NotContains(t, err.Error(), "secret-never-shown", what)
}

// requireCallerContext checks that err reports the caller's context ending
// (want) and nothing else.
func requireCallerContext(t *testing.T, err, want error, what string) {
	t.Helper()
	require.ErrorIs(t, err, want, what)
	require.NotErrorIs(t, err, storage.ErrUnavailable, what)
	var se *storage.Error
	require.ErrorAs(t, err, &se, what)
	require.Nil(t, se.Kind, what)
}

// TestResponseHeaderTimeout checks that a transport that gives up waiting
// for the server (http.Transport.ResponseHeaderTimeout, whose error
// net/http makes match context.DeadlineExceeded) is an outage while the
// caller's context is live, for every operation.
func TestResponseHeaderTimeout(t *testing.T) {
	t.Parallel()
	s := newFakeServer(t, hanging).store(t, func(c *Config) {
		c.Transport = &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	})
	for op, err := range every(context.Background(), s) {
		requireUnavailable(t, err, op)
		var netErr net.Error
		require.ErrorAs(t, err, &netErr, op)
		assert.True(t, netErr.Timeout(), op)
		assert.Contains(t, err.Error(), "timeout awaiting response headers", op)
	}
}

// TestCallerContextEnds checks that when the caller's own context ends
// while the server is silent, the error is the context's, not an outage.
func TestCallerContextEnds(t *testing.T) {
	t.Parallel()
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
			cancel() // the caller gives up once the request is in
			f.hang(r)
		}).store(t, func(c *Config) {
			c.Transport = &http.Transport{ResponseHeaderTimeout: time.Hour}
		})
		_, err := s.Stat(ctx, "k")
		requireCallerContext(t, err, context.Canceled, "stat")
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		s := newFakeServer(t, hanging).store(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err := s.Get(ctx, "k", nil)
		requireCallerContext(t, err, context.DeadlineExceeded, "get")
	})
}

// TestBodyReadTimeout checks that a read deadline of the connection (a
// net.Error whose Timeout is true) that passes while a Get's body is read
// is an outage.
func TestBodyReadTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		f.hang(r) // the other 990 bytes never come
	})
	deadlineDialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		}
		return c, err
	}
	s := f.store(t, func(c *Config) { c.Transport = &http.Transport{DialContext: deadlineDialer} })
	rc, _, err := s.Get(context.Background(), "k", nil)
	if err == nil {
		// The usual case: the headers came in time, the body stalls.
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	requireUnavailable(t, err, "get")
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout())
}

// TestClientDisconnected checks that a 499 (nginx's "client closed
// request", MinIO's ClientDisconnected) is an outage while the caller's
// context is live, and the caller's context error when it is not.
func TestClientDisconnected(t *testing.T) {
	t.Parallel()
	answer := func(_ *fakeServer, w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(statusClientClosedRequest)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>ClientDisconnected</Code><Message>Client disconnected before response was ready</Message></Error>`)
	}
	t.Run("live", func(t *testing.T) {
		t.Parallel()
		s := newFakeServer(t, answer).store(t, nil)
		for op, err := range every(context.Background(), s) {
			requireUnavailable(t, err, op)
			var resp miniogo.ErrorResponse
			require.ErrorAs(t, err, &resp, op)
			assert.Equal(t, 499, resp.StatusCode, op)
		}
	})
	t.Run("plain 499", func(t *testing.T) {
		t.Parallel()
		s := newFakeServer(t, func(_ *fakeServer, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(statusClientClosedRequest)
		}).store(t, nil)
		for op, err := range every(context.Background(), s) {
			requireUnavailable(t, err, op)
		}
	})
	t.Run("caller gone", func(t *testing.T) {
		t.Parallel()
		// Each operation on a server of its own, which cancels the
		// caller's context when the request comes in and answers 499.
		// The client sees either the 499 or its own cancellation,
		// whichever comes first: both are the caller's doing.
		for _, op := range []string{"stat", "get", "put", "delete", "list", "copy"} {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newFakeServer(t, func(f *fakeServer, w http.ResponseWriter, r *http.Request) {
				cancel()
				answer(f, w, r)
			}).store(t, nil)
			requireCallerContext(t, operations(s)[op](ctx), context.Canceled, op)
		}
	})
}

// headerTimeout is net/http's error for a ResponseHeaderTimeout (which is
// unexported): a net.Error that matches context.DeadlineExceeded.
type headerTimeout struct{}

func (headerTimeout) Error() string        { return "net/http: timeout awaiting response headers" }
func (headerTimeout) Timeout() bool        { return true }
func (headerTimeout) Temporary() bool      { return true }
func (headerTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

func TestMapErrContext(t *testing.T) {
	t.Parallel()
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	timeout := &url.Error{Op: "Get", URL: "http://127.0.0.1:9000/b/k", Err: headerTimeout{}}
	ioTimeout := &net.OpError{Op: "read", Net: "tcp", Err: &timeoutErr{}}
	resp499 := miniogo.ErrorResponse{Code: "ClientDisconnected", StatusCode: 499, Message: "m"}
	plain499 := miniogo.ErrorResponse{Code: "499 status code 499", StatusCode: 499}
	cases := []struct {
		name     string
		ctx      context.Context
		err      error
		kind     error
		matches  error // the error must match this
		excludes error // and not this
	}{
		{"header timeout, live", live, timeout, storage.ErrUnavailable, timeout, context.DeadlineExceeded},
		{"io timeout, live", live, ioTimeout, storage.ErrUnavailable, ioTimeout, context.DeadlineExceeded},
		{"canceled inside minio-go, live", live, context.Canceled, storage.ErrUnavailable, nil, context.Canceled},
		{"499, live", live, resp499, storage.ErrUnavailable, resp499, context.Canceled},
		{"plain 499, live", live, plain499, storage.ErrUnavailable, plain499, context.Canceled},
		{"header timeout, canceled", canceled, timeout, nil, context.Canceled, storage.ErrUnavailable},
		{"header timeout, expired", expired, timeout, nil, context.DeadlineExceeded, storage.ErrUnavailable},
		{"499, canceled", canceled, resp499, nil, context.Canceled, storage.ErrUnavailable},
		{"reset, canceled", canceled, io.ErrUnexpectedEOF, nil, context.Canceled, storage.ErrUnavailable},
		{"context canceled, canceled", canceled, context.Canceled, nil, context.Canceled, storage.ErrUnavailable},
		// A definite answer stands even when the context ended after it.
		{"not found, canceled", canceled, miniogo.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, storage.ErrNotFound, storage.ErrNotFound, context.Canceled},
	}
	for _, c := range cases {
		err := mapErr(c.ctx, "get", "k", c.err)
		var se *storage.Error
		require.ErrorAs(t, err, &se, c.name)
		assert.Equal(t, c.kind, se.Kind, c.name)
		if c.matches != nil {
			assert.ErrorIs(t, err, c.matches, c.name)
		}
		assert.NotErrorIs(t, err, c.excludes, c.name)
		assert.Contains(t, err.Error(), c.err.Error(), "%s: the cause's message is kept", c.name)
	}

	// What the transport error still offers: errors.As finds the
	// net.Error and the *url.Error it wraps.
	err := mapErr(live, "get", "k", timeout)
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout())
	var urlErr *url.Error
	require.ErrorAs(t, err, &urlErr)
	assert.Equal(t, "Get", urlErr.Op)
	require.False(t, errors.Is(err, context.Canceled))
}

// timeoutErr is an i/o timeout, as os.ErrDeadlineExceeded.
type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }
