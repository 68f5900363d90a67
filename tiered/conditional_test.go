package tiered_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/testlog"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// logBuffer is a buffer a test reads while others write to it.
type logBuffer = testlog.Buffer

// lines returns the log lines that contain every one of parts.

// drain lets the remote answer again and waits until nothing is pending.
func drain(t *testing.T, s *tiered.Store, fp *faults.Provider, clk *fakeClock) {
	t.Helper()
	fp.Clear()
	require.NoError(t, flushAdvancing(ctxT(t), s, clk))
}

// In write-behind mode, a Put with IfNotExists is accepted while the
// remote is down (the local tier says the key is free), and its upload
// reaches the remote once the remote is back.
func TestWriteBehindIfNotExistsDuringOutage(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}))
	e := newEnv(t, fp, behind(clk))
	ine := &storage.PutOptions{IfNotExists: true, ContentType: "video/mp4"}
	info, err := e.s.Put(ctxT(t), "k", strings.NewReader("ours"), ine)
	require.NoError(t, err, "IfNotExists with the remote down is decided locally")
	_, err = e.s.Put(ctxT(t), "k", strings.NewReader("again"), ine)
	require.ErrorIs(t, err, storage.ErrExist, "the key is taken locally")
	require.Equal(t, "ours", get(t, e.s, "k"))
	require.Equal(t, 1, e.s.Status().PendingUploads)

	drain(t, e.s, fp, clk)
	remoteHas(t, mem, "k", "ours")
	rinfo, err := mem.Stat(ctxT(t), "k")
	require.NoError(t, err)
	require.Equal(t, info.SHA256, rinfo.SHA256)
	require.Equal(t, "video/mp4", rinfo.ContentType)
	st := e.s.Status()
	require.Zero(t, st.Conflicts)
	require.Zero(t, st.PendingUploads)
	require.Zero(t, e.s.Cache().Usage().PinnedEntries)
}

// A conditional Put accepted during an outage whose key another writer
// took on the remote meanwhile: the other writer's object is not
// overwritten, the acknowledged one is kept under its conflict key, the
// conflict is logged once at ERROR and counted, and nothing stays pending.
// With restart, the store is closed and opened again on the same cache
// directory between the Put and the end of the outage: the conditional
// flag must survive it.
func TestWriteBehindIfNotExistsConflictFoundLater(t *testing.T) {
	t.Parallel()
	for _, restart := range []bool{false, true} {
		name := "NoRestart"
		if restart {
			name = "Restart"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			mem := memory.New()
			fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}))
			logs := &logBuffer{}
			opts := behind(clk)
			opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
			e := newEnv(t, fp, opts)
			const key = "media/a b.mp4"
			info, err := e.s.Put(ctxT(t), key, strings.NewReader("ours"),
				&storage.PutOptions{IfNotExists: true, ContentType: "video/mp4", Metadata: map[string]string{"by": "us"}})
			require.NoError(t, err)
			put(t, mem, key, "theirs") // another process, straight to the remote
			if restart {
				e.reopen(nil)
			}

			drain(t, e.s, fp, clk)
			remoteHas(t, mem, key, "theirs")
			ck := tiered.ConflictKey(key, info.SHA256)
			require.NoError(t, storage.ValidKey(ck))
			remoteHas(t, mem, ck, "ours")
			cinfo, err := mem.Stat(ctxT(t), ck)
			require.NoError(t, err)
			require.Equal(t, "video/mp4", cinfo.ContentType)
			require.Equal(t, map[string]string{"by": "us"}, cinfo.Metadata)

			require.Equal(t, "theirs", get(t, e.s, key), "the key now reads as the remote holds it")
			st := e.s.Status()
			require.EqualValues(t, 1, st.Conflicts)
			require.Zero(t, st.PendingUploads)
			require.Zero(t, st.Failing)
			require.EqualValues(t, 1, e.s.Counters().Conflicts)
			require.Zero(t, e.s.Cache().Usage().PinnedEntries)
			errs := logs.Lines("level=ERROR", "conflict")
			require.Len(t, errs, 1, "one ERROR line for the conflict; logs:\n%s", logs)
			require.Contains(t, errs[0], `"media/a b.mp4"`, "the key, quoted")
			require.Contains(t, errs[0], ck)

			// Flushing and reopening does not find the conflict again.
			e.reopen(nil)
			require.NoError(t, e.s.Flush(ctxT(t)))
			remoteHas(t, mem, key, "theirs")
		})
	}
}

// An upload that reached the remote although its reply was lost is not
// a conflict when it is sent again: the remote holds the same bytes.
func TestWriteBehindIfNotExistsLostReply(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}))
	e := newEnv(t, fp, behind(clk))
	_, err := e.s.Put(ctxT(t), "k", strings.NewReader("ours"), &storage.PutOptions{IfNotExists: true})
	require.NoError(t, err)
	fp.Clear()
	fp.Set(faults.Fault{LostReplyRate: 1}, faults.OpPut)
	before := fp.Calls(faults.OpPut)
	eventually(t, "an upload attempt whose reply is lost", func() bool {
		clk.Advance(time.Hour) // until the retry's timer is there to fire
		return fp.Calls(faults.OpPut) > before
	})
	drain(t, e.s, fp, clk)
	remoteHas(t, mem, "k", "ours")
	require.Zero(t, e.s.Status().Conflicts)
	var n int
	for _, err := range mem.List(ctxT(t), nil) {
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 1, n, "no conflict copy")
}

// A plain Put after a conditional one that is still pending makes the
// pending upload unconditional again, across a restart too: the last
// Put wins, as without IfNotExists.
func TestWriteBehindPlainPutAfterConditional(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}))
	e := newEnv(t, fp, behind(clk))
	_, err := e.s.Put(ctxT(t), "k", strings.NewReader("first"), &storage.PutOptions{IfNotExists: true})
	require.NoError(t, err)
	put(t, e.s, "k", "second")
	put(t, mem, "k", "theirs")
	e.reopen(nil)
	drain(t, e.s, fp, clk)
	remoteHas(t, mem, "k", "second")
	require.Zero(t, e.s.Status().Conflicts)
}

// The remote is asked when it can answer, as before: a key it holds is
// taken.
func TestWriteBehindIfNotExistsRemoteAnswers(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	put(t, mem, "taken", "theirs")
	e := newEnv(t, mem, behind(clk))
	_, err := e.s.Put(context.Background(), "taken", strings.NewReader("x"), &storage.PutOptions{IfNotExists: true})
	require.ErrorIs(t, err, storage.ErrExist)
}
