package metrics_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/conformance"
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

func TestWrapKeepsOnlyInnerAbilities(t *testing.T) {
	m := metrics.New(nil)
	p := m.Wrap(memory.New(), "mem")
	_, isCopier := p.(storage.Copier)
	_, isPresigner := p.(storage.Presigner)
	_, isFlusher := p.(storage.Flusher)
	assert.True(t, isCopier, "memory can copy")
	assert.False(t, isPresigner, "memory cannot presign")
	assert.False(t, isFlusher)
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
