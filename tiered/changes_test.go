package tiered_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

const bound = 2 * time.Second

func staleOpts(clk *fakeClock, mode tiered.Mode) tiered.Options {
	return tiered.Options{Mode: mode, Staleness: bound, Now: clk.Now, After: clk.After}
}

// tick moves the clock on by half the bound (the poll interval) and waits
// until every store in envs has read the change log at the new time.
func tick(t *testing.T, clk *fakeClock, envs ...*env) {
	t.Helper()
	clk.Advance(bound / 2)
	now := clk.Now()
	for _, e := range envs {
		eventually(t, "a poll of the change log", func() bool { return e.s.ChangeStatus().LastPoll.Equal(now) })
	}
}

// polled waits until the store's first poll is done.
func polled(t *testing.T, clk *fakeClock, e *env) {
	t.Helper()
	now := clk.Now()
	eventually(t, "the first poll of the change log", func() bool { return e.s.ChangeStatus().LastPoll.Equal(now) })
}

func changeEntries(t *testing.T, remote storage.Provider) []string {
	t.Helper()
	var out []string
	for info, err := range remote.List(ctxT(t), &storage.ListOptions{Prefix: tiered.ChangesPrefix}) {
		require.NoError(t, err)
		out = append(out, info.Key)
	}
	return out
}

func threeStores(t *testing.T, remote storage.Provider, clk *fakeClock, mode tiered.Mode) []*env {
	t.Helper()
	var envs []*env
	for range 3 {
		e := newEnv(t, remote, staleOpts(clk, mode))
		polled(t, clk, e)
		envs = append(envs, e)
	}
	return envs
}

// An overwrite and a delete through one store stop being served by the
// others at their next poll, within the bound, while cache hits before it
// cost no remote request.
func TestStalenessOverwriteAndDeleteReachOtherStores(t *testing.T) {
	t.Parallel()
	for _, mode := range []tiered.Mode{tiered.WriteThrough, tiered.WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			clk := newFakeClock()
			mem := memory.New()
			envs := threeStores(t, mem, clk, mode)
			a, b, c := envs[0], envs[1], envs[2]

			put(t, a.s, "k", "v1")
			require.NoError(t, a.s.Flush(ctxT(t)))
			tick(t, clk, envs...)
			require.Equal(t, "v1", get(t, b.s, "k"))
			require.Equal(t, "v1", get(t, c.s, "k"))

			before := b.s.Counters()
			put(t, a.s, "k", "v2")
			require.NoError(t, a.s.Flush(ctxT(t)))
			// Until B reads the log, it serves its copy from the cache,
			// with no remote request.
			require.Equal(t, "v1", get(t, b.s, "k"))
			after := b.s.Counters()
			assert.Equal(t, before.RemoteStats+before.RemoteGets, after.RemoteStats+after.RemoteGets, "a cache hit made a remote request")

			tick(t, clk, envs...)
			require.Equal(t, "v2", get(t, b.s, "k"))
			require.Equal(t, "v2", get(t, c.s, "k"))
			require.Equal(t, "v2", get(t, a.s, "k"))

			require.NoError(t, a.s.Delete(ctxT(t), "k"))
			require.NoError(t, a.s.Flush(ctxT(t)))
			tick(t, clk, envs...)
			requireMissing(t, b.s, "k")
			requireMissing(t, c.s, "k")
			assert.Positive(t, b.s.ChangeStatus().Dropped)
		})
	}
}

// Puts with IfNotExists (new keys) announce nothing: a created key had no
// older version anywhere.
func TestStalenessCreatesAnnounceNothing(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	a := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	_, err := a.s.Put(ctxT(t), "new", strings.NewReader("x"), &storage.PutOptions{IfNotExists: true})
	require.NoError(t, err)
	assert.Empty(t, changeEntries(t, mem))
	put(t, a.s, "new", "y")
	assert.Len(t, changeEntries(t, mem), 1)
}

// At rest, a store costs one remote List per poll interval and nothing
// else.
func TestStalenessQuietCostIsOneListPerInterval(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	envs := threeStores(t, mem, clk, tiered.WriteThrough)
	put(t, envs[0].s, "k", "v")
	tick(t, clk, envs...)
	get(t, envs[1].s, "k")
	before := envs[1].s.Counters()
	const n = 20
	for range n {
		tick(t, clk, envs...)
		get(t, envs[1].s, "k")
	}
	after := envs[1].s.Counters()
	assert.EqualValues(t, n, after.RemoteLists-before.RemoteLists, "remote Lists")
	assert.Equal(t, before.RemoteGets, after.RemoteGets)
	assert.Equal(t, before.RemoteStats, after.RemoteStats)
	assert.Equal(t, before.RemotePuts, after.RemotePuts)
	assert.Equal(t, before.RemoteDeletes, after.RemoteDeletes)
}

// The change log is on the remote, but the store never shows it.
func TestStalenessLogIsInvisible(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	a := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	put(t, a.s, "k", "v1")
	put(t, a.s, "k", "v2")
	require.NoError(t, a.s.Delete(ctxT(t), "k"))
	put(t, a.s, "z", "v")
	entries := changeEntries(t, mem)
	require.Len(t, entries, 4) // every plain Put and Delete

	assert.Equal(t, []string{"z"}, keys(t, a.s, nil))
	assert.Empty(t, keys(t, a.s, &storage.ListOptions{Prefix: tiered.ChangesPrefix}))
	for _, name := range entries {
		_, err := a.s.Stat(ctxT(t), name)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, _, err = a.s.Get(ctxT(t), name, nil)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.ErrorIs(t, a.s.Delete(ctxT(t), name), storage.ErrInvalidArgument)
	}
	_, err := a.s.Put(ctxT(t), tiered.ChangesPrefix+"x", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	_, err = a.s.Copy(ctxT(t), "c", entries[0])
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
}

// Entries older than the retention are removed: a store's own by itself,
// and those of a store that went away by the others, later.
func TestStalenessCompaction(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	a := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	b := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	polled(t, clk, a)
	polled(t, clk, b)
	put(t, a.s, "k", "v1")
	put(t, a.s, "k", "v2")
	put(t, b.s, "j", "v1")
	put(t, b.s, "j", "v2")
	require.Len(t, changeEntries(t, mem), 4)
	require.NoError(t, b.s.Close())

	retention := a.s.ChangeStatus().Retention
	require.GreaterOrEqual(t, retention, 10*bound)
	// Past the retention, A removes its own entry, and keeps B's.
	for clk.Now().Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) < retention+retention/2 {
		tick(t, clk, a)
	}
	eventually(t, "A's entries compacted", func() bool { return len(changeEntries(t, mem)) == 2 })
	for _, name := range changeEntries(t, mem) {
		assert.True(t, strings.HasSuffix(name, "/j"), name)
	}
	// Past twice the retention, B's goes too.
	for clk.Now().Sub(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) < 2*retention+retention/2 {
		tick(t, clk, a)
	}
	eventually(t, "B's entry compacted", func() bool { return len(changeEntries(t, mem)) == 0 })
	assert.EqualValues(t, 4, a.s.ChangeStatus().Compacted)
}

// A store restarted within the retention reads what it missed from the
// log; one that was away for longer revalidates its cached copies before
// serving them.
func TestStalenessRestart(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	a := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	b := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	polled(t, clk, a)
	polled(t, clk, b)
	put(t, a.s, "gone", "v1")
	put(t, a.s, "k", "v1")
	put(t, a.s, "same", "s")
	tick(t, clk, a, b)
	require.Equal(t, "v1", get(t, b.s, "gone"))
	require.Equal(t, "v1", get(t, b.s, "k"))
	require.Equal(t, "s", get(t, b.s, "same"))
	// Past the margin of re-reading (after a restart B reads again
	// the last minute or so of the log, and drops what it names).
	for range 100 {
		tick(t, clk, a, b)
	}

	// A short absence: the log says what changed.
	require.NoError(t, b.s.Close())
	require.NoError(t, a.s.Delete(ctxT(t), "gone"))
	tick(t, clk, a)
	b.open()
	polled(t, clk, b)
	requireMissing(t, b.s, "gone")
	assert.Zero(t, b.s.ChangeStatus().Revalidations, "a short absence needs no revalidation")

	// A long one: the entry is compacted before B comes back.
	tick(t, clk, a, b)
	require.NoError(t, b.s.Close())
	put(t, a.s, "k", "v2")
	start := clk.Now()
	retention := a.s.ChangeStatus().Retention
	for clk.Now().Sub(start) < retention+retention/2 {
		tick(t, clk, a)
	}
	eventually(t, "the log compacted", func() bool { return len(changeEntries(t, mem)) == 0 })
	b.open()
	polled(t, clk, b)
	require.Equal(t, "v2", get(t, b.s, "k"), "a copy older than the log served after a long absence")
	require.Equal(t, "s", get(t, b.s, "same"))
	st := b.s.ChangeStatus()
	assert.EqualValues(t, 2, st.Revalidations)
	assert.Zero(t, st.Unverified)
	// Once revalidated, hits are local again.
	before := b.s.Counters()
	require.Equal(t, "s", get(t, b.s, "same"))
	assert.Equal(t, before.RemoteStats, b.s.Counters().RemoteStats)
}

// While the log cannot be read for longer than the bound, cached copies
// are checked against the remote before being served; a remote that does
// not answer fails the read rather than serve what may be stale.
func TestStalenessPollFailureRevalidates(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fp := faults.Wrap(memory.New())
	a := newEnv(t, fp, staleOpts(clk, tiered.WriteThrough))
	polled(t, clk, a)
	put(t, a.s, "k", "v1")
	require.Equal(t, "v1", get(t, a.s, "k"))

	fp.Set(faults.Fault{FailRate: 1}, faults.OpList)
	clk.Advance(bound / 2)
	eventually(t, "a failed poll", func() bool { return a.s.ChangeStatus().PollFailures > 0 })
	require.Equal(t, "v1", get(t, a.s, "k"), "within the bound the cache serves")
	assert.Zero(t, a.s.ChangeStatus().Revalidations)
	assert.Equal(t, bound/2, a.s.ChangeStatus().SinceLastPoll)
	n := a.s.ChangeStatus().PollFailures
	clk.Advance(bound)
	eventually(t, "another failed poll", func() bool { return a.s.ChangeStatus().PollFailures > n })
	assert.Equal(t, bound+bound/2, a.s.ChangeStatus().SinceLastPoll, "what an operator alerts on: past the bound")

	stats := a.s.Counters().RemoteStats
	require.Equal(t, "v1", get(t, a.s, "k"))
	assert.Equal(t, stats+1, a.s.Counters().RemoteStats, "a hit past the bound is revalidated")
	// Overwritten behind the store's back: the revalidation sees it.
	_, err := fp.Put(ctxT(t), "k", strings.NewReader("other"), nil)
	require.NoError(t, err)
	require.Equal(t, "other", get(t, a.s, "k"))

	fp.Set(faults.Fault{FailRate: 1}, faults.OpStat)
	_, _, err = a.s.Get(ctxT(t), "k", nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, storage.ErrUnavailable), "got %v", err)

	fp.Clear(faults.OpList, faults.OpStat)
	tick(t, clk, a)
	assert.Zero(t, a.s.ChangeStatus().SinceLastPoll)
	stats = a.s.Counters().RemoteStats
	require.Equal(t, "other", get(t, a.s, "k"))
	assert.Equal(t, stats, a.s.Counters().RemoteStats)
}

// A write-through change whose announcement fails (or whose process dies
// before it) is announced after a restart: the Put stays pinned and the
// Delete in the journal until the announcement is on the remote.
func TestStalenessAnnouncementSurvivesRestart(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fp := faults.Wrap(memory.New())
	a := newEnv(t, fp, staleOpts(clk, tiered.WriteThrough))
	a.opts.Uploaders = -1 // no background retries: only a restart can announce
	a.reopen(nil)
	b := newEnv(t, fp, staleOpts(clk, tiered.WriteThrough))
	polled(t, clk, a)
	polled(t, clk, b)
	put(t, a.s, "p", "v1")
	put(t, a.s, "d", "v1")
	tick(t, clk, a, b)
	require.Equal(t, "v1", get(t, b.s, "p"))
	require.Equal(t, "v1", get(t, b.s, "d"))

	fp.Set(faults.Fault{FailRate: 1, Keys: func(k string) bool { return strings.HasPrefix(k, tiered.ChangesPrefix) }}, faults.OpPut)
	_, err := a.s.Put(ctxT(t), "p", strings.NewReader("v2"), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, a.s.Delete(ctxT(t), "d"), storage.ErrUnavailable)
	tick(t, clk, a, b)
	require.Equal(t, "v1", get(t, b.s, "p"), "nothing announced yet")

	fp.Clear(faults.OpPut)
	a.opts.Uploaders = 0
	a.reopen(nil)
	require.NoError(t, a.s.Flush(ctxT(t)))
	tick(t, clk, a, b)
	require.Equal(t, "v2", get(t, b.s, "p"))
	requireMissing(t, b.s, "d")
	require.Equal(t, "v2", get(t, a.s, "p"))
	requireMissing(t, a.s, "d")
}

// A store started again serves no cached copy without a check until it
// has read the log, however recently it read it before the restart.
func TestStalenessRestartRevalidatesUntilTheFirstPoll(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	fp := faults.Wrap(memory.New())
	a := newEnv(t, fp, staleOpts(clk, tiered.WriteThrough))
	b := newEnv(t, fp, staleOpts(clk, tiered.WriteThrough))
	polled(t, clk, a)
	polled(t, clk, b)
	put(t, a.s, "k", "v1")
	require.Equal(t, "v1", get(t, b.s, "k"))
	require.NoError(t, b.s.Close())
	put(t, a.s, "k", "v2")

	fp.Set(faults.Fault{FailRate: 1}, faults.OpList)
	b.open()
	eventually(t, "B's first poll fails", func() bool { return b.s.ChangeStatus().PollFailures > 0 })
	require.Equal(t, "v2", get(t, b.s, "k"), "a copy served unchecked before the log was read")
	assert.EqualValues(t, 1, b.s.ChangeStatus().Revalidations)
}

// A presigned upload would happen out of the store's sight, past the
// change log: with Staleness set the store refuses to hand one out, and a
// key of the log is never presigned.
func TestPresignPutWithStalenessIsRefused(t *testing.T) {
	remote := &putPresigning{Provider: memory.New()}
	s := newTiered(t, remote, tiered.Options{Mode: tiered.WriteThrough, Staleness: 2 * time.Second})
	_, err := storage.PresignPut(ctxT(t), s, "media/a.png", time.Minute, nil)
	require.ErrorIs(t, err, storage.ErrUnsupported)
	require.Empty(t, remote.askedFor())
	_, err = storage.PresignPut(ctxT(t), newTiered(t, remote, tiered.Options{Mode: tiered.WriteThrough}), tiered.ChangesPrefix+"x", time.Minute, nil)
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
}

// A write-behind store whose upload has reached the remote, but is not
// yet settled (its announcement in flight), when another store's later
// overwrite of the key is read from the log, must not go on serving its
// own version once the upload settles: the entry is newer than the
// upload. Its copy is checked against the remote at the next read.
func TestStalenessEntryDuringPendingUpload(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	g := newGated(mem)
	g.filter = func(op, key string, _ *storage.GetOptions) bool { return strings.HasPrefix(key, tiered.ChangesPrefix) }
	a := newEnv(t, mem, staleOpts(clk, tiered.WriteThrough))
	b := newEnv(t, g, staleOpts(clk, tiered.WriteBehind))
	polled(t, clk, a)
	polled(t, clk, b)

	g.hold("put") // B's announcements wait
	put(t, b.s, "k", "v1")
	<-g.entered // B's upload of v1 is on the remote; its announcement waits
	put(t, a.s, "k", "v2")
	tick(t, clk, a, b) // B reads A's entry while its own upload is pending
	require.Equal(t, "v1", get(t, b.s, "k"), "B's pending upload is its newest version")

	g.release("put")
	require.NoError(t, b.s.Flush(ctxT(t)))
	require.Equal(t, "v2", get(t, b.s, "k"), "B settled v1, which the remote no longer holds")
	tick(t, clk, a, b)
	require.Equal(t, "v2", get(t, b.s, "k"))
	require.Equal(t, "v2", get(t, a.s, "k"))
}

// A change whose upload and announcement reached the remote, but whose
// store never learned so (the reply lost, or the process killed before
// the copy was unpinned), is not sent again after a restart: the pinned
// copy is recognised from its announcement, so another store's later
// delete of the key stays deleted instead of being undone.
func TestStalenessAnnouncedUploadIsNotResentAfterRestart(t *testing.T) {
	t.Parallel()
	for _, mode := range []tiered.Mode{tiered.WriteThrough, tiered.WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			clk := newFakeClock()
			fp := faults.Wrap(memory.New())
			opts := staleOpts(clk, mode)
			// No retry before the restart: no uploader in write-through mode
			// (the Put's own attempt is the one), a long backoff after the
			// first attempt in write-behind mode.
			opts.MinBackoff, opts.MaxBackoff = time.Hour, time.Hour
			if mode == tiered.WriteThrough {
				opts.Uploaders = -1
			}
			a := newEnv(t, fp, opts)
			b := newEnv(t, fp, staleOpts(clk, tiered.WriteThrough))
			polled(t, clk, a)
			polled(t, clk, b)

			fp.Set(faults.Fault{LostReplyRate: 1, Keys: func(k string) bool { return strings.HasPrefix(k, tiered.ChangesPrefix) }}, faults.OpPut)
			_, err := a.s.Put(ctxT(t), "k", strings.NewReader("v1"), nil)
			if mode == tiered.WriteThrough {
				require.ErrorIs(t, err, storage.ErrUnavailable)
			} else {
				require.NoError(t, err)
			}
			eventually(t, "the announcement, its reply lost", func() bool { return fp.Injected(faults.OpPut) > 0 })
			fp.Clear(faults.OpPut)
			require.Equal(t, 1, a.s.Status().PendingUploads, "a's copy is still pinned")
			tick(t, clk, a, b)
			require.Equal(t, "v1", get(t, b.s, "k"))
			require.NoError(t, b.s.Delete(ctxT(t), "k"))

			a.opts.MinBackoff, a.opts.MaxBackoff, a.opts.Uploaders = 0, 0, 0
			a.reopen(nil)
			require.NoError(t, a.s.Flush(ctxT(t)))
			_, err = fp.Stat(ctxT(t), "k")
			require.ErrorIs(t, err, storage.ErrNotFound, "the restart undid b's delete")
			tick(t, clk, a, b)
			requireMissing(t, a.s, "k")
			requireMissing(t, b.s, "k")
		})
	}
}
