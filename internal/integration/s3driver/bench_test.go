package s3driver_test

// Benchmarks against the shared MinIO (they run only with -bench):
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/integration/s3driver/
//
// Each transfer benchmark runs the SDK called directly (the baseline: the
// transfer manager for large uploads, PutObject and GetObject otherwise)
// and strata's Store as sub-benchmarks of one run, on the same client,
// part size and concurrency, then both interleaved; the "ratio"
// sub-benchmark reports strata's throughput as a ratio of the SDK's
// ("x-sdk"; the goal is 0.95 or more).
// BenchmarkPeakMemory reports the peak heap of a 1 GiB upload of unknown
// length.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// benchStore returns a Store with the default part size and concurrency
// on a fresh bucket, and a transfer manager on the same client configured
// alike, with checksums only when required as MinIO needs.
//
// With STRATA_S3_BENCH_URL set to an s3:// URL (credentials from the
// AWS_* environment), the benchmarks run against that existing bucket
// instead of the test MinIO, writing keys under bench/.
func benchStore(b *testing.B) (*s3.Store, *transfermanager.Client) {
	b.Helper()
	var st *s3.Store
	concurrency := s3.DefaultConcurrency
	if raw := os.Getenv("STRATA_S3_BENCH_URL"); raw != "" {
		u, err := url.Parse(raw)
		require.NoError(b, err)
		cfg, err := s3.ConfigFromURL(u)
		require.NoError(b, err)
		if cfg.Concurrency != 0 {
			concurrency = cfg.Concurrency
		}
		st, err = s3.New(context.Background(), cfg)
		require.NoError(b, err)
		b.Cleanup(func() { st.Close() })
	} else {
		st, _ = newTestStore(b, func(c *s3.Config) {
			// STRATA_S3_BENCH_PREFIX_CHECK=false compares like with like
			// against a release whose default was no check.
			if v := os.Getenv("STRATA_S3_BENCH_PREFIX_CHECK"); v != "" {
				pc, err := s3proto.ParsePrefixCheck(v)
				require.NoError(b, err)
				c.PrefixCheck = pc
			}
		})
	}
	tm := transfermanager.New(st.Client(), func(o *transfermanager.Options) {
		o.PartSizeBytes = st.Parts().Size
		o.Concurrency = concurrency
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return st, tm
}

// pair runs the SDK's and strata's version of one operation as the
// sub-benchmarks sdk and strata, and then both interleaved (alternating
// which goes first) as the sub-benchmark ratio, which reports strata's
// throughput as a ratio of the SDK's: x-sdk over the whole run and
// x-sdk-median over its rounds. The interleaved ratio is the one to read
// on a shared or busy machine, where load drifts between sub-benchmarks.
func pair(b *testing.B, bytesPerOp int64, sdk, strata func() error) {
	b.Run("sdk", func(b *testing.B) {
		b.SetBytes(bytesPerOp)
		for b.Loop() {
			require.NoError(b, sdk())
		}
	})
	b.Run("strata", func(b *testing.B) {
		b.SetBytes(bytesPerOp)
		for b.Loop() {
			require.NoError(b, strata())
		}
	})
	b.Run("ratio", func(b *testing.B) {
		b.SetBytes(2 * bytesPerOp)
		var tSDK, tStrata, cSDK, cStrata time.Duration
		var ratios []float64
		// timed returns the wall time of f and the CPU time this process
		// spent meanwhile (the client's work; the server's is not counted).
		timed := func(f func() error) (time.Duration, time.Duration) {
			c0, t0 := processCPU(), time.Now()
			require.NoError(b, f())
			return time.Since(t0), processCPU() - c0
		}
		for i := 0; b.Loop(); i++ {
			var ds, dt, cs, ct time.Duration
			if i%2 == 0 {
				ds, cs = timed(sdk)
				dt, ct = timed(strata)
			} else {
				dt, ct = timed(strata)
				ds, cs = timed(sdk)
			}
			tSDK += ds
			tStrata += dt
			cSDK += cs
			cStrata += ct
			ratios = append(ratios, float64(ds)/float64(dt))
		}
		slices.Sort(ratios)
		b.ReportMetric(float64(tSDK)/float64(tStrata), "x-sdk")
		b.ReportMetric(float64(cStrata)/float64(cSDK), "client-cpu-x-sdk")
		b.ReportMetric(ratios[len(ratios)/2], "x-sdk-median")
		b.ReportMetric(float64(bytesPerOp)*float64(len(ratios))/tSDK.Seconds()/1e6, "sdk-MB/s")
		b.ReportMetric(float64(bytesPerOp)*float64(len(ratios))/tStrata.Seconds()/1e6, "strata-MB/s")
	})
}

func BenchmarkLarge256MiB(b *testing.B) {
	const size = 256 << 20
	st, tm := benchStore(b)
	data := conformance.RandomBytes(256, size)
	ctx := context.Background()
	b.Run("Upload", func(b *testing.B) {
		pair(b, size, func() error {
			_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
				Bucket: aws.String(st.Bucket()), Key: aws.String("bench/sdk"), Body: onlyReader{bytes.NewReader(data)},
			})
			return err
		}, func() error {
			_, err := st.Put(ctx, "bench/strata", onlyReader{bytes.NewReader(data)}, nil)
			return err
		})
	})
	b.Run("Download", func(b *testing.B) {
		// One object, with its SHA-256 recorded as strata's Put records it
		// for smaller objects, read by both: strata verifies it as it
		// streams, the SDK reads it as it is.
		_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String("bench/dl"), Body: onlyReader{bytes.NewReader(data)},
			Metadata: map[string]string{s3proto.MetaSHA256: sha(data)},
		})
		require.NoError(b, err)
		pair(b, size, func() error {
			out, err := st.Client().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String("bench/dl")})
			if err != nil {
				return err
			}
			return readAll(out.Body, size)
		}, func() error {
			rc, _, err := st.Get(ctx, "bench/dl", nil)
			if err != nil {
				return err
			}
			return readAll(rc, size)
		})
	})
}

// readAll reads r to its end, closes it, and checks it held size bytes.
func readAll(r io.ReadCloser, size int64) error {
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	if err == nil && n != size {
		err = fmt.Errorf("read %d bytes, want %d", n, size)
	}
	return err
}

// BenchmarkUploadTLS256MiB is the 256 MiB upload over TLS (to the test
// MinIO with a self-signed certificate). Over TLS the SDK sends unsigned
// payloads, so strata's SHA-256 is the only hash of the data on the client;
// over plain HTTP the SDK also hashes every part to sign it.
func BenchmarkUploadTLS256MiB(b *testing.B) {
	const size = 256 << 20
	st, _, _ := newTLSStore(b, s3proto.Knobs{}, nil) // the default part size and concurrency
	tm := transfermanager.New(st.Client(), func(o *transfermanager.Options) {
		o.PartSizeBytes = st.Parts().Size
		o.Concurrency = s3.DefaultConcurrency
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	data := conformance.RandomBytes(256, size)
	ctx := context.Background()
	pair(b, size, func() error {
		_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(st.Bucket()), Key: aws.String("bench/sdk"), Body: onlyReader{bytes.NewReader(data)},
		})
		return err
	}, func() error {
		_, err := st.Put(ctx, "bench/strata", onlyReader{bytes.NewReader(data)}, nil)
		return err
	})
}

func BenchmarkSmall2000x64KiB(b *testing.B) {
	const (
		count   = 2000
		size    = 64 << 10
		workers = 8
	)
	st, _ := benchStore(b)
	b.Cleanup(func() { deleteAll(b, st, "bench/") })
	data := conformance.RandomBytes(64, size)
	ctx := context.Background()
	// each runs f for every object, workers at a time.
	each := func(f func(i int) error) error {
		var wg sync.WaitGroup
		next := make(chan int)
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for i := range next {
					if err := f(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	feed:
		for i := range count {
			select {
			case next <- i:
			case err := <-errs:
				errs <- err
				break feed
			}
		}
		close(next)
		wg.Wait()
		close(errs)
		return <-errs
	}
	key := func(who string, i int) string { return fmt.Sprintf("bench/%s/%04d", who, i) }
	b.Run("Upload", func(b *testing.B) {
		pair(b, count*size, func() error {
			return each(func(i int) error {
				_, err := st.Client().PutObject(ctx, &awss3.PutObjectInput{
					Bucket: aws.String(st.Bucket()), Key: aws.String(key("sdk", i)),
					Body: bytes.NewReader(data), ContentLength: aws.Int64(size),
				})
				return err
			})
		}, func() error {
			return each(func(i int) error {
				_, err := st.Put(ctx, key("strata", i), bytes.NewReader(data), nil)
				return err
			})
		})
	})
	b.Run("Download", func(b *testing.B) {
		// The objects are stored by strata, with their SHA-256, and read
		// by both.
		require.NoError(b, each(func(i int) error {
			_, err := st.Put(ctx, key("dl", i), bytes.NewReader(data), nil)
			return err
		}))
		pair(b, count*size, func() error {
			return each(func(i int) error {
				out, err := st.Client().GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(key("dl", i))})
				if err != nil {
					return err
				}
				return readAll(out.Body, size)
			})
		}, func() error {
			return each(func(i int) error {
				rc, _, err := st.Get(ctx, key("dl", i), nil)
				if err != nil {
					return err
				}
				return readAll(rc, size)
			})
		})
	})
}

// deleteAll removes the objects under prefix a thousand at a time, faster
// than one by one.
func deleteAll(b *testing.B, st *s3.Store, prefix string) {
	ctx := context.Background()
	in := &awss3.ListObjectsV2Input{Bucket: aws.String(st.Bucket()), Prefix: aws.String(prefix)}
	for {
		out, err := st.Client().ListObjectsV2(ctx, in)
		if err != nil {
			b.Errorf("list for cleanup: %v", err)
			return
		}
		var ids []types.ObjectIdentifier
		for _, o := range out.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if len(ids) > 0 {
			if _, err := st.Client().DeleteObjects(ctx, &awss3.DeleteObjectsInput{
				Bucket: aws.String(st.Bucket()), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
			}); err != nil {
				b.Errorf("delete for cleanup: %v", err)
				return
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakHeap runs f while sampling the heap, and returns the highest
// HeapInuse seen above what was in use before, and the growth of HeapSys
// (memory the heap took from the OS).
func peakHeap(f func()) (peakInuse, sysGrowth uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak, sys uint64
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			sys = max(sys, m.HeapSys)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	if peak > before.HeapInuse {
		peakInuse = peak - before.HeapInuse
	}
	if sys > before.HeapSys {
		sysGrowth = sys - before.HeapSys
	}
	return peakInuse, sysGrowth
}

// BenchmarkPeakMemory uploads 1 GiB from a reader that does not tell its
// length, through strata and through the SDK's transfer manager with the
// same part size and concurrency, and reports the peak heap in use above
// what was in use before (goal for strata: under 128 MiB) and how much the
// heap grew. strata runs first, so that its heap growth is its own.
func BenchmarkPeakMemory(b *testing.B) {
	const size = 1 << 30
	st, tm := benchStore(b)
	ctx := context.Background()
	run := func(b *testing.B, upload func(r io.Reader) error) {
		b.SetBytes(size)
		var worst, worstSys uint64
		for b.Loop() {
			peak, sys := peakHeap(func() {
				require.NoError(b, upload(onlyReader{conformance.RandomReader(1, size)}))
			})
			worst, worstSys = max(worst, peak), max(worstSys, sys)
		}
		b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(worstSys)/(1<<20), "heap-sys-growth-MiB")
	}
	b.Run("strata", func(b *testing.B) {
		run(b, func(r io.Reader) error {
			_, err := st.Put(ctx, "bench/strata", r, nil)
			return err
		})
	})
	b.Run("strata-size-known", func(b *testing.B) {
		run(b, func(r io.Reader) error {
			_, err := st.Put(ctx, "bench/strata", r, &storage.PutOptions{Size: size})
			return err
		})
	})
	b.Run("sdk", func(b *testing.B) {
		run(b, func(r io.Reader) error {
			_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String("bench/sdk"), Body: r})
			return err
		})
	})
}
