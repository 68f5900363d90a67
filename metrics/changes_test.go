package metrics_test

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/internal/fakeclock"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/metrics"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// fakeClock drives the tiered stores' change log polls: nothing fires
// until the test advances it.
type fakeClock = fakeclock.Clock

// waitFor waits until cond holds: the stores poll in their own goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// gatherStore returns the strata_tiered_changes_* values of the store
// labelled name, by metric name.
func gatherStore(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "strata_tiered_changes_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() != name {
				continue
			}
			if c := m.GetCounter(); c != nil {
				got[mf.GetName()] = c.GetValue()
			} else {
				got[mf.GetName()] = m.GetGauge().GetValue()
			}
		}
	}
	return got
}

const staleness = 2 * time.Second

func newStaleStore(t *testing.T, remote storage.Provider, clk *fakeClock) *tiered.Store {
	t.Helper()
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	ts, err := tiered.New(c, remote, tiered.Options{Staleness: staleness, Now: clk.Now, After: clk.After})
	require.NoError(t, err)
	t.Cleanup(func() { ts.Close() })
	return ts
}

// An overwrite through one store reaches the other at its next poll, and
// the change log's counters of both say so: what each wrote, read and
// dropped, and how long ago each last read the log.
func TestTieredCollectorChangeLog(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New()
	mem := memory.New()
	a, b := newStaleStore(t, mem, clk), newStaleStore(t, mem, clk)
	regA, regB := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	regA.MustRegister(metrics.TieredCollector("a", a))
	regB.MustRegister(metrics.TieredCollector("b", b))
	polled := func(s *tiered.Store) func() bool {
		now := clk.Now()
		return func() bool { return s.ChangeStatus().LastPoll.Equal(now) }
	}
	waitFor(t, "a's first poll", polled(a))
	waitFor(t, "b's first poll", polled(b))

	_, err := a.Put(ctx, "k", strings.NewReader("v1"), nil)
	require.NoError(t, err)
	rc, _, err := b.Get(ctx, "k", nil) // b caches v1
	require.NoError(t, err)
	io.Copy(io.Discard, rc)
	rc.Close()
	_, err = a.Put(ctx, "k", strings.NewReader("v2"), nil) // an overwrite
	require.NoError(t, err)
	clk.Advance(staleness / 2)
	waitFor(t, "a's second poll", polled(a))
	waitFor(t, "b's second poll", polled(b))

	assert.Equal(t, map[string]float64{
		"strata_tiered_changes_polls_total":           2,
		"strata_tiered_changes_poll_failures_total":   0,
		"strata_tiered_changes_announced_total":       2, // a's two Puts of k
		"strata_tiered_changes_applied_total":         0,
		"strata_tiered_changes_dropped_total":         0,
		"strata_tiered_changes_revalidations_total":   0,
		"strata_tiered_changes_compacted_total":       0,
		"strata_tiered_changes_unverified":            0,
		"strata_tiered_changes_bound_seconds":         2,
		"strata_tiered_changes_last_poll_age_seconds": 0,
	}, gatherStore(t, regA, "a"))
	assert.Equal(t, map[string]float64{
		"strata_tiered_changes_polls_total":           2,
		"strata_tiered_changes_poll_failures_total":   0,
		"strata_tiered_changes_announced_total":       0,
		"strata_tiered_changes_applied_total":         2, // a's two entries
		"strata_tiered_changes_dropped_total":         1, // b's copy of v1
		"strata_tiered_changes_revalidations_total":   0,
		"strata_tiered_changes_compacted_total":       0,
		"strata_tiered_changes_unverified":            0,
		"strata_tiered_changes_bound_seconds":         2,
		"strata_tiered_changes_last_poll_age_seconds": 0,
	}, gatherStore(t, regB, "b"))
	problems, err := testutil.GatherAndLint(regB)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// A store that cannot read the log reports it: failures count, and the
// age of the last successful poll is +Inf until there is one, then grows
// past the bound, where every cached read costs a remote Stat.
func TestTieredCollectorChangeLogUnreadable(t *testing.T) {
	ctx := context.Background()
	clk := fakeclock.New()
	fp := faults.Wrap(memory.New())
	fp.Set(faults.Fault{FailRate: 1}, faults.OpList)
	s := newStaleStore(t, fp, clk)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.TieredCollector("media", s))
	waitFor(t, "a failed poll", func() bool { return s.ChangeStatus().PollFailures > 0 })
	got := gatherStore(t, reg, "media")
	assert.Positive(t, got["strata_tiered_changes_poll_failures_total"])
	assert.True(t, math.IsInf(got["strata_tiered_changes_last_poll_age_seconds"], 1), "never polled: %v", got["strata_tiered_changes_last_poll_age_seconds"])

	fp.Clear(faults.OpList)
	clk.Advance(staleness / 2)
	now := clk.Now()
	waitFor(t, "a successful poll", func() bool { return s.ChangeStatus().LastPoll.Equal(now) })
	_, err := s.Put(ctx, "k", strings.NewReader("v1"), nil)
	require.NoError(t, err)

	fp.Set(faults.Fault{FailRate: 1}, faults.OpList)
	n := s.ChangeStatus().PollFailures
	clk.Advance(3 * staleness / 2)
	waitFor(t, "another failed poll", func() bool { return s.ChangeStatus().PollFailures > n })
	rc, _, err := s.Get(ctx, "k", nil) // past the bound: checked with a remote Stat
	require.NoError(t, err)
	rc.Close()
	got = gatherStore(t, reg, "media")
	assert.Equal(t, 3.0, got["strata_tiered_changes_last_poll_age_seconds"])
	assert.Equal(t, 1.0, got["strata_tiered_changes_revalidations_total"])
}

// Without tiered.Options.Staleness there is no change log, and no
// strata_tiered_changes_* metric.
func TestTieredCollectorNoChangeLog(t *testing.T) {
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	ts, err := tiered.New(c, memory.New(), tiered.Options{})
	require.NoError(t, err)
	defer ts.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.TieredCollector("media", ts))
	assert.Empty(t, gatherStore(t, reg, "media"))
}
