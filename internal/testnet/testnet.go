// Package testnet has the loopback servers strata's tests use to see what
// a client sends: how many connections it opened, whether it dialed at
// all. It is for tests only.
package testnet

import (
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// CountingServer starts a plain-HTTP server on 127.0.0.1 that answers
// with h, and returns its host:port and the number of connections it has
// accepted so far. The server stops when the test ends.
func CountingServer(t testing.TB, h http.Handler) (hostport string, conns *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testnet: listen on loopback: %v", err)
	}
	conns = new(atomic.Int32)
	hs := &http.Server{
		Handler:           h,
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
	return ln.Addr().String(), conns
}
