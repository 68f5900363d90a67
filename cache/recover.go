package cache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Recovery. After a crash (the dirty marker is still there) the index read
// from disk is exact up to the journal's last record, and the few things
// the crash may have cut in half are each named by a record or a place:
//
//   - an intent without a commit: its file is in place with that generation
//     (the rename happened) or it is not;
//   - a delete record: the file may still be there;
//   - pinned/: a pin's file location is written (and fsynced) before its
//     record, so pinned/ is the truth for pins. Every file there is
//     adopted, re-pinned or, when a newer version superseded it, removed;
//     every entry indexed as pinned whose file left pinned/ is unpinned (if
//     it is in objects/) or dropped.
//
// When the index itself is missing or damaged, rebuild walks objects/ and
// pinned/ and reads every header: slow, but nothing is lost, and pins come
// from the files' location.

// recoverCrash repairs the loaded index after an unclean shutdown. With
// full set (the journal was damaged, so records may be missing) it also
// walks objects/: a file without an entry is adopted, an entry without a
// file dropped. Only files whose name disagrees with the index have their
// headers read, so the walk costs a directory listing per fan-out
// directory.
func (c *Cache) recoverCrash(deleted map[hkey]struct{}, full bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().UnixNano()
	var fixed int64
	for h, b := range c.pending {
		p, err := parseRec(b)
		if err != nil {
			delete(c.pending, h)
			continue
		}
		pinned := p.flags&flagPinned != 0
		hd, err := c.readObjectHeader(h, pinned)
		if err == nil && hd.gen == p.gen {
			e := p.entry()
			e.access = now
			if err := c.appendLocked(appendSmallRec(nil, recCommit, h, p.gen), func() {
				c.idx.set(e)
				delete(c.pending, h)
			}, true); err != nil {
				return err
			}
			removeFile(c.objPath(h, !pinned))
		} else {
			if err := c.appendLocked(appendSmallRec(nil, recAbort, h, p.gen), func() { delete(c.pending, h) }, true); err != nil {
				return err
			}
		}
		fixed++
	}
	for h := range deleted {
		if _, ok := c.idx.get(h); !ok {
			removeFile(c.objPath(h, false))
			removeFile(c.objPath(h, true))
		}
	}
	adopt := func(hd *header, pinned bool) error {
		fixed++
		h := hashKey(hd.key)
		ne := entry{h: h, size: hd.size, gen: hd.gen, access: now, hdr: uint32(hd.hdrLen)}
		if pinned {
			ne.flags = flagPinned
		}
		return c.appendLocked(appendEntryRec(nil, recEntry, &ne, hd.modTime, &hd.sha, hd.key), func() { c.idx.set(ne) }, true)
	}
	checkFile := func(p string, h hkey) (header, bool) {
		hd, size, err := readFileHeader(p)
		if err != nil || hashKey(hd.key) != h || size != int64(hd.hdrLen)+hd.size {
			c.log.Error("cache: removing a damaged object file", "path", p, "err", err)
			removeFile(p)
			return header{}, false
		}
		c.maxGen = max(c.maxGen, hd.gen)
		return hd, true
	}
	// pinned/ is the truth for pins
	seenPinned := map[hkey]struct{}{}
	err := walkObjects(c.objDir(true), func(p string, h hkey, ok bool) error {
		if !ok {
			c.log.Warn("cache: removing a stray file", "path", p)
			return os.RemoveAll(p)
		}
		hd, ok := checkFile(p, h)
		if !ok {
			return nil
		}
		e, ok := c.idx.get(h)
		switch {
		case ok && e.gen == hd.gen:
			seenPinned[h] = struct{}{}
			if !e.pinned() {
				fixed++
				return c.appendLocked(appendSmallRec(nil, recPin, h, e.gen), func() {
					c.idx.update(h, e.gen, func(e *entry) { e.flags |= flagPinned })
				}, true)
			}
		case ok && e.gen > hd.gen:
			fixed++
			return removeFile(p) // superseded by a newer version
		default:
			seenPinned[h] = struct{}{}
			if ok && !e.pinned() {
				removeFile(c.objPath(h, false)) // the older, unpinned version
			}
			return adopt(&hd, true)
		}
		return nil
	})
	if err != nil {
		return err
	}
	seenObj := map[hkey]struct{}{}
	if full {
		err := walkObjects(c.objDir(false), func(p string, h hkey, ok bool) error {
			if !ok {
				c.log.Warn("cache: removing a stray file", "path", p)
				return os.RemoveAll(p)
			}
			e, ok := c.idx.get(h)
			if ok && !e.pinned() {
				seenObj[h] = struct{}{} // where the index says; trusted without reading
				return nil
			}
			hd, good := checkFile(p, h)
			if !good {
				return nil
			}
			switch {
			case !ok || hd.gen > e.gen:
				if ok {
					removeFile(c.objPath(h, true))
					delete(seenPinned, h)
				}
				seenObj[h] = struct{}{}
				return adopt(&hd, false)
			case hd.gen < e.gen:
				fixed++
				return removeFile(p)
			}
			return nil // the pinned entry's own file, moved by an unpin: below
		})
		if err != nil {
			return err
		}
	}
	var lost []entry
	c.idx.each(func(e *entry) bool {
		_, sp := seenPinned[e.h]
		_, so := seenObj[e.h]
		if (e.pinned() && !sp) || (full && !e.pinned() && !so) {
			lost = append(lost, *e)
		}
		return true
	})
	for _, e := range lost {
		fixed++
		var err error
		hd, herr := c.readObjectHeader(e.h, false)
		switch {
		case e.pinned() && herr == nil && hd.gen == e.gen:
			// the unpin moved the file before its record was written
			err = c.appendLocked(appendSmallRec(nil, recUnpin, e.h, e.gen), func() {
				c.idx.update(e.h, e.gen, func(e *entry) { e.flags &^= flagPinned })
			}, true)
		default:
			removeFile(c.objPath(e.h, false))
			err = c.appendLocked(appendSmallRec(nil, recDelete, e.h, e.gen), func() { c.idx.remove(e.h, e.gen) }, true)
		}
		if err != nil {
			return err
		}
	}
	c.st.recovered.Add(fixed)
	c.initAccounting()
	return nil
}

// walkObjects calls f for every file under root/xx/. ok is false for a file
// that is not an object's (bad name or wrong fan-out directory).
func walkObjects(root string, f func(path string, h hkey, ok bool) error) error {
	fans, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, fan := range fans {
		dir := filepath.Join(root, fan.Name())
		if !fan.IsDir() {
			if err := f(dir, hkey{}, false); err != nil {
				return err
			}
			continue
		}
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, fi := range files {
			p := filepath.Join(dir, fi.Name())
			h, ok := parseName(fi.Name())
			ok = ok && !fi.IsDir() && h.fan() == fan.Name()
			if err := f(p, h, ok); err != nil {
				return err
			}
		}
	}
	return nil
}

func readFileHeader(p string) (header, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return header{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return header{}, 0, err
	}
	hd, err := readTrailer(f, -1, 0)
	return hd, fi.Size(), err
}

// rebuild makes a new index from the object files. Pinned files are
// pinned entries; when a key has both, the newer generation wins.
func (c *Cache) rebuild() error {
	type found struct {
		e       entry
		modTime int64
		sha     [32]byte
		key     string
	}
	all := map[hkey]*found{}
	for _, pinned := range []bool{true, false} {
		err := walkObjects(c.objDir(pinned), func(p string, h hkey, ok bool) error {
			if !ok {
				c.log.Warn("cache: removing a stray file", "path", p)
				return os.RemoveAll(p)
			}
			hd, size, err := readFileHeader(p)
			if err != nil || hashKey(hd.key) != h || size != int64(hd.hdrLen)+hd.size {
				c.log.Warn("cache: removing a damaged object", "path", p, "err", err)
				return removeFile(p)
			}
			var mt int64
			if fi, err := os.Stat(p); err == nil {
				mt = fi.ModTime().UnixNano()
			}
			if old, dup := all[h]; dup {
				if old.e.gen >= hd.gen {
					return removeFile(p)
				}
				removeFile(c.objPath(h, old.e.pinned()))
			}
			e := entry{h: h, size: hd.size, gen: hd.gen, access: mt, hdr: uint32(hd.hdrLen)}
			if pinned {
				e.flags = flagPinned
			}
			all[h] = &found{e: e, modTime: hd.modTime, sha: hd.sha, key: hd.key}
			c.maxGen = max(c.maxGen, hd.gen)
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	seq := c.highestSeq() + 1
	c.nextGenAfter(c.maxGen)
	sw, err := c.newSnapWriter(seq)
	if err != nil {
		return err
	}
	c.idx.reserve(len(all))
	for h, f := range all {
		c.idx.set(f.e)
		if err := sw.add(&f.e, f.modTime, &f.sha, f.key); err != nil {
			sw.abort()
			return err
		}
		_ = h
	}
	// the new journal first, then the snapshot naming it
	if err := c.openJournal(seq, true); err != nil {
		sw.abort()
		return err
	}
	if err := sw.finish(); err != nil {
		return err
	}
	c.snapSize = sw.n
	c.jseq = seq
	c.removeOtherJournals(seq)
	c.st.recovered.Add(int64(len(all)))
	return nil
}

func (c *Cache) highestSeq() uint64 {
	var hi uint64
	ents, _ := os.ReadDir(filepath.Join(c.dir, "index"))
	for _, e := range ents {
		if s, ok := strings.CutPrefix(e.Name(), "journal."); ok {
			if n, err := strconv.ParseUint(s, 10, 64); err == nil {
				hi = max(hi, n)
			}
		}
	}
	return hi
}
