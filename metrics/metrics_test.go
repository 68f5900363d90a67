package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/metrics"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

func TestWrapCountsOperationsAndBytes(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	p := m.Wrap(memory.New(), "media")
	defer p.Close()
	ctx := context.Background()

	_, err := p.Put(ctx, "a/b", strings.NewReader("hello world"), nil)
	require.NoError(t, err)
	rc, _, err := p.Get(ctx, "a/b", nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	_, err = p.Stat(ctx, "missing")
	require.ErrorIs(t, err, storage.ErrNotFound)
	for range p.List(ctx, nil) {
	}

	expected := `
# HELP strata_bytes_total Object bytes written by Put (in) and read from Get streams (out).
# TYPE strata_bytes_total counter
strata_bytes_total{direction="in",provider="media"} 11
strata_bytes_total{direction="out",provider="media"} 11
# HELP strata_operations_total Storage operations by provider, operation and result.
# TYPE strata_operations_total counter
strata_operations_total{op="get",provider="media",result="ok"} 1
strata_operations_total{op="list",provider="media",result="ok"} 1
strata_operations_total{op="put",provider="media",result="ok"} 1
strata_operations_total{op="stat",provider="media",result="not_found"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "strata_bytes_total", "strata_operations_total"))
	assert.Equal(t, 4, testutil.CollectAndCount(reg, "strata_operation_duration_seconds"))
}

// plain is a provider with none of the optional abilities.
type plain struct{ storage.Provider }

// TestWrapPassesAbilitiesThrough checks the wrapper's abilities over a
// provider that has some (memory: Copy, CreateBucket) and one that has
// none: the helpers answer as they would for the provider itself, and
// what reaches the store is counted.
func TestWrapPassesAbilitiesThrough(t *testing.T) {
	ctx := context.Background()
	gather := func(t *testing.T, reg *prometheus.Registry) map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "strata_operations_total" && mf.GetName() != "strata_bytes_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				var l []string
				for _, lp := range m.GetLabel() {
					if lp.GetName() != "provider" {
						l = append(l, lp.GetValue())
					}
				}
				got[strings.Join(l, ",")] = m.GetCounter().GetValue()
			}
		}
		return got
	}

	t.Run("memory", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		p := metrics.New(reg).Wrap(memory.New(), "mem")
		defer p.Close()
		_, err := p.Put(ctx, "src", strings.NewReader("hello"), nil)
		require.NoError(t, err)

		_, err = storage.Copy(ctx, p, "dst", "src")
		require.NoError(t, err)
		b, _, err := storage.ReadAll(ctx, p, "dst")
		require.NoError(t, err)
		assert.Equal(t, "hello", string(b))

		_, err = storage.PresignGet(ctx, p, "src", time.Minute)
		require.ErrorIs(t, err, storage.ErrUnsupported, "memory cannot presign")
		require.NoError(t, storage.Flush(ctx, p), "nothing to flush")
		require.ErrorIs(t, storage.CreateBucket(ctx, p), storage.ErrExist, "memory's bucket exists")

		assert.Equal(t, map[string]float64{
			"put,ok":              1,
			"copy,ok":             1, // on the server: no bytes through the client
			"get,ok":              1,
			"create_bucket,exist": 1,
			"in":                  5,
			"out":                 5,
		}, gather(t, reg), "presign (unsupported) and flush (nothing buffered) reached no store")
	})

	t.Run("no abilities", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		p := metrics.New(reg).Wrap(plain{memory.New()}, "plain")
		defer p.Close()
		_, err := p.Put(ctx, "src", strings.NewReader("hello"), nil)
		require.NoError(t, err)

		_, err = p.(storage.Copier).Copy(ctx, "dst", "src")
		require.ErrorIs(t, err, storage.ErrUnsupported, "the wrapped provider cannot copy")
		_, err = storage.Copy(ctx, p, "dst", "src")
		require.NoError(t, err, "storage.Copy falls back to a Get and a Put")
		b, _, err := storage.ReadAll(ctx, p, "dst")
		require.NoError(t, err)
		assert.Equal(t, "hello", string(b))
		require.ErrorIs(t, storage.CreateBucket(ctx, p), storage.ErrUnsupported)

		assert.Equal(t, map[string]float64{
			"put,ok": 2, // the fallback's Put and Get pass through the wrapper
			"get,ok": 2,
			"in":     10,
			"out":    10,
		}, gather(t, reg))
	})
}

// TestWrapKeepsTieredStore checks that a wrapped tiered store keeps what
// its owner needs from it: Flush (through the wrapper, counted), and
// Status and Offload, reached with storage.As.
func TestWrapKeepsTieredStore(t *testing.T) {
	ctx := context.Background()
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	remote := memory.New()
	ts, err := tiered.New(c, remote, tiered.Options{Mode: tiered.WriteBehind})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	p := metrics.New(reg).Wrap(ts, "media")
	defer p.Close()

	_, err = p.Put(ctx, "photo.jpg", strings.NewReader("jpeg"), nil)
	require.NoError(t, err)

	var st interface{ Status() tiered.Status }
	require.True(t, storage.As(p, &st), "Status is reachable through the wrapper")
	var off interface {
		Offload(context.Context, *tiered.OffloadOptions) (tiered.OffloadResult, error)
	}
	require.True(t, storage.As(p, &off), "Offload is reachable through the wrapper")
	var got *tiered.Store
	require.True(t, storage.As(p, &got))
	assert.Same(t, ts, got)

	require.NoError(t, storage.Flush(ctx, p))
	assert.Zero(t, st.Status().PendingUploads, "Flush through the wrapper waited for the upload")
	_, err = remote.Stat(ctx, "photo.jpg")
	require.NoError(t, err, "the upload reached the remote")
	assert.InDelta(t, 1, testutil.ToFloat64(metricsCounter(t, reg, "flush")), 0)

	res, err := off.Offload(ctx, &tiered.OffloadOptions{})
	require.NoError(t, err)
	assert.EqualValues(t, 1, res.Dropped, "Offload through storage.As dropped the verified local copy")
}

// metricsCounter returns the strata_operations_total series of op.
func metricsCounter(t *testing.T, reg *prometheus.Registry, op string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "strata_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "op" && lp.GetValue() == op {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("no strata_operations_total series for op %q", op)
	return nil
}

func TestResultLabels(t *testing.T) {
	assert.Equal(t, "ok", metrics.Result(nil))
	assert.Equal(t, "unavailable", metrics.Result(storage.NewError("get", "s3", "k", storage.ErrUnavailable, nil)))
	assert.Equal(t, "canceled", metrics.Result(context.Canceled))
	assert.Equal(t, "invalid", metrics.Result(storage.ValidKey("")))
	assert.Equal(t, "exist", metrics.Result(storage.ErrExist))
	assert.Equal(t, "error", metrics.Result(io.ErrUnexpectedEOF))
}

func TestWrappedProviderKeepsContract(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	conformance.Run(t, conformance.Harness{
		New:  func(t *testing.T) storage.Provider { return m.Wrap(memory.New(), "conf") },
		Copy: true,
	})
}

// TestWrappedPlainProviderKeepsContract runs the suite over a wrapped
// provider without abilities: the wrapper's Copy and PresignGet must
// answer storage.ErrUnsupported, as the suite requires of a provider that
// has the methods without the ability.
func TestWrappedPlainProviderKeepsContract(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) storage.Provider { return m.Wrap(plain{memory.New()}, "conf") },
	})
}

func TestCacheCollector(t *testing.T) {
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.CacheCollector("local", c))
	ctx := context.Background()
	_, err = c.Put(ctx, "k", strings.NewReader("0123456789"), nil)
	require.NoError(t, err)
	rc, _, err := c.Get(ctx, "k", nil)
	require.NoError(t, err)
	rc.Close()
	_, _, err = c.Get(ctx, "nope", nil)
	require.Error(t, err)

	expected := `
# HELP strata_cache_hits_total Cache Gets that found the object.
# TYPE strata_cache_hits_total counter
strata_cache_hits_total{cache="local"} 1
# HELP strata_cache_misses_total Cache Gets that did not find the object.
# TYPE strata_cache_misses_total counter
strata_cache_misses_total{cache="local"} 1
# HELP strata_cache_entries Objects in the cache.
# TYPE strata_cache_entries gauge
strata_cache_entries{cache="local"} 1
# HELP strata_cache_max_bytes The byte bound.
# TYPE strata_cache_max_bytes gauge
strata_cache_max_bytes{cache="local"} 1.048576e+06
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected),
		"strata_cache_hits_total", "strata_cache_misses_total", "strata_cache_entries", "strata_cache_max_bytes"))
	assert.Equal(t, 16, testutil.CollectAndCount(reg))
}

func TestTieredCollector(t *testing.T) {
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	ts, err := tiered.New(c, memory.New(), tiered.Options{})
	require.NoError(t, err)
	defer ts.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.TieredCollector("media", ts))
	_, err = ts.Put(context.Background(), "k", strings.NewReader("0123456789"), nil)
	require.NoError(t, err)
	expected := `
# HELP strata_tiered_uploads_total Confirmed uploads.
# TYPE strata_tiered_uploads_total counter
strata_tiered_uploads_total{store="media"} 1
# HELP strata_tiered_pending_uploads Uploads not yet confirmed by the remote.
# TYPE strata_tiered_pending_uploads gauge
strata_tiered_pending_uploads{store="media"} 0
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "strata_tiered_uploads_total", "strata_tiered_pending_uploads"))
	assert.Equal(t, 18, testutil.CollectAndCount(reg))
}

// TestCacheCollectorCountsCorruption damages a cached file on disk and
// checks that the failed read shows in strata_cache_corrupt_total, the
// counter an operator alerts on.
func TestCacheCollectorCountsCorruption(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.CacheCollector("local", c))
	ctx := context.Background()
	data := strings.Repeat("media bytes ", 1000)
	_, err = c.Put(ctx, "photo.jpg", strings.NewReader(data), nil)
	require.NoError(t, err)

	cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(len(data)-100)) // inside the data

	rc, _, err := c.Get(ctx, "photo.jpg", nil)
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	require.ErrorIs(t, err, storage.ErrCorrupt)
	expected := `
# HELP strata_cache_corrupt_total Damaged cached objects found (reads that failed with ErrCorrupt).
# TYPE strata_cache_corrupt_total counter
strata_cache_corrupt_total{cache="local"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "strata_cache_corrupt_total"))
}

// TestWrapKeepsFileReaders checks that a wrapped local store's reader keeps
// what makes serving it cheap: WriteTo (sendfile to a socket), Seek and
// ReadAt (storage.ObjectReader seeks in the one open file rather than
// opening another Get), with every byte still counted.
func TestWrapKeepsFileReaders(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	loc, err := local.New(t.TempDir(), nil)
	require.NoError(t, err)
	p := m.Wrap(loc, "media")
	defer p.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	_, err = p.Put(ctx, "v/big.mp4", bytes.NewReader(data), nil)
	require.NoError(t, err)

	rc, _, err := p.Get(ctx, "v/big.mp4", nil)
	require.NoError(t, err)
	require.Implements(t, (*io.WriterTo)(nil), rc)
	require.Implements(t, (*io.Seeker)(nil), rc)
	require.Implements(t, (*io.ReaderAt)(nil), rc)
	rc.Close()

	// Seeks back and forth over one Get of the whole object (after a
	// Stat), as http.ServeContent does.
	obj, err := storage.OpenReader(ctx, p, "v/big.mp4", nil)
	require.NoError(t, err)
	buf := make([]byte, 10)
	_, err = io.ReadFull(obj, buf)
	require.NoError(t, err)
	_, err = obj.Seek(50_000, io.SeekStart)
	require.NoError(t, err)
	_, err = io.ReadFull(obj, buf)
	require.NoError(t, err)
	_, err = obj.Seek(0, io.SeekStart)
	require.NoError(t, err)
	var out bytes.Buffer
	n, err := obj.WriteTo(&out)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.Equal(t, data, out.Bytes())
	require.NoError(t, obj.Close())

	expected := fmt.Sprintf(`
# HELP strata_bytes_total Object bytes written by Put (in) and read from Get streams (out).
# TYPE strata_bytes_total counter
strata_bytes_total{direction="in",provider="media"} %d
strata_bytes_total{direction="out",provider="media"} %d
# HELP strata_operations_total Storage operations by provider, operation and result.
# TYPE strata_operations_total counter
strata_operations_total{op="get",provider="media",result="ok"} 2
strata_operations_total{op="put",provider="media",result="ok"} 1
strata_operations_total{op="stat",provider="media",result="ok"} 1
`, len(data), len(data)+20)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expected), "strata_bytes_total", "strata_operations_total"))
}
