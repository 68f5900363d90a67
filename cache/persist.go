package cache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Persistence. The index is a snapshot (index/snapshot) and a journal
// (index/journal.<seq>, the seq named in the snapshot's header). Every change
// of the index appends one record to the journal before it is made visible
// in memory; a Put appends an intent before it renames its file into place
// and a commit after, so that after a crash the few intents without a
// commit say exactly which files to check. When the journal has grown past
// a threshold, a compaction writes a new snapshot of the live entries (read
// back from the old snapshot and journal, since keys are not in memory) and
// starts a new journal. Close compacts, so a clean reopen reads the
// snapshot alone.
//
// Journal appends happen with c.mu held, so the byte accounting always
// counts the index files exactly; the lock order is stripe, c.mu, jmu,
// shard.

var errRebuild = errors.New("index needs a rebuild")

// testCompactAt, when set by a test, replaces the compaction threshold.
var testCompactAt int64

func (c *Cache) indexPath(name string) string { return filepath.Join(c.dir, "index", name) }

func (c *Cache) journalPath(seq uint64) string {
	return c.indexPath("journal." + strconv.FormatUint(seq, 10))
}

// appendLocked appends the record b to the journal and then runs apply,
// both under jmu. The caller holds c.mu. When the write fails, apply runs
// anyway if force is set: for every record but an intent, the file system
// has already changed and memory must follow it (a crash before the next
// compaction is then repaired by recovery).
func (c *Cache) appendLocked(b []byte, apply func(), force bool) error {
	c.jmu.Lock()
	defer c.jmu.Unlock()
	if _, err := c.jf.Write(b); err != nil {
		// cut off whatever part went out, so later records stay readable
		_ = c.jf.Truncate(c.jsize)
		if force && apply != nil {
			apply()
			c.jlost = true
		}
		c.log.Error("cache: journal write failed", "err", err)
		return err
	}
	c.jsize += int64(len(b))
	c.indexBytes += int64(len(b))
	if apply != nil {
		apply()
	}
	if c.jsize > c.compactAt() {
		c.wantCompact.Store(true)
	}
	return nil
}

// compactAt is the journal size that triggers a compaction: half the
// snapshot (at least 64 KiB), but at most a sixteenth of MaxBytes.
func (c *Cache) compactAt() int64 {
	if testCompactAt > 0 {
		return testCompactAt
	}
	t := max(c.snapSize/2, 64<<10)
	return min(t, max(c.opts.MaxBytes/16, 4<<10))
}

// putRecordCost is the journal space a Put reserves: its intent and its
// commit (or abort).
func (c *Cache) putRecordCost(key string) int64 { return entryRecLen(key) + recSmall }

// logIntent appends the intent of a Put, moving its bytes from the
// reservation to the index.
func (c *Cache) logIntent(e *entry, hd *header, reserved *int64) error {
	b := appendEntryRec(nil, recIntent, e, hd.modTime, &hd.sha, hd.key)
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.appendLocked(b, func() { c.pending[e.h] = b }, false)
	if err == nil {
		c.inflight -= int64(len(b))
		*reserved -= int64(len(b))
	}
	return err
}

func (c *Cache) logAbort(e *entry, reserved *int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.appendLocked(appendSmallRec(nil, recAbort, e.h, e.gen), func() { delete(c.pending, e.h) }, true)
	if err == nil {
		c.inflight -= recSmall
		*reserved -= recSmall
	}
	c.checkLocked()
}

// nextGenAfter bumps the generation counter past g.
func (c *Cache) nextGenAfter(g uint64) {
	for {
		cur := c.nextGen.Load()
		if cur >= g || c.nextGen.CompareAndSwap(cur, g) {
			return
		}
	}
}

// ---- loading ----

// load reads the index from disk, or rebuilds it from the object files when
// it is missing or damaged, and then repairs what a crash left behind.
func (c *Cache) load() error {
	c.pending = map[hkey][]byte{}
	_, err := os.Stat(c.indexPath("dirty"))
	unclean := err == nil
	deleted := map[hkey]struct{}{}
	torn, err := c.loadIndex(deleted)
	if errors.Is(err, errRebuild) {
		c.log.Warn("cache: index missing or damaged, rebuilding from the object files", "dir", c.dir, "err", err)
		clear(deleted)
		c.pending = map[hkey][]byte{}
		c.idx = index{}
		if err := c.rebuild(); err != nil {
			return err
		}
		unclean = false
	} else if err != nil {
		return err
	}
	if err := c.sweepTmp(); err != nil {
		return err
	}
	c.initAccounting()
	if unclean || torn || len(c.pending) > 0 {
		c.log.Warn("cache: recovering after an unclean shutdown", "dir", c.dir)
		if err := c.recoverCrash(deleted, torn); err != nil {
			return err
		}
	}
	c.nextGenAfter(c.maxGen)
	if unclean {
		// generations handed out but lost with the journal's tail must never be reused
		c.nextGen.Add(1 << 20)
	}
	df, err := createFile(c.indexPath("dirty"), os.O_WRONLY, c.opts.FileMode)
	if err != nil {
		return err
	}
	df.Close()
	if err := c.syncDir(filepath.Join(c.dir, "index")); err != nil {
		return err
	}
	c.candStale = true
	return nil
}

// initAccounting sums the bytes of the entries and index files.
func (c *Cache) initAccounting() {
	c.objBytes, c.pinnedBytes = 0, 0
	c.idx.each(func(e *entry) bool {
		c.objBytes += e.charge()
		if e.pinned() {
			c.pinnedBytes += e.charge()
		}
		return true
	})
	c.indexBytes = c.snapSize + c.jsize
	if fi, err := c.lockF.Stat(); err == nil {
		c.indexBytes += fi.Size()
	}
}

// loadIndex reads the snapshot and replays the journal. It reports whether
// the journal ended in a torn record, and errRebuild when the index cannot
// be trusted.
func (c *Cache) loadIndex(deleted map[hkey]struct{}) (torn bool, err error) {
	sf, err := os.Open(c.indexPath("snapshot"))
	if errors.Is(err, fs.ErrNotExist) {
		if c.hasObjects() {
			return false, fmt.Errorf("%w: no snapshot", errRebuild)
		}
		return false, c.startFresh()
	}
	if err != nil {
		return false, err
	}
	defer sf.Close()
	seq, err := c.readSnapshot(sf)
	if err != nil {
		return false, fmt.Errorf("%w: snapshot: %v", errRebuild, err)
	}
	c.jseq = seq
	c.removeOtherJournals(seq)
	torn, err = c.replayJournal(seq, deleted)
	if err != nil {
		return false, err
	}
	return torn, nil
}

func (c *Cache) hasObjects() bool {
	for _, d := range []string{"objects", "pinned"} {
		ents, _ := os.ReadDir(filepath.Join(c.dir, d))
		for _, e := range ents {
			sub, _ := os.ReadDir(filepath.Join(c.dir, d, e.Name()))
			if len(sub) > 0 {
				return true
			}
		}
	}
	return false
}

// startFresh writes an empty snapshot and journal for a new cache.
func (c *Cache) startFresh() error {
	c.removeOtherJournals(1 << 63)
	sw, err := c.newSnapWriter(1)
	if err != nil {
		return err
	}
	if err := sw.finish(); err != nil {
		return err
	}
	c.snapSize = sw.n
	c.jseq = 1
	return c.openJournal(1, true)
}

func (c *Cache) removeOtherJournals(keep uint64) {
	ents, _ := os.ReadDir(filepath.Join(c.dir, "index"))
	for _, e := range ents {
		n := e.Name()
		if n == "journal."+strconv.FormatUint(keep, 10) {
			continue
		}
		if strings.HasPrefix(n, "journal.") || strings.HasSuffix(n, ".tmp") {
			os.Remove(c.indexPath(n))
		}
	}
}

// readSnapshot loads the entries of a snapshot into the index.
func (c *Cache) readSnapshot(f *os.File) (seq uint64, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	if size < snapHeadLen+snapTailLen {
		return 0, errBadRecord
	}
	head := make([]byte, snapHeadLen)
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, err
	}
	seq, nextGen, count, err := parseSnapHead(head)
	if err != nil {
		return 0, err
	}
	if count > uint64(size)/recSmall {
		return 0, errBadRecord
	}
	c.idx.reserve(int(count))
	rr := newRecReader(io.LimitReader(f, size-snapHeadLen-snapTailLen), 1<<20)
	var n uint64
	for {
		r, _, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if r.typ != recEntry {
			return 0, errBadRecord
		}
		if _, dup := c.idx.set(r.entry()); dup {
			return 0, errBadRecord
		}
		c.maxGen = max(c.maxGen, r.gen)
		n++
	}
	tail := make([]byte, snapTailLen)
	if _, err := io.ReadFull(f, tail); err != nil {
		return 0, err
	}
	tc, err := parseSnapTail(tail)
	if err != nil || tc != count || n != count {
		return 0, errBadRecord
	}
	c.maxGen = max(c.maxGen, nextGen)
	c.snapSize = size
	return seq, nil
}

// replayJournal applies the journal of sequence seq and opens it for
// appending. It reports whether it had to cut off a damaged tail.
func (c *Cache) replayJournal(seq uint64, deleted map[hkey]struct{}) (torn bool, err error) {
	p := c.journalPath(seq)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, c.openJournal(seq, true)
	}
	if err != nil {
		return false, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return false, err
	}
	size := fi.Size()
	head := make([]byte, jrnHeadLen)
	if _, err := io.ReadFull(f, head); err != nil || size < jrnHeadLen {
		f.Close()
		if size < jrnHeadLen {
			// the crash came as the journal was created
			return true, c.openJournal(seq, true)
		}
		return false, fmt.Errorf("%w: journal header: %v", errRebuild, err)
	}
	if s, err := parseJrnHead(head); err != nil || s != seq {
		f.Close()
		return false, fmt.Errorf("%w: journal header does not match the snapshot", errRebuild)
	}
	rr := newRecReader(f, 256<<10)
	good := int64(jrnHeadLen)
	for {
		r, raw, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			torn = true
			break
		}
		good += int64(len(raw))
		c.replay(&r, raw, deleted)
	}
	f.Close()
	if torn {
		// A write cut short by a crash leaves a damaged last record; damage
		// further back loses the records after it too. Either way the
		// records from there on are cut off, and the caller reconciles the
		// index with the files, which tell what those records said.
		c.log.Warn("cache: journal damaged; cutting it off and checking every object file", "offset", good, "size", size)
		if err := os.Truncate(p, good); err != nil {
			return false, err
		}
	}
	c.jsize = good
	return torn, c.openJournal(seq, false)
}

// replay applies one journal record to the index being loaded.
func (c *Cache) replay(r *rec, raw []byte, deleted map[hkey]struct{}) {
	c.maxGen = max(c.maxGen, r.gen)
	switch r.typ {
	case recEntry:
		c.idx.set(r.entry())
		delete(c.pending, r.h)
	case recIntent:
		c.pending[r.h] = append([]byte(nil), raw...)
	case recCommit:
		if b, ok := c.pending[r.h]; ok {
			if p, err := parseRec(b); err == nil && p.gen == r.gen {
				c.idx.set(p.entry())
				delete(c.pending, r.h)
			}
		}
	case recAbort:
		if b, ok := c.pending[r.h]; ok {
			if p, err := parseRec(b); err == nil && p.gen == r.gen {
				delete(c.pending, r.h)
			}
		}
	case recDelete:
		c.idx.remove(r.h, r.gen)
		deleted[r.h] = struct{}{}
	case recPin:
		c.idx.update(r.h, r.gen, func(e *entry) { e.flags |= flagPinned })
	case recUnpin:
		c.idx.update(r.h, r.gen, func(e *entry) { e.flags &^= flagPinned })
	}
}

// openJournal opens journal seq for appending, creating it (with its
// header) when fresh is set.
func (c *Cache) openJournal(seq uint64, fresh bool) error {
	p := c.journalPath(seq)
	if fresh {
		f, err := createFile(p, os.O_TRUNC|os.O_WRONLY|os.O_APPEND, c.opts.FileMode)
		if err != nil {
			return err
		}
		if _, err := f.Write(jrnHead(seq)); err != nil {
			f.Close()
			return err
		}
		c.jf = f
		c.jsize = jrnHeadLen
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, c.opts.FileMode)
	if err != nil {
		return err
	}
	c.jf = f
	return nil
}

// ---- snapshots ----

type snapWriter struct {
	c     *Cache
	f     *os.File
	bw    *bufio.Writer
	n     int64
	count uint64
	seq   uint64
	buf   []byte
}

func (c *Cache) newSnapWriter(seq uint64) (*snapWriter, error) {
	f, err := createFile(c.indexPath("snapshot.tmp"), os.O_TRUNC|os.O_WRONLY, c.opts.FileMode)
	if err != nil {
		return nil, err
	}
	sw := &snapWriter{c: c, f: f, bw: bufio.NewWriterSize(f, 256<<10), seq: seq}
	sw.bw.Write(snapHead(seq, 0, 0))
	sw.n = snapHeadLen
	return sw, nil
}

func (sw *snapWriter) add(e *entry, modTime int64, sha *[32]byte, key string) error {
	sw.buf = appendEntryRec(sw.buf[:0], recEntry, e, modTime, sha, key)
	sw.count++
	sw.n += int64(len(sw.buf))
	_, err := sw.bw.Write(sw.buf)
	return err
}

// finish completes the snapshot and renames it into place.
func (sw *snapWriter) finish() error {
	err := sw.finishTmp()
	if err == nil {
		err = sw.install()
	}
	if err != nil {
		sw.abort()
	}
	return err
}

func (sw *snapWriter) finishTmp() error {
	sw.bw.Write(snapTail(sw.count))
	sw.n += snapTailLen
	if err := sw.bw.Flush(); err != nil {
		return err
	}
	if _, err := sw.f.WriteAt(snapHead(sw.seq, sw.c.nextGen.Load(), sw.count), 0); err != nil {
		return err
	}
	if err := sw.c.fsync(sw.f); err != nil {
		return err
	}
	return sw.f.Close()
}

func (sw *snapWriter) install() error {
	if err := os.Rename(sw.c.indexPath("snapshot.tmp"), sw.c.indexPath("snapshot")); err != nil {
		return err
	}
	return sw.c.syncDir(filepath.Join(sw.c.dir, "index"))
}

func (sw *snapWriter) abort() {
	sw.f.Close()
	os.Remove(sw.c.indexPath("snapshot.tmp"))
}

// maybeCompact compacts the index if the journal has grown past its
// threshold. Callers hold no lock.
func (c *Cache) maybeCompact() {
	if !c.wantCompact.Load() {
		return
	}
	if err := c.compact(); err != nil && !errors.Is(err, errNoRoom) {
		c.log.Warn("cache: index compaction failed", "err", err)
	}
}

var errNoRoom = errors.New("no room to compact the index")

// compact writes a new snapshot of the live entries and starts a new
// journal. The new snapshot's space is reserved like a write's; when even
// evicting cannot make room, compaction waits for a later call.
func (c *Cache) compact() error {
	c.compactMu.Lock()
	defer c.compactMu.Unlock()
	c.wantCompact.Store(false)
	c.touched.Store(false)
	c.mu.Lock()
	r := c.snapSize + c.jsize + c.jsize/8 + 4<<10
	c.evictToFitLocked(r)
	if c.totalLocked()+r > c.opts.MaxBytes-c.headroom() {
		c.mu.Unlock()
		return errNoRoom
	}
	c.inflight += r
	c.checkLocked()
	c.mu.Unlock()

	c.jmu.Lock()
	oldSize := c.snapSize + c.jsize
	err := c.compactJ(r)
	newSize := c.snapSize + c.jsize
	c.jmu.Unlock()

	c.mu.Lock()
	c.inflight -= r
	c.indexBytes += newSize - oldSize
	c.wakeLocked()
	c.checkLocked()
	c.mu.Unlock()
	if err == nil {
		c.st.compactions.Add(1)
	}
	return err
}

// compactJ does the work of compact. The caller holds jmu; limit is the
// space reserved for the new snapshot.
func (c *Cache) compactJ(limit int64) (err error) {
	seq := c.jseq + 1
	sw, err := c.newSnapWriter(seq)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			sw.abort()
			c.idx.eachLocked(func(e *entry) { e.flags &^= flagEmitted })
			os.Remove(c.journalPath(seq))
		}
	}()
	emit := func(r *rec) error {
		var cur entry
		emitted := false
		c.idx.update(r.h, r.gen, func(e *entry) {
			if e.flags&flagEmitted == 0 {
				e.flags |= flagEmitted
				emitted = true
				cur = load(e)
			}
		})
		if !emitted {
			return nil
		}
		if sw.n+entryRecLen(string(r.key))+snapTailLen > limit {
			return errNoRoom
		}
		return sw.add(&cur, r.modTime, &r.sha, string(r.key))
	}
	if err := c.scanIndexFiles(c.jsize, func(r *rec) error {
		if r.typ == recEntry || r.typ == recIntent {
			return emit(r)
		}
		return nil
	}); err != nil {
		return err
	}
	// Every entry came from a record; an entry without one (a bug, or an
	// index file damaged since it was read) gets its key from its file.
	var missed []entry
	c.idx.eachLocked(func(e *entry) {
		if e.flags&flagEmitted == 0 {
			missed = append(missed, load(e))
		}
		e.flags &^= flagEmitted
	})
	for i := range missed {
		e := &missed[i]
		hd, err := c.readObjectHeader(e.h, e.pinned())
		if err != nil || hd.gen != e.gen {
			c.log.Warn("cache: compaction found an entry without a readable file; keeping it unnamed", "err", err)
			continue
		}
		c.log.Warn("cache: compaction found an entry missing from the index files", "key", hd.key)
		if err := sw.add(e, hd.modTime, &hd.sha, hd.key); err != nil {
			return err
		}
	}
	if err := sw.finishTmp(); err != nil {
		return err
	}
	// The new journal, holding the intents of writes in flight, goes in
	// before the snapshot that names it.
	nf, err := createFile(c.journalPath(seq), os.O_TRUNC|os.O_WRONLY|os.O_APPEND, c.opts.FileMode)
	if err != nil {
		return err
	}
	buf := jrnHead(seq)
	for _, b := range c.pending {
		buf = append(buf, b...)
	}
	if _, err := nf.Write(buf); err != nil {
		nf.Close()
		return err
	}
	if err := sw.install(); err != nil {
		nf.Close()
		return err
	}
	old := c.jf
	oldSeq := c.jseq
	c.jf, c.jseq, c.jsize, c.snapSize = nf, seq, int64(len(buf)), sw.n
	c.jlost = false
	old.Close()
	os.Remove(c.journalPath(oldSeq))
	return nil
}

// scanIndexFiles calls f with every record of the snapshot and of the
// journal's first jsize bytes. The caller holds jmu or has the files from
// a consistent moment.
func (c *Cache) scanIndexFiles(jsize int64, f func(r *rec) error) error {
	sf, err := os.Open(c.indexPath("snapshot"))
	if err != nil {
		return err
	}
	defer sf.Close()
	jf, err := os.Open(c.journalPath(c.jseq))
	if err != nil {
		return err
	}
	defer jf.Close()
	return scanFiles(sf, jf, jsize, f)
}

func scanFiles(sf, jf *os.File, jsize int64, f func(r *rec) error) error {
	fi, err := sf.Stat()
	if err != nil {
		return err
	}
	rr := newRecReader(io.NewSectionReader(sf, snapHeadLen, fi.Size()-snapHeadLen-snapTailLen), 64<<10)
	for {
		r, _, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the index snapshot: %w", err)
		}
		if err := f(&r); err != nil {
			return err
		}
	}
	rr = newRecReader(io.NewSectionReader(jf, jrnHeadLen, jsize-jrnHeadLen), 64<<10)
	for {
		r, _, err := rr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the index journal: %w", err)
		}
		if err := f(&r); err != nil {
			return err
		}
	}
}

// scanKeys returns what the index files say of the live entries whose
// keys match (all when match is nil).
func (c *Cache) scanKeys(match func(string) bool) ([]keyRec, error) {
	c.jmu.Lock()
	sf, err := os.Open(c.indexPath("snapshot"))
	if err != nil {
		c.jmu.Unlock()
		return nil, err
	}
	defer sf.Close()
	jf, err := os.Open(c.journalPath(c.jseq))
	if err != nil {
		c.jmu.Unlock()
		return nil, err
	}
	defer jf.Close()
	jsize := c.jsize
	c.jmu.Unlock()
	var out []keyRec
	seen := map[hkey]struct{}{}
	err = scanFiles(sf, jf, jsize, func(r *rec) error {
		if r.typ != recEntry && r.typ != recIntent {
			return nil
		}
		if match != nil && !match(string(r.key)) {
			return nil
		}
		if e, ok := c.idx.get(r.h); !ok || e.gen != r.gen {
			return nil
		}
		if _, dup := seen[r.h]; dup {
			return nil
		}
		seen[r.h] = struct{}{}
		out = append(out, keyRec{h: r.h, gen: r.gen, size: r.size, modTime: r.modTime, sha: r.sha, key: string(r.key)})
		return nil
	})
	return out, err
}

func (c *Cache) readObjectHeader(h hkey, pinned bool) (header, error) {
	f, err := os.Open(c.objPath(h, pinned))
	if err != nil {
		return header{}, err
	}
	defer f.Close()
	return readTrailer(f, -1, 0)
}

// shutdown writes the final snapshot, so that the next Open reads it
// alone, and marks the shutdown clean.
func (c *Cache) shutdown() error {
	var err error
	if c.jsize > jrnHeadLen || c.touched.Load() {
		err = c.compact()
	}
	if errors.Is(err, errNoRoom) {
		// A cache full of pinned data has no room for a new snapshot, but
		// the snapshot and journal already name every entry: made durable,
		// they are a clean index. Only access times since the last
		// snapshot are lost, and only their order matters.
		err = c.syncJournal()
	}
	if err == nil {
		err = os.Remove(c.indexPath("dirty"))
		if err == nil {
			err = c.syncDir(filepath.Join(c.dir, "index"))
		}
	} else {
		c.log.Warn("cache: could not write the index at Close; the next Open will recover", "err", err)
	}
	c.jmu.Lock()
	if cerr := c.jf.Close(); err == nil {
		err = cerr
	}
	c.jmu.Unlock()
	return err
}

// syncJournal makes the journal durable, or fails when a record that
// memory applied never reached it (the next Open must then recover).
func (c *Cache) syncJournal() error {
	c.jmu.Lock()
	defer c.jmu.Unlock()
	if c.jlost {
		return errors.New("a journal write failed since the last snapshot")
	}
	return c.jf.Sync()
}

func (c *Cache) sweepTmp() error {
	dir := filepath.Join(c.dir, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, d := range ents {
		if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
			return err
		}
	}
	return nil
}

// createFile opens (creating it if needed) a file with mode, whatever the
// umask.
func createFile(p string, flag int, mode fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(p, flag|os.O_CREATE, mode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
