package s3proto

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

// MaxIdlePerHost is the least number of idle connections to the server
// that TuneTransport has a transport keep. The SDKs' defaults (10 for
// aws-sdk-go-v2, 16 for minio-go) are fewer than the requests that callers
// such as strata migrate send at once: every request beyond them then
// closes its connection when done and the next one dials a new one, which
// costs both sides far more CPU than the request itself for small objects.
const MaxIdlePerHost = 256

// TuneTransport adjusts a driver's own transport for many requests at
// once: it keeps at least idle idle connections to the server (and never
// fewer than MaxIdlePerHost), and sends request bodies over plain HTTP
// through pooled copy buffers (see copyConn).
func TuneTransport(t *http.Transport, idle int) {
	t.MaxIdleConns = max(t.MaxIdleConns, idle, MaxIdlePerHost)
	t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, idle, MaxIdlePerHost)
	if dial := t.DialContext; dial != nil {
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &copyConn{Conn: c, w: struct{ io.Writer }{c}}, nil
		}
	}
}

// copyConn is a connection whose ReadFrom copies through a pooled buffer.
// net/http sends a request body with ReadFrom on the connection, and a
// TCP connection's ReadFrom, for a body that is neither a file nor a
// socket (both SDKs wrap every body, and net/http limits it to its
// Content-Length), allocates a fresh 32 KiB buffer for each request: for
// small objects, as much garbage as the objects themselves. Over TLS the
// connection net/http writes to is the TLS one, and this is not reached.
type copyConn struct {
	net.Conn
	w io.Writer // the connection, without ReadFrom (made once, not per body)
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom implements io.ReaderFrom.
func (c *copyConn) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(c.w, r, *buf)
}
