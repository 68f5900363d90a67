package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-storage/strata/tiered"
)

// TieredSource is what TieredCollector reads: a *tiered.Store has both
// methods.
type TieredSource interface {
	Status() tiered.Status
	Counters() tiered.Counters
}

type tieredSnapshot struct {
	s tiered.Status
	c tiered.Counters
}

// TieredCollector returns a prometheus.Collector of the tiered store's
// pending queue and counters, read at scrape time, labelled store=name:
//
//	strata_tiered_pending_uploads, strata_tiered_pending_deletes,
//	strata_tiered_pending_bytes, strata_tiered_oldest_pending_seconds,
//	strata_tiered_failing (pending keys whose last attempt failed),
//	strata_tiered_uploads_total, strata_tiered_upload_failures_total,
//	strata_tiered_delete_failures_total, strata_tiered_abandoned_total,
//	strata_tiered_hits_total, strata_tiered_misses_total,
//	strata_tiered_remote_errors_total, strata_tiered_fills_total,
//	strata_tiered_bytes_from_remote_total, strata_tiered_bytes_to_remote_total,
//	strata_tiered_offload_dropped_total, strata_tiered_corrupt_total,
//	strata_tiered_conflicts_total (write-behind conditional creates
//	found taken on the remote; see tiered.ConflictKey)
//
// Alert on strata_tiered_oldest_pending_seconds: it grows while the remote
// is unreachable.
func TieredCollector(name string, t TieredSource) prometheus.Collector {
	counter := func(n, help string, f func(tieredSnapshot) float64) metricFunc[tieredSnapshot] {
		return metricFunc[tieredSnapshot]{
			desc:  prometheus.NewDesc("strata_tiered_"+n, help, []string{"store"}, nil),
			typ:   prometheus.CounterValue,
			value: f,
		}
	}
	gauge := func(n, help string, f func(tieredSnapshot) float64) metricFunc[tieredSnapshot] {
		m := counter(n, help, f)
		m.typ = prometheus.GaugeValue
		return m
	}
	return &funcCollector[tieredSnapshot]{
		snap:  func() tieredSnapshot { return tieredSnapshot{t.Status(), t.Counters()} },
		label: name,
		metrics: []metricFunc[tieredSnapshot]{
			gauge("pending_uploads", "Uploads not yet confirmed by the remote.", func(s tieredSnapshot) float64 { return float64(s.s.PendingUploads) }),
			gauge("pending_deletes", "Remote deletes not yet confirmed.", func(s tieredSnapshot) float64 { return float64(s.s.PendingDeletes) }),
			gauge("pending_bytes", "Bytes of pending uploads.", func(s tieredSnapshot) float64 { return float64(s.s.PendingBytes) }),
			gauge("oldest_pending_seconds", "Age of the oldest pending upload or delete.", func(s tieredSnapshot) float64 { return s.s.OldestPendingAge.Seconds() }),
			gauge("failing", "Pending keys whose last attempt failed.", func(s tieredSnapshot) float64 { return float64(s.s.Failing) }),
			counter("uploads_total", "Confirmed uploads.", func(s tieredSnapshot) float64 { return float64(s.c.Uploads) }),
			counter("upload_failures_total", "Failed upload attempts.", func(s tieredSnapshot) float64 { return float64(s.c.UploadFailures) }),
			counter("delete_failures_total", "Failed remote delete attempts.", func(s tieredSnapshot) float64 { return float64(s.c.DeleteFailures) }),
			counter("abandoned_total", "Pending uploads whose local copy disappeared.", func(s tieredSnapshot) float64 { return float64(s.c.Abandoned) }),
			counter("conflicts_total", "Write-behind conditional creates whose key another writer created first; kept under tiered.ConflictKey.", func(s tieredSnapshot) float64 { return float64(s.c.Conflicts) }),
			counter("hits_total", "Gets answered by the local tier.", func(s tieredSnapshot) float64 { return float64(s.c.Hits) }),
			counter("misses_total", "Gets that went to the remote.", func(s tieredSnapshot) float64 { return float64(s.c.Misses) }),
			counter("remote_errors_total", "Remote calls that failed other than with a not-found.", func(s tieredSnapshot) float64 { return float64(s.c.RemoteErrors) }),
			counter("fills_total", "Objects fetched into the cache.", func(s tieredSnapshot) float64 { return float64(s.c.Fills) }),
			counter("bytes_from_remote_total", "Object bytes received from the remote.", func(s tieredSnapshot) float64 { return float64(s.c.BytesFromRemote) }),
			counter("bytes_to_remote_total", "Object bytes sent to the remote.", func(s tieredSnapshot) float64 { return float64(s.c.BytesToRemote) }),
			counter("corrupt_total", "Damaged local copies found (reads that failed with ErrCorrupt).", func(s tieredSnapshot) float64 { return float64(s.c.Corrupt) }),
			counter("offload_dropped_total", "Local copies dropped by Offload after verifying the remote copy.", func(s tieredSnapshot) float64 { return float64(s.c.OffloadDropped) }),
		},
	}
}
