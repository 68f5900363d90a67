package s3proto

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
