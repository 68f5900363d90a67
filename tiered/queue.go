package tiered

import (
	"container/heap"
	"container/list"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-storage/strata/storage"
)

type opKind int

const (
	opUpload opKind = iota + 1
	opDelete
)

// item is a key whose remote copy is not yet what the local tier says it
// should be: an upload of the pinned cache version etag, or a remote
// delete recorded in the journal as delID. A newer Put or Delete of the key
// replaces what the item asks for (and bumps seq) but keeps its place and
// its age: per key, only the last write is sent, and never an older one
// after a newer one, because at most one remote call per key is in flight
// (Store.busy) and the worker that made it looks at the item again after.
type item struct {
	key      string
	op       opKind
	etag     string // opUpload: the cache version to send
	size     int64
	cond     bool   // opUpload: a conditional create (Put with IfNotExists)
	delID    uint64 // opDelete: the journal record
	seq      uint64 // bumped whenever op, etag or delID change
	startSeq uint64 // Store.seq when the key became pending (for Flush)
	since    time.Time
	due      time.Time
	attempts int
	failed   bool // the last attempt failed
	// superseded counts attempts in a row that found the version to send
	// replaced before the item changed (see errSuperseded).
	superseded int
	index      int  // in Store.due, or -1
	parked     bool // taken off the heap because its key was busy
	elem       *list.Element
}

// itemHeap orders items by due time, then by age.
type itemHeap []*item

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].startSeq < h[j].startSeq
}
func (h itemHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *itemHeap) Push(x any) {
	it := x.(*item)
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

// signalLocked wakes everyone waiting for the queue to change.
func (s *Store) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setLocked makes key pending with what set writes into its item, creating
// the item (due now) or updating the one there (keeping its place, age and
// retry time). The caller holds s.mu.
func (s *Store) setLocked(key string, now time.Time, set func(*item)) {
	it := s.items[key]
	if it == nil {
		s.seq++
		it = &item{key: key, startSeq: s.seq, since: now, due: now, index: -1}
		it.elem = s.order.PushBack(it)
		s.items[key] = it
		set(it)
		it.seq++
		if _, busy := s.busy[key]; busy {
			it.parked = true
		} else {
			heap.Push(&s.due, it)
		}
		s.signalLocked()
		return
	}
	set(it)
	it.seq++
	if it.superseded > 0 {
		// The write an attempt found in the cache is here: send it now.
		it.superseded = 0
		it.due = now
		if it.index >= 0 {
			heap.Fix(&s.due, it.index)
		}
	}
	s.signalLocked()
}

// removeLocked forgets the item of key. The caller holds s.mu.
func (s *Store) removeLocked(it *item) {
	if it.index >= 0 {
		heap.Remove(&s.due, it.index)
	}
	if it.failed {
		s.failing--
	}
	s.order.Remove(it.elem)
	delete(s.items, it.key)
	s.signalLocked()
}

// queueUpload makes the pinned cache version etag of key pending, as a
// conditional create when cond is set.
func (s *Store) queueUpload(key, etag string, size int64, cond bool) {
	s.mu.Lock()
	s.setLocked(key, s.now(), func(it *item) { it.op, it.etag, it.size, it.delID, it.cond = opUpload, etag, size, 0, cond })
	s.mu.Unlock()
}

// queueDelete makes the remote delete id of key pending.
func (s *Store) queueDelete(key string, id uint64) {
	s.mu.Lock()
	s.setLocked(key, s.now(), func(it *item) { it.op, it.delID, it.etag, it.size, it.cond = opDelete, id, "", 0, false })
	s.mu.Unlock()
}

// pendingDelete reports whether a remote delete of key is pending, so that
// a local miss must not fetch the object back.
func (s *Store) pendingDelete(key string) bool {
	return s.j.pending(key)
}

// acquire waits until no remote call of key is in flight and marks it
// busy, so that no worker starts one until release. Write-through calls and
// Offload use it to take their turn in the per-key order.
func (s *Store) acquire(ctx context.Context, key string) error {
	s.mu.Lock()
	for {
		ch, busy := s.busy[key]
		if !busy {
			s.busy[key] = make(chan struct{})
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
}

// release ends what acquire began.
func (s *Store) release(key string) {
	s.mu.Lock()
	s.releaseLocked(key)
	s.mu.Unlock()
}

func (s *Store) releaseLocked(key string) {
	close(s.busy[key])
	delete(s.busy, key)
	if it := s.items[key]; it != nil && it.parked {
		it.parked = false
		heap.Push(&s.due, it)
		s.signalLocked()
	}
}

// pendingItem returns a copy of key's item, if any, for a caller that
// holds key busy.
func (s *Store) pendingItem(key string) (item, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[key]; it != nil {
		return *it, true
	}
	return item{}, false
}

// settle forgets key's item if it still asks for what snap asked for: the
// caller has just made the remote copy match it.
func (s *Store) settle(snap item) {
	s.mu.Lock()
	if it := s.items[snap.key]; it != nil && it.seq == snap.seq {
		s.removeLocked(it)
	}
	s.mu.Unlock()
}

// worker runs pending uploads and deletes until Close.
func (s *Store) worker() {
	defer s.wg.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.Closed() {
			return
		}
		if s.due.Len() == 0 {
			s.waitLocked(0)
			continue
		}
		it := s.due[0]
		if wait := it.due.Sub(s.now()); wait > 0 {
			s.waitLocked(wait)
			continue
		}
		heap.Pop(&s.due)
		if _, busy := s.busy[it.key]; busy {
			it.parked = true
			continue
		}
		s.busy[it.key] = make(chan struct{})
		snap := *it
		s.inflight++
		s.mu.Unlock()
		err := s.run(snap)
		s.mu.Lock()
		s.inflight--
		s.finishLocked(it, snap, err)
	}
}

// waitLocked waits, with s.mu released, until the queue changes, d passes
// (when d > 0) or the store closes.
func (s *Store) waitLocked(d time.Duration) {
	ch := s.changed
	s.mu.Unlock()
	defer s.mu.Lock()
	var timer <-chan time.Time
	if d > 0 {
		timer = s.after(d)
	}
	select {
	case <-ch:
	case <-timer:
	case <-s.ctx.Done():
	}
}

// errAbandon marks an upload whose local copy is gone: nothing can send it.
var errAbandon = errors.New("the local copy of the pending upload is gone")

// errSuperseded marks an upload whose version a newer write replaced in
// the cache before the attempt read it. The newer write queues itself
// (its key's item then changes) or settles the key itself; until one of
// them happens, the item waits.
var errSuperseded = errors.New("the version to upload was replaced by a newer one")

// maxSuperseded is how many attempts in a row may find the version to send
// replaced while the item stays the same, before the upload counts as
// abandoned: a newer write queues itself within moments.
const maxSuperseded = 3

// finishLocked records the outcome of the attempt at snap and releases
// its key. The caller holds s.mu.
func (s *Store) finishLocked(it *item, snap item, err error) {
	current := s.items[it.key] == it
	switch {
	case !current:
		// Forgotten meanwhile (a write-through call settled it).
	case errors.Is(err, errSuperseded) && it.seq == snap.seq:
		// The write that replaced the version has not reached the queue
		// yet: wait for it, keeping the item's place and age, rather than
		// forget the key and report the upload abandoned.
		it.superseded++
		if it.superseded > maxSuperseded {
			s.ctr.abandoned.Add(1)
			s.log.Error("tiered: pending upload abandoned: its version was replaced and nothing queued the new one", "key", it.key)
			s.removeLocked(it)
			break
		}
		it.due = s.now().Add(s.opts.MinBackoff)
		it.parked = true
	case errors.Is(err, errSuperseded) || err == nil || errors.Is(err, errAbandon):
		it.superseded = 0
		if it.seq == snap.seq {
			s.removeLocked(it)
		} else {
			it.due = s.now() // the key changed meanwhile: send the newer state now
			s.clearFailedLocked(it)
			it.parked = true // pushed back by releaseLocked below
		}
		if err == nil {
			s.retryAllLocked() // the remote answers again: stop waiting out backoffs
		}
	case s.ctx.Err() != nil:
		// Closing: the attempt was cut short; it resumes after a restart.
	default:
		it.attempts++
		it.due = s.now().Add(s.backoffLocked(it.attempts))
		if !it.failed {
			it.failed = true
			s.failing++
		}
		if errors.Is(err, storage.ErrUnavailable) {
			// An outage, not a refusal: retry it as soon as the remote
			// answers again.
			s.backedOff = append(s.backedOff, it)
		}
		s.lastErr, s.lastErrT = err, s.now()
		it.parked = true
	}
	s.releaseLocked(it.key)
}

func (s *Store) clearFailedLocked(it *item) {
	if it.failed {
		it.failed = false
		s.failing--
	}
	it.attempts = 0
}

// retryAllLocked makes every item waiting out a backoff after an outage
// (ErrUnavailable) due now. Each
// failed attempt puts its item on s.backedOff once, so the work done here
// is bounded by the number of failures, however long the queue.
func (s *Store) retryAllLocked() {
	if len(s.backedOff) == 0 {
		return
	}
	now := s.now()
	for _, it := range s.backedOff {
		if s.items[it.key] == it && it.index >= 0 && it.due.After(now) {
			it.due = now
			heap.Fix(&s.due, it.index)
		}
	}
	clear(s.backedOff)
	s.backedOff = s.backedOff[:0]
	s.signalLocked()
}

// backoffLocked returns the wait before attempt n+1: MinBackoff doubled
// n-1 times, capped at MaxBackoff, drawn from its upper half.
func (s *Store) backoffLocked(n int) time.Duration {
	d := s.opts.MinBackoff
	for i := 1; i < n && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opts.MaxBackoff)
	half := d / 2
	return half + time.Duration(s.rnd.Int64N(int64(d-half)+1))
}

// run makes one attempt at snap's upload or delete.
func (s *Store) run(snap item) error {
	var err error
	switch snap.op {
	case opUpload:
		err = s.runUpload(snap)
	case opDelete:
		err = s.runDelete(snap)
	}
	if err != nil && !errors.Is(err, errAbandon) && s.ctx.Err() == nil {
		s.log.Warn("tiered: pending "+snap.op.String()+" failed; will retry", "key", snap.key, "attempt", snap.attempts+1, "err", err)
	}
	return err
}

func (o opKind) String() string {
	if o == opDelete {
		return "delete"
	}
	return "upload"
}

// runUpload sends the cache version snap.etag of snap.key and unpins it
// once the remote copy is confirmed.
func (s *Store) runUpload(snap item) error {
	err := s.sendPending(s.work, snap)
	if errors.Is(err, errVersionSuperseded) {
		return errSuperseded
	}
	if errors.Is(err, errVersionGone) {
		s.ctr.abandoned.Add(1)
		s.log.Error("tiered: pending upload abandoned: its local copy is gone", "key", snap.key)
		return errAbandon
	}
	return err
}

// sendPending sends the pending upload snap (of version snap.etag) and
// settles its local copy: unpinned once the remote copy is confirmed, or,
// for a conditional create that found the key taken by another writer,
// kept under its conflict key on the remote and dropped locally (see
// resolveConflict). The caller holds snap.key busy.
func (s *Store) sendPending(ctx context.Context, snap item) error {
	if !snap.cond {
		sent, err := s.sentBefore(ctx, snap.key, snap.etag)
		if err != nil {
			return err
		}
		if sent {
			s.unpin(snap.key, snap.etag)
			return nil
		}
	}
	_, err := s.upload(ctx, snap.key, snap.key, snap.etag, snap.cond)
	if snap.cond && errors.Is(err, storage.ErrExist) {
		err = s.resolveConflict(ctx, snap, err)
	}
	if err != nil {
		return err
	}
	if !snap.cond { // a created key had no older version to announce
		if err := s.announceVersion(ctx, snap.key, snap.etag); err != nil {
			return err
		}
	}
	if snap.cond {
		s.clearConditional(snap)
	}
	s.unpin(snap.key, snap.etag)
	return nil
}

// clearConditional ends the journal's conditional record of snap.key once
// its upload is settled, unless the key's pending state changed meanwhile.
func (s *Store) clearConditional(snap item) {
	s.mu.Lock()
	it := s.items[snap.key]
	changed := it != nil && it.seq != snap.seq
	s.mu.Unlock()
	if changed {
		return
	}
	if err := s.j.unconditional(snap.key); err != nil {
		s.log.Warn("tiered: recording a settled conditional upload in the journal", "key", snap.key, "err", err)
	}
}

// unpin unpins a version whose remote copy is confirmed. A failure leaves
// it pinned, to be uploaded again after a restart: harmless.
func (s *Store) unpin(key, etag string) {
	if err := s.c.Unpin(s.work, key, etag); err != nil && !errors.Is(err, storage.ErrClosed) {
		s.log.Warn("tiered: unpin after upload", "key", key, "err", err)
	}
}

// runDelete deletes snap.key from the remote and records it done.
func (s *Store) runDelete(snap item) error {
	if err := s.remoteDelete(s.work, snap.key); err != nil {
		s.ctr.deleteFailures.Add(1)
		return err
	}
	if err := s.announce(s.work, snap.key); err != nil {
		s.ctr.deleteFailures.Add(1)
		return err
	}
	if err := s.j.done(snap.key, snap.delID); err != nil {
		return fmt.Errorf("recording the remote delete in the journal: %w", err)
	}
	s.ctr.remoteDeletes.Add(1)
	return nil
}

// Flush waits until every upload and remote delete pending when it was
// called is confirmed, or until ctx ends. It implements storage.Flusher. In
// write-through mode only work left pending by an earlier write-behind run
// can be waiting. When ctx ends first, the error says how much is left and
// the last remote error, and matches ctx's error.
func (s *Store) Flush(ctx context.Context) error {
	const op = "flush"
	if s.Closed() {
		return s.Wrap(op, "", storage.ErrClosed)
	}
	s.mu.Lock()
	target := s.seq
	for {
		if s.Closed() {
			s.mu.Unlock()
			return s.Wrap(op, "", storage.ErrClosed)
		}
		f := s.order.Front()
		if f == nil || f.Value.(*item).startSeq > target {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			st := s.Status()
			last := "none"
			if st.LastError != nil {
				last = st.LastError.Error()
			}
			return s.Wrap(op, "", fmt.Errorf("%w: %d uploads and %d deletes still pending; last remote error: %s",
				ctx.Err(), st.PendingUploads, st.PendingDeletes, last))
		case <-s.ctx.Done():
		}
		s.mu.Lock()
	}
}
