package tiered

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The journal survives a torn last line and damaged lines, keeps ids
// unique across reopenings, and is compacted or removed at open.
func TestJournalReplay(t *testing.T) {
	dir := t.TempDir()
	j, live, err := openJournal(dir)
	require.NoError(t, err)
	require.Empty(t, live)
	_, err = os.Stat(filepath.Join(dir, journalName))
	require.ErrorIs(t, err, os.ErrNotExist, "no journal file until a delete is recorded")

	a1, err := j.deleted("a")
	require.NoError(t, err)
	b1, err := j.deleted("b")
	require.NoError(t, err)
	c1, err := j.deleted("c")
	require.NoError(t, err)
	require.NoError(t, j.done("b", b1))
	require.NoError(t, j.undeleted("c"))
	a2, err := j.deleted("a") // deleted again: a2 supersedes a1
	require.NoError(t, err)
	require.NoError(t, j.done("a", a1), "a stale confirmation is a no-op")
	require.True(t, j.pending("a"))
	require.NoError(t, j.close())
	require.Less(t, a1, b1)
	require.Less(t, c1, a2)

	// A torn append at the end, and a damaged line in the middle.
	p := filepath.Join(dir, journalName)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	b = append(b, line("D 99 torn")[:10]...)
	b = append([]byte("deadbeef D 5 damaged\n"), b...)
	require.NoError(t, os.WriteFile(p, b, 0o640))

	j, live, err = openJournal(dir)
	require.NoError(t, err)
	require.Equal(t, map[string]uint64{"a": a2}, live)
	id, err := j.deleted("d")
	require.NoError(t, err)
	require.Greater(t, id, a2, "ids stay unique after a reopening")
	require.NoError(t, j.done("a", a2))
	require.NoError(t, j.done("d", id))
	require.NoError(t, j.close())

	j, live, err = openJournal(dir)
	require.NoError(t, err)
	require.Empty(t, live)
	require.NoError(t, j.close())
	_, err = os.Stat(p)
	require.ErrorIs(t, err, os.ErrNotExist, "a journal with nothing pending is removed at open")
}

// The journal is rewritten once settled records outnumber live ones.
func TestJournalCompacts(t *testing.T) {
	defer func(n int) { compactAfter = n }(compactAfter)
	compactAfter = 64
	dir := t.TempDir()
	j, _, err := openJournal(dir)
	require.NoError(t, err)
	_, err = j.deleted("keep")
	require.NoError(t, err)
	for range compactAfter + 10 {
		id, err := j.deleted("k")
		require.NoError(t, err)
		require.NoError(t, j.done("k", id))
	}
	st, err := os.Stat(filepath.Join(dir, journalName))
	require.NoError(t, err)
	require.Less(t, st.Size(), int64((compactAfter+2)*len(line("C 1 k"))), "the journal was compacted")
	require.NoError(t, j.close())
	_, live, err := openJournal(dir)
	require.NoError(t, err)
	require.Len(t, live, 1)
	require.Contains(t, live, "keep")
}

// Conditional records survive a reopening and compaction, a D line ends
// one, and a J line clears it.
func TestJournalConditional(t *testing.T) {
	dir := t.TempDir()
	j, _, err := openJournal(dir)
	require.NoError(t, err)
	require.NoError(t, j.conditional("a"))
	require.NoError(t, j.conditional("b"))
	require.NoError(t, j.conditional("c"))
	require.NoError(t, j.unconditional("b"))
	_, err = j.deleted("c")
	require.NoError(t, err)
	require.NoError(t, j.close())

	j, live, err := openJournal(dir)
	require.NoError(t, err)
	require.Len(t, live, 1)
	require.True(t, j.isConditional("a"))
	require.False(t, j.isConditional("b"))
	require.False(t, j.isConditional("c"), "a delete ends the conditional record")
	require.Equal(t, []string{"a"}, j.conditionals())
	b, err := os.ReadFile(filepath.Join(dir, journalName))
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(b)), "\n"), 2, "compacted to one D and one I line")
	require.NoError(t, j.unconditional("a"))
	require.NoError(t, j.close())
	j, _, err = openJournal(dir)
	require.NoError(t, err)
	require.Empty(t, j.conditionals())
	require.NoError(t, j.close())
}
