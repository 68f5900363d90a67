package conformance

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// orderKeys are chosen so that byte-wise order differs from the order of a
// naive directory walk: '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f),
// which sorts before '0' (0x30), so "a-b" < "a.b" < "a/b" < "a0". None is a
// prefix "directory" of another, so the set works on stores with
// Harness.PrefixConflicts too.
var orderKeys = []string{
	"a-b", "a.b", "a/b", "a/b-c", "a/b.txt", "a/b0", "a/c-x", "a/c.y", "a/c/d", "a0", "aa", "ab",
	"A", "B", "Z", "b", "z", "0", "9", " space", "~tilde",
	"é", "ä/x", "日本", "日本語/ファイル",
}

// writeBounded writes keys with at most 16 Puts at a time, so that many
// keys go quickly to a remote store. Each object holds its key.
func writeBounded(t *testing.T, p storage.Provider, keys []string) {
	t.Helper()
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := p.Put(ctx(t), k, strings.NewReader(k), nil); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("put %q: %w", k, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs, "writing %d keys", len(keys))
}

func sorted(keys []string) []string {
	return slices.Sorted(slices.Values(keys))
}

// expectList filters the sorted keys as List must.
func expectList(keys []string, prefix, after string) []string {
	var out []string
	for _, k := range sorted(keys) {
		if strings.HasPrefix(k, prefix) && k > after {
			out = append(out, k)
		}
	}
	return out
}

var listCases = []struct {
	name, prefix, after string
}{
	{"Prefix/All", "", ""},
	{"Prefix/PartialName", "a", ""},
	{"Prefix/Directory", "a/", ""},
	{"Prefix/PlainString", "a/b", ""},
	{"Prefix/Nested", "a/c/", ""},
	{"Prefix/WholeKey", "a/b.txt", ""},
	{"Prefix/UpperCase", "A", ""},
	{"Prefix/Multibyte", "日本", ""},
	{"Prefix/NoMatch", "nothing/", ""},
	{"StartAfter/Key", "", "a/b"},
	{"StartAfter/NotAKey", "", "a/b+"},
	{"StartAfter/BeforeAll", "", " "},
	{"StartAfter/AfterAll", "", "\U0010FFFF"},
	{"StartAfter/LastKey", "", "日本語/ファイル"},
	{"StartAfter/WithPrefix", "a/", "a/b0"},
	{"StartAfter/BeforePrefix", "a/", "a"},
	{"StartAfter/IsPrefix", "a/", "a/"},
	{"StartAfter/AfterPrefix", "a/", "b"},
}

// FoldKeys returns what a List with Prefix prefix, StartAfter after and
// Delimiter "/" must yield over a store holding keys (in any order), as
// the contract in storage.ListOptions says: each key under prefix with a
// "/" after prefix becomes its common prefix (ending in "/", as IsPrefix
// entries do), yielded once, and only when it sorts after after. Tests of
// a provider's own delimiter listing compare with it.
func FoldKeys(keys []string, prefix, after string) []string {
	var out []string
	for _, k := range sorted(keys) {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if i := strings.IndexByte(k[len(prefix):], '/'); i >= 0 {
			k = k[:len(prefix)+i+1]
		}
		if k > after && (len(out) == 0 || out[len(out)-1] != k) {
			out = append(out, k)
		}
	}
	return out
}

// delimitedKeys lists with Delimiter "/" and checks that the entries that
// are common prefixes, and only they, are marked IsPrefix and end in "/".
func delimitedKeys(t *testing.T, p storage.Provider, prefix, after string) []string {
	t.Helper()
	var keys []string
	for _, info := range list(t, p, &storage.ListOptions{Prefix: prefix, StartAfter: after, Delimiter: "/"}) {
		isDir := strings.Contains(info.Key[len(prefix):], "/")
		require.Equal(t, isDir, info.IsPrefix, "entry %q: IsPrefix must be set exactly for common prefixes", info.Key)
		if isDir {
			require.True(t, strings.HasSuffix(info.Key, "/"), "common prefix %q must end in the delimiter", info.Key)
		}
		keys = append(keys, info.Key)
	}
	return keys
}

func (s *suite) testList(t *testing.T) {
	t.Run("Delimiter", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		writeBounded(t, p, orderKeys)
		for _, tc := range listCases {
			want := FoldKeys(orderKeys, tc.prefix, tc.after)
			require.Equal(t, want, delimitedKeys(t, p, tc.prefix, tc.after), "%s: List with Delimiter %q, Prefix %q, StartAfter %q", tc.name, "/", tc.prefix, tc.after)
		}
		// Paging one entry at a time, resuming after a common prefix as
		// after a key, yields each entry once.
		var paged []string
		after := ""
		for {
			var got []string
			for info, err := range p.List(ctx(t), &storage.ListOptions{StartAfter: after, Delimiter: "/"}) {
				require.NoError(t, err)
				got = append(got, info.Key)
				break
			}
			if len(got) == 0 {
				break
			}
			paged = append(paged, got...)
			after = got[0]
			require.Less(t, len(paged), 1000, "paging does not end")
		}
		require.Equal(t, FoldKeys(orderKeys, "", ""), paged, "paging a delimiter listing one entry at a time")
		for info, err := range p.List(ctx(t), &storage.ListOptions{Delimiter: "|"}) {
			requireErrorIs(t, err, storage.ErrInvalidArgument, "List with Delimiter %q", "|")
			require.Zero(t, info)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		require.Empty(t, list(t, p, nil), "List of an empty store")
		require.Empty(t, list(t, p, &storage.ListOptions{Prefix: "a"}), "List of an empty store with a prefix")
		require.Empty(t, list(t, p, &storage.ListOptions{StartAfter: "a"}), "List of an empty store with StartAfter")
	})
	t.Run("Order", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		writeBounded(t, p, orderKeys)
		require.Equal(t, sorted(orderKeys), listKeys(t, p, nil), "List must yield keys in byte-wise order")
	})
	for _, tc := range listCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			writeBounded(t, p, orderKeys)
			opts := &storage.ListOptions{Prefix: tc.prefix, StartAfter: tc.after}
			want := expectList(orderKeys, tc.prefix, tc.after)
			require.Equal(t, want, listKeys(t, p, opts), "List %+v", *opts)
		})
	}
	t.Run("Resume", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		writeBounded(t, p, orderKeys)
		require.Equal(t, sorted(orderKeys), pageThrough(t, p, "", 3), "listing 3 keys at a time, resuming with StartAfter")
	})
	t.Run("BreakEarly", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		writeBounded(t, p, orderKeys)
		n := 0
		for _, err := range p.List(ctx(t), nil) {
			require.NoError(t, err)
			n++
			if n == 2 {
				break // the iterator must not call yield again (Go panics if it does)
			}
		}
		require.Equal(t, 2, n)
		// The provider works as before.
		putString(t, p, "after-break", "x")
		require.Equal(t, sorted(append(slices.Clone(orderKeys), "after-break")), listKeys(t, p, nil))
	})
	t.Run("Reuse", func(t *testing.T) {
		// The sequence List returns may be ranged over more than once.
		t.Parallel()
		p := s.provider(t)
		writeBounded(t, p, []string{"x", "y"})
		seq := p.List(ctx(t), nil)
		for range 2 {
			var keys []string
			for info, err := range seq {
				require.NoError(t, err)
				keys = append(keys, info.Key)
			}
			require.Equal(t, []string{"x", "y"}, keys)
		}
	})
	t.Run("WritesDuringList", func(t *testing.T) {
		// The loop body may call Put and Delete on the same provider: a
		// provider must not hold a lock while it yields.
		t.Parallel()
		p := s.provider(t)
		var keys []string
		for i := range 8 {
			keys = append(keys, fmt.Sprintf("w/%02d", i))
		}
		writeBounded(t, p, keys)
		var seen []string
		var errs []error
		within(t, "a List whose loop body writes", func() {
			for info, err := range p.List(ctx(t), &storage.ListOptions{Prefix: "w/"}) {
				if err != nil {
					errs = append(errs, err)
					return
				}
				seen = append(seen, info.Key)
				if _, err := p.Put(ctx(t), "v/"+info.Key[2:], strings.NewReader("moved"), nil); err != nil {
					errs = append(errs, err)
				}
				if err := p.Delete(ctx(t), info.Key); err != nil {
					errs = append(errs, err)
				}
			}
		})
		require.Empty(t, errs)
		require.Equal(t, keys, seen, "every key present until it was yielded is yielded once, in order")
		require.Empty(t, listKeys(t, p, &storage.ListOptions{Prefix: "w/"}))
		require.Len(t, listKeys(t, p, &storage.ListOptions{Prefix: "v/"}), len(keys))
	})
	t.Run("ManyKeys", func(t *testing.T) {
		t.Parallel()
		s.manyKeys(t)
	})
}

// pageThrough lists prefix page keys at a time, breaking out of each
// listing and resuming the next with StartAfter.
func pageThrough(t *testing.T, p storage.Provider, prefix string, page int) []string {
	t.Helper()
	var all []string
	after := ""
	for {
		var got []string
		for info, err := range p.List(ctx(t), &storage.ListOptions{Prefix: prefix, StartAfter: after}) {
			require.NoError(t, err)
			got = append(got, info.Key)
			if len(got) == page {
				break
			}
		}
		all = append(all, got...)
		if len(got) < page {
			return all
		}
		after = got[len(got)-1]
		require.Less(t, len(all), 1<<20, "paging does not end")
	}
}

func (s *suite) manyKeys(t *testing.T) {
	p := s.provider(t)
	n := s.h.ManyKeys
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("many/%05d", i)
	}
	outside := []string{"man", "manx", "many-", "manz/1"}
	writeBounded(t, p, append(slices.Clone(keys), outside...))

	require.Equal(t, keys, listKeys(t, p, &storage.ListOptions{Prefix: "many/"}), "List of %d keys under a prefix", n)
	require.Len(t, listKeys(t, p, nil), n+len(outside), "List of everything")

	mid := n - n/10
	require.Equal(t, keys[mid+1:], listKeys(t, p, &storage.ListOptions{Prefix: "many/", StartAfter: keys[mid]}),
		"List after key %d of %d", mid, n)
	require.Equal(t, keys[mid:], listKeys(t, p, &storage.ListOptions{Prefix: "many/", StartAfter: keys[mid-1] + "+"}),
		"List after a StartAfter that is not a key")

	// Stopping part way through a page and resuming gives the same keys.
	require.Equal(t, keys, pageThrough(t, p, "many/", 333), "paging through 333 keys at a time")

	count := 0
	for _, err := range p.List(ctx(t), &storage.ListOptions{Prefix: "many/"}) {
		require.NoError(t, err)
		count++
		if count == 3 {
			break
		}
	}
	require.Equal(t, 3, count)
}
