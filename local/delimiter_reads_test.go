package local

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// readCounter records the directory reads of List through onReadDir.
type readCounter struct {
	reads map[string]int // reads per directory
	names map[string]int // names read per directory
}

func countReads(s *Store) *readCounter {
	c := &readCounter{reads: map[string]int{}, names: map[string]int{}}
	s.d.onReadDir = func(rel string, n int) {
		c.reads[rel]++
		c.names[rel] += n
	}
	return c
}

func (c *readCounter) total() (names int) {
	for _, n := range c.names {
		names += n
	}
	return names
}

// wideTree writes dirs directories of files plain files each, each with a
// subdirectory "sub" of 10 more, and the files "a" and "z" at the top.
func wideTree(t testing.TB, root string, dirs, files int) {
	t.Helper()
	write := func(rel string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		require.NoError(t, os.WriteFile(p, nil, 0o640))
	}
	write("a")
	write("z")
	for d := range dirs {
		for f := range files {
			write(fmt.Sprintf("d%03d/f%04d", d, f))
		}
		for f := range 10 {
			write(fmt.Sprintf("d%03d/sub/g%d", d, f))
		}
	}
}

func delimitedList(t *testing.T, p storage.Provider, prefix string) []string {
	t.Helper()
	var keys []string
	for info, err := range p.List(t.Context(), &storage.ListOptions{Prefix: prefix, Delimiter: "/"}) {
		require.NoError(t, err)
		keys = append(keys, info.Key)
	}
	return keys
}

// A listing with a delimiter reads the directory of the prefix, and of
// each subdirectory only the first batch of names, in which it finds a
// key: it never goes into what lies below. The fold of package driver,
// which the Store used before it listed by delimiter itself, reads every
// subdirectory whole.
func TestListDelimiterReadsOneLevel(t *testing.T) {
	const dirs, files = 5, 300
	root := t.TempDir()
	wideTree(t, root, dirs, files)
	s, err := New(root, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })

	want := []string{"a"}
	for d := range dirs {
		want = append(want, fmt.Sprintf("d%03d/", d))
	}
	want = append(want, "z")

	c := countReads(s)
	require.Equal(t, want, delimitedList(t, s, ""))
	assert.Equal(t, 1, c.reads["."], "the root is read once")
	assert.Equal(t, dirs+2, c.names["."], "the root is read whole")
	for d := range dirs {
		rel := fmt.Sprintf("d%03d", d)
		assert.Equal(t, 1, c.reads[rel], "%s is read once", rel)
		assert.LessOrEqual(t, c.names[rel], probeBatch, "of %s, one batch of names is read", rel)
		assert.Zero(t, c.reads[rel+"/sub"], "%s/sub is not read", rel)
	}
	native := c.total()
	assert.LessOrEqual(t, native, dirs+2+dirs*probeBatch)

	// One level down: the directory of the prefix is read whole, its
	// subdirectory only until a key is found.
	c = countReads(s)
	require.Equal(t, append(wantFiles("d001/f%04d", files), "d001/sub/"), delimitedList(t, s, "d001/"))
	assert.Equal(t, files+1, c.names["d001"])
	assert.LessOrEqual(t, c.names["d001/sub"], probeBatch)
	assert.Len(t, c.reads, 2, "directories read: %v", c.reads)

	// The same listing folded by package driver from a plain listing.
	folded := driver.New(ProviderName, s.d, &driver.Options{ReadsChecked: true})
	c = countReads(s)
	require.Equal(t, want, delimitedList(t, folded, ""))
	assert.Greater(t, c.total(), dirs*files, "the fold reads every subdirectory whole")
	t.Logf("names read for one level of %d directories of %d files: %d listing by delimiter, %d folded", dirs, files, native, c.total())
}

func wantFiles(format string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

// BenchmarkListDelimiter lists one level of a tree of 100 directories of
// 1000 files (each with a subdirectory of 10 more): read by delimiter, as
// the Store does, and folded by package driver from a plain listing, as it
// did before (the same driver behind a Provider without
// driver.Options.Delimiter).
func BenchmarkListDelimiter(b *testing.B) {
	const dirs, files = 100, 1000
	root := b.TempDir()
	wideTree(b, root, dirs, files)
	s, err := New(root, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		name string
		p    storage.Provider
	}{
		{"native", s},
		{"folded", driver.New(ProviderName, s.d, &driver.Options{ReadsChecked: true})},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				for _, err := range c.p.List(b.Context(), &storage.ListOptions{Delimiter: "/"}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != dirs+2 {
					b.Fatalf("listed %d entries, want %d", n, dirs+2)
				}
			}
		})
	}
}
