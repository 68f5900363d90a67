package local_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// waitSettled waits until the file at p last changed more than a second
// ago, when a Store keeps the record it reads from the file's extended
// attribute.
func waitSettled(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	ctime := time.Unix(fi.Sys().(*syscall.Stat_t).Ctim.Unix())
	time.Sleep(time.Until(ctime.Add(1100 * time.Millisecond)))
}

// TestRecordFollowsAttributeChanges checks that a Store that has read an
// object's record, and keeps it, serves the record another program then
// writes in the file's extended attribute (setfattr, a restore from
// backup), and none once the attribute is gone: the Store's Get, Stat and
// List each see the file as it is now.
func TestRecordFollowsAttributeChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newStore(t, dir, local.MetadataXattr)
	put(t, s, "a/k", "an image, say", &storage.PutOptions{ContentType: "image/png"})
	p := filepath.Join(dir, "a", "k")
	typeOf := func() (byGet, byStat, byList string) {
		_, info := get(t, s, "a/k")
		st, err := s.Stat(t.Context(), "a/k")
		require.NoError(t, err)
		for info, err := range s.List(t.Context(), &storage.ListOptions{Prefix: "a/"}) {
			require.NoError(t, err)
			byList = info.ContentType
		}
		return info.ContentType, st.ContentType, byList
	}
	setType := func(from, to string) {
		rec := make([]byte, 1024)
		n, err := unix.Getxattr(p, "user.strata", rec)
		require.NoError(t, err)
		require.Contains(t, string(rec[:n]), "content-type="+from)
		require.NoError(t, unix.Setxattr(p, "user.strata", []byte(strings.Replace(string(rec[:n]), from, to, 1)), 0))
	}

	waitSettled(t, p)
	for range 2 { // the first read keeps the record, the second uses it
		g, st, l := typeOf()
		assert.Equal(t, [3]string{"image/png", "image/png", "image/png"}, [3]string{g, st, l})
	}
	setType("image/png", "image/webp")
	g, st, l := typeOf()
	assert.Equal(t, [3]string{"image/webp", "image/webp", "image/webp"}, [3]string{g, st, l},
		"the record written by another program since")

	waitSettled(t, p)
	typeOf()
	setType("image/webp", "image/gif") // a change of the same size, at once
	g, st, l = typeOf()
	assert.Equal(t, [3]string{"image/gif", "image/gif", "image/gif"}, [3]string{g, st, l})

	waitSettled(t, p)
	typeOf()
	require.NoError(t, unix.Removexattr(p, "user.strata"))
	g, st, l = typeOf()
	assert.Equal(t, [3]string{"", "", ""}, [3]string{g, st, l}, "the record is gone")
}
