package local

import (
	"io/fs"
	"time"

	"github.com/strata-storage/strata/internal/bounded"
)

// recordCacheSize bounds how many records a recordCache keeps.
const recordCacheSize = 8192

// settled is how long after a file last changed its record is cached: the
// kernel stamps a change time from a clock that may advance in steps of a
// few milliseconds, so two changes less than a step apart can leave the
// same change time; a file whose last change is this far back has no
// change to come with its change time.
const settled = time.Second

// recordCache keeps the records read from files' extended attributes, so
// that the Get of an object read before (every request of a media server
// for a thumbnail or a video's range) does not read and parse its record
// again: one fgetxattr(2) and a parse, a twentieth of the CPU a small
// object's GET costs in all.
//
// A record is kept by file (device and inode), with the file's change
// time (ctime), and found only by the same: the kernel sets a file's
// change time to now whenever its extended attributes or its bytes change,
// and a new file that takes the inode of a deleted one is stamped when it
// is made. A record is kept only for a file whose change time is settled
// ago or more (the same rule as git's index has for "racily clean"
// files): a later change then stamps a later time. Whether the record
// matches the file's size and modification time is checked at each use,
// as for a record just read.
//
// Records of sidecar files are not kept: a sidecar is another file, whose
// rewriting changes nothing of the object's file. Nor are failures to
// read or parse, so each is logged as it happens. The zero recordCache is
// ready for use.
type recordCache struct {
	m bounded.Map[fileKey, cachedRecord]
}

// fileKey names a file: its device and inode.
type fileKey struct{ dev, ino uint64 }

// cachedRecord is a record kept for a file, with the change time of the
// file it was read from; rec is nil for a file that has none.
type cachedRecord struct {
	ctime int64 // nanoseconds since the Unix epoch
	rec   *record
}

// get returns the record kept for the file fi describes, and whether one
// was kept for it as it is now (rec is nil when the file has none).
func (c *recordCache) get(fi fs.FileInfo) (rec *record, ok bool) {
	k, ctime, ok := changeStamp(fi)
	if !ok {
		return nil, false
	}
	e, ok := c.m.Get(k)
	if !ok || e.ctime != ctime {
		return nil, false
	}
	return e.rec, true
}

// put keeps rec, read from the file fi describes, if that file's last
// change is settled ago or more; when full, it forgets another record
// first.
func (c *recordCache) put(fi fs.FileInfo, rec *record) {
	k, ctime, ok := changeStamp(fi)
	if !ok || ctime > time.Now().Add(-settled).UnixNano() {
		return
	}
	c.m.Put(k, cachedRecord{ctime: ctime, rec: rec}, recordCacheSize)
}
