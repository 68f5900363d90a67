package local_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/testfd"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// List keeps the directories of the walk open while their entries wait,
// to open those relative to them: every way a walk can end must close them
// all.
func TestListClosesDirectories(t *testing.T) {
	s, err := local.New(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	for i := range 60 {
		put(t, s, fmt.Sprintf("local_content/%02x/%02x/m%03d", i%7, i%5, i), "x", nil)
		put(t, s, fmt.Sprintf("local_thumbnails/%02x/%02x/m%03d/32-32", i%7, i%5, i), "x", nil)
	}
	before := testfd.Count(t)

	n := 0
	for _, err := range s.List(t.Context(), nil) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 120, n)
	assert.Equal(t, before, testfd.Count(t), "after a whole walk")

	for _, stopAt := range []int{0, 1, 30, 61, 100} {
		i := 0
		for _, err := range s.List(t.Context(), nil) {
			require.NoError(t, err)
			if i == stopAt {
				break
			}
			i++
		}
		assert.Equal(t, before, testfd.Count(t), "after a walk stopped at %d", stopAt)
	}

	for _, prefix := range []string{"local_content/", "local_content/03/", "local_thumbnails/01/02/"} {
		keys := 0
		for info, err := range s.List(t.Context(), &storage.ListOptions{Prefix: prefix}) {
			require.NoError(t, err)
			assert.Contains(t, info.Key, prefix)
			keys++
		}
		assert.Positive(t, keys, prefix)
		assert.Equal(t, before, testfd.Count(t), "after a walk of the prefix %q", prefix)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	i := 0
	var lastErr error
	for _, err := range s.List(ctx, nil) {
		if err != nil {
			lastErr = err
			break
		}
		if i++; i == 10 {
			cancel()
		}
	}
	require.ErrorIs(t, lastErr, context.Canceled)
	assert.Equal(t, before, testfd.Count(t), "after a cancelled walk")
}

// A walk whose Store is closed in its loop body ends with storage.ErrClosed
// and still closes the directories it held: here the root's, shared by the
// file "a", which was yielded, and the directory "b", which the walk was
// about to open.
func TestListClosedMidWalkClosesDirectories(t *testing.T) {
	before := testfd.Count(t)
	s, err := local.New(t.TempDir(), nil)
	require.NoError(t, err)
	put(t, s, "a", "x", nil)
	put(t, s, "b/c", "x", nil)
	var keys []string
	var lastErr error
	for info, err := range s.List(t.Context(), nil) {
		if err != nil {
			lastErr = err
			break
		}
		keys = append(keys, info.Key)
		require.NoError(t, s.Close())
	}
	assert.Equal(t, []string{"a"}, keys)
	require.ErrorIs(t, lastErr, storage.ErrClosed)
	assert.Equal(t, before, testfd.Count(t), "open files after the Store and the walk ended")
}

// List opens each file relative to its open directory, Stat by its path
// from the root: both must tell the same Info, for plain files and for
// objects with records of every size (a record with much metadata does not
// fit the first buffer the attribute is read into).
func TestListInfoIsStatInfo(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		synapseTree(t, dir)
		s := newStore(t, dir, mode)
		big := map[string]string{}
		for i := range storage.MaxMetadataEntries {
			big[fmt.Sprintf("k%d", i)] = strings.Repeat(strconv.Itoa(i), storage.MaxMetadataBytes/storage.MaxMetadataEntries-8)
		}
		put(t, s, "written/plain", "x", nil)
		put(t, s, "written/typed", "hello", &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1"}})
		put(t, s, "written/big", "big record", &storage.PutOptions{ContentType: "application/x-" + strings.Repeat("y", 100), Metadata: big})

		n := 0
		for li, err := range s.List(t.Context(), nil) {
			require.NoError(t, err)
			st, err := s.Stat(t.Context(), li.Key)
			require.NoError(t, err)
			assert.Equal(t, st, li, "List and Stat of %q", li.Key)
			if li.Key == "written/big" {
				assert.Equal(t, big, li.Metadata)
				assert.NotEmpty(t, li.SHA256)
			}
			n++
		}
		assert.Greater(t, n, 3)
	})
}
