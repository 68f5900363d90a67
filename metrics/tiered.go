package metrics

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strata-storage/strata/tiered"
)

// TieredSource is what TieredCollector reads: a *tiered.Store has both
// methods.
type TieredSource interface {
	Status() tiered.Status
	Counters() tiered.Counters
}

// ChangeSource is what TieredCollector reads the change log's figures
// from when its TieredSource has it too: a *tiered.Store does.
type ChangeSource interface {
	ChangeStatus() tiered.ChangeStatus
}

type tieredSnapshot struct {
	s  tiered.Status
	c  tiered.Counters
	ch tiered.ChangeStatus
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
// When t is also a ChangeSource and its change log is on
// (tiered.Options.Staleness; see tiered.ChangeStatus), it adds:
//
//	strata_tiered_changes_polls_total, strata_tiered_changes_poll_failures_total,
//	strata_tiered_changes_announced_total (entries this process wrote),
//	strata_tiered_changes_applied_total (other processes' entries read),
//	strata_tiered_changes_dropped_total (cached copies they removed),
//	strata_tiered_changes_revalidations_total (cached copies checked with
//	a remote Stat before being served), strata_tiered_changes_compacted_total,
//	strata_tiered_changes_unverified (copies still to check after a gap),
//	strata_tiered_changes_bound_seconds (tiered.Options.Staleness),
//	strata_tiered_changes_last_poll_age_seconds (since the last
//	successful read of the log began; +Inf before the first)
//
// Alert on strata_tiered_oldest_pending_seconds: it grows while the remote
// is unreachable. With the change log on, alert too when
// strata_tiered_changes_last_poll_age_seconds stays above
// strata_tiered_changes_bound_seconds: every read of a cached copy then
// costs a remote request, and fails while the remote does not answer.
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
	// The change log's metrics, only while it is on.
	change := func(m metricFunc[tieredSnapshot]) metricFunc[tieredSnapshot] {
		m.when = func(s tieredSnapshot) bool { return s.ch.Enabled }
		return m
	}
	cs, _ := t.(ChangeSource)
	return &funcCollector[tieredSnapshot]{
		snap: func() tieredSnapshot {
			s := tieredSnapshot{s: t.Status(), c: t.Counters()}
			if cs != nil {
				s.ch = cs.ChangeStatus()
			}
			return s
		},
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
			change(counter("changes_polls_total", "Reads of the change log.", func(s tieredSnapshot) float64 { return float64(s.ch.Polls) })),
			change(counter("changes_poll_failures_total", "Reads of the change log that failed.", func(s tieredSnapshot) float64 { return float64(s.ch.PollFailures) })),
			change(counter("changes_announced_total", "Change log entries written: this process's overwrites and deletes.", func(s tieredSnapshot) float64 { return float64(s.ch.Announced) })),
			change(counter("changes_applied_total", "Other processes' change log entries read.", func(s tieredSnapshot) float64 { return float64(s.ch.Applied) })),
			change(counter("changes_dropped_total", "Cached copies dropped because another process changed their key.", func(s tieredSnapshot) float64 { return float64(s.ch.Dropped) })),
			change(counter("changes_revalidations_total", "Cached copies checked with a remote Stat before being served (the log not read within the bound, or read with a gap).", func(s tieredSnapshot) float64 { return float64(s.ch.Revalidations) })),
			change(counter("changes_compacted_total", "Change log entries removed past the retention.", func(s tieredSnapshot) float64 { return float64(s.ch.Compacted) })),
			change(gauge("changes_unverified", "Cached copies to check against the remote before serving them, after a gap in the log.", func(s tieredSnapshot) float64 { return float64(s.ch.Unverified) })),
			change(gauge("changes_bound_seconds", "The staleness bound (tiered.Options.Staleness).", func(s tieredSnapshot) float64 { return s.ch.Bound.Seconds() })),
			change(gauge("changes_last_poll_age_seconds", "Time since the last successful read of the change log began; +Inf before the first. Above the bound, cached reads are revalidated.", func(s tieredSnapshot) float64 {
				if s.ch.LastPoll.IsZero() {
					return math.Inf(1)
				}
				return s.ch.SinceLastPoll.Seconds()
			})),
		},
	}
}
