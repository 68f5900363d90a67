package tiered

import (
	"bufio"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// The journal records remote deletes that are not confirmed yet, and the
// pending uploads that are conditional creates, in the cache's state
// directory. It is a text file of lines
//
//	<crc32c of the rest, 8 hex digits> D <id> <key>   a delete of key was asked for
//	<crc32c> C <id> <key>                           delete id reached the remote
//	<crc32c> U <key>                                a later Put of key cancels its delete
//	<crc32c> I <key>                                the pending upload of key is a conditional create
//	<crc32c> J <key>                                key's upload is no longer conditional (sent, or replaced)
//
// (keys never hold a newline or another control character). Every append
// is fsynced before the operation it records returns. An I line is written
// before the object it is about (an I line with no pinned object is
// dropped at the next start), and a D line ends the key's I. At open the
// journal is replayed, torn or damaged lines skipped, and rewritten with
// one D line per delete and one I line per conditional upload still
// pending.
const journalName = "deletes.journal"

// compactAfter is how many lines beyond twice the live deletes the
// journal may grow before it is rewritten. A variable for tests.
var compactAfter = 4096

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type journal struct {
	mu     sync.Mutex
	dir    string
	f      *os.File
	live   map[string]uint64 // pending deletes: key -> id
	cond   map[string]bool   // keys whose pending upload is a conditional create
	nextID uint64
	lines  int
	closed bool
}

// openJournal replays the journal in dir and returns it with the pending
// deletes. A journal with nothing pending is removed (replaying it again,
// should the removal be lost in a crash, gives the same nothing); one with
// settled records among pending ones is rewritten.
func openJournal(dir string) (*journal, map[string]uint64, error) {
	j := &journal{dir: dir, live: map[string]uint64{}, cond: map[string]bool{}, nextID: 1}
	if err := j.replay(); err != nil {
		return nil, nil, err
	}
	switch {
	case len(j.live) == 0 && len(j.cond) == 0 && j.lines > 0:
		if err := os.Remove(j.path()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, err
		}
		j.lines = 0
	case j.lines > len(j.live)+len(j.cond):
		if err := j.compactLocked(); err != nil {
			return nil, nil, err
		}
	}
	out := make(map[string]uint64, len(j.live))
	for k, id := range j.live {
		out[k] = id
	}
	return j, out, nil
}

func (j *journal) path() string { return filepath.Join(j.dir, journalName) }

func (j *journal) replay() error {
	b, err := os.ReadFile(j.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if l != "" {
			j.apply(l)
			j.lines++
		}
	}
	return nil
}

// apply replays one line; a line that does not check out is skipped.
func (j *journal) apply(line string) bool {
	sum, rest, ok := strings.Cut(line, " ")
	if !ok || len(sum) != 8 {
		return false
	}
	want, err := strconv.ParseUint(sum, 16, 32)
	if err != nil || uint32(want) != crc32.Checksum([]byte(rest), crcTable) {
		return false
	}
	op, rest, _ := strings.Cut(rest, " ")
	switch op {
	case "D", "C":
		ids, key, ok := strings.Cut(rest, " ")
		id, err := strconv.ParseUint(ids, 16, 64)
		if !ok || err != nil || key == "" {
			return false
		}
		if id >= j.nextID {
			j.nextID = id + 1
		}
		if op == "D" {
			j.live[key] = id
			delete(j.cond, key)
		} else if j.live[key] == id {
			delete(j.live, key)
		}
	case "U":
		if rest == "" {
			return false
		}
		delete(j.live, rest)
	case "I", "J":
		if rest == "" {
			return false
		}
		if op == "I" {
			j.cond[rest] = true
		} else {
			delete(j.cond, rest)
		}
	default:
		return false
	}
	return true
}

func line(rec string) string {
	return fmt.Sprintf("%08x %s\n", crc32.Checksum([]byte(rec), crcTable), rec)
}

// compactLocked rewrites the journal with the live deletes only and opens
// it for appending. The caller holds j.mu (or owns j alone).
func (j *journal) compactLocked() error {
	tmp := j.path() + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for key, id := range j.live {
		w.WriteString(line("D " + strconv.FormatUint(id, 16) + " " + key))
	}
	for key := range j.cond {
		w.WriteString(line("I " + key))
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, j.path())
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(j.dir); err != nil {
		return err
	}
	nf, err := os.OpenFile(j.path(), os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f = nf
	j.lines = len(j.live) + len(j.cond)
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes rec and fsyncs it; rec has been applied to j.live already.
func (j *journal) appendLocked(rec string) error {
	if j.closed {
		return fs.ErrClosed
	}
	if j.f == nil {
		f, err := os.OpenFile(j.path(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return err
		}
		if err := syncDir(j.dir); err != nil {
			f.Close()
			return err
		}
		j.f = f
	}
	if _, err := j.f.WriteString(line(rec)); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.lines++
	if j.lines > 2*(len(j.live)+len(j.cond))+compactAfter {
		if err := j.compactLocked(); err != nil {
			return fmt.Errorf("compacting: %w", err)
		}
	}
	return nil
}

// deleted records that key is to be deleted from the remote and returns
// the record's id.
func (j *journal) deleted(key string) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	id := j.nextID
	j.nextID++
	old, had := j.live[key]
	wasCond := j.cond[key]
	j.live[key] = id
	delete(j.cond, key)
	if err := j.appendLocked("D " + strconv.FormatUint(id, 16) + " " + key); err != nil {
		if had {
			j.live[key] = old
		} else {
			delete(j.live, key)
		}
		if wasCond {
			j.cond[key] = true
		}
		return 0, err
	}
	return id, nil
}

// done records that delete id of key reached the remote.
func (j *journal) done(key string, id uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.live[key] != id {
		return nil // superseded by a later record
	}
	delete(j.live, key)
	return j.appendLocked("C " + strconv.FormatUint(id, 16) + " " + key)
}

// undeleted records that a Put of key came after its pending delete. It
// writes nothing when no delete of key is pending.
func (j *journal) undeleted(key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	id, ok := j.live[key]
	if !ok {
		return nil
	}
	delete(j.live, key)
	if err := j.appendLocked("U " + key); err != nil {
		j.live[key] = id
		return err
	}
	return nil
}

// conditional records that the upload of key about to be made pending is
// a conditional create. It is written before the object, so that no
// pinned copy of it is ever without its record.
func (j *journal) conditional(key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cond[key] {
		return nil
	}
	j.cond[key] = true
	if err := j.appendLocked("I " + key); err != nil {
		delete(j.cond, key)
		return err
	}
	return nil
}

// unconditional records that key's pending upload, if any, is no longer
// a conditional create: it was sent or settled, or a later Put without
// IfNotExists replaced it. It writes nothing when key has no such record.
func (j *journal) unconditional(key string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.cond[key] {
		return nil
	}
	delete(j.cond, key)
	if err := j.appendLocked("J " + key); err != nil {
		j.cond[key] = true
		return err
	}
	return nil
}

// isConditional reports whether key's pending upload is a conditional
// create.
func (j *journal) isConditional(key string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cond[key]
}

// conditionals returns the keys whose pending upload is recorded as a
// conditional create.
func (j *journal) conditionals() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]string, 0, len(j.cond))
	for k := range j.cond {
		out = append(out, k)
	}
	return out
}

// pending reports whether a delete of key is recorded and not done.
func (j *journal) pending(key string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.live[key]
	return ok
}

// pendingUnder returns the keys under prefix whose delete is pending.
func (j *journal) pendingUnder(prefix string) map[string]struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]struct{}{}
	for k := range j.live {
		if strings.HasPrefix(k, prefix) {
			out[k] = struct{}{}
		}
	}
	return out
}

func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}
