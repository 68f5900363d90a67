package tiered_test

import (
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// entries returns the cache's entries by key, access times included.
func entries(t *testing.T, c *cache.Cache) map[string]cache.Entry {
	t.Helper()
	out := map[string]cache.Entry{}
	for e := range c.Entries(ctxT(t)) {
		out[e.Key] = e
	}
	return out
}

// remoteContents returns what the remote holds, key by key.
func remoteContents(t *testing.T, remote *faults.Provider) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range keys(t, remote.Unwrap(), nil) {
		out[k] = get(t, remote.Unwrap(), k)
	}
	return out
}

// actionLog collects what OnAction reports, as "op key (reason)".
type actionLog struct {
	mu   sync.Mutex
	acts []string
}

func (l *actionLog) add(a tiered.OffloadAction) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acts = append(l.acts, a.Op+" "+a.Key+" ("+a.Reason+")")
}

func (l *actionLog) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(slices.Values(l.acts))
}

// A dry run of Offload reports the uploads and drops Offload then makes,
// with the same counts, and changes nothing: not the remote, not the
// cache's entries (pins and access times included), not the pending
// queue, not the cache's read counters.
func TestOffloadDryRunDecidesAsOffloadAndChangesNothing(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fp := faults.Wrap(memory.New())
	opts := behind(clk)
	opts.MinBackoff, opts.MaxBackoff = 1000*time.Hour, 1000*time.Hour // "pending" stays so
	e := newEnv(t, fp, opts)
	put(t, e.s, "idle", "i")
	put(t, e.s, "recent", "r")
	put(t, e.s, "lost", "l")
	put(t, e.s, "stale", "ours")
	require.NoError(t, e.s.Flush(ctxT(t)))
	require.NoError(t, fp.Unwrap().Delete(ctxT(t), "lost"))
	put(t, fp.Unwrap(), "stale", "theirs, newer")
	fp.Set(faults.Fault{FailRate: 1}, faults.OpPut)
	put(t, e.s, "pending", "p")
	eventually(t, "the upload fails", func() bool { return e.s.Status().Failing == 1 })
	fp.Clear()
	clk.Advance(48 * time.Hour)
	get(t, e.s, "recent")

	cacheBefore, remoteBefore := entries(t, e.s.Cache()), remoteContents(t, fp)
	statsBefore, pendingBefore := e.s.Cache().Stats(), e.s.Status().PendingUploads
	var dryLog actionLog
	dry, err := e.s.Offload(ctxT(t), &tiered.OffloadOptions{IdleFor: 24 * time.Hour, DryRun: true, OnAction: dryLog.add})
	require.NoError(t, err)
	require.Equal(t, []string{
		"drop idle ()",
		"drop lost ()",
		"drop pending ()",
		"drop stale (older version than the remote's)",
		"upload lost (missing at the remote)",
		"upload pending (pending upload)",
	}, dryLog.sorted())
	require.Equal(t, cacheBefore, entries(t, e.s.Cache()), "the cache is untouched")
	require.Equal(t, remoteBefore, remoteContents(t, fp), "the remote is untouched")
	require.Equal(t, statsBefore, e.s.Cache().Stats())
	require.Equal(t, pendingBefore, e.s.Status().PendingUploads)

	var log actionLog
	res, err := e.s.Offload(ctxT(t), &tiered.OffloadOptions{IdleFor: 24 * time.Hour, OnAction: log.add})
	require.NoError(t, err)
	require.Equal(t, res, dry, "the dry run's counts are the run's")
	require.Equal(t, log.sorted(), dryLog.sorted(), "the dry run's actions are the run's")
	require.Equal(t, []string{"recent"}, slices.Sorted(maps.Keys(entries(t, e.s.Cache()))))
}

// Offload's uploads are not reads: an entry it uploads keeps its access
// time (so a later Offload still finds it idle) and the cache counts no
// hit and no bytes read for it.
func TestOffloadUploadsAreNotReads(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fp := faults.Wrap(memory.New())
	opts := behind(clk)
	opts.MinBackoff, opts.MaxBackoff = 1000*time.Hour, 1000*time.Hour
	e := newEnv(t, fp, opts)
	put(t, e.s, "lost", "a clean copy the remote lost")
	require.NoError(t, e.s.Flush(ctxT(t)))
	require.NoError(t, fp.Unwrap().Delete(ctxT(t), "lost"))
	fp.Set(faults.Fault{FailRate: 1}, faults.OpPut)
	put(t, e.s, "pending", "a pending upload")
	eventually(t, "the upload fails", func() bool { return e.s.Status().Failing == 1 })
	fp.Clear()
	clk.Advance(48 * time.Hour)

	before, stats := entries(t, e.s.Cache()), e.s.Cache().Stats()
	res, err := e.s.Offload(ctxT(t), &tiered.OffloadOptions{IdleFor: -1})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Uploaded)
	after := entries(t, e.s.Cache())
	for _, k := range []string{"lost", "pending"} {
		require.Equal(t, before[k].LastAccess, after[k].LastAccess, "the access time of %q", k)
	}
	now := e.s.Cache().Stats()
	require.Equal(t, stats.Hits, now.Hits)
	require.Equal(t, stats.BytesRead, now.BytesRead)

	res, err = e.s.Offload(ctxT(t), &tiered.OffloadOptions{IdleFor: 24 * time.Hour})
	require.NoError(t, err)
	require.EqualValues(t, 2, res.Dropped, "not read for 48 hours, uploads or not")
}
