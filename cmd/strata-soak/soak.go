package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	randv2 "math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/internal/reliability"
	_ "github.com/strata-storage/strata/local"
	_ "github.com/strata-storage/strata/memory"
	_ "github.com/strata-storage/strata/minio"
	_ "github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// config is the command's flags.
type config struct {
	Remote       string
	CreateBucket bool
	Duration     time.Duration
	Interval     time.Duration
	CacheDir     string
	CacheBytes   int64
	Workers      int
	MaxObjects   int
	ZipfS        float64
	Seed         uint64
	Sample       int
	// HeapFactor and GoroutineFactor bound growth against the warm-up peak.
	HeapFactor, GoroutineFactor float64
}

func defaultConfig() config {
	return config{Duration: 2 * time.Minute, Interval: 10 * time.Second, CacheBytes: 64 << 20,
		Workers: 8, MaxObjects: 20000, ZipfS: 1.1, Seed: 1, Sample: 20, HeapFactor: 3, GoroutineFactor: 2}
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Remote, "remote", "", "remote store URL for storage.Open, e.g. minio://127.0.0.1:9000/soak?secure=false (required)")
	fs.BoolVar(&c.CreateBucket, "create-bucket", false, "for a minio:// remote: wait for the server and create the bucket")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "how long to run the workload")
	fs.DurationVar(&c.Interval, "interval", c.Interval, "how often to print figures and check invariants")
	fs.StringVar(&c.CacheDir, "cache-dir", "", "cache directory (default: a fresh temporary directory, removed at exit)")
	fs.Int64Var(&c.CacheBytes, "cache-bytes", c.CacheBytes, "the cache's byte bound")
	fs.IntVar(&c.Workers, "workers", c.Workers, "concurrent clients")
	fs.IntVar(&c.MaxObjects, "max-objects", c.MaxObjects, "stop adding objects past this many live keys (deletes go on)")
	fs.Float64Var(&c.ZipfS, "zipf", c.ZipfS, "Zipf exponent s (>1) of the read skew")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "random seed")
	fs.IntVar(&c.Sample, "sample", c.Sample, "cold keys read back every interval")
	fs.Float64Var(&c.HeapFactor, "heap-factor", c.HeapFactor, "fail when heap in use passes this multiple of its warm-up peak (+64 MiB)")
	fs.Float64Var(&c.GoroutineFactor, "goroutine-factor", c.GoroutineFactor, "fail when goroutines pass this multiple of their warm-up peak (+20)")
}

// counters are the workload's figures.
type counters struct {
	ops, puts, gets, stats, deletes, errs atomic.Int64
	bytesIn, bytesOut                     atomic.Int64
	maxUsage                              atomic.Int64
}

// soak is one run.
type soak struct {
	cfg    config
	ts     *tiered.Store
	cache  *cache.Cache
	remote storage.Provider // a second handle on the remote, for checks
	ledger *reliability.Ledger
	n      counters
	seq    atomic.Int64

	mu   sync.Mutex
	errs []error // invariant violations
}

func (s *soak) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 20 {
		s.errs = append(s.errs, fmt.Errorf(format, args...))
	}
}

func (s *soak) violations() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// createBucket waits up to a minute for a minio:// server and creates the
// bucket unless it exists.
func createBucket(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "minio" {
		return fmt.Errorf("-create-bucket needs a minio:// URL")
	}
	bucket := u.Path
	if len(bucket) > 0 && bucket[0] == '/' {
		bucket = bucket[1:]
	}
	user, pass := os.Getenv("MINIO_ROOT_USER"), os.Getenv("MINIO_ROOT_PASSWORD")
	cl, err := miniogo.New(u.Host, &miniogo.Options{Creds: credentials.NewStaticV4(user, pass, ""),
		Secure: u.Query().Get("secure") != "false", Region: "us-east-1"})
	if err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err = cl.MakeBucket(ctx, bucket, miniogo.MakeBucketOptions{Region: "us-east-1"})
		if err == nil {
			return nil
		}
		if r := miniogo.ToErrorResponse(err); r.Code == "BucketAlreadyOwnedByYou" || r.Code == "BucketAlreadyExists" {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("create bucket %q: %w", bucket, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// run runs the soak and returns a summary, or the invariants broken.
func run(ctx context.Context, cfg config, out io.Writer) (string, error) {
	if cfg.Remote == "" {
		return "", errors.New("-remote is required")
	}
	if cfg.CreateBucket {
		if err := createBucket(ctx, cfg.Remote); err != nil {
			return "", err
		}
	}
	if cfg.CacheDir == "" {
		dir, err := os.MkdirTemp("", "strata-soak-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		cfg.CacheDir = dir
	}
	remote, err := storage.Open(ctx, cfg.Remote)
	if err != nil {
		return "", fmt.Errorf("remote: %w", err)
	}
	check, err := storage.Open(ctx, cfg.Remote)
	if err != nil {
		return "", fmt.Errorf("remote: %w", err)
	}
	defer check.Close()
	c, err := cache.Open(cfg.CacheDir, cache.Options{MaxBytes: cfg.CacheBytes})
	if err != nil {
		return "", err
	}
	ts, err := tiered.New(c, remote, tiered.Options{Mode: tiered.WriteBehind, MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second})
	if err != nil {
		return "", err
	}
	defer ts.Close()
	s := &soak{cfg: cfg, ts: ts, cache: c, remote: check, ledger: reliability.NewLedger()}
	return s.run(ctx, out)
}

func (s *soak) run(ctx context.Context, out io.Writer) (string, error) {
	prefix := fmt.Sprintf("soak/%d", time.Now().UnixNano())
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.cfg.Duration)
	defer cancel()

	var wg sync.WaitGroup
	for w := range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(wctx, prefix, uint64(w))
		}()
	}
	// The cache bound is sampled often, between the figures.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				s.checkUsage()
			}
		}
	}()

	fmt.Fprintf(out, "strata-soak: %v against %s, cache %d MiB, %d workers, zipf s=%.2f\n",
		s.cfg.Duration, storage.RedactString(s.cfg.Remote), s.cfg.CacheBytes>>20, s.cfg.Workers, s.cfg.ZipfS)
	fmt.Fprintf(out, "%8s %9s %7s %7s %6s %6s %8s %11s %7s %8s %8s %6s\n",
		"elapsed", "ops", "ops/s", "hit%", "errs", "live", "pending", "cache MiB", "max%", "heapMiB", "gorout", "cold")
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	rng := randv2.New(randv2.NewPCG(s.cfg.Seed, 99))
	var heapPeak, gorPeak float64
	warmup := max(s.cfg.Duration/5, s.cfg.Interval)
	lastOps := int64(0)
	last := start
	report := func(final bool) {
		now := time.Now()
		cold := s.checkSample(ctx, rng)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap := float64(ms.HeapInuse) / (1 << 20)
		gor := float64(runtime.NumGoroutine())
		ops := s.n.ops.Load()
		st := s.ts.Status()
		cn := s.ts.Counters()
		hit := 0.0
		if cn.Hits+cn.Misses > 0 {
			hit = 100 * float64(cn.Hits) / float64(cn.Hits+cn.Misses)
		}
		u := s.cache.Usage()
		fmt.Fprintf(out, "%8s %9d %7.0f %6.1f%% %6d %6d %8d %5d/%-5d %6.1f%% %8.1f %8.0f %6s\n",
			now.Sub(start).Round(time.Second), ops, float64(ops-lastOps)/now.Sub(last).Seconds(), hit,
			s.n.errs.Load(), s.ledger.Len(), st.PendingUploads, u.Bytes>>20, u.MaxBytes>>20,
			100*float64(s.n.maxUsage.Load())/float64(u.MaxBytes), heap, gor, cold)
		lastOps, last = ops, now
		elapsed := now.Sub(start)
		switch {
		case elapsed <= warmup:
			heapPeak, gorPeak = max(heapPeak, heap), max(gorPeak, gor)
		case !final:
			if heap > s.cfg.HeapFactor*heapPeak+64 {
				s.violate("heap in use %.1f MiB at %v, over %.1f× its warm-up peak %.1f MiB", heap, elapsed.Round(time.Second), s.cfg.HeapFactor, heapPeak)
			}
			if gor > s.cfg.GoroutineFactor*gorPeak+20 {
				s.violate("%0.f goroutines at %v, over %.1f× the warm-up peak %.0f", gor, elapsed.Round(time.Second), s.cfg.GoroutineFactor, gorPeak)
			}
		}
	}
loop:
	for {
		select {
		case <-wctx.Done():
			break loop
		case <-tick.C:
			report(false)
			if err := s.violations(); err != nil {
				cancel()
				wg.Wait()
				return "", err
			}
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	report(true)

	// Drain the write-behind queue, then check every live key on the
	// remote: size and SHA-256 as acknowledged.
	fctx, fcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer fcancel()
	if err := s.ts.Flush(fctx); err != nil {
		s.violate("flush: %v", err)
	}
	checked := 0
	for _, r := range s.ledger.Acked() {
		info, err := s.remote.Stat(fctx, r.Key)
		switch {
		case err != nil:
			s.violate("acknowledged %s: %v", r.Key, err)
		case info.Size != r.Size || info.SHA256 != r.SHA256:
			s.violate("acknowledged %s: remote has size %d sha256 %s, want %d %s", r.Key, info.Size, info.SHA256, r.Size, r.SHA256)
		}
		checked++
	}
	for _, r := range s.ledger.Deleted() {
		if _, err := s.remote.Stat(fctx, r.Key); !errors.Is(err, storage.ErrNotFound) {
			s.violate("deleted %s is there: %v", r.Key, err)
		}
	}
	if err := s.violations(); err != nil {
		return "", err
	}
	cn := s.ts.Counters()
	return fmt.Sprintf("%v, %d ops (%d puts, %d gets, %d stats, %d deletes, %d errors), %.1f MiB written, %.1f MiB read, "+
		"%d hits / %d misses, peak cache use %.1f%% of %d MiB, %d live keys checked on the remote after flush, %d deletes checked",
		time.Since(start).Round(time.Second), s.n.ops.Load(), s.n.puts.Load(), s.n.gets.Load(), s.n.stats.Load(), s.n.deletes.Load(),
		s.n.errs.Load(), float64(s.n.bytesIn.Load())/(1<<20), float64(s.n.bytesOut.Load())/(1<<20),
		cn.Hits, cn.Misses, 100*float64(s.n.maxUsage.Load())/float64(s.cfg.CacheBytes), s.cfg.CacheBytes>>20, checked, len(s.ledger.Deleted())), nil
}

func (s *soak) checkUsage() {
	u := s.cache.Usage()
	for {
		m := s.n.maxUsage.Load()
		if u.Bytes <= m || s.n.maxUsage.CompareAndSwap(m, u.Bytes) {
			break
		}
	}
	if u.Bytes > u.MaxBytes {
		s.violate("cache usage %d bytes over its bound %d", u.Bytes, u.MaxBytes)
	}
}

// checkSample reads back Sample keys chosen uniformly (mostly cold ones),
// through the tiered store, and reports how many it read.
func (s *soak) checkSample(ctx context.Context, rng *randv2.Rand) string {
	n := 0
	for range s.cfg.Sample {
		r, ok := s.ledger.Pick(rng, nil)
		if !ok {
			break
		}
		s.read(ctx, r)
		n++
	}
	return fmt.Sprint(n)
}

// read reads r through the tiered store and checks its bytes; a not-found
// of a key still acknowledged is a violation.
func (s *soak) read(ctx context.Context, r reliability.Record) {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rc, _, err := s.ts.Get(rctx, r.Key, nil)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(rc)
		rc.Close()
		s.n.bytesOut.Add(int64(len(b)))
		if err == nil && reliability.SHA256(b) != r.SHA256 {
			s.violate("get %s: wrong content (%d bytes, want %d)", r.Key, len(b), r.Size)
			return
		}
	}
	if err != nil {
		s.n.errs.Add(1)
		if errors.Is(err, storage.ErrNotFound) && s.ledger.Has(r.Key) {
			s.violate("get %s: acknowledged write not found: %v", r.Key, err)
		}
	}
}

// worker runs operations until ctx ends: 25% puts of new objects, 65% gets
// with Zipf-skewed keys, 5% stats, 5% deletes.
func (s *soak) worker(ctx context.Context, prefix string, id uint64) {
	rng := randv2.New(randv2.NewPCG(s.cfg.Seed, id))
	zipf := rand.NewZipf(rand.New(rand.NewSource(int64(s.cfg.Seed*1000+id))), s.cfg.ZipfS, 1, uint64(s.cfg.MaxObjects))
	for ctx.Err() == nil {
		s.n.ops.Add(1)
		p := rng.IntN(100)
		live := s.ledger.Len()
		switch {
		case (p < 25 || live < 10) && live < s.cfg.MaxObjects:
			s.n.puts.Add(1)
			key := fmt.Sprintf("%s/%08d.media", prefix, s.seq.Add(1))
			size := 2<<10 + rng.IntN(254<<10)
			if rng.IntN(20) == 0 {
				size = 1<<20 + rng.IntN(3<<20)
			}
			data := reliability.Content(key, size)
			_, err := s.ts.Put(ctx, key, bytes.NewReader(data), &storage.PutOptions{Size: int64(size), ContentType: "image/jpeg"})
			if err != nil {
				if ctx.Err() == nil {
					s.n.errs.Add(1)
				}
				continue
			}
			s.n.bytesIn.Add(int64(size))
			s.ledger.Ack(reliability.Record{Key: key, SHA256: reliability.SHA256(data), Size: int64(size), Writer: "soak"})
		case p < 90:
			s.n.gets.Add(1)
			// Hot keys are the low indexes of the ledger's list: a few
			// get most reads, the long tail is cold.
			r, ok := s.ledger.PickFunc(func(n int) int { return int(zipf.Uint64() % uint64(n)) })
			if ok {
				s.read(ctx, r)
			}
		case p < 95:
			s.n.stats.Add(1)
			if r, ok := s.ledger.Pick(rng, nil); ok {
				info, err := s.ts.Stat(ctx, r.Key)
				if err != nil && ctx.Err() == nil {
					s.n.errs.Add(1)
					if errors.Is(err, storage.ErrNotFound) && s.ledger.Has(r.Key) {
						s.violate("stat %s: acknowledged write not found: %v", r.Key, err)
					}
				} else if err == nil && info.Size != r.Size {
					s.violate("stat %s: size %d, want %d", r.Key, info.Size, r.Size)
				}
			}
		default:
			s.n.deletes.Add(1)
			if r, ok := s.ledger.TakeForDelete(rng, nil); ok {
				err := s.ts.Delete(ctx, r.Key)
				s.ledger.DeleteDone(r, err == nil)
				if err != nil && ctx.Err() == nil {
					s.n.errs.Add(1)
				}
			}
		}
	}
}
