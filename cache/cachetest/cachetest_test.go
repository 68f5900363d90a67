package cachetest_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/storage"
)

// TestFlipByteIsCaught: a byte flipped by FlipByte in the file ObjectFile
// finds is in the object's data, so the cache's read fails.
func TestFlipByteIsCaught(t *testing.T) {
	dir := t.TempDir()
	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	_, err = c.Put(ctx, "photo.jpg", strings.NewReader(strings.Repeat("jpeg", 100)), nil)
	require.NoError(t, err)
	cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), 10)
	rc, _, err := c.Get(ctx, "photo.jpg", nil)
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	require.ErrorIs(t, err, storage.ErrCorrupt)
}
