package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/strata-storage/strata/internal/testlog"
	"github.com/strata-storage/strata/storage"
)

// clock is an injectable clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t testing.TB, dir string, o Options) *Cache {
	t.Helper()
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	c, err := Open(dir, o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func put(t testing.TB, c *Cache, key string, data []byte) storage.Info {
	t.Helper()
	info, err := c.Put(context.Background(), key, bytes.NewReader(data), nil)
	require.NoError(t, err, "Put %q", key)
	return info
}

func putPinned(t testing.TB, c *Cache, key string, data []byte) storage.Info {
	t.Helper()
	info, err := c.PutPinned(context.Background(), key, bytes.NewReader(data), nil)
	require.NoError(t, err, "PutPinned %q", key)
	return info
}

func getBytes(c *Cache, key string) ([]byte, error) {
	rc, _, err := c.Get(context.Background(), key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func has(c *Cache, key string) bool {
	_, err := c.Stat(context.Background(), key)
	return err == nil
}

// diskBytes sums the sizes of the files the cache counts (everything but
// state/) and lists the temporary files.
func diskBytes(t testing.TB, dir string) (total int64, tmp []string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == "state" {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += fi.Size()
		if strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
			tmp = append(tmp, rel)
		}
		return nil
	})
	require.NoError(t, err)
	return total, tmp
}

// checkConsistent checks that the index matches the object files on disk
// and that the accounting matches the bytes on disk. The cache must be
// idle.
func checkConsistent(t testing.TB, c *Cache) {
	t.Helper()
	files := map[hkey]bool{} // hash -> pinned
	for _, pinned := range []bool{false, true} {
		require.NoError(t, walkObjects(c.objDir(pinned), func(p string, h hkey, ok bool) error {
			require.True(t, ok, "stray file %s", p)
			_, dup := files[h]
			require.False(t, dup, "object %s is both pinned and not", p)
			files[h] = pinned
			return nil
		}))
	}
	n := 0
	c.idx.each(func(e *entry) bool {
		n++
		pinned, ok := files[e.h]
		if assert.True(t, ok, "entry %s has no file", e.h.name()) {
			assert.Equal(t, e.pinned(), pinned, "entry %s pin flag against its file's place", e.h.name())
			hd, size, err := readFileHeader(c.objPath(e.h, pinned))
			if assert.NoError(t, err) {
				assert.Equal(t, e.gen, hd.gen, "generation of %s", hd.key)
				assert.Equal(t, e.charge(), size, "size of %s", hd.key)
			}
		}
		return true
	})
	assert.Equal(t, len(files), n, "files on disk against entries in the index")
	total, tmp := diskBytes(t, c.dir)
	assert.Empty(t, tmp, "temporary files")
	u := c.Usage()
	assert.Equal(t, total, u.Bytes, "bytes on disk against Usage().Bytes")
	assert.Zero(t, u.InFlightBytes)
}

func TestPutGetStatDelete(t *testing.T) {
	c := open(t, t.TempDir(), Options{})
	ctx := context.Background()
	info := put(t, c, "a/b.txt", []byte("hello"))
	assert.Equal(t, int64(5), info.Size)
	assert.Equal(t, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", info.SHA256)
	got, err := getBytes(c, "a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))
	st, err := c.Stat(ctx, "a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, info, st)
	info2 := put(t, c, "a/b.txt", []byte("hello"))
	assert.NotEqual(t, info.ETag, info2.ETag, "every Put makes a new ETag")
	require.NoError(t, c.Delete(ctx, "a/b.txt"))
	_, err = getBytes(c, "a/b.txt")
	assert.ErrorIs(t, err, storage.ErrNotFound)
	s := c.Stats()
	assert.Equal(t, int64(1), s.Hits)
	assert.Equal(t, int64(1), s.Misses)
	assert.Equal(t, int64(5), s.BytesRead)
	assert.Equal(t, int64(10), s.BytesWritten)
	checkConsistent(t, c)
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	c := open(t, dir, Options{Now: clk.Now})
	ctx := context.Background()
	for i := range 50 {
		put(t, c, fmt.Sprintf("k%02d", i), []byte(strings.Repeat("x", i)))
		clk.Add(time.Second)
	}
	info := putPinned(t, c, "pinned", []byte("only copy"))
	meta := &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1", "b": "two"}}
	_, err := c.Put(ctx, "meta", strings.NewReader("m"), meta)
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, "k07"))
	before := c.Usage()
	var entries []Entry
	for e := range c.Entries(ctx) {
		entries = append(entries, e)
	}
	require.NoError(t, c.Close())

	c2 := open(t, dir, Options{Now: clk.Now})
	after := c2.Usage()
	assert.Equal(t, before.Entries, after.Entries)
	assert.Equal(t, before.ObjectBytes, after.ObjectBytes)
	assert.Equal(t, before.PinnedEntries, after.PinnedEntries)
	assert.Equal(t, before.PinnedBytes, after.PinnedBytes)
	for i := range 50 {
		_, err := c2.Stat(ctx, fmt.Sprintf("k%02d", i))
		if i == 7 {
			assert.ErrorIs(t, err, storage.ErrNotFound)
		} else {
			assert.NoError(t, err)
		}
	}
	st, err := c2.Stat(ctx, "meta")
	require.NoError(t, err)
	assert.Equal(t, "text/plain", st.ContentType)
	assert.Equal(t, meta.Metadata, st.Metadata)
	var pinned []storage.Info
	for i, err := range c2.Pinned(ctx) {
		require.NoError(t, err)
		pinned = append(pinned, i)
	}
	require.Len(t, pinned, 1)
	assert.Equal(t, info, pinned[0])
	var entries2 []Entry
	for e := range c2.Entries(ctx) {
		entries2 = append(entries2, e)
	}
	assert.ElementsMatch(t, entries, entries2, "Entries, last access times included, survive a restart")
	checkConsistent(t, c2)
}

func TestPinUnpinDrop(t *testing.T) {
	c := open(t, t.TempDir(), Options{})
	ctx := context.Background()
	assert.ErrorIs(t, c.Pin(ctx, "missing"), storage.ErrNotFound)
	v1 := put(t, c, "k", []byte("one"))
	require.NoError(t, c.Pin(ctx, "k"))
	assert.Equal(t, int64(1), c.Usage().PinnedEntries)
	dropped, err := c.Drop(ctx, "k", v1.ETag)
	require.NoError(t, err)
	assert.False(t, dropped, "Drop leaves a pinned entry")
	v2 := put(t, c, "k", []byte("two"))
	assert.Zero(t, c.Usage().PinnedEntries, "a plain Put replaces the pinned version")
	require.NoError(t, c.Pin(ctx, "k"))
	require.NoError(t, c.Unpin(ctx, "k", v1.ETag))
	assert.Equal(t, int64(1), c.Usage().PinnedEntries, "Unpin with an old ETag is a no-op")
	require.NoError(t, c.Unpin(ctx, "k", v2.ETag))
	assert.Zero(t, c.Usage().PinnedEntries)
	dropped, err = c.Drop(ctx, "k", v1.ETag)
	require.NoError(t, err)
	assert.False(t, dropped, "Drop with an old ETag")
	dropped, err = c.Drop(ctx, "k", v2.ETag)
	require.NoError(t, err)
	assert.True(t, dropped)
	assert.False(t, has(c, "k"))
	require.NoError(t, c.Unpin(ctx, "k", ""), "Unpin of a missing key")
	p := putPinned(t, c, "p", []byte("pinned"))
	require.NoError(t, c.Delete(ctx, "p"), "Delete removes a pinned entry")
	assert.False(t, has(c, "p"))
	_ = p
	checkConsistent(t, c)
}

// TestLRUOrder fills the cache and checks that entries go in order of last
// access, a Get counting as an access and a Stat not.
func TestLRUOrder(t *testing.T) {
	clk := newClock()
	const objSize = 16 << 10
	c := open(t, t.TempDir(), Options{MaxBytes: 256 << 10, Now: clk.Now})
	data := bytes.Repeat([]byte("x"), objSize)
	var keys []string
	for i := 0; ; i++ {
		k := fmt.Sprintf("k%02d", i)
		put(t, c, k, data)
		clk.Add(time.Second)
		keys = append(keys, k)
		if c.Stats().EvictedBySize > 0 {
			break
		}
	}
	require.Greater(t, len(keys), 8)
	// k00 went first; the order of the rest is by access from now on
	assert.False(t, has(c, "k00"))
	keys = keys[1:]
	// touch every other key, in reverse, so the LRU order becomes: the
	// untouched ones (oldest first), then the touched ones in touch order
	var untouched, touched []string
	for i := len(keys) - 1; i >= 0; i-- {
		if i%2 == 0 {
			_, err := getBytes(c, keys[i])
			require.NoError(t, err)
			touched = append(touched, keys[i])
			clk.Add(time.Second)
		} else {
			_, err := c.Stat(context.Background(), keys[i])
			require.NoError(t, err)
		}
	}
	for i := range keys {
		if i%2 == 1 {
			untouched = append(untouched, keys[i])
		}
	}
	want := append(untouched, touched...)
	for i, k := range want {
		before := c.Stats().EvictedBySize
		put(t, c, fmt.Sprintf("new%02d", i), data)
		clk.Add(time.Second)
		require.Equal(t, before+1, c.Stats().EvictedBySize, "one eviction per Put")
		assert.False(t, has(c, k), "%s should be the next evicted (step %d)", k, i)
		for _, later := range want[i+1:] {
			assert.True(t, has(c, later), "%s evicted before %s", later, k)
		}
	}
	checkConsistent(t, c)
}

func TestIdleExpiry(t *testing.T) {
	clk := newClock()
	c := open(t, t.TempDir(), Options{MaxIdle: time.Hour, Now: clk.Now, EvictInterval: -1})
	ctx := context.Background()
	put(t, c, "old", []byte("o"))
	put(t, c, "read", []byte("r"))
	putPinned(t, c, "pinned", []byte("p"))
	clk.Add(40 * time.Minute)
	put(t, c, "young", []byte("y"))
	_, err := getBytes(c, "read")
	require.NoError(t, err)
	clk.Add(30 * time.Minute) // old: 70 min idle, read and young: 30
	res, err := c.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Entries)
	assert.Equal(t, int64(1), res.Idle)
	assert.False(t, has(c, "old"))
	assert.True(t, has(c, "read"))
	assert.True(t, has(c, "young"))
	assert.True(t, has(c, "pinned"), "a pinned entry never expires")
	clk.Add(31 * time.Minute)
	res, err = c.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Idle)
	assert.True(t, has(c, "pinned"))
	assert.Equal(t, int64(3), c.Stats().EvictedByIdle)
	require.NoError(t, c.Unpin(ctx, "pinned", ""))
	clk.Add(2 * time.Hour)
	_, err = c.Evict(ctx)
	require.NoError(t, err)
	assert.False(t, has(c, "pinned"))
	checkConsistent(t, c)
}

// TestBackPressure fills the cache with pinned data: a write waits, is
// released by an Unpin, and one that nothing releases fails with ErrFull.
func TestBackPressure(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxBytes: 256 << 10})
	ctx := context.Background()
	data := bytes.Repeat([]byte("p"), 32<<10)
	var infos []storage.Info
	for i := 0; ; i++ {
		if c.Usage().Bytes+int64(len(data))+4<<10 > c.opts.MaxBytes-c.headroom() {
			break
		}
		infos = append(infos, putPinned(t, c, fmt.Sprintf("p%d", i), data))
	}
	require.NotEmpty(t, infos)
	// a write that cannot get space in time fails with ErrFull
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := c.Put(short, "w", bytes.NewReader(data), nil)
	cancel()
	require.ErrorIs(t, err, ErrFull)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, has(c, "w"))

	// a waiting write (here a pinned one) is released by Unpin
	done := make(chan error, 1)
	go func() {
		_, err := c.PutPinned(ctx, "w", bytes.NewReader(data), nil)
		done <- err
	}()
	waitFor(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("write did not wait: %v", err)
		default:
		}
		return c.Stats().Waits >= 2
	})
	require.NoError(t, c.Unpin(ctx, "p0", infos[0].ETag))
	require.NoError(t, <-done)
	assert.False(t, has(c, "p0"), "the unpinned entry made room")
	assert.True(t, has(c, "w"))

	// and by Delete, for a write of unknown length
	go func() {
		_, err := c.Put(ctx, "w2", struct{ io.Reader }{bytes.NewReader(data)}, nil)
		done <- err
	}()
	waitFor(t, func() bool {
		select {
		case err := <-done:
			t.Fatalf("write did not wait: %v", err)
		default:
		}
		return c.Stats().Waits >= 3
	})
	require.NoError(t, c.Delete(ctx, "p1"))
	require.NoError(t, <-done)
	// nothing evicted the pinned ones
	for i := 2; i < len(infos); i++ {
		assert.True(t, has(c, fmt.Sprintf("p%d", i)))
	}
	// an object that can never fit fails at once
	_, err = c.Put(ctx, "huge", bytes.NewReader(make([]byte, 300<<10)), &storage.PutOptions{Size: 300 << 10})
	require.ErrorIs(t, err, ErrFull)
	assert.ErrorIs(t, err, storage.ErrTooLarge)
	checkConsistent(t, c)
}

// waitFor polls cond until it holds, failing after 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPinnedSurviveEvictionAndRestart(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{MaxBytes: 512 << 10})
	ctx := context.Background()
	pinned := map[string][]byte{}
	for i := range 6 {
		k := fmt.Sprintf("pinned/%d", i)
		pinned[k] = bytes.Repeat([]byte{byte(i)}, 20<<10)
		putPinned(t, c, k, pinned[k])
	}
	// pressure: many times the cache's size of unpinned writes
	for i := range 200 {
		put(t, c, fmt.Sprintf("churn/%d", i), bytes.Repeat([]byte("c"), 16<<10))
	}
	require.Greater(t, c.Stats().EvictedBySize, int64(100))
	for k, v := range pinned {
		got, err := getBytes(c, k)
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
	require.NoError(t, c.Close())
	c2 := open(t, dir, Options{MaxBytes: 512 << 10})
	n := 0
	for info, err := range c2.Pinned(ctx) {
		require.NoError(t, err)
		got, err := getBytes(c2, info.Key)
		require.NoError(t, err)
		assert.Equal(t, pinned[info.Key], got)
		n++
	}
	assert.Equal(t, len(pinned), n)
	checkConsistent(t, c2)
}

func TestLockSameProcess(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	_, err := Open(dir, Options{MaxBytes: 1 << 20})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), fmt.Sprint(os.Getpid()))
	require.NoError(t, c.Close())
	c2 := open(t, dir, Options{})
	require.NoError(t, c2.Close())
}

func TestClosed(t *testing.T) {
	c := open(t, t.TempDir(), Options{})
	require.NoError(t, c.Close())
	ctx := context.Background()
	_, err := c.Put(ctx, "k", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, storage.ErrClosed)
	assert.ErrorIs(t, c.Pin(ctx, "k"), storage.ErrClosed)
	_, err = c.Evict(ctx)
	assert.ErrorIs(t, err, storage.ErrClosed)
	assert.NoError(t, c.Close())
}

func TestErrorsAreStorageErrors(t *testing.T) {
	c := open(t, t.TempDir(), Options{})
	_, err := c.Put(context.Background(), "../x", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, storage.ErrInvalidKey)
	var se *storage.Error
	_, err = c.Stat(context.Background(), "nope")
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "cache", se.Provider)
}

// TestMinFreeRatio shrinks the file system's free space (through a fake
// statfs) and checks that the cache evicts to keep the ratio free, below
// MaxBytes.
func TestMinFreeRatio(t *testing.T) {
	var mu sync.Mutex
	var c *Cache
	const total = 100 << 20
	otherUse := int64(90 << 20) // bytes others use on the "file system"
	fsSpace = func(string) (int64, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		used := otherUse
		if c != nil {
			used += c.totalLocked() // called with c.mu held
		}
		return total - used, total, nil
	}
	defer func() { fsSpace = statfs }()
	cc := open(t, t.TempDir(), Options{MaxBytes: 64 << 20, MinFreeRatio: 0.05, EvictInterval: -1})
	mu.Lock()
	c = cc
	mu.Unlock()
	data := bytes.Repeat([]byte("x"), 1<<20)
	for i := range 20 {
		put(t, cc, fmt.Sprintf("k%d", i), data)
	}
	// 90 MiB used by others, 5 MiB must stay free: the cache keeps under 5 MiB
	u := cc.Usage()
	assert.LessOrEqual(t, u.Bytes, int64(5<<20))
	assert.Greater(t, cc.Stats().EvictedBySize, int64(10))
	// others free 20 MiB: the cache may grow again
	mu.Lock()
	otherUse = 70 << 20
	mu.Unlock()
	before := cc.Stats().EvictedBySize
	for i := range 10 {
		put(t, cc, fmt.Sprintf("more%d", i), data)
	}
	assert.Equal(t, before, cc.Stats().EvictedBySize, "room again: no eviction")
	// and Evict brings it back within the ratio when space shrinks
	mu.Lock()
	otherUse = 93 << 20
	mu.Unlock()
	_, err := cc.Evict(context.Background())
	require.NoError(t, err)
	assert.LessOrEqual(t, cc.Usage().Bytes, int64(2<<20))
}

// TestBackgroundExpiry lets the background goroutine expire an idle entry:
// the clock is injected, the wait is for a condition with a deadline.
func TestBackgroundExpiry(t *testing.T) {
	clk := newClock()
	c := open(t, t.TempDir(), Options{MaxIdle: time.Hour, Now: clk.Now, EvictInterval: time.Millisecond})
	put(t, c, "idle", []byte("x"))
	putPinned(t, c, "pinned", []byte("x"))
	clk.Add(2 * time.Hour)
	waitFor(t, func() bool { return c.Stats().EvictedByIdle == 1 })
	assert.False(t, has(c, "idle"))
	assert.True(t, has(c, "pinned"))
	require.NoError(t, c.Close(), "Close stops the goroutine")
}

// TestWaitForDyingHonoursContext: a write that waits for another
// goroutine's eviction to finish stops waiting when its context ends.
func TestWaitForDyingHonoursContext(t *testing.T) {
	c := open(t, t.TempDir(), Options{MaxBytes: 256 << 10})
	data := bytes.Repeat([]byte("p"), 32<<10)
	for i := 0; c.Usage().Bytes+int64(len(data))+4<<10 <= c.opts.MaxBytes-c.headroom(); i++ {
		putPinned(t, c, fmt.Sprintf("p%d", i), data)
	}
	// Pretend an eviction is unlinking enough bytes for the write: it
	// then waits for that eviction rather than for an Unpin.
	c.mu.Lock()
	c.dying = c.objBytes
	c.mu.Unlock()
	t.Cleanup(func() {
		c.mu.Lock()
		c.dying = 0
		c.wakeLocked()
		c.mu.Unlock()
	})
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Put(short, "w", bytes.NewReader(data), nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrFull)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(10 * time.Second):
		t.Fatal("Put waited for an eviction past the end of its context")
	}
}

// TestLockPIDWriteFails: when the process ID cannot be written into the
// lock file, Open fails instead of holding a lock that names nobody.
func TestLockPIDWriteFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	require.NoError(t, unix.Mkfifo(path, 0o600)) // opens and locks, but cannot be truncated
	f, err := lockDir(path, 0o600)
	if f != nil {
		f.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}

// TestPeekIsNotAnAccess: Peek reads the whole object, verified, as Get
// does, but leaves the access time (so idle expiry and the LRU order) and
// the read counters as they are.
func TestPeekIsNotAnAccess(t *testing.T) {
	clk := newClock()
	c := open(t, t.TempDir(), Options{MaxIdle: time.Hour, Now: clk.Now, EvictInterval: -1})
	ctx := context.Background()
	small, large := []byte("small"), bytes.Repeat([]byte("large "), 50<<10) // read whole, and streamed
	put(t, c, "small", small)
	put(t, c, "large", large)
	clk.Add(40 * time.Minute)
	stats := c.Stats()
	for key, want := range map[string][]byte{"small": small, "large": large} {
		rc, info, err := c.Peek(ctx, key)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, want, got)
		assert.Equal(t, int64(len(want)), info.Size)
	}
	now := c.Stats()
	assert.Equal(t, stats.Hits, now.Hits)
	assert.Equal(t, stats.BytesRead, now.BytesRead)
	_, _, err := c.Peek(ctx, "missing")
	assert.ErrorIs(t, err, storage.ErrNotFound)
	assert.Equal(t, stats.Misses, c.Stats().Misses)

	clk.Add(30 * time.Minute) // 70 minutes since the Puts, 30 since the Peeks
	res, err := c.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Idle, "peeked entries are as idle as before")
	require.NoError(t, c.Close())
	_, _, err = c.Peek(ctx, "small")
	assert.ErrorIs(t, err, storage.ErrClosed)
}

// A cache full of pinned data has no room for a new snapshot, yet Close
// must still succeed and leave an index the next Open reads as clean: the
// snapshot and journal on disk already describe every entry. CI once
// failed TestBoundUnderRandomWorkload with "cache close: no room to
// compact the index".
func TestCloseWhenFullOfPinnedData(t *testing.T) {
	dir := t.TempDir()
	var logs testlog.Buffer
	o := Options{MaxBytes: 256 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	c := open(t, dir, o)
	ctx := context.Background()
	pinned := map[string][]byte{}
	for i := 0; ; i++ {
		k := fmt.Sprintf("pinned/%d", i)
		data := bytes.Repeat([]byte{byte(i)}, 8<<10)
		wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		_, err := c.PutPinned(wctx, k, bytes.NewReader(data), nil)
		cancel()
		if errors.Is(err, ErrFull) {
			break
		}
		require.NoError(t, err)
		pinned[k] = data
	}
	require.Greater(t, len(pinned), 20)
	// a journal with more than the Puts in it
	for k := range pinned {
		require.NoError(t, c.Unpin(ctx, k, ""))
		require.NoError(t, c.Pin(ctx, k))
	}
	require.NoError(t, c.Close())
	assert.Empty(t, logs.Lines("could not write the index"))

	c2 := open(t, dir, o)
	assert.Empty(t, logs.Lines("unclean shutdown"), "a clean Close must not need recovery")
	n := 0
	for info, err := range c2.Pinned(ctx) {
		require.NoError(t, err)
		got, err := getBytes(c2, info.Key)
		require.NoError(t, err)
		assert.Equal(t, pinned[info.Key], got)
		n++
	}
	assert.Equal(t, len(pinned), n)
	checkConsistent(t, c2)
}
