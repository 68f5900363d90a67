package cache

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// ErrFull means a write waited for space, because pinned data, writes in
// flight and the index filled the byte bound, and its context ended first
// (or the object can never fit). Match it with errors.Is; the error also
// matches the context's error when the wait ended that way.
var ErrFull = errors.New("cache full")

// ErrLocked means another process (or another Cache in this one) has the
// directory open. The message names the holder's PID.
var ErrLocked = errors.New("cache directory is locked")

const provider = "cache"

// Options configure a Cache. MaxBytes is required.
type Options struct {
	// MaxBytes bounds every byte the cache keeps in its directory: object
	// files (pinned or not), writes in flight and the index files. It must
	// be at least 64 KiB.
	MaxBytes int64
	// MaxIdle evicts entries not accessed for longer. Zero keeps them
	// until space is needed.
	MaxIdle time.Duration
	// MinFreeRatio, when above zero, also keeps at least this fraction of
	// the file system holding the cache free, evicting and making writes
	// wait as MaxBytes does.
	MinFreeRatio float64
	// Logger receives the cache's logs. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for access times and idle expiry. Nil is time.Now.
	Now func() time.Time
	// FileMode and DirMode are the permissions of files and directories
	// the cache creates: 0640 and 0750 when zero.
	FileMode, DirMode fs.FileMode
	// Sync makes every Put fsync the object before it returns. Without it
	// only PutPinned and Pin wait for the disk: an unpinned entry is a
	// copy of data kept elsewhere, and after a power loss (not a process
	// crash) a recent one may be missing or read as damaged and dropped.
	Sync bool
	// EvictInterval is how often a background goroutine expires idle
	// entries and checks MinFreeRatio. Zero picks MaxIdle/8 capped to one
	// minute (no goroutine when neither MaxIdle nor MinFreeRatio is set);
	// a negative value disables it, leaving expiry to Evict.
	EvictInterval time.Duration
	// SkipVerify turns off the check of a whole-object Get's bytes
	// against the CRC-32C recorded when they were stored (see the package
	// documentation), and with it the last cost a hit has over reading a
	// plain file: a verified read goes through a buffer to be
	// checksummed, an unverified one can be handed to sendfile(2). Set it
	// only where the file system checksums data itself and fails a read of
	// damaged blocks (ZFS, btrfs), or where serving damaged bytes is
	// acceptable. The header and size checks every Get makes stay, Copy
	// still verifies its source, and a tiered store still checks the
	// SHA-256 of what it uploads.
	SkipVerify bool
}

// Usage is a snapshot of what the cache holds.
type Usage struct {
	Entries       int64 // objects in the cache
	Bytes         int64 // every byte counted against MaxBytes
	ObjectBytes   int64 // bytes of object files, headers included
	PinnedEntries int64
	PinnedBytes   int64 // bytes of pinned object files
	InFlightBytes int64 // space reserved by writes in progress
	IndexBytes    int64 // index, journal and lock files
	MaxBytes      int64
}

// Stats are counters since Open.
type Stats struct {
	Hits, Misses  int64 // Get calls that found / did not find the key
	EvictedBySize int64 // entries evicted to stay within the bounds
	EvictedByIdle int64 // entries evicted for being idle longer than MaxIdle
	EvictedBytes  int64
	BytesRead     int64 // object bytes read through Get
	BytesWritten  int64 // object bytes stored by Put
	Puts, Deletes int64
	Waits         int64 // writes that had to wait for space
	FullErrors    int64 // writes that failed with ErrFull
	Compactions   int64 // index snapshots written
	Recovered     int64 // entries adopted, dropped or re-pinned at Open after a crash
	// Corrupt counts damaged objects found: Get, Stat and Copy calls and
	// reads that failed with storage.ErrCorrupt (see the package
	// documentation).
	Corrupt int64
}

// Entry describes one cached object, as Entries yields it.
type Entry struct {
	Key        string
	Size       int64
	SHA256     string
	ETag       string
	ModTime    time.Time
	LastAccess time.Time
	Pinned     bool
}

// EvictResult reports what Evict removed.
type EvictResult struct {
	Entries int64 // entries removed
	Bytes   int64 // bytes freed
	Idle    int64 // of Entries, removed for idleness
}

// Cache is a disk cache of objects. It is a storage.Provider and a
// storage.Copier; see the package documentation.
//
// Cache is a [driver.Provider] over this package's driver, which checks
// every call (closed, context, key, Put's options) and builds the errors;
// the driver's readers check their own bytes (CRC-32C) and keep
// io.WriterTo, so a hit can still be handed to sendfile(2). Its Close
// waits for the operations in progress (a write waiting for space fails
// with storage.ErrClosed), writes the index and releases the directory;
// readers already returned by Get stay readable.
type Cache struct {
	*base

	dir   string
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	lockF *dirLock

	objRoot, pinRoot string // object directories, with a trailing separator

	idx index

	stripes [256]sync.Mutex // per-key-hash mutation locks

	// accounting, guarded by mu
	mu          sync.Mutex
	objBytes    int64
	pinnedBytes int64
	inflight    int64
	indexBytes  int64
	dying       int64 // bytes of files being unlinked, still counted in objBytes
	waiters     int
	freed       chan struct{}
	checkHook   func(total int64) // tests: called after every change of the total
	noSync      bool              // tests that measure no durability skip fsync
	cands       []cand            // eviction candidates, oldest first
	candStale   bool
	// contended is set when an eviction passed over a candidate because
	// another goroutine held its stripe: whoever releases a stripe does not
	// wake waiting writers, so a writer that saw this retries soon instead
	// of waiting for a wake that may not come.
	contended bool

	// index files, guarded by jmu (appends also hold mu)
	jmu         sync.Mutex
	jf          *os.File
	jseq        uint64
	jsize       int64
	snapSize    int64
	pending     map[hkey][]byte // intent records of Puts not yet committed
	jlost       bool            // a record that memory applied never reached the journal
	maxGen      uint64          // while loading
	wantCompact atomic.Bool
	touched     atomic.Bool // a Get changed an access time since the last snapshot
	compactMu   sync.Mutex

	nextGen atomic.Uint64

	// lifecycle
	opMu    sync.Mutex
	opCond  *sync.Cond
	ops     int
	closing chan struct{}
	bg      sync.WaitGroup

	st struct {
		evictedBySize, evictedByIdle, evictedBytes atomic.Int64
		bytesWritten, puts, deletes, waits, full   atomic.Int64
		compactions, recovered, corrupt            atomic.Int64
	}
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// disk is the driver: the protocol of the cache, over the Cache's state.
// Its methods shadow those the Cache gets from the layer.
type disk struct{ *Cache }

var (
	_ storage.Provider = (*Cache)(nil)
	_ storage.Copier   = (*Cache)(nil)
	_ driver.Driver    = disk{}
)

const minMaxBytes = 64 << 10

// Open opens the cache in dir, creating it if needed, and takes the
// directory's lock. It fails at once with ErrLocked while another process,
// or another open Cache of this one, has the directory; a Cache of this
// process closed a moment ago may be opened again at once, even while a
// program this process started still holds its copy of the lock until its
// exec.
func Open(dir string, opts Options) (*Cache, error) {
	c := &Cache{}
	c.base = driver.New(provider, disk{c}, &driver.Options{ReadsChecked: true})
	if opts.MaxBytes < minMaxBytes {
		return nil, c.Wrap("open", "", fmt.Errorf("%w: Options.MaxBytes is %d, must be at least %d", storage.ErrInvalidArgument, opts.MaxBytes, minMaxBytes))
	}
	if opts.MinFreeRatio < 0 || opts.MinFreeRatio >= 1 {
		return nil, c.Wrap("open", "", fmt.Errorf("%w: Options.MinFreeRatio is %v, must be in [0, 1)", storage.ErrInvalidArgument, opts.MinFreeRatio))
	}
	if opts.FileMode == 0 {
		opts.FileMode = 0o640
	}
	if opts.DirMode == 0 {
		opts.DirMode = 0o750
	}
	c.dir, c.opts, c.log, c.now = dir, opts, opts.Logger, opts.Now
	c.freed, c.closing = make(chan struct{}), make(chan struct{})
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.opCond = sync.NewCond(&c.opMu)
	c.objRoot = filepath.Join(dir, "objects") + string(filepath.Separator)
	c.pinRoot = filepath.Join(dir, "pinned") + string(filepath.Separator)
	if err := mkdir(dir, opts.DirMode); err != nil {
		return nil, c.Wrap("open", "", err)
	}
	lf, err := lockDir(filepath.Join(dir, "lock"), opts.FileMode)
	if err != nil {
		return nil, err
	}
	c.lockF = lf
	for _, d := range []string{"objects", "pinned", "tmp", "index", "state"} {
		if err := mkdir(filepath.Join(dir, d), opts.DirMode); err != nil {
			lf.Close()
			return nil, c.Wrap("open", "", err)
		}
	}
	if err := c.load(); err != nil {
		lf.Close()
		return nil, c.Wrap("open", "", err)
	}
	c.mu.Lock()
	c.evictToFitLocked(0)
	if total := c.totalLocked(); total > opts.MaxBytes {
		c.log.Warn("cache: pinned data exceeds MaxBytes; writes will wait", "bytes", total, "max", opts.MaxBytes)
	}
	c.mu.Unlock()
	c.startBackground()
	return c, nil
}

// Dir returns the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// StateDir returns a directory inside the cache's directory that the cache
// never reads, writes or counts, protected by the same lock. Layers above
// the cache (the tiered store's journal) keep their files there.
func (c *Cache) StateDir() string { return filepath.Join(c.dir, "state") }

func (c *Cache) objDir(pinned bool) string {
	if pinned {
		return filepath.Join(c.dir, "pinned")
	}
	return filepath.Join(c.dir, "objects")
}

// objPath is the object file of h: <dir>/objects/xx/<32 hex digits>, or
// under pinned/. It is built with one allocation: Get calls it on every hit.
func (c *Cache) objPath(h hkey, pinned bool) string {
	base := c.objRoot
	if pinned {
		base = c.pinRoot
	}
	hb := h.bytes()
	var b strings.Builder
	b.Grow(len(base) + 36)
	b.WriteString(base)
	var x [32]byte
	hex.Encode(x[:], hb[:])
	b.Write(x[:2])
	b.WriteByte(filepath.Separator)
	b.Write(x[:])
	return b.String()
}

// begin registers a mutating operation; Close waits for it. The layer
// has checked that the cache is open, but Close may have begun since: the
// check is made again under opMu, which Close takes to wait.
func (c *Cache) begin() error {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.Closed() {
		return storage.ErrClosed
	}
	c.ops++
	return nil
}

func (c *Cache) end() {
	c.maybeCompact()
	c.opMu.Lock()
	c.ops--
	if c.ops == 0 {
		c.opCond.Broadcast()
	}
	c.opMu.Unlock()
}

// Close implements driver.Driver; the layer calls it once, from the
// Cache's Close, which waits for operations in progress (a write waiting
// for space fails with ErrClosed), writes the index and releases the
// directory. Readers already returned by Get stay readable.
func (d disk) Close() error {
	c := d.Cache
	c.opMu.Lock()
	close(c.closing)
	for c.ops > 0 {
		c.opCond.Wait()
	}
	c.opMu.Unlock()
	c.bg.Wait()
	err := c.shutdown()
	if cerr := c.lockF.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

func (c *Cache) startBackground() {
	iv := c.opts.EvictInterval
	if iv < 0 || (c.opts.MaxIdle <= 0 && c.opts.MinFreeRatio <= 0) {
		return
	}
	if iv == 0 {
		iv = c.opts.MaxIdle / 8
		if iv <= 0 || iv > time.Minute {
			iv = time.Minute
		}
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		t := time.NewTicker(iv)
		defer t.Stop()
		for {
			select {
			case <-c.closing:
				return
			case <-t.C:
				if _, err := c.Evict(context.Background()); err != nil && !errors.Is(err, storage.ErrClosed) {
					c.log.Warn("cache: background eviction", "err", err)
				}
			}
		}
	}()
}

// Usage returns what the cache holds now.
func (c *Cache) Usage() Usage {
	c.mu.Lock()
	u := Usage{
		Bytes:         c.totalLocked(),
		ObjectBytes:   c.objBytes,
		PinnedBytes:   c.pinnedBytes,
		InFlightBytes: c.inflight,
		IndexBytes:    c.indexBytes,
		MaxBytes:      c.opts.MaxBytes,
	}
	c.mu.Unlock()
	u.Entries = c.idx.count.Load()
	u.PinnedEntries = c.idx.npinned.Load()
	return u
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	var s Stats
	for i := range c.idx.shards {
		sh := &c.idx.shards[i]
		s.Hits += sh.hits.Load()
		s.Misses += sh.misses.Load()
		s.BytesRead += sh.bytesRead.Load()
	}
	s.EvictedBySize = c.st.evictedBySize.Load()
	s.EvictedByIdle = c.st.evictedByIdle.Load()
	s.EvictedBytes = c.st.evictedBytes.Load()
	s.BytesWritten = c.st.bytesWritten.Load()
	s.Puts = c.st.puts.Load()
	s.Deletes = c.st.deletes.Load()
	s.Waits = c.st.waits.Load()
	s.FullErrors = c.st.full.Load()
	s.Compactions = c.st.compactions.Load()
	s.Recovered = c.st.recovered.Load()
	s.Corrupt = c.st.corrupt.Load()
	return s
}

func (c *Cache) totalLocked() int64 {
	return c.objBytes + c.inflight + c.indexBytes
}

func (c *Cache) checkLocked() {
	if c.checkHook != nil {
		c.checkHook(c.totalLocked())
	}
}

// wakeLocked wakes writers waiting for space.
func (c *Cache) wakeLocked() {
	if c.waiters > 0 {
		close(c.freed)
		c.freed = make(chan struct{})
	}
}

// headroom is the space kept free of writes for the small index records
// that deletions, evictions and unpins append.
func (c *Cache) headroom() int64 {
	h := c.opts.MaxBytes / 64
	return min(max(h, 512), 64<<10)
}

// limitLocked is the total that writes may fill: MaxBytes less the
// headroom, less what MinFreeRatio keeps free on the file system.
func (c *Cache) limitLocked() int64 {
	lim := c.opts.MaxBytes - c.headroom()
	if c.opts.MinFreeRatio > 0 {
		if free, total, err := fsSpace(c.dir); err == nil {
			keep := int64(c.opts.MinFreeRatio * float64(total))
			if l := c.totalLocked() + free - keep; l < lim {
				lim = l
			}
		}
	}
	return lim
}

// reserve sets aside n more bytes for a write that holds held bytes
// already, evicting unpinned entries as needed, and waits for space while
// pinned data fills the bound. A write that could not fit even in an
// otherwise empty cache fails at once.
func (c *Cache) reserve(ctx context.Context, n, held int64) error {
	c.mu.Lock()
	waited := false
	for {
		if held+n > c.opts.MaxBytes-c.headroom()-c.indexBytes {
			c.mu.Unlock()
			c.st.full.Add(1)
			return fmt.Errorf("%w: %w: %d more bytes can never fit in a cache of %d", ErrFull, storage.ErrTooLarge, n, c.opts.MaxBytes)
		}
		lim := c.limitLocked()
		if c.totalLocked()+n <= lim {
			c.inflight += n
			c.checkLocked()
			c.mu.Unlock()
			return nil
		}
		switch {
		case c.dying > 0 && c.totalLocked()-c.dying+n <= lim:
			// another goroutine's eviction is about to free enough: wait
			// for it, as long as ctx allows
		case c.evictOneLocked(false):
			continue
		case !waited:
			waited = true
			c.st.waits.Add(1)
		}
		retry := c.contended
		c.contended = false
		if err := c.waitLocked(ctx, retry); err != nil {
			c.mu.Unlock()
			if errors.Is(err, storage.ErrClosed) {
				return err
			}
			c.st.full.Add(1)
			return fmt.Errorf("%w: waited for %d bytes of space: %w", ErrFull, n, err)
		}
	}
}

// contendedRetry is how soon a writer waiting for space tries to evict
// again after an eviction found a candidate's stripe held.
const contendedRetry = time.Millisecond

// waitLocked waits, with c.mu released, until space is freed, ctx ends or
// the cache is closed, or with retry until contendedRetry has passed.
func (c *Cache) waitLocked(ctx context.Context, retry bool) error {
	ch := c.freed
	c.waiters++
	c.mu.Unlock()
	var soon <-chan time.Time
	if retry {
		t := time.NewTimer(contendedRetry)
		defer t.Stop()
		soon = t.C
	}
	var err error
	select {
	case <-soon:
	case <-ch:
	case <-ctx.Done():
		err = ctx.Err()
	case <-c.closing:
		err = storage.ErrClosed
	}
	c.mu.Lock()
	c.waiters--
	return err
}

// release gives back n reserved bytes.
func (c *Cache) release(n int64) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	c.inflight -= n
	c.wakeLocked()
	c.checkLocked()
	c.mu.Unlock()
}

// evictToFitLocked evicts unpinned entries until the total is at most the
// write limit less need, as far as unpinned entries allow.
func (c *Cache) evictToFitLocked(need int64) {
	for c.totalLocked()+need > c.limitLocked() {
		if !c.evictOneLocked(false) {
			return
		}
	}
}

// fsSpace reports the free and total bytes of the file system holding dir;
// tests replace it.
var fsSpace = statfs
