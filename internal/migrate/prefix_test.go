package migrate

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
)

// parentsBrute is what parentStack.hasParentOf computes, the slow way: the
// keys seen before key of which key is a child.
func parentsBrute(seen []string, key string) bool {
	for _, p := range seen {
		if strings.HasPrefix(key, p+"/") {
			return true
		}
	}
	return false
}

func TestParentStackFindsEveryParent(t *testing.T) {
	// Keys chosen so that runs nest and interleave: "a" < "a-1" < "a.b"
	// < "a/b" < "a/b-" < "a/b/c" < "a0" ...
	keys := []string{"a", "a-1", "a-1/x", "a.b", "a.b/c", "a/b", "a/b-", "a/b-/q", "a/b/c", "a/b/c/d", "a/b0", "a/c", "a0", "a0/z", "b", "b/a/b/c", "c/d"}
	require.True(t, slices.IsSorted(keys))
	// Every subset of the keys, in order: the stack must agree with the
	// brute force for each key, whatever came before.
	for mask := range 1 << 12 {
		var s parentStack
		var seen []string
		for i, k := range keys {
			if i < 12 && mask&(1<<i) == 0 {
				continue
			}
			got := s.hasParentOf(k)
			require.Equal(t, parentsBrute(seen, k), got, "key %q after %q", k, seen)
			s.push(k)
			seen = append(seen, k)
		}
		assert.LessOrEqual(t, len(s), 4, "the stack holds only keys whose run is still open")
	}
}

func listingOf(t *testing.T, keys ...string) *cursor {
	t.Helper()
	p := memory.New()
	for _, k := range keys {
		_, err := p.Put(t.Context(), k, strings.NewReader("x"), nil)
		require.NoError(t, err)
	}
	return newCursor(t.Context(), p, "", "test")
}

func TestCursorAnyUnderReadsAheadAndKeepsWhatItRead(t *testing.T) {
	c := listingOf(t, "k", "k-1", "k.png", "k/v", "l")
	defer c.close()
	d, err := c.seek("k")
	require.NoError(t, err)
	require.NotNil(t, d)

	found, known, err := c.anyUnder("k/", 10)
	require.NoError(t, err)
	assert.True(t, known)
	assert.True(t, found, "k/v is under k/")

	// The entries read ahead are still there for the next seeks.
	for _, key := range []string{"k-1", "k.png", "k/v", "l"} {
		d, err := c.seek(key)
		require.NoError(t, err)
		require.NotNil(t, d, key)
		assert.Equal(t, key, d.Key)
	}
	found, known, err = c.anyUnder("l/", 10)
	require.NoError(t, err)
	assert.True(t, known, "the end of the listing tells")
	assert.False(t, found)

	// Too far to read: unknown, not an answer.
	c2 := listingOf(t, "k", "k-1", "k-2", "k-3", "k/v")
	defer c2.close()
	_, err = c2.seek("k")
	require.NoError(t, err)
	_, known, err = c2.anyUnder("k/", 2)
	require.NoError(t, err)
	assert.False(t, known)
	var passed []string
	c2.onPass = func(k string) { passed = append(passed, k) }
	d, err = c2.seek("k/v")
	require.NoError(t, err)
	require.NotNil(t, d)
	assert.Equal(t, []string{"k-1", "k-2", "k-3"}, passed)
}

// migratePrefixChecked migrates src into dst (holding dstKeys) and returns
// PutOptions.PrefixChecked of each object sent.
func migratePrefixChecked(t *testing.T, srcKeys, dstKeys []string, opts *Options) (map[string]bool, Summary) {
	t.Helper()
	src, mem := memory.New(), memory.New()
	for _, k := range srcKeys {
		_, err := src.Put(t.Context(), k, bytes.NewReader([]byte("source "+k)), nil)
		require.NoError(t, err)
	}
	for _, k := range dstKeys {
		_, err := mem.Put(t.Context(), k, bytes.NewReader([]byte("already at the destination")), nil)
		require.NoError(t, err)
	}
	dst := newHooked(mem)
	sum, err := New(src, dst, opts).Run(t.Context())
	require.NoError(t, err)
	return dst.prefixChecked, sum
}

// A migration vouches for the keys its two listings show free of prefix
// conflicts, so that a driver that checks them with requests of its own
// (minio) need not, and for no other key.
func TestMigrateTellsWhichKeysAreFreeOfPrefixConflicts(t *testing.T) {
	t.Run("empty destination", func(t *testing.T) {
		var keys []string
		for i := range 50 {
			keys = append(keys, fmt.Sprintf("local_content/%02x/%02x/m%d", i%3, i%5, i), fmt.Sprintf("local_thumbnails/%02x/%02x/m%d/32-32-image-png", i%3, i%5, i))
		}
		checked, sum := migratePrefixChecked(t, keys, nil, nil)
		assert.EqualValues(t, len(keys), sum.Copied)
		for _, k := range keys {
			assert.True(t, checked[k], k)
		}
	})
	t.Run("conflicts", func(t *testing.T) {
		src := []string{
			"a/b/c",   // the destination holds "a/b", a parent
			"d",       // the destination holds "d/e", under it
			"f",       // fine, though the destination holds "f-1" and "f.png"
			"f.png/x", // the destination holds "f.png/x/y/z/w", under it
			"g",       // fine
			"g/h",     // the source itself holds "g", a parent
			"i",       // the destination holds "i/j", after "i-0" ... "i-9"
			"z/ok",
		}
		dst := []string{"a/b", "d/e", "f-1", "f.png/x/y/z/w", "i/j"}
		for n := range 10 {
			dst = append(dst, fmt.Sprintf("i-%d", n))
		}
		slices.Sort(dst)
		checked, sum := migratePrefixChecked(t, src, dst, nil)
		assert.Zero(t, sum.Failed)
		want := map[string]bool{"a/b/c": false, "d": false, "f": true, "f.png/x": false, "g": true, "g/h": false, "i": false, "z/ok": true}
		assert.Equal(t, want, checked)
	})
	t.Run("read-ahead limit", func(t *testing.T) {
		// More destination keys between "k" and "k/" than the
		// migration reads ahead: it cannot tell, so it does not vouch.
		var dst []string
		for n := range maxAhead + 1 {
			dst = append(dst, fmt.Sprintf("k-%05d", n))
		}
		checked, _ := migratePrefixChecked(t, []string{"k", "k-99999"}, dst, nil)
		assert.Equal(t, map[string]bool{"k": false, "k-99999": true}, checked)
	})
	t.Run("parents of the prefix", func(t *testing.T) {
		src := []string{"media/x/1", "media/x/2"}
		checked, _ := migratePrefixChecked(t, src, nil, &Options{Prefix: "media/x/"})
		assert.Equal(t, map[string]bool{"media/x/1": true, "media/x/2": true}, checked)
		// "media" is a parent of every key, outside the listing of the
		// prefix: the migration asks for it once.
		checked, _ = migratePrefixChecked(t, src, []string{"media"}, &Options{Prefix: "media/x/"})
		assert.Equal(t, map[string]bool{"media/x/1": false, "media/x/2": false}, checked)
		checked, _ = migratePrefixChecked(t, src, []string{"media/x"}, &Options{Prefix: "media/x/"})
		assert.Equal(t, map[string]bool{"media/x/1": false, "media/x/2": false}, checked)
	})
}

func TestRunEnded(t *testing.T) {
	for _, pos := range []string{"", "a", "a-", "a.", "a/", "a/b", "a0", "a00", "b", "ab", "a\xff"} {
		for _, key := range []string{"a", "a/b", "ab", ""} {
			assert.Equal(t, pos >= key+"0", runEnded(pos, key), "pos %q key %q", pos, key)
		}
	}
}
