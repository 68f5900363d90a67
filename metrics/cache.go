package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-storage/strata/cache"
)

// CacheSource is what CacheCollector reads: a *cache.Cache has both methods.
type CacheSource interface {
	Stats() cache.Stats
	Usage() cache.Usage
}

// metricFunc is one metric of a collector: its description, its type and
// how to read its value.
type metricFunc[T any] struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(T) float64
	// when, if set, reports whether the snapshot has the metric at all.
	when func(T) bool
}

// funcCollector reports metrics read from a snapshot taken at scrape time.
type funcCollector[T any] struct {
	snap    func() T
	label   string
	metrics []metricFunc[T]
}

func (c *funcCollector[T]) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

func (c *funcCollector[T]) Collect(ch chan<- prometheus.Metric) {
	s := c.snap()
	for _, m := range c.metrics {
		if m.when == nil || m.when(s) {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(s), c.label)
		}
	}
}

type cacheSnapshot struct {
	s cache.Stats
	u cache.Usage
}

// CacheCollector returns a prometheus.Collector of the cache's counters and
// usage, read at scrape time, labelled cache=name:
//
//	strata_cache_hits_total, strata_cache_misses_total,
//	strata_cache_evictions_size_total, strata_cache_evictions_idle_total, strata_cache_evicted_bytes_total,
//	strata_cache_read_bytes_total, strata_cache_written_bytes_total,
//	strata_cache_waits_total, strata_cache_full_errors_total, strata_cache_corrupt_total,
//	strata_cache_entries, strata_cache_bytes, strata_cache_max_bytes,
//	strata_cache_pinned_entries, strata_cache_pinned_bytes, strata_cache_inflight_bytes
func CacheCollector(name string, c CacheSource) prometheus.Collector {
	counter := func(n, help string, f func(cacheSnapshot) int64) metricFunc[cacheSnapshot] {
		return metricFunc[cacheSnapshot]{
			desc:  prometheus.NewDesc("strata_cache_"+n, help, []string{"cache"}, nil),
			typ:   prometheus.CounterValue,
			value: func(s cacheSnapshot) float64 { return float64(f(s)) },
		}
	}
	gauge := func(n, help string, f func(cacheSnapshot) int64) metricFunc[cacheSnapshot] {
		m := counter(n, help, f)
		m.typ = prometheus.GaugeValue
		return m
	}
	return &funcCollector[cacheSnapshot]{
		snap:  func() cacheSnapshot { return cacheSnapshot{c.Stats(), c.Usage()} },
		label: name,
		metrics: []metricFunc[cacheSnapshot]{
			counter("hits_total", "Cache Gets that found the object.", func(s cacheSnapshot) int64 { return s.s.Hits }),
			counter("misses_total", "Cache Gets that did not find the object.", func(s cacheSnapshot) int64 { return s.s.Misses }),
			counter("evictions_size_total", "Entries evicted to stay within the byte bound.", func(s cacheSnapshot) int64 { return s.s.EvictedBySize }),
			counter("evictions_idle_total", "Entries evicted for being idle too long.", func(s cacheSnapshot) int64 { return s.s.EvictedByIdle }),
			counter("evicted_bytes_total", "Bytes freed by eviction.", func(s cacheSnapshot) int64 { return s.s.EvictedBytes }),
			counter("read_bytes_total", "Object bytes read from the cache.", func(s cacheSnapshot) int64 { return s.s.BytesRead }),
			counter("written_bytes_total", "Object bytes written to the cache.", func(s cacheSnapshot) int64 { return s.s.BytesWritten }),
			counter("waits_total", "Writes that waited for space (back-pressure).", func(s cacheSnapshot) int64 { return s.s.Waits }),
			counter("full_errors_total", "Writes that failed with ErrFull.", func(s cacheSnapshot) int64 { return s.s.FullErrors }),
			counter("corrupt_total", "Damaged cached objects found (reads that failed with ErrCorrupt).", func(s cacheSnapshot) int64 { return s.s.Corrupt }),
			gauge("entries", "Objects in the cache.", func(s cacheSnapshot) int64 { return s.u.Entries }),
			gauge("bytes", "Bytes counted against the bound.", func(s cacheSnapshot) int64 { return s.u.Bytes }),
			gauge("max_bytes", "The byte bound.", func(s cacheSnapshot) int64 { return s.u.MaxBytes }),
			gauge("pinned_entries", "Pinned objects (only copy; never evicted).", func(s cacheSnapshot) int64 { return s.u.PinnedEntries }),
			gauge("pinned_bytes", "Bytes of pinned objects.", func(s cacheSnapshot) int64 { return s.u.PinnedBytes }),
			gauge("inflight_bytes", "Space reserved by writes in progress.", func(s cacheSnapshot) int64 { return s.u.InFlightBytes }),
		},
	}
}
