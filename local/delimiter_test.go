package local_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/testfd"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// delimited lists with Delimiter "/" and returns the keys, checking that
// exactly the common prefixes are marked IsPrefix and carry nothing but
// their key.
func delimited(t *testing.T, s storage.Provider, prefix, after string) []string {
	t.Helper()
	var keys []string
	for info, err := range s.List(t.Context(), &storage.ListOptions{Prefix: prefix, StartAfter: after, Delimiter: "/"}) {
		require.NoError(t, err, "List prefix %q after %q", prefix, after)
		isDir := strings.HasSuffix(info.Key, "/")
		require.Equal(t, isDir, info.IsPrefix, "entry %q", info.Key)
		if isDir {
			require.Equal(t, storage.Info{Key: info.Key, IsPrefix: true}, info, "a common prefix has only its key")
		}
		keys = append(keys, info.Key)
	}
	return keys
}

// A directory is a common prefix only when a plain listing would yield a
// key under it: the native listing, which reads one directory, must agree
// with the fold of a plain listing on a tree holding what a plain listing
// skips (temporary files, the sidecar tree, symbolic links, names that are
// no keys, empty directories), on names whose directory order is not key
// order, for every prefix and StartAfter.
func TestListDelimiterMatchesFold(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		for _, k := range []string{
			"A", "a-b", "a.b", "a/b", "a/b-c", "a/b.txt", "a/b0", "a/c/d", "a/c/e/f", "a0", "ab/x",
			"deep/x/y/z/w", "mixed/1", "mixed/sub/2", "z", "日本/語", "日本語",
		} {
			put(t, s, k, k, nil)
		}
		mk := func(rel string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.FromSlash(rel)), 0o750))
		}
		write := func(rel string) {
			mk(filepath.Dir(filepath.FromSlash(rel)))
			require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(rel)), []byte("x"), 0o640))
		}
		// Nothing a plain listing yields lies under these.
		write(`tmponly/.strata-tmp\0123`)                             // a Put in progress in a new directory
		write(`.strata-tmp\4567`)                                     // the same at the top
		mk("empty")                                                   // left by another program
		mk("emptynest/a/b/c")                                         // nested, still empty
		write(`badname/no\key`)                                       // a name that is no key
		write("long/" + strings.Repeat("n", storage.MaxSegmentLen+1)) // a segment too long for a key
		write("a/c/e/.strata-tmp\\89")                                // beside a key, in a subdirectory
		mk("linkonly")
		require.NoError(t, os.Symlink("../z", filepath.Join(dir, "linkonly", "l")))
		require.NoError(t, os.Symlink("deep", filepath.Join(dir, "dirlink")))
		mk("a/c/empty")

		var all []string
		for info, err := range s.List(t.Context(), nil) {
			require.NoError(t, err)
			all = append(all, info.Key)
		}
		require.Equal(t, []string{
			"A", "a-b", "a.b", "a/b", "a/b-c", "a/b.txt", "a/b0", "a/c/d", "a/c/e/f", "a0", "ab/x",
			"deep/x/y/z/w", "mixed/1", "mixed/sub/2", "z", "日本/語", "日本語",
		}, all, "the plain listing")
		if mode == local.MetadataSidecar {
			_, err := os.Stat(filepath.Join(dir, metaDir))
			require.NoError(t, err, "the sidecar tree is there, and must not be listed")
		}

		cases := []struct{ prefix, after string }{
			{"", ""}, {"a", ""}, {"a/", ""}, {"a/b", ""}, {"a/c", ""}, {"a/c/", ""}, {"a/c/e/", ""},
			{"d", ""}, {"deep/", ""}, {"deep/x/y/", ""}, {"mixed/", ""}, {"日本", ""}, {"nothing/", ""},
			{"tmponly/", ""}, {"empty/", ""}, {"", "a"}, {"", "a/"}, {"", "a/b"}, {"", "a/c/d"},
			{"", "a.b"}, {"", "a0"}, {"", "ab/"}, {"", "b"}, {"", "日本/"}, {"", "日本/語"}, {"a/", "a/b0"},
			{"a/", "a/c/"}, {"a/", "a/c/e"}, {"a/", "a"}, {"a/", "b"}, {"", "\U0010FFFF"},
		}
		for _, c := range cases {
			assert.Equal(t, conformance.FoldKeys(all, c.prefix, c.after), delimited(t, s, c.prefix, c.after),
				"List with Delimiter, Prefix %q, StartAfter %q", c.prefix, c.after)
		}
		assert.Equal(t, []string{"A", "a-b", "a.b", "a/", "a0", "ab/", "deep/", "mixed/", "z", "日本/", "日本語"},
			delimited(t, s, "", ""), "one level of the tree")

		// Resuming after each entry in turn yields each entry once.
		var paged []string
		after := ""
		for {
			var got []string
			for info, err := range s.List(t.Context(), &storage.ListOptions{StartAfter: after, Delimiter: "/"}) {
				require.NoError(t, err)
				got = append(got, info.Key)
				break
			}
			if len(got) == 0 {
				break
			}
			paged = append(paged, got[0])
			after = got[0]
			require.Less(t, len(paged), 100, "paging does not end")
		}
		assert.Equal(t, conformance.FoldKeys(all, "", ""), paged, "paging one entry at a time")
	})
}

// A listing with a delimiter keeps the directories it reads open only
// while it needs them: every way it ends closes them all.
func TestListDelimiterClosesDirectories(t *testing.T) {
	s := newStore(t, t.TempDir(), local.MetadataAuto)
	for _, k := range []string{"a", "b/1", "c/2", "d/e/3", "f"} {
		put(t, s, k, "x", nil)
	}
	before := testfd.Count(t)
	for stopAt := range 6 {
		i := 0
		for _, err := range s.List(t.Context(), &storage.ListOptions{Delimiter: "/"}) {
			require.NoError(t, err)
			if i == stopAt {
				break
			}
			i++
		}
		assert.Equal(t, before, testfd.Count(t), "after a listing stopped at %d", stopAt)
	}
}
