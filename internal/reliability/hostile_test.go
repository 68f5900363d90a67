package reliability

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// TestLocalSymlinkEscape puts symlinks inside a local root that point
// outside it, to a directory and to a file, and checks that no operation
// reads, writes, lists or deletes anything outside through them.
func TestLocalSymlinkEscape(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	require.NoError(t, os.WriteFile(secret, []byte("outside the root"), 0o640))
	root := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "dirlink")))
	require.NoError(t, os.Symlink(secret, filepath.Join(root, "filelink")))
	require.NoError(t, os.Mkdir(filepath.Join(root, "sub"), 0o750))
	require.NoError(t, os.Symlink("../../"+filepath.Base(outside), filepath.Join(root, "sub", "rel")))
	s, err := local.New(root, nil)
	require.NoError(t, err)
	defer s.Close()

	for _, key := range []string{"dirlink/secret.txt", "filelink", "sub/rel/secret.txt"} {
		_, _, err := s.Get(ctx, key, nil)
		require.Error(t, err, "get %s", key)
		require.NotContains(t, err.Error(), "outside the root")
		_, err = s.Stat(ctx, key)
		require.Error(t, err, "stat %s", key)
	}
	// A Put may replace a symlink inside the root by a file (local
	// writes a temporary file and renames it over the key), and a Delete
	// may remove the link, but neither may touch the file it points to.
	for _, key := range []string{"dirlink/secret.txt", "filelink", "sub/rel/secret.txt"} {
		if _, err := s.Put(ctx, key, strings.NewReader("overwritten"), nil); err == nil {
			require.Equal(t, "filelink", key, "a Put through a directory symlink fails")
		}
		_ = s.Delete(ctx, key) // a no-op, an error, or the link removed
	}
	for _, key := range []string{"dirlink/new.txt", "sub/rel/new.txt"} {
		_, err := s.Put(ctx, key, strings.NewReader("new"), nil)
		require.Error(t, err, "put %s", key)
	}
	var listed []string
	for info, err := range s.List(ctx, nil) {
		if err != nil {
			break
		}
		listed = append(listed, info.Key)
	}
	for _, k := range listed {
		require.NotContains(t, k, "secret.txt", "List does not follow a symlink out of the root")
	}
	b, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, "outside the root", string(b), "the file outside is untouched")
	ents, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Len(t, ents, 1, "nothing was created outside the root")
}

// TestOversizedRefused checks that keys, metadata and uploads over the
// limits are refused at once, with errors that say so, by every provider
// that runs without a server.
func TestOversizedRefused(t *testing.T) {
	ctx := context.Background()
	ls, err := local.New(t.TempDir(), nil)
	require.NoError(t, err)
	cc, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	tc, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	ts, err := tiered.New(tc, memory.New(), tiered.Options{Mode: tiered.WriteBehind})
	require.NoError(t, err)
	providers := map[string]storage.Provider{"memory": memory.New(), "local": ls, "cache": cc, "tiered": ts}
	t.Cleanup(func() {
		for _, p := range providers {
			p.Close()
		}
	})
	longKey := strings.Repeat("k", 1025)
	bigMeta := map[string]string{"big": strings.Repeat("v", 3<<10)}
	manyMeta := map[string]string{}
	for i := range 1000 {
		manyMeta[strings.Repeat("m", 10)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = "v"
	}
	for name, p := range providers {
		t.Run(name, func(t *testing.T) {
			_, err := p.Put(ctx, longKey, strings.NewReader("x"), nil)
			require.ErrorIs(t, err, storage.ErrInvalidKey)
			require.Contains(t, err.Error(), "1024", "the error gives the limit")
			_, _, err = p.Get(ctx, longKey, nil)
			require.ErrorIs(t, err, storage.ErrInvalidKey)

			_, err = p.Put(ctx, "meta", strings.NewReader("x"), &storage.PutOptions{Metadata: bigMeta})
			require.Error(t, err)
			require.True(t, errors.Is(err, storage.ErrTooLarge) || errors.Is(err, storage.ErrInvalidArgument), "%v", err)
			_, err = p.Put(ctx, "meta2", strings.NewReader("x"), &storage.PutOptions{Metadata: manyMeta})
			require.Error(t, err)
			require.True(t, errors.Is(err, storage.ErrTooLarge) || errors.Is(err, storage.ErrInvalidArgument), "%v", err)
			_, err = p.Stat(ctx, "meta")
			require.ErrorIs(t, err, storage.ErrNotFound, "nothing stored")
		})
	}
	// A cache (and a tiered store on it) cannot hold an object larger
	// than its bound: the Put fails promptly and clearly rather than
	// waiting for space that can never be freed.
	for _, name := range []string{"cache", "tiered"} {
		t.Run(name+"/over-bound", func(t *testing.T) {
			p := providers[name]
			data := Content("big", 2<<20)
			for _, size := range []int64{int64(len(data)), 0} {
				pctx, cancel := context.WithTimeout(ctx, time.Minute)
				start := time.Now()
				_, err := p.Put(pctx, "big", bytes.NewReader(data), &storage.PutOptions{Size: size})
				cancel()
				require.Error(t, err, "size %d", size)
				require.False(t, errors.Is(err, context.DeadlineExceeded), "refused, not timed out (after %v): %v", time.Since(start), err)
				require.True(t, errors.Is(err, storage.ErrTooLarge) || errors.Is(err, cache.ErrFull), "%v", err)
				_, err = p.Stat(ctx, "big")
				require.ErrorIs(t, err, storage.ErrNotFound)
			}
		})
	}
	// A reader that yields more than PutOptions.Size says stores nothing.
	for name, p := range providers {
		_, err := p.Put(ctx, "liar", io.LimitReader(bytes.NewReader(Content("l", 4096)), 4096), &storage.PutOptions{Size: 100})
		require.ErrorIs(t, err, storage.ErrSizeMismatch, name)
		_, err = p.Stat(ctx, "liar")
		require.ErrorIs(t, err, storage.ErrNotFound, name)
	}
}
