package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// withoutXattr makes setting the record attribute fail as on a file system
// without user extended attributes, for the rest of the test. Tests using
// it must not be parallel.
func withoutXattr(t *testing.T) {
	old := setRecordXattr
	setRecordXattr = func(*os.File, []byte) error { return errNoXattr }
	t.Cleanup(func() { setRecordXattr = old })
}

// TestAutoModeDecidedByFirstPut checks that a MetadataAuto Store on a file
// system without user extended attributes learns it from its first Put
// (New wrote nothing to find out), keeps the metadata in sidecar files from
// then on, and that a Store opened later on the same root uses them.
func TestAutoModeDecidedByFirstPut(t *testing.T) {
	withoutXattr(t)
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(dir, &Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, metaUndecided, s.d.meta.Load())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "New wrote nothing")

	// Concurrent first Puts all end up with their metadata kept.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			key := fmt.Sprintf("d%d/k", i%3)
			_, err := s.Put(ctx, key, strings.NewReader(key), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"i": fmt.Sprint(i % 3)}})
			assert.NoError(t, err)
			info, err := s.Stat(ctx, key)
			if assert.NoError(t, err) {
				assert.Equal(t, "text/plain", info.ContentType, key)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, metaSidecar, s.d.meta.Load())
	fi, err := os.Stat(filepath.Join(dir, metaDir))
	require.NoError(t, err, "the sidecar tree")
	assert.True(t, fi.IsDir())

	s2, err := New(dir, &Options{NoSync: true})
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, metaSidecar, s2.d.meta.Load(), "a root with a sidecar tree opens in sidecar mode")
	for i := range 3 {
		info, err := s2.Stat(ctx, fmt.Sprintf("d%d/k", i))
		require.NoError(t, err)
		assert.Equal(t, "text/plain", info.ContentType)
		assert.Equal(t, map[string]string{"i": fmt.Sprint(i)}, info.Metadata)
	}
}

// TestAutoModeXattr checks that the first Put of a MetadataAuto Store
// where extended attributes work settles on them: no sidecar tree.
func TestAutoModeXattr(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, &Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Put(context.Background(), "k", strings.NewReader("v"), &storage.PutOptions{ContentType: "text/plain"})
	if xattrUnsupported(err) || s.d.meta.Load() == metaSidecar {
		t.Skipf("no user extended attributes under %s", dir)
	}
	require.NoError(t, err)
	assert.Equal(t, metaXattr, s.d.meta.Load())
	_, err = os.Stat(filepath.Join(dir, metaDir))
	assert.ErrorIs(t, err, os.ErrNotExist, "no sidecar tree")
	info, err := s.Stat(context.Background(), "k")
	require.NoError(t, err)
	assert.Equal(t, "text/plain", info.ContentType)
}

// TestXattrModeUnsupportedAtPut checks that a MetadataXattr Store that
// could not probe the file system at New (a read-only root, here played by
// a probe that passes) fails a Put with storage.ErrUnsupported when the
// attribute cannot be set, leaving nothing behind, instead of switching to
// sidecar files it was told not to use.
func TestXattrModeUnsupportedAtPut(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, &Options{Metadata: MetadataXattr, NoSync: true})
	if errors.Is(err, storage.ErrUnsupported) {
		t.Skipf("no user extended attributes under %s", dir)
	}
	require.NoError(t, err)
	defer s.Close()
	withoutXattr(t)
	_, err = s.Put(context.Background(), "a/k", strings.NewReader("v"), nil)
	require.ErrorIs(t, err, storage.ErrUnsupported)
	assert.Contains(t, err.Error(), `"a/k"`)
	assert.Contains(t, err.Error(), "xattr")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary file or directory left")
}
