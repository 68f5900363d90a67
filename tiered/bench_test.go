package tiered_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

func benchCache(b *testing.B) *cache.Cache {
	b.Helper()
	c, err := cache.Open(b.TempDir(), cache.Options{MaxBytes: 4 << 30})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchStore(b *testing.B, remote storage.Provider, opts tiered.Options) *tiered.Store {
	b.Helper()
	s, err := tiered.New(benchCache(b), remote, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkSlowRemote compares a write-behind Put over a remote with 50 ms
// of latency and 5% of failed calls against a Put into the cache alone:
// PutPinned (fsynced, what a write-behind Put does locally) and plain Put
// (not fsynced). The three are interleaved in one loop, so they share the
// machine's state, and reported as ns/op of each and as ratios. Keys cycle
// over 1000, so pending uploads are overwritten, as a busy server's are,
// and the cache stays bounded.
func BenchmarkSlowRemote(b *testing.B) {
	fp := faults.Wrap(memory.New(), faults.WithFault(faults.Fault{Latency: 50 * time.Millisecond, FailRate: 0.05}))
	s := benchStore(b, fp, tiered.Options{Mode: tiered.WriteBehind, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	pinned, plain := benchCache(b), benchCache(b)
	b.Cleanup(func() { pinned.Close(); plain.Close() })
	data := conformance.RandomBytes(1, 64<<10)
	ctx := b.Context()
	var tBehind, tPinned, tPlain time.Duration
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("k/%04d", i%1000)
		t0 := time.Now()
		if _, err := s.Put(ctx, key, bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := pinned.PutPinned(ctx, key, bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := plain.Put(ctx, key, bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		tBehind += t1.Sub(t0)
		tPinned += t2.Sub(t1)
		tPlain += t3.Sub(t2)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(tBehind.Nanoseconds())/n, "behind-ns/put")
	b.ReportMetric(float64(tPinned.Nanoseconds())/n, "pinned-ns/put")
	b.ReportMetric(float64(tPlain.Nanoseconds())/n, "cache-ns/put")
	b.ReportMetric(float64(tBehind)/float64(tPinned), "behind/pinned")
	b.ReportMetric(float64(tBehind)/float64(tPlain), "behind/cache")
	st := s.Status()
	b.ReportMetric(float64(st.UploadFailures), "upload-failures")
	b.ReportMetric(float64(st.Uploaded), "uploads")
}

// BenchmarkGet measures reads of 256 KiB objects: straight from the remote
// (the baseline), through the store on a hit, and through the store on a
// miss (fetched from the remote into the cache, then served; the local
// copy is dropped, outside the timer, before each). The remote is a
// directory here; internal/integration/tieredminio runs the same over MinIO.
func BenchmarkGet(b *testing.B) {
	b.Run("remote=file", func(b *testing.B) {
		remote, err := local.New(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		benchGet(b, remote)
	})
}

func benchGet(b *testing.B, remote storage.Provider) {
	data := conformance.RandomBytes(2, 256<<10)
	ctx := b.Context()
	if _, err := remote.Put(ctx, "obj", bytes.NewReader(data), nil); err != nil {
		b.Fatal(err)
	}
	s := benchStore(b, shared{remote}, tiered.Options{})
	b.Cleanup(func() { remote.Close() })
	read := func(p storage.Provider) {
		rc, _, err := p.Get(ctx, "obj", nil)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			read(remote)
		}
	})
	b.Run("hit", func(b *testing.B) {
		read(s)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			read(s)
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			b.StopTimer()
			if _, err := s.Cache().Drop(ctx, "obj", ""); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			read(s)
		}
	})
}

// BenchmarkDrain measures how fast the uploaders empty a queue of 16 KiB
// objects left pending by an outage, over a remote in memory: the cost of
// the queue itself (reading the cache, hashing, unpinning).
func BenchmarkDrain(b *testing.B) {
	fp := faults.Wrap(memory.New())
	s := benchStore(b, fp, tiered.Options{Mode: tiered.WriteBehind, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	data := conformance.RandomBytes(3, 16<<10)
	ctx := b.Context()
	b.SetBytes(201 * int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		fp.Set(faults.Fault{FailRate: 1}, faults.OpPut)
		for i := range 200 {
			if _, err := s.Put(ctx, fmt.Sprintf("k/%d", i), bytes.NewReader(data), nil); err != nil {
				b.Fatal(err)
			}
		}
		fp.Clear()
		b.StartTimer()
		// One Put that succeeds tells the uploaders the remote is back.
		if _, err := s.Put(ctx, "probe", bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*201), "ns/upload")
}
