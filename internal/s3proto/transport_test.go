package s3proto

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A transport TuneTransport tuned keeps a connection per request in flight, so
// that many uploads at once (strata migrate sends 32) reuse their
// connections instead of dialing one per request, and bodies sent through
// its pooled copy buffers arrive intact.
func TestTunedTransportReusesConnections(t *testing.T) {
	var dialed atomic.Int64
	var mu sync.Mutex
	got := map[string][32]byte{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got[r.URL.Path] = sha256.Sum256(body)
		mu.Unlock()
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dialed.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	TuneTransport(tr, 0)
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	const parallel = 32
	want := map[string][32]byte{}
	for i := range parallel {
		want[pathOf(i)] = sha256.Sum256(bodyOf(i))
	}
	round := func() {
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() {
				// A reader net/http does not know, as the SDKs'
				// bodies are: it goes through the connection's ReadFrom.
				body := struct{ io.Reader }{bytes.NewReader(bodyOf(i))}
				req, err := http.NewRequest(http.MethodPut, srv.URL+pathOf(i), body)
				if !assert.NoError(t, err) {
					return
				}
				req.ContentLength = int64(len(bodyOf(i)))
				resp, err := client.Do(req)
				if assert.NoError(t, err) {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					assert.Equal(t, http.StatusOK, resp.StatusCode)
				}
			})
		}
		wg.Wait()
	}
	for range 6 {
		round()
	}
	assert.LessOrEqual(t, dialed.Load(), int64(parallel),
		"more connections dialed than requests were ever in flight: rounds dialed new ones instead of reusing idle ones")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, got, "bodies arrived intact")
}

func pathOf(i int) string { return "/bucket/obj" + string(rune('a'+i%26)) + string(rune('a'+i/26)) }

func bodyOf(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 40<<10+i) }

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
