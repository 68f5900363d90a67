package local

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// TestRecordCache checks which records readRecord keeps and when it reads
// the attribute again: it reads a file whose last change is settled ago
// once, and again after any change of its change time; a file changed
// just now, a failed read and a sidecar every time; a file with no
// record once, like one with; and it keeps recordCacheSize records at
// most.
func TestRecordCache(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, &Options{Metadata: MetadataXattr, NoSync: true})
	if errors.Is(err, storage.ErrUnsupported) {
		t.Skipf("no user extended attributes under %s: %v", os.TempDir(), err)
	}
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Put(t.Context(), "k", strings.NewReader("bytes"), &storage.PutOptions{ContentType: "image/png"})
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, "k"))
	require.NoError(t, err)
	defer f.Close()
	var st statInfo
	require.NoError(t, syscall.Fstat(int(f.Fd()), &st.st))

	reads := 0
	xattr := func() ([]byte, error) { reads++; return getXattr(f) }
	at := func(ctime time.Time) *statInfo {
		fi := st
		fi.st.Ctim = syscall.NsecToTimespec(ctime.UnixNano())
		return &fi
	}
	read := func(fi *statInfo, xattr func() ([]byte, error)) *record {
		t.Helper()
		return s.d.readRecord("k", fi, xattr)
	}

	old := time.Now().Add(-time.Hour)
	rec := read(at(old), xattr)
	require.NotNil(t, rec)
	assert.Equal(t, "image/png", rec.contentType)
	assert.Same(t, rec, read(at(old), xattr))
	assert.Equal(t, 1, reads, "a settled file's record is read once")

	read(at(old.Add(time.Nanosecond)), xattr)
	assert.Equal(t, 2, reads, "a change of the change time, by a nanosecond, reads it again")
	read(at(old), xattr)
	assert.Equal(t, 3, reads, "one record per file: the one kept is for the last change time read")

	now := time.Now()
	read(at(now), xattr)
	read(at(now), xattr)
	assert.Equal(t, 5, reads, "a file changed just now is read every time")

	failed := func() ([]byte, error) { reads++; return nil, errors.New("I/O error") }
	other := at(old.Add(time.Minute))
	assert.Nil(t, read(other, failed))
	assert.Nil(t, read(other, failed))
	assert.Equal(t, 7, reads, "a failed read is not kept")

	none := func() ([]byte, error) { reads++; return nil, nil }
	plain := at(old.Add(2 * time.Minute))
	assert.Nil(t, read(plain, none))
	assert.Nil(t, read(plain, none))
	assert.Equal(t, 8, reads, "that a file has no record is kept too")

	for i := range recordCacheSize + 100 {
		fi := at(old)
		fi.st.Ino += uint64(i) + 1
		read(fi, none)
	}
	assert.Equal(t, recordCacheSize, s.d.recs.m.Len(), "the records kept are bounded")

	s.d.meta.Store(metaSidecar)
	reads = 0
	assert.Nil(t, read(at(old), xattr), "a sidecar store reads the sidecar (none here), not the record kept")
	assert.Equal(t, 0, reads, "a sidecar store reads no attribute")
}
