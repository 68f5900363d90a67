// Package bench runs a standard workload against a storage.Provider and
// measures it: throughput of large objects, operations per second of small
// ones at several concurrencies, and latency percentiles. It is the engine
// behind "strata bench".
//
// Everything it writes goes under a fresh prefix ("strata-bench/<random>/"
// by default), which it deletes at the end, also after an error or a
// cancelled context.
//
// # Errors
//
// Run stops at the first failed operation and returns its error, together
// with the results of the measurements completed before it: a measurement
// that failed or was cancelled gives no Result. Cleanup errors are joined
// to it.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
)

// Config is the workload. The zero value is the standard workload.
type Config struct {
	// LargeSize is the size of large objects; zero means 64 MiB.
	LargeSize int64
	// LargeCount is the number of large objects written and read at each
	// large concurrency; zero means 4.
	LargeCount int
	// SkipLarge leaves out the large objects.
	SkipLarge bool
	// LargeConcurrency lists the numbers of large transfers at the same
	// time; nil means 1 and 4.
	LargeConcurrency []int
	// SmallSize is the size of small objects; zero means 4 KiB.
	SmallSize int64
	// SmallCount is the number of small objects written, read and deleted
	// at each concurrency; zero means 500.
	SmallCount int
	// SkipSmall leaves out the small objects.
	SkipSmall bool
	// Concurrency lists the numbers of small operations at the same time;
	// nil means 1, 8 and 32.
	Concurrency []int
	// Prefix is where the objects go; empty means "strata-bench/<random>/".
	// Everything under it is deleted at the end.
	Prefix string
	// OnPhase, when not nil, is told when each measurement starts.
	OnPhase func(op string, size int64, concurrency, count int)
}

func (c *Config) defaults() error {
	if c.LargeSize == 0 {
		c.LargeSize = 64 << 20
	}
	if c.LargeCount == 0 {
		c.LargeCount = 4
	}
	if c.LargeConcurrency == nil {
		c.LargeConcurrency = []int{1, 4}
	}
	if c.SmallSize == 0 {
		c.SmallSize = 4 << 10
	}
	if c.SmallCount == 0 {
		c.SmallCount = 500
	}
	if c.Concurrency == nil {
		c.Concurrency = []int{1, 8, 32}
	}
	if c.Prefix == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.Prefix = "strata-bench/" + hex.EncodeToString(b[:]) + "/"
	}
	if c.LargeSize < 0 || c.SmallSize < 8 || c.LargeCount < 0 || c.SmallCount < 0 {
		return fmt.Errorf("bench: sizes must be positive (small at least 8 bytes) and counts not negative: %w", storage.ErrInvalidArgument)
	}
	for _, n := range append(slices.Clone(c.Concurrency), c.LargeConcurrency...) {
		if n < 1 {
			return fmt.Errorf("bench: concurrency %d: must be at least 1: %w", n, storage.ErrInvalidArgument)
		}
	}
	if err := storage.ValidKey(c.Prefix + "x"); err != nil {
		return fmt.Errorf("bench: prefix %q: %w: %w", c.Prefix, storage.ErrInvalidArgument, err)
	}
	return nil
}

// Result is one measured row: Ops operations of one kind on objects of
// Size bytes, Concurrency at a time.
type Result struct {
	Op          string // "PUT", "GET", "DELETE"
	Size        int64
	Concurrency int
	Ops         int
	Elapsed     time.Duration
	// P50, P90 and P99 are latency percentiles of single operations
	// (nearest rank).
	P50, P90, P99 time.Duration
}

// OpsPerSec is the number of operations per second.
func (r Result) OpsPerSec() float64 { return float64(r.Ops) / max(r.Elapsed.Seconds(), 1e-9) }

// BytesPerSec is the number of object bytes moved per second (zero for
// DELETE).
func (r Result) BytesPerSec() float64 {
	if r.Op == "DELETE" {
		return 0
	}
	return float64(r.Ops) * float64(r.Size) / max(r.Elapsed.Seconds(), 1e-9)
}

// Run runs the workload against p and returns one Result per measurement
// completed, in order. It deletes what it wrote before returning, whatever happened;
// the cleanup runs with its own deadline even when ctx is cancelled.
func Run(ctx context.Context, p storage.Provider, cfg Config) (results []Result, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if cerr := Cleanup(cctx, p, cfg.Prefix); cerr != nil {
			err = errors.Join(err, fmt.Errorf("bench: cleanup of %s: %w", cfg.Prefix, cerr))
		}
	}()
	// step announces and measures one phase and keeps its result.
	step := func(op string, size int64, conc int, keys []string, do func(ctx context.Context, i int, key string) error) error {
		if cfg.OnPhase != nil {
			cfg.OnPhase(op, size, conc, len(keys))
		}
		r, err := measure(ctx, op, size, conc, keys, do)
		if err != nil {
			return err // no row: its figures would be made up
		}
		results = append(results, r)
		return nil
	}
	if !cfg.SkipLarge && cfg.LargeCount > 0 {
		for _, c := range cfg.LargeConcurrency {
			keys := keysFor(cfg.Prefix, fmt.Sprintf("large-c%d", c), cfg.LargeCount)
			if err := step("PUT", cfg.LargeSize, c, keys, func(ctx context.Context, i int, key string) error {
				return putLarge(ctx, p, key, cfg.LargeSize, uint64(i))
			}); err != nil {
				return results, err
			}
			if err := step("GET", cfg.LargeSize, c, keys, func(ctx context.Context, _ int, key string) error {
				return get(ctx, p, key, cfg.LargeSize)
			}); err != nil {
				return results, err
			}
			for _, k := range keys {
				if err := p.Delete(ctx, k); err != nil {
					return results, err
				}
			}
		}
	}
	if !cfg.SkipSmall && cfg.SmallCount > 0 {
		for _, c := range cfg.Concurrency {
			keys := keysFor(cfg.Prefix, fmt.Sprintf("small-c%d", c), cfg.SmallCount)
			body := make([]byte, cfg.SmallSize)
			fill(body, uint64(c))
			if err := step("PUT", cfg.SmallSize, c, keys, func(ctx context.Context, i int, key string) error {
				b := slices.Clone(body) // a distinct object each time
				binary.LittleEndian.PutUint64(b, uint64(i))
				_, err := p.Put(ctx, key, bytes.NewReader(b), &storage.PutOptions{Size: int64(len(b))})
				return err
			}); err != nil {
				return results, err
			}
			if err := step("GET", cfg.SmallSize, c, keys, func(ctx context.Context, _ int, key string) error {
				return get(ctx, p, key, cfg.SmallSize)
			}); err != nil {
				return results, err
			}
			if err := step("DELETE", cfg.SmallSize, c, keys, func(ctx context.Context, _ int, key string) error {
				return p.Delete(ctx, key)
			}); err != nil {
				return results, err
			}
		}
	}
	return results, nil
}

func keysFor(prefix, kind string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%s/%06d", prefix, kind, i)
	}
	return keys
}

// measure runs op once per key with conc workers and times each call. It
// stops at the first error, and then returns no Result.
func measure(ctx context.Context, name string, size int64, conc int, keys []string, op func(ctx context.Context, i int, key string) error) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lat := make([]time.Duration, len(keys))
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, max(len(keys), 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) || ctx.Err() != nil {
					return
				}
				t := time.Now()
				if err := op(ctx, i, keys[i]); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("%s %s: %w", name, keys[i], err); cancel() })
					return
				}
				lat[i] = time.Since(t)
			}
		})
	}
	wg.Wait()
	r := Result{Op: name, Size: size, Concurrency: conc, Ops: len(keys), Elapsed: time.Since(start)}
	if firstErr != nil {
		return Result{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	slices.Sort(lat)
	r.P50, r.P90, r.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	return r, nil
}

// percentile returns the p-th percentile of sorted by nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

// putLarge writes size pseudo-random bytes under key, generated as they
// are read, so no object is ever held in memory.
func putLarge(ctx context.Context, p storage.Provider, key string, size int64, seed uint64) error {
	r := io.LimitReader(mrand.NewChaCha8(seedOf(seed)), size)
	_, err := p.Put(ctx, key, r, &storage.PutOptions{Size: size})
	return err
}

func seedOf(n uint64) [32]byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], n+1)
	return s
}

func fill(b []byte, seed uint64) {
	_, _ = mrand.NewChaCha8(seedOf(seed)).Read(b)
}

// get reads the whole object under key and checks its length.
func get(ctx context.Context, p storage.Provider, key string, size int64) error {
	rc, _, err := p.Get(ctx, key, nil)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("read %d bytes, wrote %d: %w", n, size, storage.ErrCorrupt)
	}
	return nil
}

// Cleanup deletes every object under prefix.
func Cleanup(ctx context.Context, p storage.Provider, prefix string) error {
	if prefix == "" {
		return fmt.Errorf("refusing to delete everything (empty prefix): %w", storage.ErrInvalidArgument)
	}
	var errs []error
	for info, err := range p.List(ctx, &storage.ListOptions{Prefix: prefix}) {
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := p.Delete(ctx, info.Key); err != nil {
			errs = append(errs, err)
			if len(errs) > 10 {
				break
			}
		}
	}
	return errors.Join(errs...)
}
