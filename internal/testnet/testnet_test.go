package testnet_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/strata-storage/strata/internal/testnet"
)

// Each new connection is counted once, whatever it sends; a kept-alive
// connection is not counted again.
func TestCountingServer(t *testing.T) {
	host, conns := testnet.CountingServer(t, http.NotFoundHandler())
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections before any request", n)
	}
	c := &http.Client{Transport: &http.Transport{}}
	for range 3 {
		resp, err := c.Get("http://" + host + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 requests on one kept-alive connection, want 1", n)
	}
	c.CloseIdleConnections()
	resp, err := c.Get("http://" + host + "/y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections after a new one, want 2", n)
	}
}
