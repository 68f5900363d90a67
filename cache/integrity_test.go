package cache

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/internal/testlog"
	"github.com/strata-storage/strata/storage"
)

// Integrity: a byte changed on disk must never be served as good. These
// tests damage the object files under the cache directory for real and
// read them back through the cache's API.

// truncateFile cuts the file at p to n bytes.
func truncateFile(t *testing.T, p string, n int64) {
	t.Helper()
	require.NoError(t, os.Truncate(p, n))
}

// appendToFile adds bytes after the end of the file at p.
func appendToFile(t *testing.T, p string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// logBuffer is a buffer a test reads while others write to it.
type logBuffer = testlog.Buffer

// integritySizes are the object sizes the tests use: two read whole into
// memory by Get (checked before Get returns), the larger of which a copy
// to a response sends from its file, and one streamed from its file
// (checked by the Read that reaches its end).
var integritySizes = []struct {
	name string
	size int
}{
	{"small", 4 << 10},
	{"small-sent", 64 << 10},
	{"streamed", 300 << 10},
}

// How a test reads an object whole.
var readers = []struct {
	name string
	read func(r io.Reader, size int) ([]byte, error)
}{
	{"ReadAll", func(r io.Reader, _ int) ([]byte, error) { return io.ReadAll(r) }},
	{"Copy", func(r io.Reader, _ int) ([]byte, error) { // WriteTo
		var b bytes.Buffer
		_, err := io.Copy(&b, r)
		return b.Bytes(), err
	}},
	{"ReadFull", func(r io.Reader, size int) ([]byte, error) { // stops at the size it expects
		b := make([]byte, size)
		n, err := io.ReadFull(r, b)
		return b[:n], err
	}},
	{"CopyN", func(r io.Reader, size int) ([]byte, error) { // as http.ServeContent does
		var b bytes.Buffer
		_, err := io.CopyN(&b, r, int64(size))
		return b.Bytes(), err
	}},
	{"ToResponse", func(r io.Reader, _ int) ([]byte, error) { // handed the file, as a response is
		var w responseSink
		_, err := io.Copy(&w, r)
		return w.got.Bytes(), err
	}},
}

// readWhole gets key and reads it with read, returning the bytes and the
// error of the Get or of the read.
func readWhole(c *Cache, key string, size int, read func(io.Reader, int) ([]byte, error)) ([]byte, error) {
	rc, _, err := c.Get(context.Background(), key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return read(rc, size)
}

// TestBitFlipFailsWholeRead flips one byte in the middle of a cached
// object's data on disk: a whole read fails with storage.ErrCorrupt,
// without handing over the whole (damaged) content, the entry is removed,
// and the next Get is a miss.
func TestBitFlipFailsWholeRead(t *testing.T) {
	for _, sz := range integritySizes {
		for _, rd := range readers {
			t.Run(sz.name+"/"+rd.name, func(t *testing.T) {
				dir := t.TempDir()
				var logs logBuffer
				c := open(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				data := payload(7, sz.size)
				put(t, c, "media/photo.jpg", data)

				got, err := readWhole(c, "media/photo.jpg", sz.size, rd.read)
				require.NoError(t, err, "an undamaged object reads cleanly")
				require.Equal(t, data, got)

				cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(sz.size/2))
				got, err = readWhole(c, "media/photo.jpg", sz.size, rd.read)
				require.ErrorIs(t, err, storage.ErrCorrupt)
				var se *storage.Error
				require.ErrorAs(t, err, &se)
				assert.Equal(t, "media/photo.jpg", se.Key)
				assert.Less(t, len(got), len(data), "the damaged content is not handed over whole")

				_, err = readWhole(c, "media/photo.jpg", sz.size, rd.read)
				require.ErrorIs(t, err, storage.ErrNotFound, "the damaged entry is gone: the next Get is a miss")
				assert.False(t, has(c, "media/photo.jpg"))
				assert.Equal(t, int64(1), c.Stats().Corrupt)
				assert.Zero(t, c.Usage().Entries)
				checkConsistent(t, c)
				assert.Contains(t, logs.String(), "damaged")
				assert.Contains(t, logs.String(), "media/photo.jpg")

				// The key can be stored and served again.
				put(t, c, "media/photo.jpg", data)
				got, err = readWhole(c, "media/photo.jpg", sz.size, rd.read)
				require.NoError(t, err)
				require.Equal(t, data, got)
			})
		}
	}
}

// TestBitFlipWithContext covers the streamed read under a context that
// can end (WriteTo then reads through Read as well).
func TestBitFlipWithContext(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	data := payload(8, 1<<20)
	put(t, c, "k", data)
	cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), 1<<19)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, _, err := c.Get(ctx, "k", nil)
	require.NoError(t, err)
	var b bytes.Buffer
	_, err = io.Copy(&b, rc)
	require.ErrorIs(t, err, storage.ErrCorrupt)
	_, err = rc.Read(make([]byte, 10))
	require.ErrorIs(t, err, storage.ErrCorrupt, "later Reads keep failing")
	require.NoError(t, rc.Close())
	_, _, err = c.Get(ctx, "k", nil)
	require.ErrorIs(t, err, storage.ErrNotFound)
}

// TestBitFlipLastByte damages the very last byte of the content, which
// the final Read delivers.
func TestBitFlipLastByte(t *testing.T) {
	for _, sz := range integritySizes {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, Options{})
			put(t, c, "k", payload(9, sz.size))
			cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(sz.size-1))
			_, err := getBytes(c, "k")
			require.ErrorIs(t, err, storage.ErrCorrupt)
			_, err = getBytes(c, "k")
			require.ErrorIs(t, err, storage.ErrNotFound)
		})
	}
}

// TestBitFlipPinned damages a pinned object, the only copy of its data:
// reads fail with storage.ErrCorrupt, every time, but the data is kept
// (not silently deleted) until it is deleted or replaced.
func TestBitFlipPinned(t *testing.T) {
	for _, sz := range integritySizes {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs logBuffer
			c := open(t, dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ctx := context.Background()
			data := payload(10, sz.size)
			putPinned(t, c, "upload", data)
			p := cachetest.ObjectFile(t, dir)
			require.Contains(t, p, string(filepath.Separator)+"pinned"+string(filepath.Separator))
			cachetest.FlipByte(t, p, int64(sz.size/2))

			for range 2 {
				_, err := getBytes(c, "upload")
				require.ErrorIs(t, err, storage.ErrCorrupt)
			}
			assert.Equal(t, int64(2), c.Stats().Corrupt)
			assert.Equal(t, int64(1), c.Usage().PinnedEntries, "the pinned entry is kept")
			assert.FileExists(t, p, "its file is kept")
			assert.True(t, has(c, "upload"), "Stat still finds it")
			assert.Contains(t, logs.String(), "pinned")
			checkConsistent(t, c)

			// Unpinned, it is a copy again: the next damaged read drops it.
			require.NoError(t, c.Unpin(ctx, "upload", ""))
			_, err := getBytes(c, "upload")
			require.ErrorIs(t, err, storage.ErrCorrupt)
			_, err = getBytes(c, "upload")
			require.ErrorIs(t, err, storage.ErrNotFound)
		})
	}
}

// TestPinnedDamagedDeleteAndReplace: a damaged pinned object goes away
// when deleted, and a new Put replaces it.
func TestPinnedDamagedDeleteAndReplace(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	ctx := context.Background()
	data := payload(11, 200<<10)
	putPinned(t, c, "a", data)
	cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), 100<<10)
	putPinned(t, c, "a", data)
	got, err := getBytes(c, "a")
	require.NoError(t, err, "a new Put replaces the damaged version")
	require.Equal(t, data, got)

	cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), 100<<10)
	require.NoError(t, c.Delete(ctx, "a"))
	_, err = getBytes(c, "a")
	require.ErrorIs(t, err, storage.ErrNotFound)
	checkConsistent(t, c)
}

// TestRangedReadNotVerified documents that a ranged read is not checked
// against the SHA-256 (that would mean reading the whole object): it
// serves the bytes on disk, damaged or not, and leaves the entry alone. A
// range that covers the whole object is verified like a whole read.
func TestRangedReadNotVerified(t *testing.T) {
	for _, sz := range integritySizes {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, Options{})
			ctx := context.Background()
			data := payload(12, sz.size)
			put(t, c, "v", data)
			mid := int64(sz.size / 2)
			cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), mid)
			damaged := bytes.Clone(data)
			damaged[mid] ^= 0x01

			rc, _, err := c.Get(ctx, "v", &storage.GetOptions{Range: &storage.Range{Offset: mid - 100, Length: 200}})
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err, "a ranged read is not verified")
			assert.Equal(t, damaged[mid-100:mid+100], got, "it serves the bytes on disk")
			assert.True(t, has(c, "v"), "and leaves the entry alone")
			assert.Zero(t, c.Stats().Corrupt)

			rc, _, err = c.Get(ctx, "v", &storage.GetOptions{Range: &storage.Range{Offset: 0, Length: int64(sz.size)}})
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			require.ErrorIs(t, err, storage.ErrCorrupt, "a range covering the whole object is verified")
			_, err = getBytes(c, "v")
			require.ErrorIs(t, err, storage.ErrNotFound)
		})
	}
}

// TestWrongSizeFailsAtGet cuts an object file short, or lengthens it: Get
// itself fails with storage.ErrCorrupt (nothing is streamed), the entry
// is removed, and the next Get is a miss.
func TestWrongSizeFailsAtGet(t *testing.T) {
	damage := []struct {
		name string
		do   func(t *testing.T, p string, size int)
	}{
		{"truncated in the data", func(t *testing.T, p string, size int) { truncateFile(t, p, int64(size/2)) }},
		{"header cut off", func(t *testing.T, p string, size int) { truncateFile(t, p, int64(size)) }},
		{"one byte short", func(t *testing.T, p string, size int) {
			fi, err := os.Stat(p)
			require.NoError(t, err)
			truncateFile(t, p, fi.Size()-1)
		}},
		{"bytes appended", func(t *testing.T, p string, size int) { appendToFile(t, p, []byte("junk")) }},
		{"emptied", func(t *testing.T, p string, size int) { truncateFile(t, p, 0) }},
	}
	for _, sz := range integritySizes {
		for _, d := range damage {
			t.Run(sz.name+"/"+d.name, func(t *testing.T) {
				dir := t.TempDir()
				c := open(t, dir, Options{})
				ctx := context.Background()
				put(t, c, "t", payload(13, sz.size))
				d.do(t, cachetest.ObjectFile(t, dir), sz.size)

				rc, _, err := c.Get(ctx, "t", nil)
				if rc != nil {
					rc.Close()
				}
				require.ErrorIs(t, err, storage.ErrCorrupt, "Get fails, before streaming anything")
				_, _, err = c.Get(ctx, "t", nil)
				require.ErrorIs(t, err, storage.ErrNotFound, "the damaged entry is gone")
				assert.Equal(t, int64(1), c.Stats().Corrupt)
				checkConsistent(t, c)
			})
		}
	}
}

// TestWrongSizeStatAndRange: Stat and a ranged Get find a damaged file
// too, since they read its header.
func TestWrongSizeStatAndRange(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	ctx := context.Background()
	put(t, c, "s", payload(14, 300<<10))
	truncateFile(t, cachetest.ObjectFile(t, dir), 200<<10)
	_, err := c.Stat(ctx, "s")
	require.ErrorIs(t, err, storage.ErrCorrupt)
	_, err = c.Stat(ctx, "s")
	require.ErrorIs(t, err, storage.ErrNotFound)

	put(t, c, "s", payload(14, 300<<10))
	truncateFile(t, cachetest.ObjectFile(t, dir), 200<<10)
	_, _, err = c.Get(ctx, "s", &storage.GetOptions{Range: &storage.Range{Offset: 10, Length: 10}})
	require.ErrorIs(t, err, storage.ErrCorrupt)
}

// TestTruncatedPinned: a pinned object whose file was cut short is kept
// and fails every Get.
func TestTruncatedPinned(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	ctx := context.Background()
	putPinned(t, c, "p", payload(15, 300<<10))
	p := cachetest.ObjectFile(t, dir)
	truncateFile(t, p, 100<<10)
	for range 2 {
		_, _, err := c.Get(ctx, "p", nil)
		require.ErrorIs(t, err, storage.ErrCorrupt)
	}
	assert.FileExists(t, p)
	assert.Equal(t, int64(1), c.Usage().PinnedEntries)
	require.NoError(t, c.Delete(ctx, "p"))
	_, _, err := c.Get(ctx, "p", nil)
	require.ErrorIs(t, err, storage.ErrNotFound)
	assert.NoFileExists(t, p)
}

// TestTruncatedWhileOpen cuts the file short after Get opened it: the
// read fails with storage.ErrCorrupt rather than ending early.
func TestTruncatedWhileOpen(t *testing.T) {
	for _, ranged := range []bool{false, true} {
		t.Run(map[bool]string{false: "whole", true: "ranged"}[ranged], func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, Options{})
			ctx := context.Background()
			put(t, c, "w", payload(16, 1<<20))
			var opts *storage.GetOptions
			if ranged {
				opts = &storage.GetOptions{Range: &storage.Range{Offset: 1 << 10, Length: 1 << 19}}
			}
			rc, _, err := c.Get(ctx, "w", opts)
			require.NoError(t, err)
			defer rc.Close()
			truncateFile(t, cachetest.ObjectFile(t, dir), 1<<18)
			_, err = io.Copy(io.Discard, rc)
			require.ErrorIs(t, err, storage.ErrCorrupt)
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			_, _, err = c.Get(ctx, "w", nil)
			require.ErrorIs(t, err, storage.ErrNotFound)
		})
	}
}

// TestCopyOfDamagedObject: Copy verifies its source, so a damaged object
// is never copied under a fresh checksum.
func TestCopyOfDamagedObject(t *testing.T) {
	for _, sz := range integritySizes {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, Options{})
			ctx := context.Background()
			data := payload(17, sz.size)
			put(t, c, "src", data)
			_, err := c.Copy(ctx, "dst", "src")
			require.NoError(t, err)
			got, err := getBytes(c, "dst")
			require.NoError(t, err)
			require.Equal(t, data, got)
			require.NoError(t, c.Delete(ctx, "dst"))

			cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(sz.size/2))
			_, err = c.Copy(ctx, "dst", "src")
			require.ErrorIs(t, err, storage.ErrCorrupt)
			assert.False(t, has(c, "dst"), "nothing is stored under dst")
			assert.False(t, has(c, "src"), "the damaged source is removed")
			checkConsistent(t, c)
		})
	}
}

// TestConcurrentReadersOfDamagedObject: several readers opened before
// the damage is found all fail, and the entry is removed once.
func TestConcurrentReadersOfDamagedObject(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	ctx := context.Background()
	put(t, c, "shared", payload(18, 512<<10))
	cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), 256<<10)
	const n = 4
	rcs := make([]io.ReadCloser, n)
	for i := range rcs {
		rc, _, err := c.Get(ctx, "shared", nil)
		require.NoError(t, err)
		rcs[i] = rc
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, rc := range rcs {
		wg.Go(func() {
			defer rc.Close()
			_, errs[i] = io.Copy(io.Discard, rc)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, storage.ErrCorrupt)
	}
	_, _, err := c.Get(ctx, "shared", nil)
	require.ErrorIs(t, err, storage.ErrNotFound)
	checkConsistent(t, c)
}
