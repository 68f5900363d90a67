package cache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/internal/testfd"
	"github.com/strata-storage/strata/storage"
)

// readFromSink has a ReadFrom that copies in memory, as io.Discard's and
// bytes.Buffer's do. It records whether it was handed the object's file,
// and what it received either way.
type readFromSink struct {
	got      bytes.Buffer
	fromFile bool // ReadFrom was handed an *os.File, under a limit
	writes   int  // calls to Write
}

func (s *readFromSink) Write(p []byte) (int, error) {
	s.writes++
	return s.got.Write(p)
}

func (s *readFromSink) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		_, s.fromFile = lr.R.(*os.File)
	}
	return s.got.ReadFrom(r)
}

// responseSink stands for an HTTP response writer: WriteHeader as well as
// ReadFrom, as net/http's has.
type responseSink struct{ readFromSink }

func (s *responseSink) WriteHeader(int) {}

// TestSmallHitSentFromItsFile: a small object's whole read is checked
// before Get returns, and then a copy to a response writer or a file
// hands over the rest of the file it was read from (sendfile(2) or
// copy_file_range(2) in the kernel), from where the reader stands, while
// any other destination gets the checked bytes from memory.
func TestSmallHitSentFromItsFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := open(t, dir, Options{})
	fds := testfd.Count(t)
	t.Cleanup(func() {
		// Every reader below is closed: so is every file it read. (An
		// *os.File left open would be closed by the garbage collector,
		// perhaps before this counts: what this catches is a descriptor
		// the cache holds as a number.)
		if !t.Failed() {
			assert.Equal(t, fds, testfd.Count(t), "open files after every reader was closed")
		}
	})
	data := payload(11, 64<<10)
	put(t, c, "img", data)
	tiny := payload(12, sendfileMin-1)
	put(t, c, "tiny", tiny)

	for _, tc := range []struct {
		name     string
		key      string
		rng      *storage.Range
		skip     int // bytes taken with Read before the copy
		want     []byte
		fromFile bool
	}{
		{"whole", "img", nil, 0, data, true},
		{"after a Read", "img", nil, 1000, data[1000:], true},
		{"range", "img", &storage.Range{Offset: 5000, Length: 40000}, 0, data[5000:45000], true},
		{"range after a Read", "img", &storage.Range{Offset: 5000, Length: 40000}, 300, data[5300:45000], true},
		{"too small to be worth it", "tiny", nil, 0, tiny, false},
		{"too little left", "img", nil, len(data) - sendfileMin + 1, data[len(data)-sendfileMin+1:], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts *storage.GetOptions
			if tc.rng != nil {
				opts = &storage.GetOptions{Range: tc.rng}
			}
			rc, _, err := c.Get(ctx, tc.key, opts)
			require.NoError(t, err)
			defer rc.Close()
			_, err = io.CopyN(io.Discard, rc, int64(tc.skip))
			require.NoError(t, err)
			var dst responseSink
			n, err := io.Copy(&dst, rc)
			require.NoError(t, err)
			assert.Equal(t, int64(len(tc.want)), n)
			assert.True(t, bytes.Equal(tc.want, dst.got.Bytes()), "the bytes received are the object's")
			assert.Equal(t, tc.fromFile, dst.fromFile, "handed the file")
			if tc.fromFile {
				assert.Zero(t, dst.writes, "nothing written from memory")
			}
		})
	}

	t.Run("to a file", func(t *testing.T) {
		rc, _, err := c.Get(ctx, "img", nil)
		require.NoError(t, err)
		defer rc.Close()
		f, err := os.Create(filepath.Join(t.TempDir(), "copy"))
		require.NoError(t, err)
		defer f.Close()
		_, err = io.Copy(f, rc)
		require.NoError(t, err)
		got, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got))
	})

	t.Run("other destinations get memory", func(t *testing.T) {
		rc, _, err := c.Get(ctx, "img", nil)
		require.NoError(t, err)
		defer rc.Close()
		var dst readFromSink
		_, err = io.Copy(&dst, rc)
		require.NoError(t, err)
		assert.False(t, dst.fromFile, "a ReadFrom that copies in memory is not handed the file")
		assert.True(t, bytes.Equal(data, dst.got.Bytes()))
	})

	// The file cut short after Get checked it: what the file no longer
	// holds comes from the checked bytes in memory.
	t.Run("file cut short after Get", func(t *testing.T) {
		dir := t.TempDir()
		c := open(t, dir, Options{})
		put(t, c, "img", data)
		rc, _, err := c.Get(ctx, "img", nil)
		require.NoError(t, err)
		defer rc.Close()
		truncateFile(t, cachetest.ObjectFile(t, dir), 20000)
		var dst responseSink
		n, err := io.Copy(&dst, rc)
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), n)
		assert.True(t, dst.fromFile)
		assert.Equal(t, 1, dst.writes, "the rest written from memory")
		assert.True(t, bytes.Equal(data, dst.got.Bytes()))
	})

	// Unchecked (Options.SkipVerify), a small object is not read into
	// memory at all: the copy takes the file from the start.
	t.Run("SkipVerify", func(t *testing.T) {
		c := open(t, t.TempDir(), Options{SkipVerify: true})
		put(t, c, "img", data)
		rc, _, err := c.Get(ctx, "img", nil)
		require.NoError(t, err)
		defer rc.Close()
		_, inMemory := rc.(*memReader)
		assert.False(t, inMemory, "read into memory")
		var dst responseSink
		_, err = io.Copy(&dst, rc)
		require.NoError(t, err)
		assert.True(t, dst.fromFile)
		assert.True(t, bytes.Equal(data, dst.got.Bytes()))
	})
}
