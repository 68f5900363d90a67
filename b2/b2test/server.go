package b2test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Server is an Emulator served over HTTP on a loopback address by
// net/http/httptest. Its Emulator's methods (faults, keys, inspection) are
// available on it directly.
type Server struct {
	*Emulator
	// URL is the base URL of the server, such as "http://127.0.0.1:40123".
	// Give it to a client as its API base.
	URL string

	srv *httptest.Server
}

// Start serves e on a new loopback httptest server. The caller must Close
// the server.
func (e *Emulator) Start() *Server {
	ts := httptest.NewServer(e)
	return &Server{Emulator: e, URL: ts.URL, srv: ts}
}

// NewServer starts an emulator configured by opts (nil for defaults) for
// the length of a test: the server is closed when tb and its subtests end.
func NewServer(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	s := New(opts).Start()
	tb.Cleanup(s.Close)
	return s
}

// Close shuts the server down and waits for the requests in flight. It may
// be called more than once.
func (s *Server) Close() { s.srv.Close() }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }
