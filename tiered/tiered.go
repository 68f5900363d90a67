package tiered

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

const provider = "tiered"

// Mode selects when Put returns.
type Mode int

const (
	// WriteThrough makes Put return only once both the local and the remote
	// copy are stored. It is the zero Mode.
	WriteThrough Mode = iota
	// WriteBehind makes Put return once the object and the record of its
	// pending upload are durable on local disk; background uploaders send it.
	WriteBehind
)

// String returns "write-through" or "write-behind".
func (m Mode) String() string {
	switch m {
	case WriteThrough:
		return "write-through"
	case WriteBehind:
		return "write-behind"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Defaults of the zero Options.
const (
	DefaultUploaders      = 4
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultTimeout        = 30 * time.Second
	DefaultRangeThreshold = 8 << 20
)

// Options configure a Store. The zero value is usable: write-through, four
// uploaders, backoff from one second to one minute, a 30 s remote timeout.
type Options struct {
	// Mode is WriteThrough (the zero value) or WriteBehind.
	Mode Mode

	// Uploaders is how many uploads and remote deletes of pending entries
	// run at once. Zero means DefaultUploaders. A negative value starts
	// no uploader: pending work stays pending (and durable) until a Store
	// with uploaders is made on the same cache, and Flush waits for it
	// until its context ends. It is for a Store made to look and not to
	// send, as for a dry run of Offload.
	Uploaders int

	// MinBackoff and MaxBackoff bound the wait before a failed upload or
	// remote delete is tried again: MinBackoff after the first failure,
	// doubling with each further one up to MaxBackoff, each wait drawn at
	// random from its upper half (jitter). Zero means DefaultMinBackoff and
	// DefaultMaxBackoff. Pending work is retried for as long as it takes;
	// when an upload or delete succeeds, every key waiting out a backoff
	// after an outage (an error matching storage.ErrUnavailable) is tried
	// again at once, so the queue drains as soon as the remote is back.
	MinBackoff, MaxBackoff time.Duration

	// Timeout bounds each attempt at a remote call: a Stat or a Delete must
	// answer within it, a Get must start answering within it, and a body
	// (of a Get or of an upload) may stall for no longer than it. A remote
	// that does not answer fails the call with an error matching
	// storage.ErrUnavailable instead of hanging. Zero means DefaultTimeout.
	Timeout time.Duration

	// RangeThreshold is the size above which an object missing locally is
	// not made to wait for: a Get of it (ranged or not) is served straight
	// from the remote while one background fetch copies the whole object
	// into the cache; a ranged Get that starts at or past it goes to the
	// remote without first waiting to learn the size. Objects up to this
	// size are fetched whole into the cache first and served from there.
	// Zero means DefaultRangeThreshold; a negative value fetches every
	// object whole first.
	RangeThreshold int64

	// Staleness, when positive, bounds how long this store may go on
	// serving a cached copy after another store on the same remote
	// overwrote or deleted the object: each store announces its overwrites
	// and deletes in a change log kept on the remote (under
	// ChangesPrefix), and reads it every Staleness/2. Every store on the
	// remote must set it. Zero leaves it off. See "Several processes, one
	// remote" in the package documentation.
	Staleness time.Duration

	// Logger receives the store's logs. Nil discards them.
	Logger *slog.Logger

	// Now is the clock for pending ages and retry times. Nil is time.Now.
	Now func() time.Time

	// After waits for retry times: it returns a channel that receives
	// once d has passed. Nil is time.After. Tests inject a fake clock with
	// Now and After so that nothing sleeps.
	After func(d time.Duration) <-chan time.Time
}

// Store is a storage.Provider made of a cache (the local tier) and a remote
// provider; see the package documentation. It also implements
// storage.Flusher. Make one with New.
//
// Store is a [driver.Provider] over this package's driver: the checks of
// every call (closed, context, key, Put's options) and the errors come
// from package driver. Its readers are the cache's, which check their
// bytes, or the remote's: they are handed out as they are.
type Store struct {
	*base

	c      *cache.Cache
	remote storage.Provider
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	after  func(time.Duration) <-chan time.Time

	ctx    context.Context // ends when Close begins
	cancel context.CancelFunc
	work   context.Context // of uploads and remote deletes: never ends, each bounded by its watchdog
	wg     sync.WaitGroup  // workers and background fills

	j   *journal
	chg *changes // the change log, when Options.Staleness is set
	// recovered holds the pending uploads found at the start, for the
	// change log (see sentBefore), until startChanges takes it.
	recovered map[string]recoveredUpload

	kmu  sync.Mutex
	keys map[string]*keyState // per-key locks, epochs and fills, while in use

	// The pending queue, guarded by mu.
	mu        sync.Mutex
	items     map[string]*item
	due       itemHeap
	order     list.List // of *item, in the order they became pending
	busy      map[string]chan struct{}
	seq       uint64        // last startSeq handed out
	changed   chan struct{} // closed and replaced whenever the queue changes
	inflight  int
	failing   int     // items whose last attempt failed
	backedOff []*item // items given a backoff since the last success
	lastErr   error
	lastErrT  time.Time
	rnd       *rand.Rand

	largeFills atomic.Int32
	ctr        counters
	origins    origins // the remote's ETags of fetched copies
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// tier is the driver: the protocol of the two tiers, over the Store's
// state. Its methods shadow those the Store gets from the layer.
type tier struct{ *Store }

var (
	_ storage.Provider = (*Store)(nil)
	_ storage.Flusher  = (*Store)(nil)
	_ driver.Driver    = tier{}
)

// New returns a Store that keeps objects in c and remote. It takes both
// over: Close closes them. Pending work found in c (pinned entries not yet
// uploaded, remote deletes in the journal in c.StateDir()) is queued at
// once and sent by the background uploaders, in either mode.
func New(c *cache.Cache, remote storage.Provider, opts Options) (*Store, error) {
	s := &Store{}
	s.base = driver.New(provider, tier{s}, &driver.Options{ReadsChecked: true})
	if c == nil || remote == nil {
		return nil, s.Wrap("open", "", fmt.Errorf("%w: tiered.New needs a cache and a remote provider", storage.ErrInvalidArgument))
	}
	if opts.Mode != WriteThrough && opts.Mode != WriteBehind {
		return nil, s.Wrap("open", "", fmt.Errorf("%w: unknown Options.Mode %d", storage.ErrInvalidArgument, int(opts.Mode)))
	}
	workers := opts.Uploaders // background uploaders to start
	switch {
	case opts.Uploaders == 0:
		opts.Uploaders, workers = DefaultUploaders, DefaultUploaders
	case opts.Uploaders < 0:
		opts.Uploaders, workers = DefaultUploaders, 0 // still the bound of large fills and Offload's default
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.RangeThreshold == 0 {
		opts.RangeThreshold = DefaultRangeThreshold
	}
	s.c, s.remote, s.opts = c, remote, opts
	s.log, s.now, s.after = opts.Logger, opts.Now, opts.After
	s.keys, s.items, s.busy = map[string]*keyState{}, map[string]*item{}, map[string]chan struct{}{}
	s.changed = make(chan struct{})
	s.rnd = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x7469657265640a))
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.work = context.Background()
	j, deletes, err := openJournal(c.StateDir())
	if err != nil {
		s.cancel()
		return nil, s.Wrap("open", "", fmt.Errorf("delete journal: %w", err))
	}
	s.j = j
	if err := s.requeue(deletes); err != nil {
		s.cancel()
		j.close()
		return nil, s.Wrap("open", "", err)
	}
	if err := s.startChanges(); err != nil {
		s.cancel()
		j.close()
		return nil, s.Wrap("open", "", err)
	}
	for range workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// requeue queues the remote deletes found in the journal and the uploads
// of the pinned entries of the cache. A key with a pending delete loses
// any pinned copy: either the delete came after it (a crash between the
// journal record and the local delete), or the pinned copy belongs to a
// Put that had not returned yet.
func (s *Store) requeue(deletes map[string]uint64) error {
	ctx := context.Background()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, id := range deletes {
		if err := s.c.Delete(ctx, key); err != nil {
			return fmt.Errorf("removing the local copy of %q, deleted before a restart: %w", key, err)
		}
		s.setLocked(key, now, func(it *item) { it.op, it.delID, it.etag, it.size, it.cond = opDelete, id, "", 0, false })
	}
	for info, err := range s.c.Pinned(ctx) {
		if err != nil {
			return fmt.Errorf("listing pinned entries: %w", err)
		}
		if _, del := deletes[info.Key]; del {
			continue
		}
		cond := s.j.isConditional(info.Key)
		s.setLocked(info.Key, now, func(it *item) { it.op, it.etag, it.size, it.cond = opUpload, info.ETag, info.Size, cond })
		if !cond {
			if s.recovered == nil {
				s.recovered = map[string]recoveredUpload{}
			}
			s.recovered[info.Key] = recoveredUpload{etag: info.ETag, mod: info.ModTime}
		}
	}
	// A conditional record whose object was never stored (a crash
	// between the two) has nothing left to say.
	for _, key := range s.j.conditionals() {
		if it := s.items[key]; it == nil || it.op != opUpload {
			if err := s.j.unconditional(key); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
	}
	if n := len(s.items); n > 0 {
		s.log.Info("tiered: resuming pending work", "uploads", n-len(deletes), "deletes", len(deletes))
	}
	return nil
}

// Cache returns the local tier.
func (s *Store) Cache() *cache.Cache { return s.c }

// Remote returns the remote tier.
func (s *Store) Remote() storage.Provider { return s.remote }

// Mode returns the store's write mode.
func (s *Store) Mode() Mode { return s.opts.Mode }

// Close implements driver.Driver; the layer calls it once, from the
// Store's Close, which stops the background fetches, lets the uploads and
// remote deletes in flight finish (each within Timeout) so that none lands
// on the remote after Close returns, and closes the cache and the remote.
// Pending work not yet started is not waited for: it is durable and
// resumes when a Store is made on the same cache again; call Flush first
// to drain it. Calls after Close fail with storage.ErrClosed; Close may be
// called again.
func (t tier) Close() error {
	s := t.Store
	s.cancel()
	s.mu.Lock()
	s.signalLocked()
	s.mu.Unlock()
	s.wg.Wait()
	return errors.Join(s.j.close(), s.c.Close(), s.remote.Close())
}

// Status is what an operator alerts on: the pending queue and its errors.
type Status struct {
	// Mode is the store's write mode.
	Mode Mode
	// PendingUploads and PendingDeletes count the keys whose upload or
	// remote delete has not been confirmed yet. PendingBytes is the size
	// of the pending uploads.
	PendingUploads, PendingDeletes int
	PendingBytes                   int64
	// OldestPending is when the longest-waiting pending key became
	// pending, and OldestPendingAge how long ago that is; zero when
	// nothing is pending.
	OldestPending    time.Time
	OldestPendingAge time.Duration
	// InFlight counts the uploads and deletes being attempted now;
	// Failing counts the pending keys whose last attempt failed.
	InFlight, Failing int
	// LastError is the error of the last failed attempt and LastErrorAt
	// when it happened; nil and zero when none failed since New.
	LastError   error
	LastErrorAt time.Time
	// NextRetry is when the next failed upload or delete is tried again;
	// zero when none is waiting.
	NextRetry time.Time
	// Uploaded and Deleted count the uploads and remote deletes confirmed
	// since New; UploadFailures and DeleteFailures the failed attempts.
	Uploaded, Deleted, UploadFailures, DeleteFailures int64
	// Abandoned counts pending uploads given up because their local copy
	// disappeared (the cache directory was wiped or damaged).
	Abandoned int64
	// Conflicts counts the write-behind Puts with IfNotExists, accepted
	// while the remote could not say whether the key existed, whose key
	// another writer turned out to have created first. Each acknowledged
	// object is kept on the remote under ConflictKey (see the package
	// documentation): alert on it.
	Conflicts int64
}

// Status returns the state of the pending queue.
func (s *Store) Status() Status {
	s.mu.Lock()
	st := Status{Mode: s.opts.Mode, InFlight: s.inflight, Failing: s.failing, LastError: s.lastErr, LastErrorAt: s.lastErrT}
	for _, it := range s.items {
		if it.failed && it.index >= 0 && (st.NextRetry.IsZero() || it.due.Before(st.NextRetry)) {
			st.NextRetry = it.due
		}
		if it.op == opDelete {
			st.PendingDeletes++
		} else {
			st.PendingUploads++
			st.PendingBytes += it.size
		}
	}
	if f := s.order.Front(); f != nil {
		st.OldestPending = f.Value.(*item).since
		st.OldestPendingAge = max(s.now().Sub(st.OldestPending), 0)
	}
	s.mu.Unlock()
	st.Uploaded = s.ctr.uploads.Load()
	st.Deleted = s.ctr.remoteDeletes.Load()
	st.UploadFailures = s.ctr.uploadFailures.Load()
	st.DeleteFailures = s.ctr.deleteFailures.Load()
	st.Abandoned = s.ctr.abandoned.Load()
	st.Conflicts = s.ctr.conflicts.Load()
	return st
}

// Counters are the store's counters since New, for export as metrics.
type Counters struct {
	// Hits and Misses count Gets answered by the cache and Gets that had
	// to go to the remote.
	Hits, Misses int64
	// RemoteGets counts Get requests sent to the remote (fills and direct
	// reads); RemoteStats, RemotePuts, RemoteDeletes and RemoteLists the
	// other calls. RemoteErrors counts remote calls that failed other than
	// with a not-found.
	RemoteGets, RemoteStats, RemotePuts, RemoteDeletes, RemoteLists, RemoteErrors int64
	// Fills counts objects fetched into the cache, FillsShared the Gets
	// that waited for another Get's fetch instead of making their own,
	// FillErrors the fetches that failed, and DirectReads the Gets of large
	// objects served straight from the remote.
	Fills, FillsShared, FillErrors, DirectReads int64
	// BytesFromRemote and BytesToRemote count object bytes received from
	// and sent to the remote.
	BytesFromRemote, BytesToRemote int64
	// Uploads and UploadFailures count confirmed uploads and failed upload
	// attempts (write-through and background); Abandoned counts pending
	// uploads whose local copy disappeared.
	Uploads, UploadFailures, Abandoned int64
	// DeleteFailures counts failed remote delete attempts.
	DeleteFailures int64
	// Conflicts counts conditional creates found taken on the remote
	// after they were acknowledged (Status.Conflicts).
	Conflicts int64
	// OffloadDropped counts local copies Offload dropped after verifying
	// the remote copy.
	OffloadDropped int64
	// Corrupt counts damaged local copies found: cache Gets, Stats and
	// reads that failed the cache's integrity check with
	// storage.ErrCorrupt (it is the cache's Stats.Corrupt). An unpinned
	// damaged copy is removed and the object fetched again from the
	// remote on the next Get.
	Corrupt int64
}

type counters struct {
	hits, misses                                                      atomic.Int64
	remoteGets, remoteStats, remotePuts, remoteDels, remoteLists      atomic.Int64
	remoteErrors                                                      atomic.Int64
	fills, fillsShared, fillErrors, directReads                       atomic.Int64
	bytesIn, bytesOut                                                 atomic.Int64
	uploads, uploadFailures, abandoned, remoteDeletes, deleteFailures atomic.Int64
	offloadDropped, conflicts                                         atomic.Int64
}

// Counters returns the counters.
func (s *Store) Counters() Counters {
	c := &s.ctr
	return Counters{
		Hits: c.hits.Load(), Misses: c.misses.Load(),
		RemoteGets: c.remoteGets.Load(), RemoteStats: c.remoteStats.Load(), RemotePuts: c.remotePuts.Load(),
		RemoteDeletes: c.remoteDels.Load(), RemoteLists: c.remoteLists.Load(), RemoteErrors: c.remoteErrors.Load(),
		Fills: c.fills.Load(), FillsShared: c.fillsShared.Load(), FillErrors: c.fillErrors.Load(), DirectReads: c.directReads.Load(),
		BytesFromRemote: c.bytesIn.Load(), BytesToRemote: c.bytesOut.Load(),
		Uploads: c.uploads.Load(), UploadFailures: c.uploadFailures.Load(), Abandoned: c.abandoned.Load(),
		DeleteFailures: c.deleteFailures.Load(), OffloadDropped: c.offloadDropped.Load(), Conflicts: c.conflicts.Load(),
		Corrupt: s.c.Stats().Corrupt,
	}
}
