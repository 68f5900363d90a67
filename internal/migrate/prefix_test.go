package migrate

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
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

// migrateUnchecked migrates src into a destination holding dstKeys, opened
// twice: checked, as given, and unchecked (Options.Unchecked). It returns,
// for each object sent, whether it went through the unchecked one.
func migrateUnchecked(t *testing.T, srcKeys, dstKeys []string, opts *Options) (map[string]bool, Summary) {
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
	checked, unchecked := newHooked(mem), newHooked(mem)
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.Unchecked = unchecked
	sum, err := New(src, checked, &o).Run(t.Context())
	require.NoError(t, err)
	via := map[string]bool{}
	for k := range checked.putCounts() {
		via[k] = false
	}
	for k := range unchecked.putCounts() {
		_, twice := via[k]
		require.False(t, twice, "%s was written through both", k)
		via[k] = true
	}
	return via, sum
}

// A migration writes the keys its two listings show free of prefix
// conflicts through the destination opened without its own check for them
// (sparing the requests of a check that cannot fail), and no other key.
func TestMigrateWritesKeysFreeOfPrefixConflictsUnchecked(t *testing.T) {
	t.Run("empty destination", func(t *testing.T) {
		var keys []string
		for i := range 50 {
			keys = append(keys, fmt.Sprintf("local_content/%02x/%02x/m%d", i%3, i%5, i), fmt.Sprintf("local_thumbnails/%02x/%02x/m%d/32-32-image-png", i%3, i%5, i))
		}
		unchecked, sum := migrateUnchecked(t, keys, nil, nil)
		assert.EqualValues(t, len(keys), sum.Copied)
		for _, k := range keys {
			assert.True(t, unchecked[k], k)
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
		unchecked, sum := migrateUnchecked(t, src, dst, nil)
		assert.Zero(t, sum.Failed)
		want := map[string]bool{"a/b/c": false, "d": false, "f": true, "f.png/x": false, "g": true, "g/h": false, "i": false, "z/ok": true}
		assert.Equal(t, want, unchecked)
	})
	t.Run("read-ahead limit", func(t *testing.T) {
		// More destination keys between "k" and "k/" than the
		// migration reads ahead: it cannot tell, so the destination
		// checks.
		var dst []string
		for n := range maxAhead + 1 {
			dst = append(dst, fmt.Sprintf("k-%05d", n))
		}
		unchecked, _ := migrateUnchecked(t, []string{"k", "k-99999"}, dst, nil)
		assert.Equal(t, map[string]bool{"k": false, "k-99999": true}, unchecked)
	})
	t.Run("parents of the prefix", func(t *testing.T) {
		src := []string{"media/x/1", "media/x/2"}
		unchecked, _ := migrateUnchecked(t, src, nil, &Options{Prefix: "media/x/"})
		assert.Equal(t, map[string]bool{"media/x/1": true, "media/x/2": true}, unchecked)
		// "media" is a parent of every key, outside the listing of the
		// prefix: the migration asks for it once.
		unchecked, _ = migrateUnchecked(t, src, []string{"media"}, &Options{Prefix: "media/x/"})
		assert.Equal(t, map[string]bool{"media/x/1": false, "media/x/2": false}, unchecked)
		unchecked, _ = migrateUnchecked(t, src, []string{"media/x"}, &Options{Prefix: "media/x/"})
		assert.Equal(t, map[string]bool{"media/x/1": false, "media/x/2": false}, unchecked)
	})
}

// The keys that do conflict go to the destination as it was opened, and
// fail with its own error when its store cannot hold them; the others are
// sent.
func TestMigrateConflictingKeysFailWithTheDestinationsCheck(t *testing.T) {
	src, mem := memory.New(), memory.New()
	for _, k := range []string{"a/b/c", "d", "e/f"} {
		_, err := src.Put(t.Context(), k, strings.NewReader("source "+k), nil)
		require.NoError(t, err)
	}
	for _, k := range []string{"a/b", "d/e"} {
		_, err := mem.Put(t.Context(), k, strings.NewReader("there"), nil)
		require.NoError(t, err)
	}
	checked, unchecked := newHooked(mem), newHooked(mem)
	// The check of a store that cannot hold "a" and "a/b".
	checked.beforePut = func(ctx context.Context, key string) error {
		for i := range len(key) {
			if key[i] != '/' {
				continue
			}
			if _, err := mem.Stat(ctx, key[:i]); err == nil {
				return &storage.Error{Op: "put", Key: key, Kind: storage.ErrExist, Err: fmt.Errorf("an object exists under %q, a parent of the key", key[:i])}
			}
		}
		for range mem.List(ctx, &storage.ListOptions{Prefix: key + "/"}) {
			return &storage.Error{Op: "put", Key: key, Kind: storage.ErrExist, Err: fmt.Errorf("objects exist under the prefix %q", key+"/")}
		}
		return nil
	}
	var mu sync.Mutex
	errs := map[string]error{}
	sum, err := New(src, checked, &Options{Unchecked: unchecked, OnObject: func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		errs[ev.Key] = ev.Err
	}}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 1, sum.Copied)
	assert.EqualValues(t, 2, sum.Failed)
	assert.Equal(t, map[string]int{"e/f": 1}, unchecked.putCounts())
	assert.ErrorIs(t, errs["a/b/c"], storage.ErrExist)
	assert.ErrorContains(t, errs["a/b/c"], `"a/b/c"`)
	assert.ErrorContains(t, errs["a/b/c"], `"a/b", a parent`)
	assert.ErrorIs(t, errs["d"], storage.ErrExist)
	assert.ErrorContains(t, errs["d"], `"d/"`)
	assert.NoError(t, errs["e/f"])
}

// Without Options.Unchecked every write goes to the destination, and the
// migration asks nothing about the parents of its prefix.
func TestMigrateWithoutUncheckedWritesEverythingThroughTheDestination(t *testing.T) {
	src, mem := memory.New(), memory.New()
	for _, k := range []string{"media/x/1", "media/x/2"} {
		_, err := src.Put(t.Context(), k, strings.NewReader("source "+k), nil)
		require.NoError(t, err)
	}
	dst := newHooked(mem)
	sum, err := New(src, dst, &Options{Prefix: "media/x/"}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 2, sum.Copied)
	assert.Equal(t, map[string]int{"media/x/1": 1, "media/x/2": 1}, dst.putCounts())
	assert.Zero(t, dst.stats, "no Stat of the prefix's parents")
}

func TestRunEnded(t *testing.T) {
	for _, pos := range []string{"", "a", "a-", "a.", "a/", "a/b", "a0", "a00", "b", "ab", "a\xff"} {
		for _, key := range []string{"a", "a/b", "ab", ""} {
			assert.Equal(t, pos >= key+"0", runEnded(pos, key), "pos %q key %q", pos, key)
		}
	}
}
