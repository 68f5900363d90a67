// Package migrate copies every object of one storage.Provider to another,
// keeping keys, in parallel, resumably, and can verify two stores against
// each other. It is the engine behind "strata migrate" and "strata verify",
// written so that it can be tested without the binary.
//
// # How a migration decides what to send
//
// A Migrator lists the source and the destination once each, side by side:
// both listings come in byte-wise key order (a rule every provider keeps),
// so walking them together pairs every source object with the destination
// object of the same key, if any, in constant memory and without a Stat per
// object. An object is skipped when the destination holds the same key with
// the same size and the same SHA-256:
//
//   - the destination's SHA-256 comes from its listing, or, when the listing
//     does not carry it, from one Stat of that key (only for keys that are
//     already there with the right size, that is, objects a previous run
//     sent);
//   - the source's SHA-256 comes from its listing, or is computed by reading
//     the source object (plain files strata never wrote have none stored).
//
// So an interrupted run, run again, sends only what is missing or changed,
// and a source file changed since (same key, different content) is sent
// again. A destination that knows no checksum for an object gets it again.
//
// With a Journal (Options.Journal), the comparison above is needed only
// once per object: the journal records, for each object sent or found
// equal, the source's and the destination's ETags of that content, and a
// later run skips an object whose two listed ETags still match the record,
// with no Stat and no read. An object written through a store's API gets a
// new ETag, so it falls back to the checksum comparison. A plain file's
// ETag is made of its inode, size and modification time: a program that
// rewrites a file in place and sets its time back (touch -r, rsync
// --inplace, some editors and restore tools) leaves it unchanged, and the
// journal then spares that object its upload without seeing the change (a
// run without a journal, or Verify, finds it). It never spares the check
// before a delete:
//
// # Deleting
//
// With Options.Delete, a source object is deleted only when its bytes, as
// read in this run, are known to equal the destination's copy. An object
// sent is hashed by the Migrator itself as it streams (or, for a large file
// handed to the driver to read in parts, read again and hashed); an object
// found already at the destination is read and hashed, whatever the
// journal or a SHA-256 the source stores says. That sum must then match
// the destination's: a Stat there must show the same size and SHA-256 (a
// destination that knows no SHA-256 for the object has it read back and
// hashed), and a Stat of the source must show it has not changed since it
// was listed. An object whose source differs from the destination's copy
// is sent again first; one whose bytes do not match a SHA-256 its source
// stores is reported as corrupt and neither sent nor deleted. Any error on
// an object leaves its source in place. What is compared is what was read,
// moments before the delete: a source rewritten in between, keeping its
// size and modification time, is not seen.
//
// Without Options.Delete, every object sent is hashed as it streams, by
// the Migrator or by a destination driver that reports the SHA-256 of what
// it read, once one object has shown that its sum and the Migrator's
// agree.
//
// # Prefix conflicts
//
// Some stores cannot hold both "a" and "a/b", and the store itself (its
// driver, as whoever opened it chose) checks for such a neighbour before
// each Put, with requests of its own. The two listings walked side by side
// show it too: a key is free of conflicts when no earlier key of either
// listing is a parent of it and the destination holds nothing under it as
// a prefix (found by reading the destination listing a little ahead, at
// most maxAhead entries). Given Options.Unchecked, the same destination
// opened without that check, the Migrator writes the keys its listings
// show free through it, sparing their requests; the others, conflicting
// or beyond its read-ahead, go through the destination, which checks them
// if its store needs it and fails those that conflict with its own
// message. Objects another program writes into the destination during the
// migration are not seen.
//
// # Errors
//
// Run returns an error only for what stops the whole migration: a listing
// that fails or comes out of key order, a cancelled context, or a
// destination that refuses every write (*RefusedError: a few writes in a
// row refused for the same lasting reason, such as permission denied; the
// Migrator then takes no new objects). Other errors on single objects are
// counted in Stats.Failed, logged, and reported to Options.OnObject; they
// never stop the other objects, and transient ones (storage.ErrUnavailable,
// after the driver's own retries) never count as refusals.
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// DefaultWorkers is the number of parallel transfers when Options.Workers
// is zero: 8 per CPU, at least 32 and at most 64. Transfers of small
// objects wait on the store's latency far more than on the CPU: on two
// CPUs, 32 workers move small files to MinIO about 1.6 times as fast as 8,
// for the same CPU per file. Options.MemoryBudget, not the number of
// workers, bounds the memory they hold.
func DefaultWorkers() int {
	return min(max(8*runtime.NumCPU(), 32), 64)
}

// Options configure a Migrator. The zero value copies everything with
// DefaultWorkers workers.
type Options struct {
	// Workers is the number of objects transferred at the same time. Zero
	// means DefaultWorkers().
	Workers int
	// Prefix restricts the migration to keys starting with it.
	Prefix string
	// OlderThan, when positive, restricts the migration to source objects
	// whose ModTime is at least this long before Now.
	OlderThan time.Duration
	// Delete removes each source object once its bytes, read in this run,
	// are verified to equal its copy at the destination (see Deleting in
	// the package documentation).
	Delete bool
	// DryRun lists, compares and reports, but writes and deletes nothing.
	DryRun bool
	// NoCount turns off the counting pass: a second, concurrent listing of
	// the source that fills Stats.Total and Stats.TotalBytes for progress
	// reports.
	NoCount bool
	// LargeObject is the size from which an object counts as large; at most
	// MaxLarge large objects are transferred at the same time, so that the
	// buffers a destination keeps per upload stay bounded whatever the
	// number of workers. A large source that can be read at any offset (a
	// file) is handed to Put as it is when the destination says it reads
	// the parts of an upload from such a reader (storage.Parts.ReaderAt);
	// otherwise it is streamed. Zero means the destination's part size
	// when it is a storage.PartWriter (found through wrappers with
	// storage.As), and 16 MiB otherwise.
	LargeObject int64
	// MaxLarge is the number of large objects transferred at the same time
	// whose parts the destination holds in buffers. Zero means 1: drivers
	// already send the parts of one large object in parallel, and each
	// such upload holds part buffers. A large file the destination reads
	// in place (storage.Parts.ReaderAt) holds none, and counts as half of
	// one, so that by default one file is hashed while another is sent.
	MaxLarge int
	// MemoryBudget bounds the bytes of smaller objects in flight at once:
	// a driver may hold such an object whole while it sends it. Zero means
	// 64 MiB.
	MemoryBudget int64
	// ContentTypeFromName gives an object the source stores with no
	// content type the one its key's extension names (mime.TypeByExtension:
	// ".png" is image/png), if any. Zulip's upload directory keeps file
	// names; Synapse's media store does not.
	ContentTypeFromName bool
	// Now returns the current time, for OlderThan. Nil means time.Now.
	Now func() time.Time
	// Logger receives one line per failed object and a few lines about the
	// run. Nil discards.
	Logger *slog.Logger
	// Journal, when not nil, remembers what was sent, so that a later run
	// skips objects unchanged on both sides by their ETags alone, with no
	// Stat and no read (see Journal).
	Journal Journal
	// Unchecked, when not nil, is the destination opened a second time
	// without its check for prefix conflicts (such as with the URL
	// parameter prefix_check=false). Objects whose
	// keys both listings show free of conflicts (see Prefix conflicts in
	// the package documentation) are written through it; every other
	// request goes to the destination given to New. The Migrator does not
	// close it.
	Unchecked storage.Provider
	// OnObject, when not nil, is called once for every object the migration
	// looked at, when its outcome is known. It is called from the worker
	// goroutines, concurrently.
	OnObject func(Event)
}

// Action is what happened to one object.
type Action int

// The actions an Event reports.
const (
	// Copied: the object was sent to the destination (or, in a dry run,
	// would be).
	Copied Action = iota + 1
	// Skipped: the destination already holds the same content.
	Skipped
	// Failed: an error stopped the object; its source was not deleted.
	Failed
)

func (a Action) String() string { return enumName("Action", int(a), "copied", "skipped", "failed") }

// enumName returns the name of the value v of an enumeration whose values
// start at 1, or "Type(v)" for a value it does not know.
func enumName(typ string, v int, names ...string) string {
	if v >= 1 && v <= len(names) {
		return names[v-1]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// Event reports the outcome of one object.
type Event struct {
	// Key and Size are the source object's.
	Key  string
	Size int64
	// Action is what happened.
	Action Action
	// Deleted reports that the source object was deleted (or, in a dry run,
	// would be).
	Deleted bool
	// SHA256 is the content's checksum when it was computed or known.
	SHA256 string
	// Reason says why an object was copied rather than skipped ("missing",
	// "size differs", "checksum differs", ...), or is empty.
	Reason string
	// Err is the error of a Failed object.
	Err error
}

// Stats are the counters of a migration. Bytes are source object sizes.
type Stats struct {
	// Total and TotalBytes are what the counting pass found so far (objects
	// that pass the filters); TotalKnown reports that it has finished.
	Total, TotalBytes int64
	TotalKnown        bool
	// Copied objects were sent (in a dry run: would be sent).
	Copied, CopiedBytes int64
	// Skipped objects were already at the destination with the same
	// content.
	Skipped, SkippedBytes int64
	// Failed objects had an error; their source is kept.
	Failed, FailedBytes int64
	// Aborted is the number of the Failed objects that were in flight when
	// the context of Run ended: they failed for that alone, and were not
	// logged.
	Aborted int64
	// Deleted source objects (in a dry run: would be deleted).
	Deleted int64
	// Excluded objects were left out by OlderThan.
	Excluded int64
	// ChangeLog counts the source keys under tiered.ChangesPrefix, left
	// out: they are the change log of tiered stores on that bucket (see
	// tiered.Options.Staleness), not objects, and their stores keep them.
	ChangeLog int64
	// Streamed is the number of bytes read from the source so far to send
	// them, including objects still in flight.
	Streamed int64
	// InFlight is the number of objects being worked on.
	InFlight int64
	// JournalHits counts objects found unchanged through the journal;
	// DstStats counts Stats at the destination made to compare an object
	// already there; HashedBytes counts source bytes read to compare (not
	// to send).
	JournalHits, DstStats, HashedBytes int64
}

// Done is the number of objects whose outcome is known.
func (s Stats) Done() int64 { return s.Copied + s.Skipped + s.Failed }

// DoneBytes is the number of bytes dealt with: streamed, skipped or failed.
func (s Stats) DoneBytes() int64 { return s.Streamed + s.SkippedBytes + s.FailedBytes }

// Summary is the result of Run.
type Summary struct {
	Stats
	// Elapsed is the wall time of Run.
	Elapsed time.Duration
	// Stopped reports that the run ended before every object was dealt
	// with: Stop was called, the context ended, or Run returned an error
	// (a listing failed, the destination refused every write). Running
	// the migration again, once the cause is mended, finishes it.
	Stopped bool
	// DryRun repeats Options.DryRun.
	DryRun bool
}

// Migrator copies one provider into another. Make one with New, call Run
// once; Stop and Stats may be called from other goroutines meanwhile.
type Migrator struct {
	src, dst storage.Provider
	opts     Options
	// parts is how the destination uploads large objects, when it says
	// (a storage.PartWriter); the zero Parts otherwise.
	parts storage.Parts
	log   *slog.Logger
	now   func() time.Time
	// large bounds the large objects in flight: 2 units for one whose
	// parts the destination buffers, 1 for one it reads in place; 2 ×
	// MaxLarge units in all.
	large *budget
	small *budget
	// srcSeeks tells what the source's reader of the last large object
	// was: zero before the first, then seekable when it was one the
	// destination reads in place (readsParts) and streamed when not, so
	// that the next one asks for the units it most likely needs.
	srcSeeks atomic.Int32

	stopOnce sync.Once
	stop     chan struct{}

	total, totalBytes                     atomic.Int64
	totalKnown                            atomic.Bool
	copied, copiedBytes                   atomic.Int64
	skipped, skippedBytes                 atomic.Int64
	failed, failedBytes, aborted          atomic.Int64
	deleted, excluded, streamed, inFlight atomic.Int64
	changeLog                             atomic.Int64
	journalHits, dstStats, hashed         atomic.Int64
	journalErr                            sync.Once
	// dstHashes is set once the destination has reported for an object
	// the SHA-256 we computed of what we sent (see putStream).
	dstHashes atomic.Bool

	// Writes the destination refused alike (see refused).
	refuseMu    sync.Mutex
	refuseWhy   string        // the kind of the current run of refusals; guarded by refuseMu
	refuseRun   int           // its length; guarded by refuseMu
	refuseFirst error         // its first error; guarded by refuseMu
	refuseSince uint64        // the start sequence of the run's first refusal; guarded by refuseMu
	writeSeq    atomic.Uint64 // numbers writes in the order they start
	refuseErr   *RefusedError // set when the refusals stopped the run; guarded by refuseMu
}

// New returns a Migrator from src to dst. opts may be nil. The Migrator
// does not close src or dst.
func New(src, dst storage.Provider, opts *Options) *Migrator {
	m := &Migrator{src: src, dst: dst, stop: make(chan struct{})}
	if opts != nil {
		m.opts = *opts
	}
	if m.opts.Workers <= 0 {
		m.opts.Workers = DefaultWorkers()
	}
	var pw storage.PartWriter
	if storage.As(dst, &pw) {
		m.parts = pw.Parts()
	}
	if m.opts.LargeObject <= 0 {
		m.opts.LargeObject = m.parts.Size
	}
	if m.opts.LargeObject <= 0 {
		m.opts.LargeObject = defaultLargeObject
	}
	if m.opts.MemoryBudget <= 0 {
		m.opts.MemoryBudget = 64 << 20
	}
	m.small = newBudget(m.opts.MemoryBudget)
	if m.opts.MaxLarge <= 0 {
		m.opts.MaxLarge = 1
	}
	m.large = newBudget(2 * int64(m.opts.MaxLarge))
	m.now = m.opts.Now
	if m.now == nil {
		m.now = time.Now
	}
	m.log = m.opts.Logger
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	return m
}

// defaultLargeObject is Options.LargeObject for a destination that does
// not tell its part size.
const defaultLargeObject = 16 << 20

// Stop makes Run take no new objects: the objects in flight finish, then
// Run returns with Summary.Stopped set. To abort the objects in flight too,
// cancel Run's context. Stop may be called more than once.
func (m *Migrator) Stop() { m.stopOnce.Do(func() { close(m.stop) }) }

// Stats returns a snapshot of the counters.
func (m *Migrator) Stats() Stats {
	return Stats{
		Total: m.total.Load(), TotalBytes: m.totalBytes.Load(), TotalKnown: m.totalKnown.Load(),
		Copied: m.copied.Load(), CopiedBytes: m.copiedBytes.Load(),
		Skipped: m.skipped.Load(), SkippedBytes: m.skippedBytes.Load(),
		Failed: m.failed.Load(), FailedBytes: m.failedBytes.Load(), Aborted: m.aborted.Load(),
		Deleted: m.deleted.Load(), Excluded: m.excluded.Load(), ChangeLog: m.changeLog.Load(),
		Streamed: m.streamed.Load(), InFlight: m.inFlight.Load(),
		JournalHits: m.journalHits.Load(), DstStats: m.dstStats.Load(), HashedBytes: m.hashed.Load(),
	}
}

// job is one source object and the destination object of the same key, if
// the destination listing had one.
type job struct {
	src storage.Info
	dst *storage.Info
	// prefixFree reports that the listings show no object under a parent
	// of the key and none under the key as a prefix, so that it may be
	// written through Options.Unchecked. Only computed when that is set.
	prefixFree bool
}

// maxAhead bounds how far the destination listing is read ahead of the
// source to tell whether it holds keys under a source key as a prefix:
// entries between "k" and "k/" ("k-1", "k.png") are few in any real tree.
const maxAhead = 1024

// Run copies every selected object of the source to the destination and
// returns the counters. It returns an error when a listing fails, the
// context ends, or the destination refuses every write (*RefusedError,
// after the objects in flight have finished); objects that fail one by one
// are counted, not returned.
// When ctx is cancelled, transfers in flight are aborted (a provider leaves
// nothing behind of a cancelled Put) and Run returns ctx's error.
func (m *Migrator) Run(ctx context.Context) (Summary, error) {
	start := m.now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	// The counting pass is only for progress reports: it ends when the
	// main listing does.
	countCtx, stopCount := context.WithCancel(ctx)
	defer stopCount()
	if !m.opts.NoCount {
		wg.Go(func() { m.count(countCtx, start) })
	}

	// Unbuffered: an object is taken only when a worker is free, so after
	// Stop nothing is left queued.
	jobs := make(chan job)
	for range m.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				m.process(ctx, j)
			}
		})
	}
	stopped, err := m.plan(ctx, start, jobs)
	stopCount()
	close(jobs)
	// After a failed listing the objects in flight finish, as after Stop.
	wg.Wait()
	if !stopped && err == nil && ctx.Err() == nil {
		// Every selected object was dealt with: the totals are exact.
		st := m.Stats()
		m.total.Store(st.Done())
		m.totalBytes.Store(st.CopiedBytes + st.SkippedBytes + st.FailedBytes)
		m.totalKnown.Store(true)
	}

	sum := Summary{Stats: m.Stats(), Elapsed: time.Since(start), Stopped: stopped || ctx.Err() != nil, DryRun: m.opts.DryRun}
	if m.opts.Now != nil {
		sum.Elapsed = m.now().Sub(start)
	}
	if err == nil {
		err = ctx.Err()
	}
	m.refuseMu.Lock()
	if m.refuseErr != nil && err == nil {
		err = m.refuseErr
	}
	m.refuseMu.Unlock()
	if err != nil {
		sum.Stopped = true
	}
	return sum, err
}

// reserved reports whether key is a tiered store's change-log entry.
func reserved(key string) bool { return strings.HasPrefix(key, tiered.ChangesPrefix) }

// selected reports whether the source object passes the OlderThan filter.
func (m *Migrator) selected(info storage.Info, start time.Time) bool {
	if m.opts.OlderThan <= 0 {
		return true
	}
	return !info.ModTime.IsZero() && !info.ModTime.After(start.Add(-m.opts.OlderThan))
}

// count is the counting pass: it lists the source and adds up what passes
// the filters, for progress reports.
func (m *Migrator) count(ctx context.Context, start time.Time) {
	for info, err := range m.src.List(ctx, &storage.ListOptions{Prefix: m.opts.Prefix}) {
		if err != nil {
			return // the main listing reports it, or has ended
		}
		select {
		case <-m.stop:
			return
		default:
		}
		if !reserved(info.Key) && m.selected(info, start) {
			m.total.Add(1)
			m.totalBytes.Add(info.Size)
		}
	}
	m.totalKnown.Store(true)
}

// plan walks the source and destination listings together and sends a job
// for every selected source object. It returns stopped=true when Stop was
// called or ctx ended before the listing was done.
func (m *Migrator) plan(ctx context.Context, start time.Time, jobs chan<- job) (stopped bool, err error) {
	dst := newCursor(ctx, m.dst, m.opts.Prefix, "destination")
	defer dst.close()
	// Keys of either listing that may be parents of keys to come.
	var srcParents, dstParents parentStack
	dst.onPass = dstParents.push
	// Whether keys are free of prefix conflicts matters only to choose
	// the unchecked destination.
	prefixFree := m.opts.Unchecked != nil && m.prefixParentsFree(ctx)
	prev := ""
	for info, err := range m.src.List(ctx, &storage.ListOptions{Prefix: m.opts.Prefix}) {
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return false, fmt.Errorf("list source: %w", err)
		}
		if prev != "" && info.Key <= prev {
			return false, fmt.Errorf("list source: key %q came after %q: listing is not in key order", info.Key, prev)
		}
		prev = info.Key
		if reserved(info.Key) {
			m.changeLog.Add(1)
			continue
		}
		if !m.selected(info, start) {
			m.excluded.Add(1)
			continue
		}
		d, err := dst.seek(info.Key)
		free := false
		if err == nil && prefixFree {
			free, err = prefixConflictFree(info.Key, dst, &srcParents, &dstParents)
		}
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return false, err
		}
		srcParents.push(info.Key)
		if m.stopped(ctx) {
			return true, nil
		}
		select {
		case jobs <- job{src: info, dst: d, prefixFree: free}:
		case <-m.stop:
			return true, nil
		case <-ctx.Done():
			return true, nil
		}
	}
	return false, nil
}

// prefixParentsFree reports whether the destination holds no object under
// the parents of Options.Prefix ("a" and "a/b" for the prefix "a/b/c"): the
// destination listing, restricted to the prefix, cannot show them, and
// they are parents of every key migrated. False when it cannot tell.
func (m *Migrator) prefixParentsFree(ctx context.Context) bool {
	p := m.opts.Prefix
	for i := 1; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		if _, err := m.dst.Stat(ctx, p[:i]); !errors.Is(err, storage.ErrNotFound) {
			return false
		}
	}
	return true
}

// prefixConflictFree reports whether the source key, the latest of the
// source listing, with dst positioned at it, has no parent among the keys
// of either listing and nothing under it at the destination. The source
// keys before it are in srcParents, the destination keys passed in
// dstParents. It reads the destination listing ahead when needed, and
// returns false, not an error, when it would have to read too far to tell.
func prefixConflictFree(key string, dst *cursor, srcParents, dstParents *parentStack) (bool, error) {
	if srcParents.hasParentOf(key) || dstParents.hasParentOf(key) {
		return false, nil
	}
	found, known, err := dst.anyUnder(key+"/", maxAhead)
	return known && !found, err
}

// stopped reports whether Stop was called or ctx ended.
func (m *Migrator) stopped(ctx context.Context) bool {
	select {
	case <-m.stop:
		return true
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

// process deals with one object and records its outcome.
func (m *Migrator) process(ctx context.Context, j job) {
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	ev := m.transfer(ctx, j)
	ev.Key, ev.Size = j.src.Key, j.src.Size
	switch ev.Action {
	case Copied:
		m.copied.Add(1)
		m.copiedBytes.Add(j.src.Size)
	case Skipped:
		m.skipped.Add(1)
		m.skippedBytes.Add(j.src.Size)
	default:
		ev.Action = Failed
		m.failed.Add(1)
		m.failedBytes.Add(j.src.Size)
		switch {
		case ctx.Err() != nil:
			// Aborted: not the object's fault.
			m.aborted.Add(1)
		case m.refused(ev.Err):
			m.log.Debug("object failed; source kept", "key", j.src.Key, "err", ev.Err)
		default:
			m.log.Error("object failed; source kept", "key", j.src.Key, "err", ev.Err)
		}
	}
	if ev.Deleted {
		m.deleted.Add(1)
	}
	if m.opts.OnObject != nil {
		m.opts.OnObject(ev)
	}
}

// transfer compares, copies and deletes one object. The returned Event's
// Action is Failed whenever Err is set.
func (m *Migrator) transfer(ctx context.Context, j job) Event {
	reason := "missing at destination"
	if j.dst != nil {
		if j.dst.Size != j.src.Size {
			reason = "size differs"
		} else {
			same, sum, why, err := m.sameContent(ctx, j.src, *j.dst)
			if err != nil {
				return Event{Action: Failed, Err: err}
			}
			if same {
				ev := Event{Action: Skipped, SHA256: sum}
				if m.opts.Delete {
					if err := m.deleteSource(ctx, j.src, j.src.Size, sum); err != nil {
						return Event{Action: Failed, SHA256: sum, Err: err}
					}
					ev.Deleted = true
				}
				return ev
			}
			reason = why
		}
	}
	if m.opts.DryRun {
		return Event{Action: Copied, Reason: reason, Deleted: m.opts.Delete}
	}
	n, sum, err := m.copyObject(ctx, j)
	if err != nil {
		return Event{Action: Failed, Reason: reason, Err: err}
	}
	ev := Event{Action: Copied, Reason: reason, SHA256: sum}
	if m.opts.Delete {
		if err := m.deleteSource(ctx, j.src, n, sum); err != nil {
			return Event{Action: Failed, Reason: reason, SHA256: sum, Err: err}
		}
		ev.Deleted = true
	}
	return ev
}

// sameContent reports whether the destination object (already known to
// have the source's size) has the source's content, with the source's
// SHA-256 when it was known or computed, and, when not the same, why.
//
// With Options.Delete, a "same" answer lets the source be deleted, so the
// source's SHA-256 is always that of its bytes, read now: neither the
// journal nor a checksum the source stores is taken for it. The journal
// may still spare the Stat at the destination (deleteSource makes one).
func (m *Migrator) sameContent(ctx context.Context, src, dst storage.Info) (same bool, sum, why string, err error) {
	if m.opts.Journal != nil {
		if sum, ok := m.opts.Journal.Vouch(src.Key, src.Size, src.ETag, dst.ETag); ok {
			m.journalHits.Add(1)
			if !m.opts.Delete {
				return true, sum, "", nil
			}
			srcSum, err := m.hashSource(ctx, src)
			if err != nil {
				return false, "", "", err
			}
			if srcSum != sum {
				return false, srcSum, "checksum differs: changed since it was sent, with the same size and time", nil
			}
			return true, srcSum, "", nil
		}
	}
	dstSum := dst.SHA256
	if dstSum == "" {
		// The listing does not carry checksums: ask for this one object.
		m.dstStats.Add(1)
		info, err := m.dst.Stat(ctx, dst.Key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return false, "", "missing at destination", nil
		case err != nil:
			return false, "", "", fmt.Errorf("stat destination: %w", err)
		case info.Size != src.Size:
			return false, "", "size differs", nil
		}
		dstSum = info.SHA256
		if dstSum == "" {
			return false, "", "destination has no checksum", nil
		}
	}
	srcSum := src.SHA256
	if srcSum == "" || m.opts.Delete {
		srcSum, err = m.hashSource(ctx, src)
		if err != nil {
			return false, "", "", err
		}
	}
	if srcSum != dstSum {
		return false, srcSum, "checksum differs", nil
	}
	m.record(JournalEntry{Key: src.Key, Size: src.Size, SrcETag: src.ETag, DstETag: dst.ETag, SHA256: srcSum})
	return true, srcSum, "", nil
}

// record adds e to the journal, if there is one. A journal that cannot be
// written is logged once and otherwise ignored: it only saves time.
func (m *Migrator) record(e JournalEntry) {
	if m.opts.Journal == nil || m.opts.DryRun {
		return
	}
	if err := m.opts.Journal.Record(e); err != nil {
		m.journalErr.Do(func() { m.log.Warn("cannot write the journal; a later run will compare by checksum", "err", err) })
	}
}

// hashSource reads the source object and returns its SHA-256. A source
// that stores a SHA-256 other than that of the bytes read is corrupt (or
// was rewritten by a program that kept its size and modification time, and
// so its stale record): the object fails, and is neither sent nor deleted.
func (m *Migrator) hashSource(ctx context.Context, src storage.Info) (string, error) {
	sum, n, info, err := hashObject(ctx, m.src, src.Key)
	m.hashed.Add(n)
	if err != nil {
		return "", fmt.Errorf("read source: %w", err)
	}
	if n != src.Size {
		return "", fmt.Errorf("read source: %d bytes, listed as %d: %w", n, src.Size, storage.ErrCorrupt)
	}
	if info.SHA256 != "" && info.SHA256 != sum {
		return "", errStoredSum
	}
	return sum, nil
}

// errStoredSum is the error of a source object whose bytes do not match
// the SHA-256 the source stores for it.
var errStoredSum = fmt.Errorf("source content does not match its stored SHA-256: %w", storage.ErrCorrupt)

// hashObject reads the object under key from p and returns its SHA-256, its
// length and the Info Get gave.
func hashObject(ctx context.Context, p storage.Provider, key string) (string, int64, storage.Info, error) {
	rc, info, err := p.Get(ctx, key, nil)
	if err != nil {
		return "", 0, info, err
	}
	defer rc.Close()
	h := storage.NewHashingReader(rc)
	if _, err := io.Copy(io.Discard, h); err != nil {
		return "", 0, info, err
	}
	return h.SHA256(), h.N(), info, nil
}

// sendReader is what a driver reads a source object from: it counts the
// bytes, for the size check and (in total) for progress reports, and
// hashes them unless h is nil.
type sendReader struct {
	r     io.Reader
	total *atomic.Int64
	n     int64
	h     hash.Hash
}

func (s *sendReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.n += int64(n)
		s.total.Add(int64(n))
		if s.h != nil {
			s.h.Write(p[:n])
		}
	}
	return n, err
}

// copyObject streams the source object to the destination and returns the
// number of bytes and the SHA-256 of what was sent.
func (m *Migrator) copyObject(ctx context.Context, j job) (int64, string, error) {
	src := j.src
	if src.Size >= m.opts.LargeObject {
		return m.copyLarge(ctx, j)
	}
	n, err := m.small.acquire(ctx, src.Size)
	if err != nil {
		return 0, "", err
	}
	defer m.small.release(n)
	rc, info, err := m.src.Get(ctx, src.Key, nil)
	if err != nil {
		return 0, "", fmt.Errorf("read source: %w", err)
	}
	defer rc.Close()
	return m.send(ctx, j, rc, nil, false, info)
}

// copyLarge is copyObject for a large object. It holds two units of
// m.large while it sends one whose parts the destination buffers, and one
// while it sends one the destination reads in place. Which it is shows
// only once the source's reader is open: it asks for what the last large
// object needed (one unit for a destination that reads in place, before
// the first), and when that was too little and the second unit is not
// free, it closes the reader, gives back what it holds, waits for two
// units and opens the object again, so that no reader of the source stays
// open while it waits.
func (m *Migrator) copyLarge(ctx context.Context, j job) (int64, string, error) {
	units := int64(2)
	if m.parts.ReaderAt && m.srcSeeks.Load() != streamed {
		units = 1
	}
	held, err := m.large.acquire(ctx, units)
	if err != nil {
		return 0, "", err
	}
	defer func() { m.large.release(held) }() // held as it is then
	for {
		rc, info, err := m.src.Get(ctx, j.src.Key, nil)
		if err != nil {
			return 0, "", fmt.Errorf("read source: %w", err)
		}
		ra, inPlace := rc.(readSeekerAt)
		inPlace = inPlace && m.readsParts(info.Size)
		if inPlace {
			m.srcSeeks.Store(seekable)
			if held == 2 {
				m.large.release(1)
				held = 1
			}
		} else {
			m.srcSeeks.Store(streamed)
			if held < 2 && m.large.tryAcquire(1) {
				held = 2
			}
		}
		if inPlace || held == 2 {
			defer rc.Close()
			return m.send(ctx, j, rc, ra, inPlace, info)
		}
		rc.Close()
		m.large.release(held)
		held = 0
		if held, err = m.large.acquire(ctx, 2); err != nil {
			return 0, "", err
		}
	}
}

// The values of Migrator.srcSeeks once a large object has been read (zero
// before).
const (
	seekable int32 = iota + 1
	streamed
)

// send sends the object rc reads, as it is when inPlace (ra is rc, and
// the destination reads its parts from it) or as a stream, and returns the
// number of bytes and the SHA-256 of what was sent.
func (m *Migrator) send(ctx context.Context, j job, rc io.Reader, ra readSeekerAt, inPlace bool, info storage.Info) (int64, string, error) {
	src := j.src
	opts := &storage.PutOptions{ContentType: info.ContentType, Metadata: info.Metadata, Size: info.Size}
	if opts.ContentType == "" && m.opts.ContentTypeFromName {
		if ext := path.Ext(src.Key); ext != "" {
			opts.ContentType = mime.TypeByExtension(strings.ToLower(ext))
		}
	}
	var (
		n   int64
		sum string
		put storage.Info
		err error
	)
	dst := m.dst
	if j.prefixFree && m.opts.Unchecked != nil {
		dst = m.opts.Unchecked
	}
	if inPlace {
		n, sum, put, err = m.putSeekable(ctx, dst, src.Key, ra, info.Size, opts)
	} else {
		n, sum, put, err = m.putStream(ctx, dst, src, rc, opts)
	}
	if err != nil {
		return 0, "", err
	}
	if n != info.Size {
		return 0, "", fmt.Errorf("read %d bytes from source, which said %d: %w", n, info.Size, storage.ErrCorrupt)
	}
	if info.SHA256 != "" && info.SHA256 != sum {
		return 0, "", errStoredSum
	}
	if put.SHA256 != "" && put.SHA256 != sum {
		return 0, "", fmt.Errorf("destination stored SHA-256 %s, sent %s: %w", put.SHA256, sum, storage.ErrCorrupt)
	}
	if put.Size != 0 && put.Size != n {
		return 0, "", fmt.Errorf("destination stored %d bytes, sent %d: %w", put.Size, n, storage.ErrCorrupt)
	}
	srcETag := info.ETag
	if srcETag == "" {
		srcETag = src.ETag
	}
	m.record(JournalEntry{Key: src.Key, Size: n, SrcETag: srcETag, DstETag: put.ETag, SHA256: sum})
	return n, sum, nil
}

// putStream sends r to the destination, counting it on the way, and
// returns the SHA-256 of what was sent.
//
// A driver that reports the SHA-256 of what it stored computes it from the
// bytes it reads from r, the very bytes a hash of our own would see. Once
// one object's reported SHA-256 has matched ours, the Migrator relies on
// the destination's and stops hashing the same bytes twice, except with
// Options.Delete, where a source is deleted on the strength of the sum: its
// own hash then stays an independent check of the driver's. An object the
// destination reports no SHA-256 for is hashed from the source afterwards.
func (m *Migrator) putStream(ctx context.Context, dst storage.Provider, src storage.Info, r io.Reader, opts *storage.PutOptions) (int64, string, storage.Info, error) {
	sr := &sendReader{r: r, total: &m.streamed}
	own := m.opts.Delete || !m.dstHashes.Load()
	if own {
		sr.h = sha256.New()
	}
	seq := m.writeSeq.Add(1)
	put, err := dst.Put(ctx, src.Key, sr, opts)
	if err != nil {
		return 0, "", put, &writeError{err, seq}
	}
	m.wrote(seq)
	if own {
		sum := hex.EncodeToString(sr.h.Sum(nil))
		if put.SHA256 == sum {
			m.dstHashes.Store(true)
		}
		return sr.n, sum, put, nil
	}
	if put.SHA256 == "" {
		m.dstHashes.Store(false)
		sum, err := m.hashSource(ctx, storage.Info{Key: src.Key, Size: sr.n})
		return sr.n, sum, put, err
	}
	return sr.n, put.SHA256, put, nil
}

// readSeekerAt is a source reader a driver can read in parallel parts
// (local files are).
type readSeekerAt interface {
	io.ReadSeeker
	io.ReaderAt
}

// readsParts reports whether the destination reads the parts of an upload
// of size bytes straight from a seekable reader given to Put: it says it
// does (storage.Parts.ReaderAt), the object is large, and it is larger
// than one part, so that it is sent in parts at all.
func (m *Migrator) readsParts(size int64) bool {
	return m.parts.ReaderAt && size >= m.opts.LargeObject && size > m.parts.Size
}

// putSeekable sends a large seekable source as it is, to a destination
// that uploads the parts straight from it (see readsParts): it needs no
// part buffers and can record the checksum up front. The SHA-256 is the one
// the destination reports, checked against a reading of our own when the
// source is to be deleted or the destination reports none.
func (m *Migrator) putSeekable(ctx context.Context, dst storage.Provider, key string, ra readSeekerAt, size int64, opts *storage.PutOptions) (int64, string, storage.Info, error) {
	body := &countingReadSeekerAt{r: ra, total: &m.streamed, size: size}
	seq := m.writeSeq.Add(1)
	put, err := dst.Put(ctx, key, body, opts)
	if err != nil {
		return 0, "", put, &writeError{err, seq}
	}
	m.wrote(seq)
	sum := put.SHA256
	if sum == "" || m.opts.Delete {
		h := storage.NewHashingReader(io.NewSectionReader(ra, 0, size+1))
		if _, err := io.Copy(io.Discard, h); err != nil {
			return 0, "", put, fmt.Errorf("read source: %w", err)
		}
		m.hashed.Add(h.N())
		if h.N() != size {
			return 0, "", put, fmt.Errorf("read %d bytes from source, which said %d: %w", h.N(), size, storage.ErrCorrupt)
		}
		if sum != "" && sum != h.SHA256() {
			return 0, "", put, fmt.Errorf("destination stored SHA-256 %s, source holds %s: %w", sum, h.SHA256(), storage.ErrCorrupt)
		}
		sum = h.SHA256()
	}
	return size, sum, put, nil
}

// countingReadSeekerAt passes reads through and adds them to a progress
// counter, at most size bytes in all (a driver may read twice: once to
// hash, once to send).
type countingReadSeekerAt struct {
	r       readSeekerAt
	total   *atomic.Int64
	size    int64
	counted atomic.Int64
}

func (c *countingReadSeekerAt) add(n int) {
	if n <= 0 {
		return
	}
	after := c.counted.Add(int64(n))
	before := after - int64(n)
	if d := min(after, c.size) - min(before, c.size); d > 0 {
		c.total.Add(d)
	}
}

func (c *countingReadSeekerAt) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.add(n)
	return n, err
}

func (c *countingReadSeekerAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.add(n)
	return n, err
}

func (c *countingReadSeekerAt) Seek(offset int64, whence int) (int64, error) {
	return c.r.Seek(offset, whence)
}

// deleteSource removes the source object after checking that the
// destination holds size bytes with the given SHA-256 and that the source
// has not changed since it was listed. sum must be the SHA-256 of the
// source's bytes as read in this run (as they were sent, or read to be
// compared), never one taken from the journal or from the source's own
// record. In a dry run it deletes nothing.
func (m *Migrator) deleteSource(ctx context.Context, src storage.Info, size int64, sum string) error {
	if m.opts.DryRun {
		return nil
	}
	if err := verifyAt(ctx, m.dst, src.Key, size, sum); err != nil {
		return fmt.Errorf("verify destination before delete: %w", err)
	}
	cur, err := m.src.Stat(ctx, src.Key)
	if err != nil {
		return fmt.Errorf("stat source before delete: %w", err)
	}
	if cur.Size != src.Size || !cur.ModTime.Equal(src.ModTime) || (cur.SHA256 != "" && cur.SHA256 != sum) {
		return fmt.Errorf("source changed during the migration; not deleted")
	}
	if err := m.src.Delete(ctx, src.Key); err != nil {
		return fmt.Errorf("delete source: %w", err)
	}
	return nil
}

// verifyAt checks with a Stat that p holds the object key with size bytes
// and the given SHA-256. When p does not know the object's SHA-256, the
// object is read back and hashed.
func verifyAt(ctx context.Context, p storage.Provider, key string, size int64, sum string) error {
	info, err := p.Stat(ctx, key)
	if err != nil {
		return err
	}
	if info.Size != size {
		return fmt.Errorf("holds %d bytes, want %d: %w", info.Size, size, storage.ErrCorrupt)
	}
	got := info.SHA256
	if got == "" {
		var n int64
		got, n, _, err = hashObject(ctx, p, key)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("read %d bytes, want %d: %w", n, size, storage.ErrCorrupt)
		}
	}
	if got != sum {
		return fmt.Errorf("holds SHA-256 %s, want %s: %w", got, sum, storage.ErrCorrupt)
	}
	return nil
}

// writeError is the error of a Put at the destination.
type writeError struct {
	err error
	seq uint64 // the write's place in the order writes started; see Migrator.refused
}

func (e *writeError) Error() string { return "write destination: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// refusalLimit is the number of writes in a row the destination may refuse
// alike, in a way that does not pass by itself, before the Migrator stops
// taking new objects.
const refusalLimit = 5

// RefusedError is the error Run returns when it stopped taking new objects
// because the destination refused refusalLimit writes in a row for the
// same lasting reason: permission denied (a read-only file system, a
// directory the process may not write, a revoked or read-only key), no
// such bucket or directory, or no space left. Retrying each object would
// only repeat the failure, once per object. Transient failures (an outage,
// a timeout) never stop a run. It unwraps to the first of those errors.
type RefusedError struct {
	// Reason says what the errors have in common.
	Reason string
	// Count is the number of writes refused in a row.
	Count int
	// Err is the error of the first of them.
	Err error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the destination refuses writes (%s): %d objects in a row failed alike, so no more were tried; the first: %v",
		e.Reason, e.Count, e.Err)
}

// Unwrap returns the first error.
func (e *RefusedError) Unwrap() error { return e.Err }

// refusalOf returns why err, the error of one object, shows the
// destination refusing every write, with the write's start sequence, or
// "" when it does not: a transient failure, or one of this object's own.
func refusalOf(err error) (why string, seq uint64) {
	var we *writeError
	if !errors.As(err, &we) {
		return "", 0
	}
	switch {
	case storage.IsContextError(err), errors.Is(err, storage.ErrUnavailable):
		return "", 0
	case errors.Is(err, storage.ErrPermission):
		return "permission denied", we.seq
	case errors.Is(err, storage.ErrNoBucket), errors.Is(err, storage.ErrNotFound):
		// A Put does not need its key to exist: what is missing is the
		// bucket, or the directory.
		return "no such bucket or directory", we.seq
	case errors.Is(err, syscall.ENOSPC):
		return "no space left", we.seq
	}
	return "", 0
}

// wrote records that the write numbered seq succeeded: it ends a run of
// refusals that began with a write started before it. A write that started
// earlier and ends late says nothing of how the destination answers now,
// so "in a row" is in the order writes start, whatever order they end in.
func (m *Migrator) wrote(seq uint64) {
	m.refuseMu.Lock()
	defer m.refuseMu.Unlock()
	if m.refuseRun > 0 && seq > m.refuseSince {
		m.refuseWhy, m.refuseRun = "", 0
	}
}

// refused records err, the error of an object that failed, and reports
// whether it is one more refusal of a run already reported, to be logged
// quietly: the first refusalLimit of a run are logged, and the last of
// them stops the migration.
func (m *Migrator) refused(err error) (quiet bool) {
	why, seq := refusalOf(err)
	if why == "" {
		return false
	}
	m.refuseMu.Lock()
	defer m.refuseMu.Unlock()
	if why != m.refuseWhy {
		m.refuseWhy, m.refuseRun, m.refuseFirst, m.refuseSince = why, 0, err, seq
	}
	m.refuseSince = min(m.refuseSince, seq)
	m.refuseRun++
	if m.refuseErr != nil {
		return true
	}
	if m.refuseRun >= refusalLimit {
		m.refuseErr = &RefusedError{Reason: why, Count: m.refuseRun, Err: m.refuseFirst}
		m.Stop()
	}
	return false
}
