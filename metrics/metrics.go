// Package metrics exports strata's counters to Prometheus: per-operation
// counts, errors and latency histograms for any storage.Provider (through a
// wrapper that is itself a Provider), and the cache's and the tiered
// store's own figures (hits, misses, evictions, usage, pending uploads and
// their age, upload failures).
//
// It is the only package of strata that depends on
// github.com/prometheus/client_golang; the library core does not.
//
//	m := metrics.New(prometheus.DefaultRegisterer)
//	store = m.Wrap(store, "media")
//	prometheus.MustRegister(metrics.CacheCollector("media", c))
//	http.Handle("/metrics", promhttp.Handler())
//
// The wrapped store keeps the abilities of the one it wraps: the storage
// helpers (storage.Copy, storage.Flush, ...) work on it as on the store
// itself, and storage.As reaches the store under it (see Metrics.Wrap).
//
// # Metrics
//
//	strata_operations_total{provider,op,result}        counter
//	strata_operation_duration_seconds{provider,op}     histogram
//	strata_bytes_total{provider,direction}             counter (in: written by Put, out: read from Get)
//	strata_cache_*{cache}                              see CacheCollector
//	strata_tiered_*{store}                             see TieredCollector
//
// result is "ok" or the kind of error: "not_found", "exist", "invalid",
// "unavailable", "canceled", "error".
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-storage/strata/storage"
)

// Metrics holds the metric vectors shared by every wrapped provider.
type Metrics struct {
	ops      *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
}

// New creates the provider metrics and registers them with reg (when reg is
// not nil).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_operations_total",
			Help: "Storage operations by provider, operation and result.",
		}, []string{"provider", "op", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_operation_duration_seconds",
			Help:    "Latency of storage operations until the call returns (for Get, until the stream opens).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "op"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_bytes_total",
			Help: "Object bytes written by Put (in) and read from Get streams (out).",
		}, []string{"provider", "direction"}),
	}
	if reg != nil {
		reg.MustRegister(m.ops, m.duration, m.bytes)
	}
	return m
}

// Wrap returns a Provider that passes every call to p and records it under
// the provider label name.
//
// The result has the methods of storage.Copier, storage.Presigner,
// storage.Flusher and storage.BucketCreator whatever p is, and passes each
// to p: where p lacks the ability, Copy, PresignGet and CreateBucket fail
// with storage.ErrUnsupported and Flush returns nil, as the storage
// helpers (storage.Copy, storage.PresignGet, storage.Flush,
// storage.CreateBucket) do. So storage.Copy of the result copies on the
// server when p can, and otherwise falls back to a Get and a Put through
// the result, which counts them. A call answered with
// storage.ErrUnsupported is not recorded: it reached no store.
//
// The result is a storage.Wrapper: storage.As reaches p and anything p
// wraps, for the abilities of p that are not in package storage (the
// Status and Offload of a *tiered.Store, the Stats of a cache):
//
//	var ts *tiered.Store
//	if storage.As(store, &ts) { st := ts.Status(); ... }
func (m *Metrics) Wrap(p storage.Provider, name string) storage.Provider {
	return &wrapped{p: p, m: m, name: name}
}

// Result returns the result label for err.
func Result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, storage.ErrNotFound):
		return "not_found"
	case errors.Is(err, storage.ErrExist):
		return "exist"
	case errors.Is(err, storage.ErrInvalidKey), errors.Is(err, storage.ErrInvalidArgument),
		errors.Is(err, storage.ErrInvalidRange), errors.Is(err, storage.ErrSizeMismatch):
		return "invalid"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, storage.ErrUnavailable):
		return "unavailable"
	default:
		return "error"
	}
}

type wrapped struct {
	p      storage.Provider
	m      *Metrics
	name   string
	closed atomic.Bool
}

var (
	_ storage.Provider      = (*wrapped)(nil)
	_ storage.Wrapper       = (*wrapped)(nil)
	_ storage.Copier        = (*wrapped)(nil)
	_ storage.Presigner     = (*wrapped)(nil)
	_ storage.Flusher       = (*wrapped)(nil)
	_ storage.BucketCreator = (*wrapped)(nil)
)

func (w *wrapped) observe(op string, start time.Time, err error) {
	w.m.duration.WithLabelValues(w.name, op).Observe(time.Since(start).Seconds())
	w.m.ops.WithLabelValues(w.name, op, Result(err)).Inc()
}

func (w *wrapped) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	start := time.Now()
	info, err := w.p.Put(ctx, key, r, opts)
	w.observe("put", start, err)
	if err == nil {
		w.m.bytes.WithLabelValues(w.name, "in").Add(float64(info.Size))
	}
	return info, err
}

func (w *wrapped) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	start := time.Now()
	rc, info, err := w.p.Get(ctx, key, opts)
	w.observe("get", start, err)
	if err != nil {
		return nil, info, err
	}
	return newCountingReader(rc, w.m.bytes.WithLabelValues(w.name, "out")), info, nil
}

func (w *wrapped) Stat(ctx context.Context, key string) (storage.Info, error) {
	start := time.Now()
	info, err := w.p.Stat(ctx, key)
	w.observe("stat", start, err)
	return info, err
}

func (w *wrapped) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := w.p.Delete(ctx, key)
	w.observe("delete", start, err)
	return err
}

// List records one "list" operation per listing, timed until the listing
// ends or the caller stops it.
func (w *wrapped) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		start := time.Now()
		var err error
		defer func() { w.observe("list", start, err) }()
		for info, e := range w.p.List(ctx, opts) {
			if e != nil {
				err = e
			}
			if !yield(info, e) {
				return
			}
		}
	}
}

func (w *wrapped) Close() error {
	w.closed.Store(true)
	return w.p.Close()
}

// Unwrap returns the wrapped provider (see storage.As).
func (w *wrapped) Unwrap() storage.Provider { return w.p }

// observeAbility records a call of an optional ability, unless p lacks
// the ability and it reached no store.
func (w *wrapped) observeAbility(op string, start time.Time, err error) {
	if !errors.Is(err, storage.ErrUnsupported) {
		w.observe(op, start, err)
	}
}

// Copy implements storage.Copier by passing the call to p; it fails with
// storage.ErrUnsupported when p is not a storage.Copier, so that
// storage.Copy falls back to a Get and a Put through w.
func (w *wrapped) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	c, ok := w.p.(storage.Copier)
	if !ok {
		return storage.Info{}, &storage.Error{Op: "copy", Provider: fmt.Sprintf("%T", w.p), Key: dst, Kind: storage.ErrUnsupported}
	}
	start := time.Now()
	info, err := c.Copy(ctx, dst, src)
	w.observeAbility("copy", start, err)
	return info, err
}

// PresignGet implements storage.Presigner with storage.PresignGet of p.
func (w *wrapped) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	start := time.Now()
	u, err := storage.PresignGet(ctx, w.p, key, expiry)
	w.observeAbility("presign", start, err)
	return u, err
}

// Flush implements storage.Flusher with storage.Flush of p: it records a
// "flush" operation when p buffers writes. Otherwise there is nothing to
// wait for, and it only checks that w is open and ctx has not ended.
func (w *wrapped) Flush(ctx context.Context) error {
	if _, ok := w.p.(storage.Flusher); !ok {
		if w.closed.Load() {
			return &storage.Error{Op: "flush", Provider: fmt.Sprintf("%T", w.p), Kind: storage.ErrClosed}
		}
		if err := ctx.Err(); err != nil {
			return storage.NewError("flush", fmt.Sprintf("%T", w.p), "", nil, err)
		}
		return nil
	}
	start := time.Now()
	err := storage.Flush(ctx, w.p)
	w.observe("flush", start, err)
	return err
}

// CreateBucket implements storage.BucketCreator with storage.CreateBucket
// of p.
func (w *wrapped) CreateBucket(ctx context.Context) error {
	start := time.Now()
	err := storage.CreateBucket(ctx, w.p)
	w.observeAbility("create_bucket", start, err)
	return err
}

// countingReader counts the bytes read from the reader of a Get. It keeps
// the reader's WriteTo, and countingFile its Seek and ReadAt, so that a
// wrapped local store's file still goes to a socket with sendfile(2) and
// storage.ObjectReader still seeks in it rather than opening a new Get.
type countingReader struct {
	rc io.ReadCloser
	c  prometheus.Counter
}

// newCountingReader returns a countingFile when rc seeks and reads at
// offsets, a countingReader otherwise.
func newCountingReader(rc io.ReadCloser, c prometheus.Counter) io.ReadCloser {
	cr := countingReader{rc: rc, c: c}
	if _, ok := rc.(interface {
		io.Seeker
		io.ReaderAt
	}); ok {
		return &countingFile{cr}
	}
	return &cr
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.count(int64(n))
	return n, err
}

// copyBufs are the buffers WriteTo copies through when neither end copies
// by itself, as the buffer a caller gave io.CopyBuffer would have been.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// WriteTo writes the rest of the reader to w with the reader's own
// WriteTo, or w's ReadFrom, when they have one, or else through a pooled
// buffer (io.CopyBuffer).
func (r *countingReader) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	n, err := io.CopyBuffer(w, r.rc, *bp)
	r.count(n)
	return n, err
}

func (r *countingReader) count(n int64) {
	if n > 0 {
		r.c.Add(float64(n))
	}
}

func (r *countingReader) Close() error { return r.rc.Close() }

// countingFile is a countingReader over a reader that seeks and reads at
// offsets too.
type countingFile struct{ countingReader }

func (r *countingFile) Seek(offset int64, whence int) (int64, error) {
	return r.rc.(io.Seeker).Seek(offset, whence)
}

func (r *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.rc.(io.ReaderAt).ReadAt(p, off)
	r.count(int64(n))
	return n, err
}
