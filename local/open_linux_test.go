package local

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// Get and Stat open files with openat2 where the kernel has it and through
// os.Root where it does not: both ways must read the same objects and
// refuse the same paths out of the root.
func TestOpenWithAndWithoutOpenat2(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644))
	dir := filepath.Join(base, "root")
	s, err := New(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	_, err = s.Put(ctx, "a/b/c", strings.NewReader("hello"), &storage.PutOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	require.NoError(t, os.Symlink("b/c", filepath.Join(dir, "a", "link")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "evil")))
	require.NoError(t, os.Symlink("../../outside/secret", filepath.Join(dir, "a", "relevil")))

	// The fast ways are the ones taken here (Linux 5.6 and later, which
	// this project's machines run).
	f, ok, err := s.d.fast.openRead("a/b/c", s.d.escape)
	require.True(t, ok, "openat2 was not used")
	require.NoError(t, err)
	body, err := io.ReadAll(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, "hello", string(body))
	d, err := s.d.root.Open("a/b")
	require.NoError(t, err)
	defer d.Close()
	li, ok, err := s.d.statEntry(d, "c", "a/b/c", "a/b/c")
	require.True(t, ok, "the entry was not opened relative to its directory")
	require.NoError(t, err)
	st, err := s.Stat(ctx, "a/b/c")
	require.NoError(t, err)
	li.ETag = driver.QuoteETag(li.ETag) // the driver's Info, as the Provider hands it out
	assert.Equal(t, st, li)

	for _, fast := range []bool{true, false} {
		s.d.fast.off.Store(!fast)
		for _, key := range []string{"a/b/c", "a/link"} {
			rc, info, err := s.Get(ctx, key, nil)
			require.NoError(t, err, "fast %v, Get %q", fast, key)
			body, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			assert.Equal(t, "hello", string(body), "fast %v, %q", fast, key)
			assert.Equal(t, "text/plain", info.ContentType, "fast %v, %q", fast, key)
		}
		for _, key := range []string{"evil/secret", "a/relevil"} {
			_, _, err := s.Get(ctx, key, nil)
			assert.ErrorIs(t, err, storage.ErrPermission, "fast %v, Get %q", fast, key)
			_, err = s.Stat(ctx, key)
			assert.ErrorIs(t, err, storage.ErrPermission, "fast %v, Stat %q", fast, key)
		}
		for _, key := range []string{"a/b", "a/missing", "a/b/c/d"} {
			_, err := s.Stat(ctx, key)
			assert.ErrorIs(t, err, storage.ErrNotFound, "fast %v, Stat %q", fast, key)
		}
	}
}
