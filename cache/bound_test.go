package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// payload returns self-describing content: an 8-byte seed, then bytes
// derived from it, so a reader can check what it got without knowing
// which version it asked for.
func payload(seed uint64, n int) []byte {
	if n < 8 {
		n = 8
	}
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, seed)
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	rand.NewChaCha8(s).Read(b[8:])
	return b
}

func checkPayload(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	return bytes.Equal(b, payload(binary.LittleEndian.Uint64(b), len(b)))
}

// TestBoundUnderRandomWorkload runs a random mix of every operation from
// concurrent readers and writers against a small cache and checks, at
// every change of the accounting and after every operation, that the
// bytes counted never pass MaxBytes, and at the end that the bytes on disk
// equal the bytes counted.
func TestBoundUnderRandomWorkload(t *testing.T) {
	ops := 100_000
	if testing.Short() {
		ops = 20_000
	}
	const maxBytes = 1 << 20
	dir := memTempDir(t)
	c := open(t, dir, Options{MaxBytes: maxBytes, EvictInterval: -1, MaxIdle: time.Hour})
	var checks, over atomic.Int64
	var worst atomic.Int64
	c.noSync = true // this test is about bytes, not durability
	c.mu.Lock()
	c.checkHook = func(total int64) {
		checks.Add(1)
		if total > maxBytes {
			over.Add(1)
			worst.Store(total)
		}
	}
	c.mu.Unlock()

	const nkeys = 400
	key := func(r *rand.Rand) string { return fmt.Sprintf("k/%03d", r.IntN(nkeys)) }
	size := func(r *rand.Rand) int {
		switch x := r.IntN(100); {
		case x < 60:
			return r.IntN(4 << 10)
		case x < 95:
			return r.IntN(32 << 10)
		default:
			return r.IntN(160 << 10)
		}
	}
	writes := int64(ops * 4 / 10)
	var done, reads atomic.Int64
	var writersLeft atomic.Int32
	var wg sync.WaitGroup
	var failMu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		failMu.Lock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		failMu.Unlock()
	}
	usageCheck := func() {
		if u := c.Usage(); u.Bytes > maxBytes {
			fail("Usage().Bytes %d > %d", u.Bytes, maxBytes)
		}
	}
	ctx := context.Background()
	writer := func(id int) {
		defer wg.Done()
		defer writersLeft.Add(-1)
		r := rand.New(rand.NewPCG(uint64(id), 1))
		for done.Add(1) <= writes {
			k := key(r)
			switch x := r.IntN(100); {
			case x < 45:
				n := size(r)
				data := payload(r.Uint64(), n)
				var rd io.Reader = bytes.NewReader(data)
				var o *storage.PutOptions
				if r.IntN(2) == 0 {
					rd = struct{ io.Reader }{rd} // unknown length: reserves as it streams
				} else {
					o = &storage.PutOptions{Size: int64(len(data)), ContentType: "application/x-test"}
				}
				wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				info, err := c.Put(wctx, k, rd, o)
				cancel()
				if err != nil && !errors.Is(err, ErrFull) && !errors.Is(err, context.DeadlineExceeded) {
					fail("Put: %v", err)
				}
				if err == nil {
					s := sha256.Sum256(data)
					if info.SHA256 != hex.EncodeToString(s[:]) {
						fail("Put %s: SHA256 %s", k, info.SHA256)
					}
				}
			case x < 55:
				if c.Usage().PinnedBytes > maxBytes*95/100 {
					break
				}
				data := payload(r.Uint64(), size(r))
				wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				_, err := c.PutPinned(wctx, k, bytes.NewReader(data), nil)
				cancel()
				if err != nil && !errors.Is(err, ErrFull) && !errors.Is(err, context.DeadlineExceeded) {
					fail("PutPinned: %v", err)
				}
			case x < 62:
				if c.Usage().PinnedBytes > maxBytes*95/100 {
					break
				}
				wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
				err := c.Pin(wctx, k)
				cancel()
				if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, ErrFull) && !errors.Is(err, context.DeadlineExceeded) {
					fail("Pin: %v", err)
				}
			case x < 74:
				if err := c.Unpin(ctx, k, ""); err != nil {
					fail("Unpin: %v", err)
				}
			case x < 86:
				if err := c.Delete(ctx, k); err != nil {
					fail("Delete: %v", err)
				}
			case x < 96:
				if _, err := c.Drop(ctx, k, ""); err != nil {
					fail("Drop: %v", err)
				}
			case x < 99:
				if _, err := c.Evict(ctx); err != nil {
					fail("Evict: %v", err)
				}
			default:
				n := 0
				for _, err := range c.List(ctx, &storage.ListOptions{Prefix: "k/1"}) {
					if err != nil {
						fail("List: %v", err)
					}
					n++
				}
			}
			usageCheck()
		}
	}
	reader := func(id int) {
		defer wg.Done()
		r := rand.New(rand.NewPCG(uint64(id), 2))
		for writersLeft.Load() > 0 || reads.Load()+writes < int64(ops) {
			// keep reads at about 6 for every 4 writes, all through the run
			for writersLeft.Load() > 0 && reads.Load()*4 > done.Load()*6 {
				time.Sleep(100 * time.Microsecond)
			}
			reads.Add(1)
			k := key(r)
			var o *storage.GetOptions
			if r.IntN(4) == 0 {
				o = &storage.GetOptions{Range: &storage.Range{Offset: 0, Length: 8}}
			}
			rc, info, err := c.Get(ctx, k, o)
			if err != nil {
				if !errors.Is(err, storage.ErrNotFound) {
					fail("Get: %v", err)
				}
				continue
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				fail("read %s: %v", k, err)
				continue
			}
			if o == nil {
				s := sha256.Sum256(b)
				if !checkPayload(b) || int64(len(b)) != info.Size || hex.EncodeToString(s[:]) != info.SHA256 {
					fail("Get %s: content does not match its Info", k)
				}
			}
			usageCheck()
		}
	}
	writersLeft.Store(4)
	for i := range 4 {
		wg.Add(2)
		go writer(i)
		go reader(100 + i)
	}
	wg.Wait()
	// Then fill the cache with pinned data while readers go on: writes must
	// wait and fail with ErrFull, and the bound still holds.
	rctx, stopReaders := context.WithCancel(ctx)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 3))
			for rctx.Err() == nil {
				if rc, _, err := c.Get(ctx, key(r), nil); err == nil {
					io.Copy(io.Discard, rc)
					rc.Close()
				}
				usageCheck()
			}
		}()
	}
	var pinnedKeys []string
	for i := 0; ; i++ {
		wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		k := fmt.Sprintf("fill/%d", i)
		_, err := c.PutPinned(wctx, k, bytes.NewReader(payload(uint64(i), 32<<10)), nil)
		cancel()
		usageCheck()
		if errors.Is(err, ErrFull) {
			break
		}
		if errors.Is(err, context.DeadlineExceeded) {
			continue // a slow machine, not a full cache
		}
		require.NoError(t, err)
		pinnedKeys = append(pinnedKeys, k)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := c.Put(wctx, "one-more", bytes.NewReader(payload(1, 32<<10)), nil)
	cancel()
	require.ErrorIs(t, err, ErrFull)
	for _, k := range pinnedKeys {
		require.NoError(t, c.Unpin(ctx, k, ""))
		usageCheck()
	}
	stopReaders()
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	st := c.Stats()
	require.GreaterOrEqual(t, reads.Load()+writes, int64(ops))
	t.Logf("%d writes, %d reads, %d accounting checks, stats %+v, usage %+v", writes, reads.Load(), checks.Load(), st, c.Usage())
	assert.Zero(t, over.Load(), "bytes counted passed MaxBytes (worst %d)", worst.Load())
	assert.Greater(t, st.EvictedBySize, int64(1000), "the workload must press on the bound")
	assert.Greater(t, st.Hits, int64(1000))
	assert.Positive(t, st.Waits, "pinned data must make writes wait at times")
	checkConsistent(t, c)
	total, _ := diskBytes(t, dir)
	assert.LessOrEqual(t, total, int64(maxBytes))
	require.NoError(t, c.Close())
	c2 := open(t, dir, Options{MaxBytes: maxBytes})
	checkConsistent(t, c2)
}

// memTempDir returns a temporary directory on tmpfs (/dev/shm) when there
// is one, else t.TempDir(). Tests that check the accounting under many
// operations use it: creating a file on a virtual machine's ext4 disk can
// take milliseconds, which would make them slow without testing more.
func memTempDir(t testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "strata-cache-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
