package migrate

import (
	"bufio"
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/strata-storage/strata/storage/driver"
)

// Journal remembers what earlier runs of a migration sent, so that a run
// after them can skip an object without a Stat at the destination and
// without reading the source, when neither side changed since.
//
// An entry ties a key to the source's ETag and the destination's ETag of
// the same content, and its SHA-256. An object written through a store's
// API gets a new ETag, so when the listings of both sides still show the
// ETags of an entry, the destination holds what the source held when the
// entry was made. When they do not, or no entry exists, the migration falls
// back to comparing checksums, and losing the journal costs only time.
//
// A plain file's ETag is made of its inode, size and modification time: a
// file rewritten in place with its time set back keeps it, and a journal
// then makes the migration skip that object although it differs. That
// costs no data: with Options.Delete, the source is read and compared with
// the destination before it is deleted, whatever the journal says.
type Journal interface {
	// Vouch returns the SHA-256 of the entry for key when there is one for
	// that size and those two ETags: then the destination holds the
	// source's content.
	Vouch(key string, size int64, srcETag, dstETag string) (sha256 string, ok bool)
	// Record stores e, replacing an entry for the same key. It is called
	// from worker goroutines, concurrently.
	Record(e JournalEntry) error
}

// JournalEntry records that the source object Key with ETag SrcETag was
// found at the destination with ETag DstETag, both Size bytes with the
// given SHA-256.
type JournalEntry struct {
	Key              string
	Size             int64
	SrcETag, DstETag string
	SHA256           string
}

// FileJournal is a Journal kept in a file: one line per entry, appended as
// objects are sent. It holds a compact form of every entry in memory
// (about 100 bytes plus the key). A line lost in a crash only makes the
// next run compare that object by checksum.
type FileJournal struct {
	mu sync.Mutex
	// entries are those of the file when it was opened, sorted by key
	// hash, one per key (the last recorded). Entries recorded since are
	// for later runs: a run looks each key up once, before recording it.
	entries []compactEntry
	f       *os.File
	w       *bufio.Writer // guarded by mu
	pending int           // records not yet flushed; guarded by mu
	err     error         // first write error; guarded by mu
}

// compactEntry is a JournalEntry with its key and its ETags hashed:
//
// 56 bytes per object in memory, whatever the length of its key (a journal
// of 10 million objects takes 560 MB). Two different keys with the same
// 64-bit hash would also need equal sizes and the same hash of their two
// ETags for one to be taken for the other.
type compactEntry struct {
	key   uint64 // FNV-1a of the key
	size  int64
	etags uint64 // FNV-1a of the two ETags
	sum   [32]byte
}

func keyHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// ETags are hashed in their quoted form (driver.QuoteETag): journals
// written before every provider quoted its ETags hold some bare, and their
// entries still vouch for the objects the listings now show quoted.
func etagHash(src, dst string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(driver.QuoteETag(src)))
	h.Write([]byte{0})
	h.Write([]byte(driver.QuoteETag(dst)))
	return h.Sum64()
}

// flushEvery is the number of records buffered before they are written.
const flushEvery = 64

// OpenJournal opens the journal file at path, creating it (and its
// directory, mode 0750) when missing, and loads its entries. Lines it
// cannot read (a line cut short by a crash) are ignored.
func OpenJournal(path string) (*FileJournal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &FileJournal{f: f}
	if err := j.load(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j.w = bufio.NewWriterSize(f, 64<<10)
	return j, nil
}

// Line format: "v1 SIZE SHA256 SRC-ETAG DST-ETAG KEY", ETags escaped with
// url.QueryEscape (so they hold no space), the key last (keys hold no line
// break: storage.ValidKey refuses control characters).
func (j *FileJournal) load(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		e, ok := parseLine(sc.Text())
		if !ok {
			continue
		}
		c := compactEntry{key: keyHash(e.Key), size: e.Size, etags: etagHash(e.SrcETag, e.DstETag)}
		if _, err := hex.Decode(c.sum[:], []byte(e.SHA256)); err != nil {
			continue
		}
		j.entries = append(j.entries, c)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// Sorted by key hash, the lines of one key in file order: keep the
	// last of each.
	slices.SortStableFunc(j.entries, func(a, b compactEntry) int { return cmp.Compare(a.key, b.key) })
	out := j.entries[:0]
	for i, c := range j.entries {
		if i+1 < len(j.entries) && j.entries[i+1].key == c.key {
			continue
		}
		out = append(out, c)
	}
	j.entries = slices.Clone(out) // a backing array of the exact size
	return nil
}

func parseLine(line string) (JournalEntry, bool) {
	f := strings.SplitN(line, " ", 6)
	if len(f) != 6 || f[0] != "v1" {
		return JournalEntry{}, false
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || size < 0 || len(f[2]) != 64 {
		return JournalEntry{}, false
	}
	src, err1 := url.QueryUnescape(f[3])
	dst, err2 := url.QueryUnescape(f[4])
	if err1 != nil || err2 != nil || f[5] == "" {
		return JournalEntry{}, false
	}
	return JournalEntry{Key: f[5], Size: size, SHA256: f[2], SrcETag: src, DstETag: dst}, true
}

// Len returns the number of entries loaded when the journal was opened.
func (j *FileJournal) Len() int { return len(j.entries) }

// Vouch implements Journal.
func (j *FileJournal) Vouch(key string, size int64, srcETag, dstETag string) (string, bool) {
	if srcETag == "" || dstETag == "" {
		return "", false
	}
	h := keyHash(key)
	i, ok := slices.BinarySearchFunc(j.entries, h, func(c compactEntry, h uint64) int { return cmp.Compare(c.key, h) })
	if !ok {
		return "", false
	}
	c := j.entries[i]
	if c.size != size || c.etags != etagHash(srcETag, dstETag) {
		return "", false
	}
	return hex.EncodeToString(c.sum[:]), true
}

// Record implements Journal.
func (j *FileJournal) Record(e JournalEntry) error {
	if e.SrcETag == "" || e.DstETag == "" || len(e.SHA256) != 64 || strings.ContainsAny(e.Key, "\n\r") {
		return nil // nothing a later run could match on
	}
	line := fmt.Sprintf("v1 %d %s %s %s %s\n", e.Size, e.SHA256, url.QueryEscape(e.SrcETag), url.QueryEscape(e.DstETag), e.Key)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if _, err := j.w.WriteString(line); err != nil {
		j.err = err
		return err
	}
	j.pending++
	if j.pending >= flushEvery {
		j.pending = 0
		if err := j.w.Flush(); err != nil {
			j.err = err
			return err
		}
	}
	return nil
}

// Close writes what is buffered and closes the file.
func (j *FileJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.err
	if err == nil {
		err = j.w.Flush()
	}
	return errors.Join(err, j.f.Close())
}
