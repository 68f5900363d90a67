package tiered_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// Integrity of cached bytes: these tests damage the object file in the
// cache directory for real and read the object back through the store.

// readAll gets key and reads it whole, returning the bytes and the error
// of the Get or of the read.
func readAll(ctx context.Context, p storage.Provider, key string) ([]byte, error) {
	rc, _, err := p.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func content(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// A cached object damaged on disk is never served as good: the first
// read either serves the right bytes (the damage was found when the cache
// opened the object, so the store fetched it from the remote at once) or
// fails with storage.ErrCorrupt (found at the end of the stream); the
// next read serves the right bytes from the remote, and the cache holds
// them again.
func TestCachedBitFlipIsFetchedAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		size      int
		atOpen    bool // the damage is found before anything is streamed
		threshold int64
	}{
		{"small", 4 << 10, true, 0},
		{"streamed", 300 << 10, false, 0},
		{"above RangeThreshold", 300 << 10, false, 64 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			mem := memory.New()
			e := newEnv(t, mem, tiered.Options{RangeThreshold: tc.threshold})
			data := content(1, tc.size)
			_, err := e.s.Put(ctx, "media/photo.jpg", bytes.NewReader(data), nil)
			require.NoError(t, err)
			cachetest.FlipByte(t, cachetest.ObjectFile(t, e.dir), int64(tc.size/2))
			before := e.s.Counters()

			got, err := readAll(ctx, e.s, "media/photo.jpg")
			if tc.atOpen {
				require.NoError(t, err, "damage found at open: served from the remote at once")
				require.Equal(t, sha(data), sha(got))
			} else {
				require.ErrorIs(t, err, storage.ErrCorrupt, "damage found at the end of the stream")
				require.NotEqual(t, sha(data), sha(got))
			}

			got, err = readAll(ctx, e.s, "media/photo.jpg")
			require.NoError(t, err)
			require.Equal(t, sha(data), sha(got), "the next read serves the right bytes")

			// The cache holds the right bytes again (above RangeThreshold,
			// once the background fetch is done).
			eventually(t, "the cache is filled again", func() bool {
				_, err := e.s.Cache().Stat(ctx, "media/photo.jpg")
				return err == nil
			})
			after := e.s.Counters()
			assert.Equal(t, int64(1), after.Corrupt-before.Corrupt)
			assert.Equal(t, int64(1), after.Fills-before.Fills, "fetched again from the remote, once")
			assert.Equal(t, int64(1), after.Misses-before.Misses)
			got, err = readAll(ctx, e.s.Cache(), "media/photo.jpg")
			require.NoError(t, err)
			require.Equal(t, sha(data), sha(got))
		})
	}
}

// A cached file cut short is found when the cache opens it: Get serves
// the right bytes from the remote at once, and Stat answers from the
// remote too.
func TestCachedTruncatedFileIsServedFromTheRemote(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	mem := memory.New()
	e := newEnv(t, mem, tiered.Options{})
	data := content(2, 300<<10)
	_, err := e.s.Put(ctx, "v", bytes.NewReader(data), nil)
	require.NoError(t, err)

	require.NoError(t, os.Truncate(cachetest.ObjectFile(t, e.dir), 100<<10))
	got, err := readAll(ctx, e.s, "v")
	require.NoError(t, err, "Get serves the remote's copy at once")
	require.Equal(t, sha(data), sha(got))
	c := e.s.Counters()
	assert.Equal(t, int64(1), c.Corrupt)
	assert.Equal(t, int64(1), c.Fills)
	got, err = readAll(ctx, e.s, "v")
	require.NoError(t, err)
	require.Equal(t, sha(data), sha(got))
	assert.Equal(t, int64(1), e.s.Counters().Hits, "served from the cache, filled again")

	require.NoError(t, os.Truncate(cachetest.ObjectFile(t, e.dir), 0))
	info, err := e.s.Stat(ctx, "v")
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), info.Size, "Stat answers from the remote")
	require.Equal(t, sha(data), info.SHA256)
	assert.Equal(t, int64(2), e.s.Counters().Corrupt)
}

// A pending write-behind upload whose local copy (pinned: the only copy)
// is damaged: its reads fail with storage.ErrCorrupt rather than serve
// anything else, the damaged copy is kept, and its upload fails without
// sending it and is retried, with Status reporting the error. A new Put
// ends it.
func TestPendingUploadWithDamagedCopy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		size int
	}{{"small", 4 << 10}, {"streamed", 300 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			clk := newFakeClock()
			fp := faults.Wrap(memory.New())
			fp.Set(faults.Fault{FailRate: 1}, faults.OpPut)
			e := newEnv(t, fp, behind(clk))
			data := content(3, tc.size)
			_, err := e.s.Put(ctx, "upload", bytes.NewReader(data), nil)
			require.NoError(t, err)
			eventually(t, "the first upload fails", func() bool {
				return fp.Calls(faults.OpPut) == 1 && !e.s.Status().NextRetry.IsZero()
			})

			cachetest.FlipByte(t, cachetest.ObjectFile(t, e.dir), int64(tc.size/2))
			for range 2 {
				_, err := readAll(ctx, e.s, "upload")
				require.ErrorIs(t, err, storage.ErrCorrupt)
			}
			require.EqualValues(t, 1, e.s.Cache().Usage().PinnedEntries, "the damaged copy is kept")
			require.Zero(t, e.s.Counters().RemoteGets, "nothing else is served in its place")
			_, err = e.s.Put(ctx, "upload", bytes.NewReader(data), &storage.PutOptions{IfNotExists: true})
			require.ErrorIs(t, err, storage.ErrExist, "the key still exists")

			// The remote is back: the upload reads the damaged copy, fails,
			// and sends nothing.
			fp.Clear()
			clk.Advance(e.s.Status().NextRetry.Sub(clk.Now()))
			eventually(t, "the upload fails on the damaged copy", func() bool {
				st := e.s.Status()
				return st.UploadFailures == 2 && !st.NextRetry.IsZero()
			})
			st := e.s.Status()
			require.ErrorIs(t, st.LastError, storage.ErrCorrupt)
			require.Equal(t, 1, st.PendingUploads)
			require.Equal(t, 1, st.Failing)
			requireMissing(t, fp, "upload")

			// A new Put replaces the damaged copy and is uploaded.
			_, err = e.s.Put(ctx, "upload", bytes.NewReader(data), nil)
			require.NoError(t, err)
			require.NoError(t, flushAdvancing(ctx, e.s, clk))
			remoteHas(t, fp, "upload", string(data))
			got, err := readAll(ctx, e.s, "upload")
			require.NoError(t, err)
			require.Equal(t, sha(data), sha(got))
		})
	}
}

// A write-through Put whose local copy is damaged before its upload
// reads it fails with storage.ErrCorrupt and leaves nothing behind, on
// either tier.
func TestWriteThroughUploadOfDamagedCopyFails(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	mem := memory.New()
	g := newGated(mem)
	e := newEnv(t, g, tiered.Options{})
	data := content(4, 300<<10)
	g.hold("put")
	done := make(chan error, 1)
	go func() {
		_, err := e.s.Put(ctx, "wt", bytes.NewReader(data), nil)
		done <- err
	}()
	require.Equal(t, "put wt", g.next(t))
	cachetest.FlipByte(t, cachetest.ObjectFile(t, e.dir), 150<<10)
	g.release("put")
	require.ErrorIs(t, <-done, storage.ErrCorrupt)
	requireMissing(t, mem, "wt")
	requireMissing(t, e.s.Cache(), "wt")
}

// With cache.Options.SkipVerify the cache no longer checks a whole read's
// checksum, but an upload still checks the SHA-256 of what it sends
// against the one the cache recorded, and fails the read that would
// complete the body: a damaged local copy, the only copy of a pending
// upload, never reaches the remote as the object, in either mode.
func TestSkipVerifyDamagedCopyIsNeverUploaded(t *testing.T) {
	t.Parallel()
	t.Run("write-behind", func(t *testing.T) {
		t.Parallel()
		ctx := ctxT(t)
		clk := newFakeClock()
		fp := faults.Wrap(memory.New())
		fp.Set(faults.Fault{FailRate: 1}, faults.OpPut)
		e := newEnvCache(t, fp, behind(clk), cache.Options{SkipVerify: true})
		data := content(5, 300<<10)
		_, err := e.s.Put(ctx, "upload", bytes.NewReader(data), nil)
		require.NoError(t, err)
		eventually(t, "the first upload fails", func() bool {
			return fp.Calls(faults.OpPut) == 1 && !e.s.Status().NextRetry.IsZero()
		})

		cachetest.FlipByte(t, cachetest.ObjectFile(t, e.dir), 150<<10)
		fp.Clear()
		clk.Advance(e.s.Status().NextRetry.Sub(clk.Now()))
		eventually(t, "the upload fails on the damaged copy", func() bool {
			st := e.s.Status()
			return st.UploadFailures == 2 && !st.NextRetry.IsZero()
		})
		st := e.s.Status()
		require.ErrorIs(t, st.LastError, storage.ErrCorrupt)
		require.Equal(t, 1, st.PendingUploads)
		requireMissing(t, fp, "upload")
		require.EqualValues(t, 1, e.s.Cache().Usage().PinnedEntries, "the damaged copy is kept")

		_, err = e.s.Put(ctx, "upload", bytes.NewReader(data), nil)
		require.NoError(t, err)
		require.NoError(t, flushAdvancing(ctx, e.s, clk))
		remoteHas(t, fp, "upload", string(data))
	})
	t.Run("write-through", func(t *testing.T) {
		t.Parallel()
		ctx := ctxT(t)
		mem := memory.New()
		g := newGated(mem)
		e := newEnvCache(t, g, tiered.Options{}, cache.Options{SkipVerify: true})
		data := content(6, 300<<10)
		g.hold("put")
		done := make(chan error, 1)
		go func() {
			_, err := e.s.Put(ctx, "wt", bytes.NewReader(data), nil)
			done <- err
		}()
		require.Equal(t, "put wt", g.next(t))
		cachetest.FlipByte(t, cachetest.ObjectFile(t, e.dir), 150<<10)
		g.release("put")
		require.ErrorIs(t, <-done, storage.ErrCorrupt)
		requireMissing(t, mem, "wt")
		requireMissing(t, e.s.Cache(), "wt")
	})
}
