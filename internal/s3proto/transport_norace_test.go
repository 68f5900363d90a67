//go:build !race

package s3proto

// Under the race detector sync.Pool drops a share of what is put back, on
// purpose, so a pooled buffer is allocated again now and then: what this
// file measures holds only without it (make test runs the package both
// ways).

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A body sent through a tuned connection is copied through a pooled
// buffer: no 32 KiB buffer allocated per request, as TCPConn.ReadFrom
// does for a reader that is neither a file nor a socket.
func TestTunedConnectionCopiesWithoutAllocating(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	tr := &http.Transport{DialContext: (&net.Dialer{}).DialContext}
	TuneTransport(tr, 0)
	c, err := tr.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rf, ok := c.(io.ReaderFrom)
	if !ok {
		t.Fatal("a tuned connection has no ReadFrom")
	}
	data := bytes.Repeat([]byte("x"), 32<<10)
	src := bytes.NewReader(data)
	body := struct{ io.Reader }{src} // a reader net/http does not know
	rf.ReadFrom(body)                // the pool's first buffer
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		src.Reset(data)
		if n, err := rf.ReadFrom(body); err != nil || n != int64(len(data)) {
			t.Fatalf("ReadFrom: %d, %v", n, err)
		}
	}
	runtime.ReadMemStats(&after)
	perBody := (after.TotalAlloc - before.TotalAlloc) / runs
	assert.Less(t, perBody, uint64(1<<10), "bytes allocated per 32 KiB body sent")
}
