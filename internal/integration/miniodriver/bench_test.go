package miniodriver_test

// Benchmarks against the shared MinIO container (run only with -bench):
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/integration/miniodriver/
//
// Each throughput benchmark times strata's Store and minio-go called
// directly on the same data, alternating within every iteration so both
// see the same server state, and reports both throughputs and their ratio
// (strata / minio-go; the goal is at least 0.95). The memory benchmarks
// report the peak resident memory (above the level before the upload) of
// a 1 GiB upload of unknown length.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

const mib = 1 << 20

// benchEnv is a Store with the default configuration (16 MiB parts, 4
// threads) on a fresh bucket, and minio-go's client on the same bucket.
func benchEnv(b *testing.B, mod func(*minio.Config)) (*minio.Store, *miniogo.Client, string) {
	b.Helper()
	e := newEnv(b, func(c *minio.Config) {
		c.PartSize = 0 // the defaults, not the tests' small parts
		if mod != nil {
			mod(c)
		}
	})
	// Empty the bucket here, with time to spare, before miniotest removes
	// it: thousands of objects outlast its cleanup's deadline on a busy
	// machine.
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		c := e.srv.Client()
		objs := c.ListObjects(ctx, e.bucket, miniogo.ListObjectsOptions{Recursive: true})
		for r := range c.RemoveObjects(ctx, e.bucket, objs, miniogo.RemoveObjectsOptions{}) {
			b.Errorf("emptying the bucket: %v", r.Err)
		}
	})
	return e.store, e.srv.Client(), e.bucket
}

// pair times f(strata) and g(minio-go) alternately, b.N times each, and
// reports their throughputs for bytesPer bytes per call and the ratio.
func pair(b *testing.B, bytesPer int64, strata, direct func(i int)) {
	b.Helper()
	var ts, td time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Alternate which goes first, so that neither always meets the
		// server still busy with the other's writes.
		first, second, d1, d2 := direct, strata, &td, &ts
		if i%2 == 1 {
			first, second, d1, d2 = strata, direct, &ts, &td
		}
		start := time.Now()
		first(i)
		*d1 += time.Since(start)
		start = time.Now()
		second(i)
		*d2 += time.Since(start)
	}
	b.StopTimer()
	mbps := func(d time.Duration) float64 { return float64(bytesPer) * float64(b.N) / d.Seconds() / mib }
	b.ReportMetric(mbps(ts), "strata-MiB/s")
	b.ReportMetric(mbps(td), "miniogo-MiB/s")
	b.ReportMetric(td.Seconds()/ts.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op") // the pair's total time means nothing alone
}

// BenchmarkLarge uploads and downloads one 256 MiB object. Upload/Stream
// gives both a plain io.Reader of known size (a request body): strata then
// records the checksum afterwards with a copy of the object onto itself.
// Upload/Seekable gives both a *bytes.Reader (as an *os.File would be):
// strata hashes it first and sends parts straight from it, and minio-go
// reads it in parallel with ReadAt, its best case.
func BenchmarkLarge(b *testing.B) {
	const size = 256 * mib
	data := conformance.RandomBytes(1, size)
	s, c, bucket := benchEnv(b, nil)
	ctx := b.Context()
	for _, seek := range []bool{false, true} {
		name := "Upload/Stream"
		reader := func() io.Reader { return onlyReader{bytes.NewReader(data)} }
		if seek {
			name = "Upload/Seekable"
			reader = func() io.Reader { return bytes.NewReader(data) }
		}
		b.Run(name, func(b *testing.B) {
			pair(b, size, func(i int) {
				if _, err := s.Put(ctx, "large-strata", reader(), &storage.PutOptions{Size: size}); err != nil {
					b.Fatal(err)
				}
			}, func(i int) {
				if _, err := c.PutObject(ctx, bucket, "large-direct", reader(), size, miniogo.PutObjectOptions{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	// The downloads read what the uploads wrote; upload it here when
	// -bench selected only the downloads.
	if _, err := s.Stat(ctx, "large-strata"); err != nil {
		if _, err := s.Put(ctx, "large-strata", bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.PutObject(ctx, bucket, "large-direct", bytes.NewReader(data), size, miniogo.PutObjectOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// Download reads the object whole, so strata checks it against its
	// SHA-256 as it streams (the default); DownloadSkipVerify is the same
	// with Config.SkipVerifyReads, to show what the check costs. On a
	// shared 2-core machine (load 10 to 30): Download ratio 0.48 to 0.88,
	// DownloadSkipVerify 0.85 to 1.57; before the check, Download was 1.08
	// and 1.30.
	srv := miniotest.Start(b)
	noVerify, err := minio.New(ctx, minio.Config{Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey, Bucket: bucket, SkipVerifyReads: true})
	if err != nil {
		b.Fatal(err)
	}
	defer noVerify.Close()
	for _, st := range []struct {
		name  string
		store *minio.Store
	}{{"Download", s}, {"DownloadSkipVerify", noVerify}} {
		b.Run(st.name, func(b *testing.B) {
			pair(b, size, func(i int) {
				rc, _, err := st.store.Get(ctx, "large-strata", nil)
				if err != nil {
					b.Fatal(err)
				}
				drain(b, rc, size)
			}, func(i int) {
				obj, err := c.GetObject(ctx, bucket, "large-direct", miniogo.GetObjectOptions{})
				if err != nil {
					b.Fatal(err)
				}
				drain(b, obj, size)
			})
		})
	}
}

func drain(b *testing.B, rc io.ReadCloser, want int64) {
	b.Helper()
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil || n != want {
		b.Fatalf("read %d bytes (want %d): %v", n, want, err)
	}
}

// BenchmarkSmall uploads and downloads 2,000 objects of 64 KiB, one at a
// time, with keys two levels deep ("small/NNNN"). PrefixCheck is the
// default Store, which checks each Put's key for a prefix conflict first;
// NoPrefixCheck sets Config.PrefixCheck to PrefixCheckOff.
func BenchmarkSmall(b *testing.B) {
	const (
		count = 2000
		size  = 64 << 10
	)
	objs := make([][]byte, count)
	for i := range objs {
		objs[i] = conformance.RandomBytes(uint64(i), size)
	}
	for _, skip := range []bool{false, true} {
		name := "PrefixCheck"
		if skip {
			name = "NoPrefixCheck"
		}
		b.Run(name, func(b *testing.B) {
			s, c, bucket := benchEnv(b, func(cfg *minio.Config) {
				if skip {
					cfg.PrefixCheck = minio.PrefixCheckOff
				}
			})
			ctx := b.Context()
			key := func(p string, j int) string { return fmt.Sprintf("%s/%04d", p, j) }
			b.Run("Upload", func(b *testing.B) {
				pair(b, count*size, func(i int) {
					for j, d := range objs {
						if _, err := s.Put(ctx, key("strata", j), onlyReader{bytes.NewReader(d)}, &storage.PutOptions{Size: size}); err != nil {
							b.Fatal(err)
						}
					}
				}, func(i int) {
					for j, d := range objs {
						if _, err := c.PutObject(ctx, bucket, key("direct", j), onlyReader{bytes.NewReader(d)}, size, miniogo.PutObjectOptions{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			if skip {
				return // the same downloads as with the check
			}
			b.Run("Download", func(b *testing.B) {
				pair(b, count*size, func(i int) {
					for j := range objs {
						rc, _, err := s.Get(ctx, key("strata", j), nil)
						if err != nil {
							b.Fatal(err)
						}
						drain(b, rc, size)
					}
				}, func(i int) {
					for j := range objs {
						obj, err := c.GetObject(ctx, bucket, key("direct", j), miniogo.GetObjectOptions{})
						if err != nil {
							b.Fatal(err)
						}
						drain(b, obj, size)
					}
				})
			})
		})
	}
}

// BenchmarkGetStyles compares ways to make a Get of a 64 KiB object fail
// at the call for a missing key: Core.GetObject (what Store.Get does: one
// request, headers at once), StatObject then GetObject (two requests), and
// GetObject then Object.Stat (minio-go's lazy object, forced to send its
// first request). It reports the time per Get and read.
func BenchmarkGetStyles(b *testing.B) {
	const size = 64 << 10
	s, c, bucket := benchEnv(b, nil)
	ctx := b.Context()
	_, err := c.PutObject(ctx, bucket, "obj", bytes.NewReader(conformance.RandomBytes(1, size)), size, miniogo.PutObjectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	core := miniogo.Core{Client: c}
	styles := []struct {
		name string
		get  func() (io.ReadCloser, error)
	}{
		{"CoreGetObject", func() (io.ReadCloser, error) {
			rc, _, _, err := core.GetObject(ctx, bucket, "obj", miniogo.GetObjectOptions{})
			return rc, err
		}},
		{"StatThenGetObject", func() (io.ReadCloser, error) {
			if _, err := c.StatObject(ctx, bucket, "obj", miniogo.StatObjectOptions{}); err != nil {
				return nil, err
			}
			return c.GetObject(ctx, bucket, "obj", miniogo.GetObjectOptions{})
		}},
		{"GetObjectThenStat", func() (io.ReadCloser, error) {
			obj, err := c.GetObject(ctx, bucket, "obj", miniogo.GetObjectOptions{})
			if err != nil {
				return nil, err
			}
			if _, err := obj.Stat(); err != nil {
				obj.Close()
				return nil, err
			}
			return obj, nil
		}},
		{"StoreGet", func() (io.ReadCloser, error) {
			rc, _, err := s.Get(ctx, "obj", nil)
			return rc, err
		}},
	}
	for _, st := range styles {
		b.Run(st.name, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				rc, err := st.get()
				if err != nil {
					b.Fatal(err)
				}
				drain(b, rc, size)
			}
		})
	}
}

// BenchmarkMultipartSHA256 measures what recording the checksum of a
// multipart upload costs (the conditional copy of the object onto itself):
// a 64 MiB upload of unknown length with and without it.
func BenchmarkMultipartSHA256(b *testing.B) {
	// Larger than the Concurrency+1 parts a stream is read ahead, so its
	// SHA-256 is known only after the upload.
	const size = 128 * mib
	data := conformance.RandomBytes(2, size)
	with, _, _ := benchEnv(b, func(c *minio.Config) { c.RecordLargeSHA256 = true })
	without, _, _ := benchEnv(b, nil)
	// "strata" is with the checksum, "minio-go" without: the ratio is the
	// throughput kept when recording it.
	pair(b, size, func(i int) {
		if _, err := with.Put(b.Context(), "obj", onlyReader{bytes.NewReader(data)}, nil); err != nil {
			b.Fatal(err)
		}
	}, func(i int) {
		if _, err := without.Put(b.Context(), "obj", onlyReader{bytes.NewReader(data)}, nil); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkUnknownLength1GiB uploads 1 GiB from a reader of unknown length
// and reports the peak resident memory above the level before the upload,
// sampled every millisecond: through the Store (default configuration),
// and through minio-go's PutObject with size -1 and its defaults, with an
// explicit 16 MiB PartSize, and with ConcurrentStreamParts.
func BenchmarkUnknownLength1GiB(b *testing.B) {
	const size = 1 << 30
	s, c, bucket := benchEnv(b, nil)
	ctx := b.Context()
	cases := []struct {
		name string
		put  func() error
	}{
		{"Store", func() error {
			_, err := s.Put(ctx, "u-strata", conformance.RandomReader(1, size), nil)
			return err
		}},
		{"minio-go/default", func() error {
			_, err := c.PutObject(ctx, bucket, "u-direct", conformance.RandomReader(1, size), -1, miniogo.PutObjectOptions{})
			return err
		}},
		{"minio-go/PartSize16MiB", func() error {
			_, err := c.PutObject(ctx, bucket, "u-direct", conformance.RandomReader(1, size), -1, miniogo.PutObjectOptions{PartSize: 16 * mib})
			return err
		}},
		{"minio-go/ConcurrentStreamParts", func() error {
			_, err := c.PutObject(ctx, bucket, "u-direct", conformance.RandomReader(1, size), -1,
				miniogo.PutObjectOptions{PartSize: 16 * mib, NumThreads: 4, ConcurrentStreamParts: true})
			return err
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var peakRSS, peakHeap uint64
			var took time.Duration
			for i := 0; i < b.N; i++ {
				rss, heap, d, err := peakDuring(tc.put)
				if err != nil {
					b.Fatal(err)
				}
				peakRSS, peakHeap, took = max(peakRSS, rss), max(peakHeap, heap), took+d
			}
			b.ReportMetric(float64(peakRSS)/mib, "peak-rss-MiB")
			b.ReportMetric(float64(peakHeap)/mib, "peak-heap-MiB")
			b.ReportMetric(float64(size)*float64(b.N)/took.Seconds()/mib, "MiB/s")
		})
	}
}

// peakDuring runs f and returns the peak resident set size and the peak
// in-use heap while it ran, both above their level before it started. The
// sampler allocates nothing, so it does not add to what it measures.
func peakDuring(f func() error) (rss, heap uint64, took time.Duration, err error) {
	statm, err := os.Open("/proc/self/statm")
	if err != nil {
		return 0, 0, 0, err
	}
	defer statm.Close()
	var buf [128]byte
	pageSize := uint64(os.Getpagesize())
	readRSS := func() uint64 {
		n, _ := statm.ReadAt(buf[:], 0)
		// "size resident shared ...", in pages.
		fields := bytes.Fields(buf[:n])
		if len(fields) < 2 {
			return 0
		}
		var pages uint64
		for _, c := range fields[1] {
			pages = pages*10 + uint64(c-'0')
		}
		return pages * pageSize
	}
	var ms runtime.MemStats
	readHeap := func() uint64 {
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}

	runtime.GC()
	debug.FreeOSMemory()
	rss0, heap0 := readRSS(), readHeap()
	peakR, peakH := rss0, heap0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(2 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
				peakR, peakH = max(peakR, readRSS()), max(peakH, readHeap())
			}
		}
	})
	start := time.Now()
	err = f()
	took = time.Since(start)
	close(stop)
	wg.Wait()
	peakR, peakH = max(peakR, readRSS()), max(peakH, readHeap())
	return peakR - rss0, peakH - heap0, took, err
}
