package httpserve_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-storage/strata/httpserve/internal/benchserver"
)

// benchClients is how many keep-alive clients send requests at once.
const benchClients = 16

// BenchmarkServe serves the same files through httpserve and through
// net/http's http.FileServer, both over real TCP loopback with
// benchClients keep-alive clients, and reports the requests per second of
// each (req/s for httpserve, fs-req/s for the file server), their ratio
// (x-fileserver) and the 99th percentile of the time a request takes
// (p99-ms, fs-p99-ms), measured in the same run, the two servers taking
// turns: compare ratios, not
// absolute figures, on a machine shared with others.
//
// The cases: a 64 KiB object, a 64 KiB range in the middle of a 64 MiB
// file, and the whole 64 MiB file; over a local store and over a tiered
// store's cache hit (its remote a local store, every object in its cache);
// with the files written by strata (content type stored) or a plain tree
// of files written by another program (no metadata: httpserve sniffs the
// type). The file server serves the local store's directory.
//
//	go test -run '^$' -bench BenchmarkServe -benchtime 2s -count 3 ./httpserve/
//
// scripts/serve-bench.sh measures the same servers with wrk, a client
// outside the process, and adds the server's CPU time per request and
// nginx.
func BenchmarkServe(b *testing.B) {
	for _, store := range []string{"local", "tiered"} {
		for _, tree := range []string{"strata", "plain"} {
			b.Run(store+"/"+tree, func(b *testing.B) {
				h, dir, closeStore, err := benchserver.New(store, b.TempDir(), tree == "plain")
				if err != nil {
					b.Fatal(err)
				}
				defer closeStore()
				fs := httptest.NewServer(http.FileServer(http.Dir(dir)))
				defer fs.Close()
				hs := httptest.NewServer(h)
				defer hs.Close()
				for _, c := range []struct {
					name, path, rng string
					want            int
				}{
					{"64KiB", benchserver.Image, "", 64 << 10},
					{"range64KiB", benchserver.Video, fmt.Sprintf("bytes=%d-%d", 32<<20, 32<<20+64<<10-1), 64 << 10},
					{"whole64MiB", benchserver.Video, "", 64 << 20},
				} {
					b.Run(c.name, func(b *testing.B) {
						rates, p99s := benchRequests(b, [2]string{fs.URL + "/" + c.path, hs.URL + "/media/" + c.path}, c.rng, c.want)
						fsRate, rate, fsP99, p99 := rates[0], rates[1], p99s[0], p99s[1]
						b.ReportMetric(rate, "req/s")
						b.ReportMetric(fsRate, "fs-req/s")
						b.ReportMetric(rate/fsRate, "x-fileserver")
						b.ReportMetric(p99.Seconds()*1e3, "p99-ms")
						b.ReportMetric(fsP99.Seconds()*1e3, "fs-p99-ms")
						b.ReportMetric(0, "ns/op") // two servers timed apart: ns/op means nothing
					})
				}
			})
		}
	}
}

// benchRounds is how many turns each server takes in benchRequests, at
// most: each turn is of benchClients requests at least.
const benchRounds = 10

// benchRequests sends b.N GETs of each of urls (with the Range header
// rng, if any) from benchClients keep-alive clients per server, and
// returns the requests per second of each and the 99th percentile of the
// time a request took. The servers take turns, in benchRounds rounds, so
// that a change of the machine's load meets both alike. Each response
// must be a 200 or 206 of want bytes.
func benchRequests(b *testing.B, urls [2]string, rng string, want int) (rates [2]float64, p99s [2]time.Duration) {
	b.Helper()
	var clients [2]*http.Client
	for i := range clients {
		tr := &http.Transport{MaxIdleConnsPerHost: benchClients, MaxConnsPerHost: benchClients, DisableCompression: true}
		defer tr.CloseIdleConnections()
		clients[i] = &http.Client{Transport: tr}
	}
	get := func(i int) error {
		req, err := http.NewRequest(http.MethodGet, urls[i], nil)
		if err != nil {
			return err
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := clients[i].Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return err
		}
		if (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent) || n != int64(want) {
			return fmt.Errorf("GET %s: status %d, %d bytes, want %d", urls[i], resp.StatusCode, n, want)
		}
		return nil
	}
	for i := range urls {
		if err := get(i); err != nil { // warm up
			b.Fatal(err)
		}
	}
	var elapsed [2]time.Duration
	var took [2][]time.Duration
	done := 0
	rounds := max(1, min(benchRounds, b.N/benchClients))
	for round := range rounds {
		n := (b.N*(round+1))/rounds - done
		done += n
		for i := range urls {
			d, t, err := benchRound(n, func() error { return get(i) })
			if err != nil {
				b.Fatal(err)
			}
			elapsed[i] += d
			took[i] = append(took[i], t...)
		}
	}
	for i := range urls {
		slices.Sort(took[i])
		rates[i] = float64(b.N) / elapsed[i].Seconds()
		if len(took[i]) > 0 {
			p99s[i] = took[i][(len(took[i])-1)*99/100]
		}
	}
	return rates, p99s
}

// benchRound makes n requests with get from benchClients goroutines and
// returns how long they took in all and each.
func benchRound(n int, get func() error) (time.Duration, []time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	took := make([][]time.Duration, benchClients)
	start := time.Now()
	for i := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				if err := get(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				took[i] = append(took[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		return 0, nil, *err
	}
	return elapsed, slices.Concat(took...), nil
}
