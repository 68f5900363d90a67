package tiered_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// callerKey marks the context of the caller's own requests, so that
// remoteReads tells them from the store's background fetches.
type callerKey struct{}

// remoteReads counts the bytes read from the bodies of a remote's Gets:
// those made for the caller (the context carries callerKey) and those the
// store makes on its own (a fetch into the cache).
type remoteReads struct {
	storage.Provider
	caller, background atomic.Int64

	mu   sync.Mutex
	gets []string // "caller" or "background", and the range
}

func (p *remoteReads) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	n, who := &p.background, "background"
	if ctx.Value(callerKey{}) != nil {
		n, who = &p.caller, "caller"
	}
	rng := "whole"
	if opts != nil && opts.Range != nil {
		rng = fmt.Sprintf("%d+%d", opts.Range.Offset, opts.Range.Length)
	}
	p.mu.Lock()
	p.gets = append(p.gets, who+" "+rng)
	p.mu.Unlock()
	rc, info, err := p.Provider.Get(ctx, key, opts)
	if err != nil {
		return nil, info, err
	}
	return &countedBody{ReadCloser: rc, n: n}, info, nil
}

func (p *remoteReads) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.gets...)
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// A seek to the middle of a large object that is not cached costs the
// caller one ranged remote read of what it reads, not a read of the
// remote copy from its start: through storage.OpenReader, 64 KiB read at
// the middle of a 64 MiB object read 64 KiB from the remote for the
// caller. The one background fetch that copies the whole object into the
// cache (see "Reads: fetch on miss") reads it all, once.
func TestSeekInAnUncachedLargeObjectIsOneRangedRemoteRead(t *testing.T) {
	t.Parallel()
	const size, off, n = 64 << 20, 32 << 20, 64 << 10
	data := content(7, size)
	mem := memory.New()
	_, err := mem.Put(ctxT(t), "video", bytes.NewReader(data), nil)
	require.NoError(t, err)
	remote := &remoteReads{Provider: mem}
	e := newEnv(t, remote, tiered.Options{})

	ctx := context.WithValue(ctxT(t), callerKey{}, true)
	r, err := storage.OpenReader(ctx, e.s, "video", nil)
	require.NoError(t, err)
	_, err = r.Seek(off, io.SeekStart)
	require.NoError(t, err)
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	require.NoError(t, err)
	require.Equal(t, data[off:off+n], b)
	require.NoError(t, r.Close())

	caller := remote.caller.Load()
	t.Logf("read for the caller: %d bytes; remote Gets: %v", caller, remote.calls())
	require.GreaterOrEqual(t, caller, int64(n))
	require.LessOrEqual(t, caller, int64(n+64<<10), "bytes read from the remote for the caller")
	var callerGets []string
	for _, g := range remote.calls() {
		if g[:6] == "caller" {
			callerGets = append(callerGets, g)
		}
	}
	require.Equal(t, []string{fmt.Sprintf("caller %d+0", off)}, callerGets, "the caller's remote Gets")

	eventually(t, "the background fetch fills the cache", func() bool {
		_, err := e.s.Cache().Stat(ctxT(t), "video")
		return err == nil
	})
	t.Logf("read in the background: %d bytes", remote.background.Load())
	require.EqualValues(t, size, remote.background.Load(), "one background fetch of the whole object")
}

// A ranged Get that starts past RangeThreshold is of a large object: it
// is answered from the remote at once, without waiting for the remote to
// answer the background fetch of the whole object.
func TestRangedMissPastThresholdDoesNotWaitForTheFetch(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	data := content(3, 1<<20)
	_, err := mem.Put(ctxT(t), "video", bytes.NewReader(data), nil)
	require.NoError(t, err)
	g := newGated(mem)
	g.filter = func(op, key string, opts *storage.GetOptions) bool { return opts == nil || opts.Range == nil }
	e := newEnv(t, g, tiered.Options{RangeThreshold: 64 << 10})

	g.hold("get") // whole-object Gets (the background fetch) wait for an answer
	// Before, the ranged Get waited for the fetch's answer: bound the
	// wait, so that the test fails rather than hangs.
	ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
	defer cancel()
	rc, info, err := e.s.Get(ctx, "video", &storage.GetOptions{Range: &storage.Range{Offset: 500 << 10, Length: 1000}})
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	require.Equal(t, data[500<<10:500<<10+1000], b)
	require.EqualValues(t, 1<<20, info.Size)
	require.Equal(t, "get video", g.next(t), "the whole object is fetched in the background")

	g.release("get")
	eventually(t, "the fetch completes", func() bool {
		_, err := e.s.Cache().Stat(ctxT(t), "video")
		return err == nil
	})
	require.Equal(t, string(data), get(t, e.s.Cache(), "video"))
	c := e.s.Counters()
	require.EqualValues(t, 1, c.DirectReads)
	require.EqualValues(t, 1, c.Fills)

	// Past the end, the remote's refusal is the answer, and nothing is
	// fetched.
	_, _, err = e.s.Get(ctxT(t), "other", &storage.GetOptions{Range: &storage.Range{Offset: 500 << 10}})
	require.ErrorIs(t, err, storage.ErrNotFound)
	_, err = mem.Put(ctxT(t), "short", bytes.NewReader(data[:100<<10]), nil)
	require.NoError(t, err)
	_, _, err = e.s.Get(ctxT(t), "short", &storage.GetOptions{Range: &storage.Range{Offset: 500 << 10}})
	require.ErrorIs(t, err, storage.ErrInvalidRange)
	require.EqualValues(t, 1, e.s.Counters().Fills)
}

// An object another program wrote to the remote has no SHA-256 recorded
// with it, and its ETag is the remote's own. Once the background fetch
// has cached it, a reader opened before goes on reading it (from the
// cache) without taking the cached copy for another version, and the
// object answers with the ETag it had before it was cached.
func TestSeekInAForeignObjectAfterItIsCached(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	data := content(9, size)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "video.mp4"), data, 0o644))
	remote, err := local.New(dir, nil)
	require.NoError(t, err)
	info, err := remote.Stat(ctxT(t), "video.mp4")
	require.NoError(t, err)
	require.Empty(t, info.SHA256, "a file another program wrote has no SHA-256 recorded")
	e := newEnv(t, remote, tiered.Options{RangeThreshold: 64 << 10})

	r, err := storage.OpenReader(ctxT(t), e.s, "video.mp4", nil)
	require.NoError(t, err)
	defer r.Close()
	require.Equal(t, info.ETag, r.Info().ETag, "opened from the remote")
	b := make([]byte, 1000)
	_, err = r.ReadAt(b, 3<<20) // a ranged miss: read from the remote, the fetch started
	require.NoError(t, err)
	require.Equal(t, data[3<<20:3<<20+1000], b)
	eventually(t, "the background fetch fills the cache", func() bool {
		_, err := e.s.Cache().Stat(ctxT(t), "video.mp4")
		return err == nil
	})
	_, err = r.ReadAt(b, 1<<20) // now a cache hit
	require.NoError(t, err, "the cached copy is the same version")
	require.Equal(t, data[1<<20:1<<20+1000], b)

	// The cached copy answers with the remote's ETag, through Get and Stat.
	rc, hit, err := e.s.Get(ctxT(t), "video.mp4", &storage.GetOptions{Range: &storage.Range{Offset: 0, Length: 10}})
	require.NoError(t, err)
	rc.Close()
	require.Equal(t, info.ETag, hit.ETag)
	st, err := e.s.Stat(ctxT(t), "video.mp4")
	require.NoError(t, err)
	require.Equal(t, info.ETag, st.ETag)
	require.EqualValues(t, 2, e.s.Counters().Hits, "the read and the Get after the fetch were hits")

	// A copy written through the store has the cache's own ETag.
	put, err := e.s.Put(ctxT(t), "video.mp4", bytes.NewReader(data[:1000]), nil)
	require.NoError(t, err)
	st, err = e.s.Stat(ctxT(t), "video.mp4")
	require.NoError(t, err)
	require.Equal(t, put.ETag, st.ETag)
	require.NotEqual(t, info.ETag, st.ETag)
}
