package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

func (c *Cache) stripe(h hkey) *sync.Mutex { return &c.stripes[h.b&255] }

// Kind implements driver.Driver: a missing file is storage.ErrNotFound and
// a refused one storage.ErrPermission. The cache's other errors already
// match a sentinel, or say nothing more.
func (disk) Kind(_ string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return storage.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return storage.ErrPermission
	}
	return nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Put implements driver.Driver: the Cache's Put stores the object,
// unpinned: it may be evicted once it is the least recently used.
func (d disk) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	return d.put(ctx, key, body, opts, false)
}

// PutPinned stores the object and pins it in one step: when PutPinned
// returns nil the object and its pin are on disk (fsynced) and survive a
// crash, and the object is never evicted until Unpin. Delete still
// removes it. It waits for space like Put, and makes the same checks.
func (c *Cache) PutPinned(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	const op = "put"
	if err := c.Check(ctx, op, key); err != nil {
		return storage.Info{}, err
	}
	if err := storage.CheckPut(key, opts); err != nil {
		return storage.Info{}, c.Wrap(op, key, err)
	}
	var o storage.PutOptions
	if opts != nil {
		o = *opts
	}
	// A layer above that is a driver.Provider too (a tiered store) hands
	// over the Body it hashes already: it is hashed once.
	body, ok := r.(*driver.Body)
	if !ok || body.N() != 0 || body.Done() || body.Size() != o.Size {
		body = driver.NewBody(r, o.Size)
	}
	info, err := c.put(ctx, key, body, &o, true)
	if err != nil {
		return storage.Info{}, c.Wrap(op, key, err)
	}
	return info, nil
}

// step is how much a write of unknown length reserves at a time.
func (c *Cache) step() int64 {
	return min(max(c.opts.MaxBytes/64, 4<<10), 1<<20)
}

// put stores what body yields under key. body hashes the bytes (the
// SHA-256 is the object's identity) and checks their number against
// o.Size; put adds the CRC-32C (what a whole read checks) of each buffer
// while it is in the CPU's cache. Its errors are the driver's: the layer
// (or the caller, through Wrap) makes them the cache's.
func (c *Cache) put(ctx context.Context, key string, body *driver.Body, o *storage.PutOptions, pin bool) (storage.Info, error) {
	if err := c.begin(); err != nil {
		return storage.Info{}, err
	}
	defer c.end()
	h := hashKey(key)
	if o.IfNotExists {
		if _, ok := c.idx.get(h); ok {
			return storage.Info{}, storage.ErrExist
		}
	}
	hd := header{key: key, ct: o.ContentType, meta: withAttrs(o), modTime: c.now().UnixNano()}
	if len(hd.meta) == 0 {
		hd.meta = nil
	}
	fixed := int64(trailerLen(hd.key, hd.ct, hd.meta)) + c.putRecordCost(key)
	reserved := fixed + o.Size
	if err := c.reserve(ctx, reserved, 0); err != nil {
		return storage.Info{}, err
	}
	defer func() { c.release(reserved) }()

	tmp, f, err := c.createTemp(h)
	if err != nil {
		return storage.Info{}, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var crc uint32
	var n int64
	step := c.step()
	for {
		m, rerr := body.Read(buf)
		if m > 0 {
			n += int64(m)
			if need := fixed + n; need > reserved {
				more := max(need-reserved, step)
				if err := c.reserve(ctx, more, reserved); err != nil {
					return storage.Info{}, err
				}
				reserved += more
			}
			crc = crc32.Update(crc, castagnoli, buf[:m])
			if _, err := f.Write(buf[:m]); err != nil {
				return storage.Info{}, err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return storage.Info{}, fmt.Errorf("reading the object: %w", rerr)
		}
		if err := ctx.Err(); err != nil {
			return storage.Info{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	if _, err := hex.Decode(hd.sha[:], []byte(body.SHA256())); err != nil {
		return storage.Info{}, fmt.Errorf("the body's SHA-256: %w", err)
	}
	hd.size = n
	hd.crc, hd.hasCRC = crc, true
	info, err := c.commit(&hd, tmp, f, pin, o.IfNotExists, &reserved)
	if err != nil {
		return storage.Info{}, err
	}
	ok = true
	c.st.puts.Add(1)
	c.st.bytesWritten.Add(n)
	return info, nil
}

func (c *Cache) createTemp(h hkey) (string, *os.File, error) {
	var rb [6]byte
	rand.Read(rb[:])
	p := filepath.Join(c.dir, "tmp", h.name()+"."+hex.EncodeToString(rb[:]))
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, c.opts.FileMode)
	if err == nil {
		// the mode asked for, whatever the umask
		if err = f.Chmod(c.opts.FileMode); err != nil {
			f.Close()
			os.Remove(p)
		}
	}
	return p, f, err
}

// commit moves a fully written temporary file into place under the key's
// stripe lock. On success the file is closed and the reservation settled.
func (c *Cache) commit(hd *header, tmp string, f *os.File, pin, ifNotExists bool, reserved *int64) (storage.Info, error) {
	h := hashKey(hd.key)
	st := c.stripe(h)
	st.Lock()
	defer st.Unlock()
	old, existed := c.idx.get(h)
	if ifNotExists && existed {
		return storage.Info{}, storage.ErrExist
	}
	if !existed && c.idx.full(h) {
		return storage.Info{}, fmt.Errorf("%w: the index holds as many entries as it can", storage.ErrTooLarge)
	}
	hd.gen = c.nextGen.Add(1)
	hb := hd.trailer()
	hd.hdrLen = len(hb)
	if _, err := f.WriteAt(hb, hd.size); err != nil {
		return storage.Info{}, err
	}
	if pin || c.opts.Sync {
		if err := c.fsync(f); err != nil {
			return storage.Info{}, err
		}
	}
	if err := f.Close(); err != nil {
		return storage.Info{}, err
	}
	e := entry{h: h, size: hd.size, gen: hd.gen, access: c.now().UnixNano(), hdr: uint32(len(hb))}
	if pin {
		e.flags |= flagPinned
	}
	if err := c.logIntent(&e, hd, reserved); err != nil {
		return storage.Info{}, err
	}
	dst := c.objPath(h, pin)
	if err := renameMkdir(tmp, dst, c.opts.DirMode); err != nil {
		c.logAbort(&e, reserved)
		return storage.Info{}, err
	}
	if pin {
		if err := c.syncDir(filepath.Dir(dst)); err != nil {
			c.log.Warn("cache: fsync", "dir", filepath.Dir(dst), "err", err)
		}
	}
	if existed && old.pinned() != pin {
		removeFile(c.objPath(h, old.pinned()))
	}
	c.mu.Lock()
	c.appendLocked(appendSmallRec(nil, recCommit, h, e.gen), func() {
		delete(c.pending, h)
		c.idx.set(e)
	}, true)
	c.inflight -= *reserved
	*reserved = 0
	c.objBytes += e.charge()
	if pin {
		c.pinnedBytes += e.charge()
	}
	if existed {
		c.objBytes -= old.charge()
		if old.pinned() {
			c.pinnedBytes -= old.charge()
		}
	}
	c.wakeLocked()
	c.checkLocked()
	c.mu.Unlock()
	return hd.info(), nil
}

func renameMkdir(from, to string, mode fs.FileMode) error {
	err := os.Rename(from, to)
	if errors.Is(err, fs.ErrNotExist) {
		if merr := mkdir(filepath.Dir(to), mode); merr != nil {
			return merr
		}
		err = os.Rename(from, to)
	}
	return err
}

// mkdir creates dir (and its parents) with mode, whatever the umask.
func mkdir(dir string, mode fs.FileMode) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

func removeFile(p string) error {
	err := os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// fsync flushes f to disk, unless a test turned syncing off.
func (c *Cache) fsync(f *os.File) error {
	if c.noSync {
		return nil
	}
	return f.Sync()
}

// syncDir flushes a directory's entries (renames, creations) to disk.
func (c *Cache) syncDir(dir string) error {
	if c.noSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// smallObject is the largest file a Get reads whole with one read: as few
// system calls as a plain open, read and close. The file stays open until
// the reader is closed, for a copy to a response to send from it.
const smallObject = 128 << 10

// openEntry opens the object file of key and reads its header. A file of
// less than smallMax bytes is read whole into content, with one read (f
// is nil). It retries when the entry moves (a pin or unpin)
// or changes under it, and drops an entry whose file is really gone. A
// file that is damaged (its header unreadable, or its size not the one its
// header and the index record) fails with storage.ErrCorrupt for op; see
// damaged for what becomes of the entry.
func (c *Cache) openEntry(op, key string, h hkey, touch bool, smallMax int64) (f *os.File, hd header, content smallFile, ok bool, err error) {
	for attempt := 0; attempt < 4; attempt++ {
		var e entry
		if touch {
			e, ok = c.idx.touch(h, c.now().UnixNano())
			if ok && !c.touched.Load() {
				c.touched.Store(true)
			}
		} else {
			e, ok = c.idx.get(h)
		}
		if !ok {
			return nil, header{}, smallFile{}, false, nil
		}
		path := c.objPath(h, e.pinned())
		if all := e.size + int64(e.hdr); all < smallMax {
			// One byte more than the file should hold: a read that
			// stops short of it, at the size expected, proves the
			// file's size.
			bp := getSmall(int(all) + 1)
			b := (*bp)[:all+1]
			fd, n, err := readFile(path, b)
			if err != nil {
				putSmall(bp)
				if c.moved(err, e, attempt) {
					continue
				}
				return nil, header{}, smallFile{}, false, err
			}
			sf := smallFile{buf: bp, fd: fd}
			if int64(n) == all {
				if hd, err := parseTrailer(b[e.size:all]); err == nil && hd.size == e.size {
					if hd.key != key {
						sf.release()
						return nil, header{}, smallFile{}, false, nil // another key with the same 128-bit hash
					}
					return nil, hd, sf, true, nil
				}
			}
			sf.release()
			// changed since the lookup: read it as any other
		}
		f, err := openFile(path)
		if err != nil {
			if c.moved(err, e, attempt) {
				continue
			}
			return nil, header{}, smallFile{}, false, err
		}
		hd, err := readTrailer(f, e.size, int(e.hdr))
		if err == nil && hd.gen == e.gen && hd.size != e.size {
			err = fmt.Errorf("%w: it holds %d bytes, the index %d", errBadHeader, hd.size, e.size)
		}
		if err != nil {
			f.Close()
			if c.damaged(key, h, e.gen, err) {
				return nil, header{}, smallFile{}, false, c.corruptErr(op, key, err)
			}
			continue // replaced meanwhile: look again
		}
		if hd.key != key {
			f.Close()
			return nil, header{}, smallFile{}, false, nil
		}
		return f, hd, smallFile{}, true, nil
	}
	return nil, header{}, smallFile{}, false, nil
}

// moved reports whether err, from opening the file of entry e, says the
// file is not there: moved by a pin or unpin, or replaced, so openEntry
// looks again. From the second attempt on, an entry whose file is still
// missing is dropped.
func (c *Cache) moved(err error, e entry, attempt int) bool {
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if attempt > 0 {
		c.dropStale(e)
	}
	return true
}

// dropStale removes an entry whose file is missing, if it is still the
// same version and, checked under its stripe lock (so no pin, unpin or
// write is moving it), its file is still missing. A file that is there
// but damaged is damaged's business.
func (c *Cache) dropStale(e entry) {
	st := c.stripe(e.h)
	st.Lock()
	defer st.Unlock()
	cur, ok := c.idx.get(e.h)
	if !ok || cur.gen != e.gen {
		return
	}
	_, err := os.Stat(c.objPath(cur.h, cur.pinned()))
	if !errors.Is(err, fs.ErrNotExist) {
		return
	}
	c.log.Warn("cache: dropping an entry whose file is gone", "err", err)
	c.remove(cur, removeStale)
}

// errChecksum is the cause of a whole-object read whose bytes do not
// match the checksum recorded when the object was stored: its CRC-32C, or
// its SHA-256 for an object stored before the cache recorded a CRC-32C.
var errChecksum = errors.New("the cached bytes do not match the checksum recorded when they were stored")

// verifier checks the content of a whole object as it is read, against
// the CRC-32C its header records or, for a format 1 object (stored before
// the cache recorded one), its SHA-256. The zero verifier checks nothing.
type verifier struct {
	on      bool
	crc     uint32 // CRC-32C of the bytes so far
	wantCRC uint32
	sha     hash.Hash // format 1 only: SHA-256 of the bytes so far
	wantSHA [32]byte
}

// verifierFor returns a verifier for the content hd describes.
func verifierFor(hd *header) verifier {
	if hd.hasCRC {
		return verifier{on: true, wantCRC: hd.crc}
	}
	return verifier{on: true, sha: sha256.New(), wantSHA: hd.sha}
}

// write adds p, the next bytes of the content, to the checksum.
func (v *verifier) write(p []byte) {
	switch {
	case !v.on:
	case v.sha != nil:
		v.sha.Write(p)
	default:
		v.crc = crc32.Update(v.crc, castagnoli, p)
	}
}

// ok reports whether the bytes written match the checksum recorded.
func (v *verifier) ok() bool {
	if v.sha != nil {
		var got [32]byte
		return [32]byte(v.sha.Sum(got[:0])) == v.wantSHA
	}
	return v.crc == v.wantCRC
}

// contentOK reports whether b, the whole content hd describes, matches
// the checksum its header records.
func contentOK(hd *header, b []byte) bool {
	if hd.hasCRC {
		return crc32.Checksum(b, castagnoli) == hd.crc
	}
	return sha256.Sum256(b) == hd.sha
}

// corruptErr counts a damaged object found by op on key and returns the
// error that reports it.
func (c *Cache) corruptErr(op, key string, cause error) error {
	c.st.corrupt.Add(1)
	return c.Wrap(op, key, fmt.Errorf("%w: %w", storage.ErrCorrupt, cause))
}

// damaged deals with version gen of h, key's entry, found damaged (cause
// says how). If h no longer has that version, the damaged file was
// replaced or removed meanwhile: damaged does nothing and reports false.
// Otherwise it logs the damage and reports true, and removes the entry,
// so that the next Get is a miss, unless it is pinned: a pinned entry
// holds the only copy of its data (a write-behind upload not yet done), so
// it is kept, for an operator to look at, and every whole read of it
// fails the same way until it is deleted or replaced. The caller holds no
// lock.
//
// The checks under the stripe lock make the removal safe: no Put, Pin or
// Unpin of the key runs meanwhile, and while the index holds version gen,
// the file in place is that version's (a Put renames its file into place
// and updates the index under the same lock), so the file removed is the
// damaged one and never a newer one.
func (c *Cache) damaged(key string, h hkey, gen uint64, cause error) bool {
	if err := c.begin(); err != nil {
		// closed: the index can no longer change; the next Open will
		// find the damage again
		return true
	}
	defer c.end()
	st := c.stripe(h)
	st.Lock()
	defer st.Unlock()
	cur, ok := c.idx.get(h)
	if !ok || cur.gen != gen {
		return false
	}
	if cur.pinned() {
		c.log.Error("cache: a pinned object is damaged; it is kept, as the only copy of its data, and reads of it fail",
			"key", key, "err", cause)
		return true
	}
	c.log.Error("cache: a damaged object was found and removed", "key", key, "err", cause)
	c.remove(cur, removeStale)
	return true
}

type removeWhy int

const (
	removeDelete removeWhy = iota
	removeStale
	removeSize
	removeIdle
)

// Removing an entry takes two steps, so that c.mu is not held while the
// file is unlinked: unindexLocked (c.mu held) journals the removal and
// takes the entry out of the index, counting its bytes as dying; the caller
// then drops c.mu, unlinks the file and calls settleLocked (c.mu held
// again), which stops counting them. The bytes stay counted until the file
// is gone. Throughout, the caller holds the key's stripe lock (or won it
// with TryLock), so nobody writes the key meanwhile.

func (c *Cache) unindexLocked(e entry) {
	c.appendLocked(appendSmallRec(nil, recDelete, e.h, e.gen), func() { c.idx.remove(e.h, e.gen) }, true)
	c.dying += e.charge()
}

// unlink removes the entry's file and reports whether it is gone.
func (c *Cache) unlink(e entry) bool {
	if err := removeFile(c.objPath(e.h, e.pinned())); err != nil {
		c.log.Error("cache: cannot remove an object file; its bytes stay counted", "err", err)
		return false
	}
	return true
}

// settleLocked stops counting the bytes of a removed entry, unless its
// file could not be removed: then they stay counted (until a restart) so
// the bound keeps holding for the bytes really on disk.
func (c *Cache) settleLocked(e entry, why removeWhy, gone bool) {
	c.dying -= e.charge()
	if gone {
		c.objBytes -= e.charge()
	}
	if e.pinned() {
		c.pinnedBytes -= e.charge()
	}
	switch why {
	case removeSize:
		c.st.evictedBySize.Add(1)
		c.st.evictedBytes.Add(e.charge())
	case removeIdle:
		c.st.evictedByIdle.Add(1)
		c.st.evictedBytes.Add(e.charge())
	}
	c.wakeLocked()
	c.checkLocked()
}

// remove removes the entry and its file; the caller holds its stripe and
// not c.mu.
func (c *Cache) remove(e entry, why removeWhy) {
	c.mu.Lock()
	c.unindexLocked(e)
	c.mu.Unlock()
	gone := c.unlink(e)
	c.mu.Lock()
	c.settleLocked(e, why, gone)
	c.mu.Unlock()
}

// Get implements driver.Driver: the Cache's Get opens the cached object.
// A hit takes no lock but a shard's read lock for the index lookup; the
// file is read without any.
//
// A read of the whole object (no range, or a range covering all of it) is
// verified against the CRC-32C recorded when the object was stored (the
// SHA-256 for an object stored by an older version of the cache): a
// small object (under 128 KiB with its header) at once, so Get itself
// fails, and a larger one as it streams, so the Read that would deliver
// its last bytes fails instead, withholding them. Either way the error
// matches storage.ErrCorrupt and the entry is dealt with as the package
// documentation says (removed, unless pinned). A ranged read is not
// verified, nor is any read with Options.SkipVerify; a file whose size
// is wrong fails any Get with storage.ErrCorrupt.
func (d disk) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	return d.get(ctx, "get", key, rng, true)
}

// Peek opens the whole object under key as Get does, verified the same
// way, but it is not an access: the entry's access time (its place in
// the LRU order and its idle time) and the hit, miss and read counters
// stay as they are. It is for a layer that reads an entry for its own
// purposes, as a tiered store does to upload it.
func (c *Cache) Peek(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	const op = "get"
	if err := c.Check(ctx, op, key); err != nil {
		return nil, storage.Info{}, err
	}
	rc, info, err := c.get(ctx, op, key, nil, false)
	if err != nil {
		return nil, storage.Info{}, c.Wrap(op, key, err)
	}
	return rc, info, nil
}

// get opens the object under key, or the range rg of it, for op; an
// access (touch) moves the entry up the LRU order and is counted.
func (c *Cache) get(ctx context.Context, op, key string, rg *storage.Range, touch bool) (io.ReadCloser, storage.Info, error) {
	h := hashKey(key)
	var s *shard // counts the access; nil for none
	if touch {
		s = &c.idx.shards[shardOf(h)]
	}
	// A small object is read whole, to be checked before Get returns;
	// unchecked, only one too small to be worth sendfile(2) is.
	smallMax := int64(smallObject)
	if c.opts.SkipVerify {
		smallMax = sendfileMin
	}
	f, hd, content, ok, err := c.openEntry(op, key, h, touch, smallMax)
	if err != nil {
		return nil, storage.Info{}, err
	}
	if !ok {
		if s != nil {
			s.misses.Add(1)
		}
		return nil, storage.Info{}, storage.ErrNotFound
	}
	off, n, err := storage.CheckRange(rg, hd.size)
	if err != nil {
		if f != nil {
			f.Close()
		} else {
			content.release()
		}
		return nil, storage.Info{}, err
	}
	verify := off == 0 && n == hd.size && !c.opts.SkipVerify
	if f == nil {
		if verify && !contentOK(&hd, (*content.buf)[:n]) {
			content.release()
			c.damaged(key, h, hd.gen, errChecksum)
			return nil, storage.Info{}, c.corruptErr(op, key, errChecksum)
		}
		if s != nil {
			s.hits.Add(1)
		}
		return &memReader{b: (*content.buf)[off : off+n], end: off + n, f: content, ctx: ctx, s: s}, hd.info(), nil
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, storage.Info{}, err
	}
	if s != nil {
		s.hits.Add(1)
	}
	r := &reader{f: f, n: n, ctx: ctx, s: s, c: c, op: op, key: key, h: h, gen: hd.gen}
	if verify {
		r.v = verifierFor(&hd)
	}
	return r, hd.info(), nil
}

// Buffers for small objects, in two sizes, reused through pools: a Get of
// a small object then allocates little more than its Info.
var smallPools = [2]sync.Pool{
	{New: func() any { b := make([]byte, 16<<10); return &b }},
	{New: func() any { b := make([]byte, smallObject); return &b }},
}

func getSmall(n int) *[]byte {
	if n <= 16<<10 {
		return smallPools[0].Get().(*[]byte)
	}
	return smallPools[1].Get().(*[]byte)
}

func putSmall(bp *[]byte) {
	if cap(*bp) == 16<<10 {
		smallPools[0].Put(bp)
	} else {
		smallPools[1].Put(bp)
	}
}

// smallFile is a small object's file as openEntry read it whole: its
// bytes, in a pooled buffer, and the descriptor they were read from,
// still open.
type smallFile struct {
	buf *[]byte
	fd  int
}

// release closes the file and returns its buffer to the pool.
func (sf smallFile) release() {
	closeFD(sf.fd)
	putSmall(sf.buf)
}

// sendfileMin is the least a small object's reader hands to sendfile(2)
// rather than write from memory: net/http's sendfile path costs three
// system calls more than a write (it reads the first 512 bytes, and an
// *os.File is made for the descriptor), worth it only where it saves
// copying a few pages.
const sendfileMin = 16 << 10

// memReader serves a small object read whole by Get. Read hands out the
// bytes read (and checked, for a whole object) from memory. WriteTo to a
// destination that copies from a file in the kernel (see takesFile)
// hands it the rest of the file, from the open descriptor the bytes were
// read from, so that a response goes out with sendfile(2) and is not
// copied again; to any other, it writes them from memory. The bytes
// sent are the pages of the page cache the check has just read, and the
// cache never writes into an object file, so only another program
// writing into it, or the kernel dropping and reading back those pages,
// in the microseconds between, could make them differ. Should the file
// yield fewer bytes than were read, WriteTo writes the rest from memory.
type memReader struct {
	b    []byte    // the bytes not yet read
	end  int64     // the file offset at which b ends
	f    smallFile // released by Close
	ctx  context.Context
	s    *shard
	read int64
	done bool
}

func (r *memReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, os.ErrClosed
	}
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	r.read += int64(n)
	return n, nil
}

func (r *memReader) WriteTo(w io.Writer) (int64, error) {
	if r.done {
		return 0, os.ErrClosed
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	var total int64
	if rf, ok := takesFile(w); ok && len(r.b) >= sendfileMin && r.f.fd >= 0 {
		n, err := r.sendFile(rf)
		total += n
		if err != nil || len(r.b) == 0 {
			return total, err
		}
	}
	n, err := w.Write(r.b)
	r.b = r.b[n:]
	r.read += int64(n)
	return total + int64(n), err
}

// takesFile returns w as an io.ReaderFrom if it copies from a file in
// the kernel when handed one: a descriptor of its own (an *os.File, with
// copy_file_range(2), or a network connection, with sendfile(2)), or an
// HTTP response writer (net/http's hands a file to its connection's
// ReadFrom). Other destinations that read from a file (io.Discard, a
// bytes.Buffer) would read it again with system calls, where the bytes
// are already in memory.
func takesFile(w io.Writer) (io.ReaderFrom, bool) {
	switch w := w.(type) {
	case interface {
		io.ReaderFrom
		SyscallConn() (syscall.RawConn, error)
	}:
		return w, true
	case interface {
		io.ReaderFrom
		WriteHeader(statusCode int)
	}:
		return w, true
	}
	return nil, false
}

// sendFile hands the rest of the object to rf from its file, which it
// then closes.
func (r *memReader) sendFile(rf io.ReaderFrom) (int64, error) {
	f := os.NewFile(uintptr(r.f.fd), "")
	r.f.fd = -1
	defer f.Close()
	// readFile's pread left the offset at 0.
	if start := r.end - int64(len(r.b)); start > 0 {
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return 0, nil // write it from memory
		}
	}
	n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: int64(len(r.b))})
	r.b = r.b[n:]
	r.read += n
	return n, err
}

func (r *memReader) Close() error {
	if !r.done {
		r.done = true
		if r.s != nil {
			r.s.bytesRead.Add(r.read)
		}
		r.b = nil
		r.f.release()
	}
	return nil
}

// reader streams an object's content from its file. When v is on (a
// verified read of the whole object) it checksums what it streams, and
// the Read that reaches the end checks the checksum before it hands over
// its bytes.
type reader struct {
	f    *os.File
	n    int64 // bytes left
	ctx  context.Context
	s    *shard // counts the bytes read; nil for none
	read int64
	done bool

	c   *Cache
	op  string
	key string
	h   hkey
	gen uint64 // the version read, from its header

	v   verifier // off for a ranged or unverified read
	err error    // the content's check failed: every Read returns it
}

func (r *reader) Read(p []byte) (int, error) {
	if r.done {
		return 0, os.ErrClosed
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.n <= 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	m, err := r.f.Read(p)
	r.n -= int64(m)
	r.read += int64(m)
	r.v.write(p[:m])
	if err == io.EOF {
		if r.n > 0 {
			return 0, r.fail(io.ErrUnexpectedEOF) // shorter than its header says
		}
		err = nil
	}
	if r.n == 0 && r.v.on && !r.v.ok() {
		// Withhold the last bytes, so that even a reader that stops
		// once it has the size it expects gets the error.
		return 0, r.fail(errChecksum)
	}
	return m, err
}

// fail records that the content failed its check, has the entry dealt
// with, and returns the error every Read returns from now on.
func (r *reader) fail(cause error) error {
	r.err = r.c.corruptErr(r.op, r.key, cause)
	r.c.damaged(r.key, r.h, r.gen, cause)
	return r.err
}

// unverifiedChunk is how much of an unverified read WriteTo hands to the
// destination at a time when the read's context can end: it checks the
// context between pieces.
const unverifiedChunk = 4 << 20

// WriteTo lets io.Copy hand the file to the destination, so that a copy to
// a socket can use sendfile(2), when the read is not verified (a ranged
// read, or Options.SkipVerify), in pieces of unverifiedChunk when the
// context can end; a verified read goes through a buffer, to be
// checksummed.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	if r.done {
		return 0, os.ErrClosed
	}
	if r.v.on {
		return r.copyTo(w)
	}
	if r.err != nil {
		return 0, r.err
	}
	var total int64
	for r.n > 0 {
		if err := r.ctx.Err(); err != nil {
			return total, err
		}
		chunk := r.n
		if r.ctx.Done() != nil {
			chunk = min(chunk, unverifiedChunk)
		}
		m, err := io.Copy(w, &io.LimitedReader{R: r.f, N: chunk})
		r.n -= m
		r.read += m
		total += m
		if err != nil {
			return total, err
		}
		if m < chunk {
			return total, r.fail(io.ErrUnexpectedEOF) // shorter than its header says
		}
	}
	return total, nil
}

// copyTo copies the rest of the object to w through Read.
func (r *reader) copyTo(w io.Writer) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		m, err := r.Read(buf)
		if m > 0 {
			k, werr := w.Write(buf[:m])
			total += int64(k)
			if werr == nil && k < m {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (r *reader) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	if r.s != nil {
		r.s.bytesRead.Add(r.read)
	}
	return r.f.Close()
}

// Stat implements driver.Driver: the Cache's Stat returns the object's
// Info without counting an access.
func (d disk) Stat(ctx context.Context, key string) (storage.Info, error) {
	f, hd, _, ok, err := d.openEntry("stat", key, hashKey(key), false, 0)
	if err != nil {
		return storage.Info{}, err
	}
	if !ok {
		return storage.Info{}, storage.ErrNotFound
	}
	f.Close()
	return hd.info(), nil
}

// Delete implements driver.Driver: the Cache's Delete removes the object,
// pinned or not. Deleting a missing key succeeds.
func (d disk) Delete(ctx context.Context, key string) error {
	c := d.Cache
	if err := c.begin(); err != nil {
		return err
	}
	defer c.end()
	h := hashKey(key)
	st := c.stripe(h)
	st.Lock()
	defer st.Unlock()
	e, ok := c.idx.get(h)
	if !ok || !c.keyMatches(e, key) {
		return nil
	}
	c.remove(e, removeDelete)
	c.st.deletes.Add(1)
	return nil
}

// keyMatches checks, by the object header, that the entry is key's and not
// another key's with the same hash.
func (c *Cache) keyMatches(e entry, key string) bool {
	f, err := os.Open(c.objPath(e.h, e.pinned()))
	if err != nil {
		return true // a missing file: the entry is stale, remove it anyway
	}
	defer f.Close()
	hd, err := readTrailer(f, e.size, int(e.hdr))
	return err != nil || hd.key == key
}

// Pin pins the object under key: it is not evicted until Unpin. The pin
// is on disk when Pin returns. A missing key is storage.ErrNotFound.
func (c *Cache) Pin(ctx context.Context, key string) error {
	return c.do(ctx, "pin", key, func() error { return c.pin(ctx, key) })
}

func (c *Cache) pin(ctx context.Context, key string) error {
	h := hashKey(key)
	if err := c.reserve(ctx, recSmall, 0); err != nil {
		return err
	}
	reserved := int64(recSmall)
	defer func() { c.release(reserved) }()
	st := c.stripe(h)
	st.Lock()
	defer st.Unlock()
	e, ok := c.idx.get(h)
	if !ok || !c.keyMatches(e, key) {
		return storage.ErrNotFound
	}
	if e.pinned() {
		return nil
	}
	dst := c.objPath(h, true)
	if err := renameMkdir(c.objPath(h, false), dst, c.opts.DirMode); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.dropStaleLocked(e)
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		}
		return err
	}
	if err := c.syncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	c.mu.Lock()
	c.appendLocked(appendSmallRec(nil, recPin, h, e.gen), func() {
		c.idx.update(h, e.gen, func(p *entry) { p.flags |= flagPinned })
	}, true)
	c.inflight -= reserved
	reserved = 0
	c.pinnedBytes += e.charge()
	c.checkLocked()
	c.mu.Unlock()
	return nil
}

func (c *Cache) dropStaleLocked(e entry) {
	c.remove(e, removeStale)
}

// Unpin unpins the object under key if its ETag is still etag (any
// version when etag is ""): it becomes an ordinary entry, evicted when it
// is the least recently used. A missing key or a different version is
// left alone and is not an error.
func (c *Cache) Unpin(ctx context.Context, key, etag string) error {
	return c.do(ctx, "unpin", key, func() error { return c.unpin(key, etag) })
}

func (c *Cache) unpin(key, etag string) error {
	h := hashKey(key)
	st := c.stripe(h)
	st.Lock()
	defer st.Unlock()
	e, ok := c.idx.get(h)
	if !ok || !e.pinned() || !etagIs(e, etag) || !c.keyMatches(e, key) {
		return nil
	}
	if err := renameMkdir(c.objPath(h, true), c.objPath(h, false), c.opts.DirMode); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.dropStaleLocked(e)
			return nil
		}
		return err
	}
	c.mu.Lock()
	c.appendLocked(appendSmallRec(nil, recUnpin, h, e.gen), func() {
		c.idx.update(h, e.gen, func(p *entry) { p.flags &^= flagPinned })
	}, true)
	c.pinnedBytes -= e.charge()
	c.candStale = true
	c.wakeLocked()
	c.evictToFitLocked(0)
	c.checkLocked()
	c.mu.Unlock()
	return nil
}

func etagIs(e entry, etag string) bool {
	if etag == "" {
		return true
	}
	g, ok := genOf(etag)
	return ok && g == e.gen
}

// Drop removes the object under key if it is not pinned and its ETag is
// still etag (any version when etag is ""). It reports whether it removed
// it. The tiered store uses it to drop a local copy it has verified
// elsewhere without racing a newer Put.
func (c *Cache) Drop(ctx context.Context, key, etag string) (bool, error) {
	dropped := false
	err := c.do(ctx, "drop", key, func() error {
		h := hashKey(key)
		st := c.stripe(h)
		st.Lock()
		defer st.Unlock()
		e, ok := c.idx.get(h)
		if !ok || e.pinned() || !etagIs(e, etag) || !c.keyMatches(e, key) {
			return nil
		}
		c.remove(e, removeDelete)
		dropped = true
		return nil
	})
	return dropped, err
}

// do runs fn as the operation op on key, one of the cache's own: the
// layer's checks first, then fn, which Close waits for, and its error
// made the cache's.
func (c *Cache) do(ctx context.Context, op, key string, fn func() error) error {
	if err := c.Check(ctx, op, key); err != nil {
		return err
	}
	if err := c.begin(); err != nil {
		return c.Wrap(op, key, err)
	}
	defer c.end()
	return c.Wrap(op, key, fn())
}

// Copy copies the object under src to dst with its content type and
// metadata. It implements storage.Copier.
func (c *Cache) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := c.CheckKeys(ctx, op, src, dst); err != nil {
		return storage.Info{}, err
	}
	h := hashKey(src)
	f, hd, _, ok, err := c.openEntry(op, src, h, false, 0)
	if err != nil {
		return storage.Info{}, c.Wrap(op, src, err)
	}
	if !ok {
		return storage.Info{}, c.Wrap(op, src, storage.ErrNotFound)
	}
	// The source is verified as it is copied, so that a damaged object is
	// not copied under a fresh checksum.
	// Options.SkipVerify does not apply: Copy writes a fresh checksum, so
	// it had better be of the right bytes.
	r := &reader{f: f, n: hd.size, ctx: ctx, c: c, op: op, key: src, h: h, gen: hd.gen, v: verifierFor(&hd)}
	defer r.Close()
	info, err := c.put(ctx, dst, driver.NewBody(r, hd.size), &storage.PutOptions{ContentType: hd.ct, Metadata: hd.meta, Size: hd.size}, false)
	if r.err != nil {
		return storage.Info{}, r.err
	}
	return c.Result(op, dst, info, err)
}

// List implements driver.Driver: the Cache's List yields the cached
// objects under opts.Prefix in key order. Info carries Key, Size,
// ModTime, ETag and SHA256.
func (d disk) List(ctx context.Context, o storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		recs, err := d.scanKeys(func(k string) bool {
			return strings.HasPrefix(k, o.Prefix) && k > o.StartAfter
		})
		if err != nil {
			yield(storage.Info{}, err)
			return
		}
		slices.SortFunc(recs, func(a, b keyRec) int { return strings.Compare(a.key, b.key) })
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, err)
				return
			}
			if cur, ok := d.idx.get(r.h); !ok || cur.gen != r.gen {
				continue // deleted or replaced while listing
			}
			if !yield(r.info(), nil) {
				return
			}
		}
	}
}

// keyRec is what the index files know of one entry.
type keyRec struct {
	h       hkey
	gen     uint64
	size    int64
	modTime int64
	sha     [32]byte
	key     string
}

func (r *keyRec) info() storage.Info {
	return storage.Info{
		Key:     r.key,
		Size:    r.size,
		ModTime: time.Unix(0, r.modTime),
		ETag:    etag(&r.sha, r.gen),
		SHA256:  hex.EncodeToString(r.sha[:]),
	}
}

// Entries yields a snapshot of every entry, in no particular order.
func (c *Cache) Entries(ctx context.Context) iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		if c.Closed() || ctx.Err() != nil {
			return
		}
		recs, err := c.scanKeys(nil)
		if err != nil {
			c.log.Warn("cache: entries", "err", err)
			return
		}
		for _, r := range recs {
			if ctx.Err() != nil {
				return
			}
			e, ok := c.idx.get(r.h)
			if !ok || e.gen != r.gen {
				continue
			}
			if !yield(Entry{
				Key: r.key, Size: r.size, SHA256: hex.EncodeToString(r.sha[:]), ETag: etag(&r.sha, r.gen),
				ModTime: time.Unix(0, r.modTime), LastAccess: time.Unix(0, e.access), Pinned: e.pinned(),
			}) {
				return
			}
		}
	}
}

// Pinned yields the Info of every pinned entry, content type and metadata
// included. The tiered store re-queues their uploads after a restart.
func (c *Cache) Pinned(ctx context.Context) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		if err := c.CheckOpen(ctx, "pinned"); err != nil {
			yield(storage.Info{}, err)
			return
		}
		var pinned []entry
		c.idx.each(func(e *entry) bool {
			if e.pinned() {
				pinned = append(pinned, *e)
			}
			return true
		})
		for _, e := range pinned {
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, err)
				return
			}
			f, err := os.Open(c.objPath(e.h, true))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // unpinned or deleted meanwhile
				}
				if !yield(storage.Info{}, c.Wrap("pinned", "", err)) {
					return
				}
				continue
			}
			hd, err := readTrailer(f, e.size, int(e.hdr))
			f.Close()
			if err != nil {
				c.log.Error("cache: a pinned object's file is damaged; it is kept, but cannot be listed", "err", err)
				continue
			}
			if !yield(hd.info(), nil) {
				return
			}
		}
	}
}
