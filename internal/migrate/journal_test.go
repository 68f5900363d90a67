package migrate

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
)

const sumA = "ca978112ca1bbdcafac231b39a23dc4da786eff8146d7d0ea0ed2ab3e30fd8d0"

func TestFileJournalKeepsEntriesAcrossRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "j.journal")
	j, err := OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Record(JournalEntry{Key: "a/b c", Size: 1, SrcETag: `"s 1"`, DstETag: "d1", SHA256: sumA}))
	require.NoError(t, j.Record(JournalEntry{Key: "no/etag", Size: 1, SrcETag: "", DstETag: "d1", SHA256: sumA}))
	require.NoError(t, j.Close())
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), st.Mode().Perm())

	// A line cut short by a crash is ignored.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("v1 1 " + sumA + ` "x" "y`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	j, err = OpenJournal(path)
	require.NoError(t, err)
	defer j.Close()
	assert.Equal(t, 1, j.Len())
	sum, ok := j.Vouch("a/b c", 1, `"s 1"`, "d1")
	assert.True(t, ok)
	assert.Equal(t, sumA, sum)
	for _, c := range []struct {
		key      string
		size     int64
		src, dst string
	}{
		{"a/b c", 2, `"s 1"`, "d1"},
		{"a/b c", 1, `"s 2"`, "d1"},
		{"a/b c", 1, `"s 1"`, "d2"},
		{"a/b c", 1, "", ""},
		{"no/etag", 1, "", "d1"},
		{"other", 1, `"s 1"`, "d1"},
	} {
		_, ok := j.Vouch(c.key, c.size, c.src, c.dst)
		assert.False(t, ok, "%+v", c)
	}
}

func TestMigrateWithJournalSkipsWithoutStatOrRead(t *testing.T) {
	src := newHooked(memory.New())
	src.noSHA = true // plain files
	want := mediaTree(t, src, 10)
	dst := newHooked(memory.New())
	dst.noListSHA = true // an S3 listing
	path := filepath.Join(t.TempDir(), "j")

	run := func() Summary {
		j, err := OpenJournal(path)
		require.NoError(t, err)
		defer func() { require.NoError(t, j.Close()) }()
		sum, err := New(src, dst, &Options{Journal: j, Workers: 3}).Run(t.Context())
		require.NoError(t, err)
		return sum
	}
	first := run()
	assert.EqualValues(t, len(want), first.Copied)

	again := run()
	assert.EqualValues(t, len(want), again.Skipped)
	assert.EqualValues(t, len(want), again.JournalHits)
	assert.Zero(t, again.DstStats)
	assert.Zero(t, again.HashedBytes)
	assert.Zero(t, dst.stats)

	// A source object changed in place, one changed at the destination:
	// their ETags no longer match the journal, and both are sent again.
	keys := slices.Sorted(maps.Keys(want))
	_, err := src.Put(t.Context(), keys[0], bytes.NewReader(bytes.ToUpper(want[keys[0]])), nil)
	require.NoError(t, err)
	_, err = dst.Put(t.Context(), keys[1], bytes.NewReader(bytes.ToUpper(want[keys[1]])), nil)
	require.NoError(t, err)
	third := run()
	assert.EqualValues(t, 2, third.Copied)
	assert.EqualValues(t, len(want)-2, third.JournalHits)
	assert.Equal(t, contents(t, src), contents(t, dst))

	// Objects found equal by checksum (sent by another tool, or before the
	// journal existed) are recorded too.
	require.NoError(t, os.Remove(path))
	fourth := run()
	assert.EqualValues(t, len(want), fourth.Skipped)
	assert.EqualValues(t, len(want), fourth.DstStats)
	fifth := run()
	assert.EqualValues(t, len(want), fifth.JournalHits)
	assert.Zero(t, fifth.DstStats)
}

// The last line recorded for a key wins, over any number of runs, and the
// journal of many objects stays small in memory.
func TestFileJournalLastEntryWinsAndStaysSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	const n = 200_000
	key := func(i int) string {
		return fmt.Sprintf("local_content/%02x/%02x/abcdefghijklmnopqrst%07d", i%256, i/256%256, i)
	}
	for run := range 2 {
		j, err := OpenJournal(path)
		require.NoError(t, err)
		for i := range n {
			if run == 1 && i%2 == 1 {
				continue
			}
			require.NoError(t, j.Record(JournalEntry{Key: key(i), Size: int64(i), SrcETag: fmt.Sprintf("s%d-%d", i, run), DstETag: "d", SHA256: sumA}))
		}
		require.NoError(t, j.Close())
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	j, err := OpenJournal(path)
	require.NoError(t, err)
	defer j.Close()
	runtime.GC()
	runtime.ReadMemStats(&after)
	assert.Equal(t, n, j.Len())
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes per entry in memory", perEntry)
	assert.Less(t, perEntry, 80.0)
	for _, i := range []int{0, 1, 2, 3, n - 2, n - 1, 12345, 65432} {
		last := 1 - i%2 // even keys were recorded again by the second run
		_, ok := j.Vouch(key(i), int64(i), fmt.Sprintf("s%d-%d", i, last), "d")
		assert.True(t, ok, "key %d, run %d's ETag", i, last)
		if last == 1 {
			_, ok := j.Vouch(key(i), int64(i), fmt.Sprintf("s%d-0", i), "d")
			assert.False(t, ok, "key %d: the first run's entry was replaced", i)
		}
	}
}

// TestJournalOfBareETagsVouchesForQuoted checks that a journal written when
// providers gave bare ETags (local, cache, minio before every ETag was
// quoted) still vouches for the objects whose listings now show the same
// ETags quoted, and the other way round.
func TestJournalOfBareETagsVouchesForQuoted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.journal")
	require.NoError(t, os.WriteFile(path, []byte("v1 1 "+sumA+" 9f86d0-1 abc%2F1 k\n"), 0o640))
	j, err := OpenJournal(path)
	require.NoError(t, err)
	defer j.Close()
	sum, ok := j.Vouch("k", 1, `"9f86d0-1"`, `"abc/1"`)
	assert.True(t, ok, "quoted ETags against a bare entry")
	assert.Equal(t, sumA, sum)
	_, ok = j.Vouch("k", 1, `9f86d0-1`, `abc/1`)
	assert.True(t, ok, "bare ETags against a bare entry")
	_, ok = j.Vouch("k", 1, `"9f86d0-2"`, `"abc/1"`)
	assert.False(t, ok)
	require.NoError(t, j.Record(JournalEntry{Key: "q", Size: 1, SrcETag: `"s"`, DstETag: `"d"`, SHA256: sumA}))
	require.NoError(t, j.Close())
	j2, err := OpenJournal(path)
	require.NoError(t, err)
	defer j2.Close()
	_, ok = j2.Vouch("q", 1, "s", "d")
	assert.True(t, ok, "bare ETags against a quoted entry")
}
