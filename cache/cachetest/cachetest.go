// Package cachetest damages a cache directory's object files for real, for
// tests that check a damaged copy is never served as good (the cache's
// own, a tiered store's, a user's).
package cachetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// ObjectFile returns the only object file under the cache directory dir
// (in its objects/ or pinned/ subdirectory), failing the test unless there
// is exactly one.
func ObjectFile(t testing.TB, dir string) string {
	t.Helper()
	var files []string
	for _, sub := range []string{"objects", "pinned"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, p)
			}
			return err
		})
		require.NoError(t, err)
	}
	require.Len(t, files, 1, "one object file in %s", dir)
	return files[0]
}

// FlipByte flips one bit of the byte at off in the file at path, in place.
// An object file starts with the object's bytes, so an offset below the
// object's size lands in its data.
func FlipByte(t testing.TB, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	require.NoError(t, err)
	b[0] ^= 0x01
	_, err = f.WriteAt(b[:], off)
	require.NoError(t, err)
}
