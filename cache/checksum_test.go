package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/crc32"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/storage"
)

// Which checksum a whole read checks: the CRC-32C every Put records
// (format 2), the SHA-256 for an object file of format 1, and nothing
// with Options.SkipVerify.

// readHeader reads the trailer of the object file at p.
func readHeader(t *testing.T, p string) header {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	hd, err := readTrailer(f, -1, 0)
	require.NoError(t, err)
	return hd
}

// rewriteHeader replaces the trailer of the object file at p with hd's,
// which must be as long.
func rewriteHeader(t *testing.T, p string, hd header) {
	t.Helper()
	b := hd.trailer()
	require.Len(t, b, hd.hdrLen, "a trailer of the same length")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(b, hd.size)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// toFormat1 turns the object file at p into what the cache wrote before
// it recorded a CRC-32C of the content: zeros where the format and the
// CRC now are, byte for byte as format 1 was.
func toFormat1(t *testing.T, p string) {
	t.Helper()
	hd := readHeader(t, p)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	h := b[hd.size:]
	require.Equal(t, []byte{2, 0}, h[18:20], "format 2 before")
	hd.hasCRC, hd.crc = false, 0
	rewriteHeader(t, p, hd)
	b, err = os.ReadFile(p)
	require.NoError(t, err)
	h = b[hd.size:]
	require.Equal(t, "SCO1", string(h[:4]))
	require.Equal(t, []byte{0, 0, 0, 0, 0, 0}, h[18:24])
}

// Every Put records the CRC-32C of the content in the object's header,
// beside its SHA-256, which stays the object's identity.
func TestPutRecordsContentCRC(t *testing.T) {
	for _, sz := range append(integritySizes, struct {
		name string
		size int
	}{"empty", 0}) {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir, Options{})
			data := payload(20, sz.size)
			info := put(t, c, "k", data)
			hd := readHeader(t, cachetest.ObjectFile(t, dir))
			require.True(t, hd.hasCRC, "format 2")
			assert.Equal(t, crc32.Checksum(data, castagnoli), hd.crc)
			sum := sha256.Sum256(data)
			assert.Equal(t, sum, hd.sha)
			assert.Equal(t, hex.EncodeToString(sum[:]), info.SHA256)

			got, err := getBytes(c, "k")
			require.NoError(t, err)
			require.Equal(t, data, got)

			// Copy records a CRC-32C for its copy too.
			_, err = c.Copy(context.Background(), "k2", "k")
			require.NoError(t, err)
			hd2 := readHeader(t, c.objPath(hashKey("k2"), false))
			require.True(t, hd2.hasCRC)
			assert.Equal(t, hd.crc, hd2.crc)
		})
	}
}

// A whole read checks the CRC-32C: content that does not match the CRC
// recorded fails with storage.ErrCorrupt even though it matches the
// SHA-256 (here it is the recorded CRC that is changed, in a header whose
// own checksum is intact).
func TestWholeReadChecksCRC(t *testing.T) {
	for _, sz := range integritySizes {
		for _, rd := range readers {
			t.Run(sz.name+"/"+rd.name, func(t *testing.T) {
				dir := t.TempDir()
				c := open(t, dir, Options{})
				data := payload(21, sz.size)
				put(t, c, "k", data)
				p := cachetest.ObjectFile(t, dir)
				hd := readHeader(t, p)
				hd.crc ^= 1
				rewriteHeader(t, p, hd)

				got, err := readWhole(c, "k", sz.size, rd.read)
				require.ErrorIs(t, err, storage.ErrCorrupt)
				assert.Less(t, len(got), len(data), "the content is not handed over whole")
				_, err = getBytes(c, "k")
				require.ErrorIs(t, err, storage.ErrNotFound, "the entry is removed")
				assert.Equal(t, int64(1), c.Stats().Corrupt)
			})
		}
	}
}

// An object file of format 1 (no CRC-32C: written by the cache before it
// recorded one) is still served, before and after a restart, and checked
// against its SHA-256: damage is found as in format 2.
func TestFormat1ObjectsAreReadAndChecked(t *testing.T) {
	for _, sz := range integritySizes {
		for _, rd := range readers {
			t.Run(sz.name+"/"+rd.name, func(t *testing.T) {
				dir := t.TempDir()
				c := open(t, dir, Options{})
				ctx := context.Background()
				data := payload(22, sz.size)
				info := put(t, c, "old", data)
				p := cachetest.ObjectFile(t, dir)
				toFormat1(t, p)

				got, err := readWhole(c, "old", sz.size, rd.read)
				require.NoError(t, err, "a format 1 object reads cleanly")
				require.Equal(t, data, got)
				st, err := c.Stat(ctx, "old")
				require.NoError(t, err)
				assert.Equal(t, info.SHA256, st.SHA256)
				assert.Equal(t, info.ETag, st.ETag)

				// After a restart, and after one that finds the index
				// gone and rebuilds it from the object files' trailers.
				require.NoError(t, c.Close())
				c = open(t, dir, Options{})
				got, err = readWhole(c, "old", sz.size, rd.read)
				require.NoError(t, err)
				require.Equal(t, data, got)
				require.NoError(t, c.Close())
				require.NoError(t, os.RemoveAll(c.indexPath("")))
				c = open(t, dir, Options{})
				got, err = readWhole(c, "old", sz.size, rd.read)
				require.NoError(t, err, "rebuilt from a format 1 trailer")
				require.Equal(t, data, got)

				// Damage is found through the SHA-256.
				cachetest.FlipByte(t, p, int64(sz.size/2))
				got, err = readWhole(c, "old", sz.size, rd.read)
				require.ErrorIs(t, err, storage.ErrCorrupt)
				assert.Less(t, len(got), len(data))
				_, err = getBytes(c, "old")
				require.ErrorIs(t, err, storage.ErrNotFound)

				// A new Put writes format 2.
				put(t, c, "old", data)
				require.True(t, readHeader(t, cachetest.ObjectFile(t, dir)).hasCRC)
			})
		}
	}
}

// Copy of a format 1 object checks its source against the SHA-256.
func TestCopyOfDamagedFormat1Object(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, Options{})
	ctx := context.Background()
	data := payload(23, 300<<10)
	put(t, c, "src", data)
	p := cachetest.ObjectFile(t, dir)
	toFormat1(t, p)
	_, err := c.Copy(ctx, "dst", "src")
	require.NoError(t, err)
	got, err := getBytes(c, "dst")
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.NoError(t, c.Delete(ctx, "dst"))

	cachetest.FlipByte(t, p, 1000)
	_, err = c.Copy(ctx, "dst", "src")
	require.ErrorIs(t, err, storage.ErrCorrupt)
	assert.False(t, has(c, "dst"))
}

// With Options.SkipVerify a whole read does not check the content's
// checksum: a changed byte is served as the file has it (the file system
// is trusted to catch that). The header and size checks stay, and so does
// Copy's check of its source.
func TestSkipVerify(t *testing.T) {
	for _, sz := range integritySizes {
		for _, rd := range readers {
			t.Run(sz.name+"/"+rd.name, func(t *testing.T) {
				dir := t.TempDir()
				c := open(t, dir, Options{SkipVerify: true})
				ctx := context.Background()
				data := payload(24, sz.size)
				put(t, c, "k", data)
				p := cachetest.ObjectFile(t, dir)
				mid := int64(sz.size / 2)
				cachetest.FlipByte(t, p, mid)
				damaged := bytes.Clone(data)
				damaged[mid] ^= 0x01

				got, err := readWhole(c, "k", sz.size, rd.read)
				require.NoError(t, err, "not verified")
				require.Equal(t, damaged, got, "the bytes on disk are served")
				assert.Zero(t, c.Stats().Corrupt)

				_, err = c.Copy(ctx, "k2", "k")
				require.ErrorIs(t, err, storage.ErrCorrupt, "Copy still verifies its source")
				assert.False(t, has(c, "k2"))
				assert.False(t, has(c, "k"))

				put(t, c, "k", data)
				truncateFile(t, cachetest.ObjectFile(t, dir), int64(sz.size/2))
				_, _, err = c.Get(ctx, "k", nil)
				require.ErrorIs(t, err, storage.ErrCorrupt, "the size check at open stays")
				assert.False(t, has(c, "k"))
			})
		}
	}
}

// readFromRecorder is a destination with ReadFrom, as a *net.TCPConn is:
// it records what it was handed.
type readFromRecorder struct {
	bytes.Buffer
	src io.Reader
}

func (w *readFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.src = r
	return w.Buffer.ReadFrom(r)
}

// A streamed whole read with Options.SkipVerify hands the file itself (an
// *os.File under an io.LimitedReader) to a destination's ReadFrom, which
// is what lets a *net.TCPConn use sendfile(2), also under a context that
// can end (an HTTP request's): then in pieces, checking the context
// between them. A verified read cannot, since it must see the bytes.
func TestSkipVerifyHandsTheFileToReadFrom(t *testing.T) {
	for _, skip := range []bool{false, true} {
		for _, cancellable := range []bool{false, true} {
			name := map[bool]string{false: "verified", true: "SkipVerify"}[skip] +
				map[bool]string{false: "/Background", true: "/WithCancel"}[cancellable]
			t.Run(name, func(t *testing.T) {
				c := open(t, t.TempDir(), Options{SkipVerify: skip})
				ctx := context.Background()
				if cancellable {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					defer cancel()
				}
				data := payload(25, 300<<10)
				put(t, c, "k", data)
				rc, _, err := c.Get(ctx, "k", nil)
				require.NoError(t, err)
				defer rc.Close()
				var w readFromRecorder
				n, err := io.Copy(&w, rc)
				require.NoError(t, err)
				require.Equal(t, int64(len(data)), n)
				require.Equal(t, data, w.Bytes())
				lr, ok := w.src.(*io.LimitedReader)
				if skip {
					require.True(t, ok, "ReadFrom is handed an *io.LimitedReader, not %T", w.src)
					assert.IsType(t, (*os.File)(nil), lr.R)
				} else {
					assert.Nil(t, w.src, "a verified read writes through a buffer")
				}
			})
		}
	}
}

// An unverified streamed read under a context that ends stops at the next
// piece with the context's error.
func TestUnverifiedWriteToHonoursContext(t *testing.T) {
	c := open(t, t.TempDir(), Options{SkipVerify: true})
	put(t, c, "k", payload(26, 3*unverifiedChunk))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, _, err := c.Get(ctx, "k", nil)
	require.NoError(t, err)
	defer rc.Close()
	w := &cancelAfter{n: unverifiedChunk, cancel: cancel}
	n, err := io.Copy(w, rc)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(unverifiedChunk), n, "stopped after the first piece")
}

// cancelAfter is a writer that cancels a context once it has n bytes.
type cancelAfter struct {
	n, got int64
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.got += int64(len(p))
	if w.got >= w.n {
		w.cancel()
	}
	return len(p), nil
}
