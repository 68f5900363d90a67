package tiered

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
)

// ChangesPrefix is the prefix of the keys under which stores with
// Options.Staleness set keep the change log on the remote: one small
// object per overwrite or delete, named
// ChangesPrefix + "<unix nanoseconds, 20 digits>-<process>-<seq>/" + key,
// so that a listing says what changed without reading anything. (A key too
// long for that gets an entry ending in ".k" holding the key.) The entry
// of an upload holds, as its metadata "version", the cache version it
// announces. The store
// hides the keys under this prefix: its List, Stat and Get never show
// them, and Put, Delete and Copy refuse them.
const ChangesPrefix = "strata-changes/"

// Bounds of the change log, from Options.Staleness.
const (
	// changesMargin is how far back before the newest entry seen (or the
	// last poll) each poll lists again: an entry may land on the remote
	// some time after the time in its name (its Put is slow), and hosts'
	// clocks differ. Added to Options.Timeout.
	changesMargin = 30 * time.Second
	// minRetention is the least time an entry is kept.
	minRetention = 10 * time.Minute
	// cursorFile, in the cache's state directory, records how far this
	// cache has read the log, so that a restart knows what it missed.
	cursorFile = "changes-cursor"
	// saveEvery is how often the cursor is saved.
	saveEvery = 5 * time.Second
	// idsFile, in the cache's state directory, holds the process ids of
	// the latest runs on this cache, newest first, keepIDs of them: a
	// restart recognises their entries in the log (see sentBefore).
	idsFile = "changes-ids"
	keepIDs = 8
	// versionMeta is the metadata key of an upload's entry that holds
	// the cache version it announces (its ETag, bare).
	versionMeta = "version"
)

// changes is the change log: what a store announces to the others on its
// remote, and what it learns from them.
type changes struct {
	s         *Store
	bound     time.Duration // Options.Staleness
	interval  time.Duration // between polls: half the bound
	retention time.Duration // entries older than this are compacted
	margin    time.Duration // re-read before the cursor
	id        string        // this process, in entry names
	seq       atomic.Uint64
	path      string
	started   int64 // unix nanos, when this run began

	// The pending uploads found at the start (Store.recovered) and the
	// ids of the earlier runs on this cache, for sentBefore, which
	// builds sent on its first call.
	rmu       sync.Mutex
	prevIDs   map[string]bool
	recovered map[string]recoveredUpload
	sent      map[string][]string // key -> names of earlier runs' entries of it

	mu          sync.Mutex
	cursor      int64            // unix nanos: polls list from cursor-margin
	seen        map[string]int64 // entries applied, newer than cursor-margin
	lastOK      time.Time        // when the last successful poll began, in this run or (from the cursor file) an earlier one
	freshAt     time.Time        // the same, in this run only: what reads go by
	unverified  map[string]struct{}
	lastSave    time.Time
	nextCompact time.Time

	ctr changeCounters
}

type changeCounters struct {
	polls, pollFailures, announced, applied, dropped, revalidations, compacted atomic.Int64
}

// ChangeStatus reports the work of the change log (Options.Staleness).
type ChangeStatus struct {
	// Enabled is whether Options.Staleness is set.
	Enabled bool
	// Bound is Options.Staleness; Retention how long entries are kept.
	Bound, Retention time.Duration
	// LastPoll is when the last successful read of the log began: until
	// LastPoll+Bound, cached copies are served without a remote request.
	// It is zero until the first successful poll of this Store.
	LastPoll time.Time
	// SinceLastPoll is how long ago LastPoll was, by the store's clock
	// (Options.Now), or 0 while LastPoll is zero. Past Bound, each read
	// of a cached copy costs a remote Stat: alert on it.
	SinceLastPoll time.Duration
	// Polls and PollFailures count reads of the log (one remote List
	// each, or a few when many entries are new).
	Polls, PollFailures int64
	// Announced counts entries written; Applied the other processes'
	// entries read; Dropped the cached copies they removed.
	Announced, Applied, Dropped int64
	// Revalidations counts cached copies checked with a remote Stat
	// before being served, because the log could not be read recently
	// enough or because the store missed part of it (a restart or an
	// outage longer than the retention).
	Revalidations int64
	// Compacted counts entries removed from the log.
	Compacted int64
	// Unverified counts cached copies still to revalidate after a gap.
	Unverified int
}

// ChangeStatus returns the state of the change log.
func (s *Store) ChangeStatus() ChangeStatus {
	c := s.chg
	if c == nil {
		return ChangeStatus{}
	}
	c.mu.Lock()
	st := ChangeStatus{Enabled: true, Bound: c.bound, Retention: c.retention, LastPoll: c.freshAt, Unverified: len(c.unverified)}
	c.mu.Unlock()
	if !st.LastPoll.IsZero() {
		st.SinceLastPoll = max(s.now().Sub(st.LastPoll), 0)
	}
	st.Polls, st.PollFailures = c.ctr.polls.Load(), c.ctr.pollFailures.Load()
	st.Announced, st.Applied, st.Dropped = c.ctr.announced.Load(), c.ctr.applied.Load(), c.ctr.dropped.Load()
	st.Revalidations, st.Compacted = c.ctr.revalidations.Load(), c.ctr.compacted.Load()
	return st
}

// recoveredUpload is a pending upload found in the cache at start: the
// version (its ETag) and when it was written.
type recoveredUpload struct {
	etag string
	mod  time.Time
}

// reserved reports whether key belongs to the change log.
func reserved(key string) bool { return strings.HasPrefix(key, ChangesPrefix) }

// startChanges sets up the change log when Options.Staleness is set and
// starts its poller. It reads the saved cursor: until the first poll
// succeeds, every cached copy is revalidated before being served.
func (s *Store) startChanges() error {
	if s.opts.Staleness <= 0 {
		return nil
	}
	b := s.opts.Staleness
	c := &changes{
		s: s, bound: b, interval: max(b/2, time.Millisecond),
		margin: s.opts.Timeout + changesMargin,
		path:   filepath.Join(s.c.StateDir(), cursorFile),
		seen:   map[string]int64{}, unverified: map[string]struct{}{},
	}
	c.retention = max(10*b, minRetention, 4*c.margin)
	var idb [6]byte
	rand.Read(idb[:])
	c.id = hex.EncodeToString(idb[:])
	c.started = s.now().UnixNano()
	c.recovered, s.recovered = s.recovered, nil
	c.prevIDs = c.recordID(filepath.Join(s.c.StateDir(), idsFile))
	if data, err := os.ReadFile(c.path); err == nil {
		f := strings.Fields(string(data))
		if len(f) == 2 {
			cur, err1 := strconv.ParseInt(f[0], 10, 64)
			ok, err2 := strconv.ParseInt(f[1], 10, 64)
			if err1 == nil && err2 == nil {
				c.cursor, c.lastOK = cur, time.Unix(0, ok)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("tiered: reading the change log cursor; revalidating the cache", "err", err)
	}
	s.chg = c
	s.wg.Add(1)
	go c.run()
	return nil
}

// recordID reads the ids of the earlier runs on this cache from path and
// writes this run's before them. Losing the file only makes a restart
// send again what an earlier run had sent.
func (c *changes) recordID(path string) map[string]bool {
	prev := map[string]bool{}
	ids := []string{c.id}
	if data, err := os.ReadFile(path); err == nil {
		for _, id := range strings.Fields(string(data)) {
			if len(ids) < keepIDs && !prev[id] {
				prev[id] = true
				ids = append(ids, id)
			}
		}
	}
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, []byte(strings.Join(ids, "\n")+"\n"), 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		c.s.log.Warn("tiered: recording the change log id", "err", err)
	}
	return prev
}

// run polls the log every interval, and compacts it now and then, until
// the store closes.
func (c *changes) run() {
	defer c.s.wg.Done()
	for {
		// The next poll is due an interval after this one began.
		next := c.s.after(c.interval)
		c.poll()
		c.maybeCompact()
		select {
		case <-next:
		case <-c.s.ctx.Done():
			return
		}
	}
}

// entry is a parsed entry name.
type entry struct {
	name string
	ts   int64
	id   string
	key  string // "" when the name holds no key (".k": read the body)
}

func parseEntry(name string) (entry, bool) {
	rest, ok := strings.CutPrefix(name, ChangesPrefix)
	if !ok {
		return entry{}, false
	}
	head, key, _ := strings.Cut(rest, "/")
	head = strings.TrimSuffix(head, ".k")
	parts := strings.SplitN(head, "-", 3)
	if len(parts) != 3 {
		return entry{}, false
	}
	ts, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return entry{}, false
	}
	return entry{name: name, ts: ts, id: parts[1], key: key}, true
}

func stamp(ns int64) string { return fmt.Sprintf("%020d", max(ns, 0)) }

// announce records on the remote that key changed there (an overwrite or
// a delete): the other stores drop their copies within the bound. The
// remote must already hold the change. It is a no-op without
// Options.Staleness.
func (s *Store) announce(ctx context.Context, key string) error {
	return s.announceVersion(ctx, key, "")
}

// announceVersion is announce for the upload of the cache's version etag
// of key, which the entry names (see sentBefore).
func (s *Store) announceVersion(ctx context.Context, key, etag string) error {
	c := s.chg
	if c == nil {
		return nil
	}
	head := ChangesPrefix + stamp(s.now().UnixNano()) + "-" + c.id + "-" + strconv.FormatUint(c.seq.Add(1), 36)
	name, body := head+"/"+key, ""
	if storage.ValidKey(name) != nil {
		name, body = head+".k", key
	}
	po := &storage.PutOptions{Size: int64(len(body))}
	if etag != "" {
		po.Metadata = map[string]string{versionMeta: strings.Trim(etag, `"`)}
	}
	w := s.watch(ctx)
	defer w.done()
	s.ctr.remotePuts.Add(1)
	_, err := s.remote.Put(w.ctx, name, strings.NewReader(body), po)
	if err != nil {
		err = s.remoteErr(ctx, "put", key, w, fmt.Errorf("the remote holds the change, but announcing it to the other processes failed: %w", err))
		return err
	}
	c.ctr.announced.Add(1)
	return nil
}

// sentBefore reports whether the pending upload of version etag of key
// was sent and announced by an earlier run on this cache: found pinned at
// the start, its entry in the log names it. Then the remote had it, and
// the run ended (killed, or the announcement's reply lost) before
// unpinning it. Sending it again could undo what another process did to
// the key since (a delete, an overwrite): the caller unpins it instead, and
// the key is marked, so that its first read checks the copy against the
// remote. It is false for every other upload, and when the entry cannot
// be found (compacted past the retention, or an entry holding its key in
// its body): that upload is sent again, as without the change log.
func (s *Store) sentBefore(ctx context.Context, key, etag string) (bool, error) {
	c := s.chg
	if c == nil {
		return false, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	r, ok := c.recovered[key]
	if !ok {
		return false, nil
	}
	if !sameETag(r.etag, etag) || len(c.prevIDs) == 0 {
		delete(c.recovered, key) // a version of this run
		return false, nil
	}
	if c.sent == nil {
		if err := c.findSent(ctx); err != nil {
			return false, err
		}
	}
	names := c.sent[key]
	for i := len(names) - 1; i >= 0; i-- { // the newest first
		info, err := s.remoteStat(ctx, names[i])
		if errors.Is(err, storage.ErrNotFound) {
			continue // compacted meanwhile
		}
		if err != nil {
			return false, err
		}
		if v := info.Metadata[versionMeta]; v != "" && sameETag(v, etag) {
			delete(c.recovered, key)
			c.mu.Lock()
			c.unverified[key] = struct{}{}
			c.mu.Unlock()
			s.log.Info("tiered: change log: a pending upload was sent and announced before the restart; not sending it again", "key", key)
			return true, nil
		}
	}
	delete(c.recovered, key)
	return false, nil
}

// findSent lists the log's entries of the earlier runs on this cache,
// from the oldest recovered upload on (less the margin), into c.sent.
// The caller holds c.rmu.
func (c *changes) findSent(ctx context.Context) error {
	s := c.s
	from := c.started
	for _, r := range c.recovered {
		from = min(from, r.mod.UnixNano())
	}
	sent := map[string][]string{}
	for info, err := range s.remoteList(ctx, &storage.ListOptions{Prefix: ChangesPrefix, StartAfter: ChangesPrefix + stamp(from-int64(c.margin))}) {
		if err != nil {
			return err
		}
		e, ok := parseEntry(info.Key)
		if !ok || e.key == "" || !c.prevIDs[e.id] || e.ts >= c.started {
			continue
		}
		if _, ok := c.recovered[e.key]; ok {
			sent[e.key] = append(sent[e.key], e.name)
		}
	}
	c.sent = sent
	return nil
}

// poll reads the entries added since the last poll and drops the cached
// copies they name. After a gap (no successful poll for longer than the
// retention allows, or none recorded), every cached copy is to be
// revalidated before it is served.
func (c *changes) poll() {
	s := c.s
	start := s.now()
	c.ctr.polls.Add(1)
	c.mu.Lock()
	gap := c.lastOK.IsZero() || start.Sub(c.lastOK) > c.retention-c.margin
	if gap {
		c.cursor = start.UnixNano()
	}
	from := c.cursor - int64(c.margin)
	c.mu.Unlock()
	if gap {
		if err := c.markAll(); err != nil {
			c.fail("listing the cache", err)
			return
		}
	}
	var fresh []entry
	for info, err := range s.remoteList(s.ctx, &storage.ListOptions{Prefix: ChangesPrefix, StartAfter: ChangesPrefix + stamp(from)}) {
		if err != nil {
			c.fail("listing the change log", err)
			return
		}
		e, ok := parseEntry(info.Key)
		if !ok {
			continue
		}
		c.mu.Lock()
		_, done := c.seen[e.name]
		c.mu.Unlock()
		if !done {
			fresh = append(fresh, e)
		}
	}
	ok := true
	for _, e := range fresh {
		if e.id != c.id {
			if err := c.apply(e); err != nil {
				// The cursor stays before this entry: the next poll
				// tries it again.
				c.fail("applying the change log", err)
				ok = false
				break
			}
			c.ctr.applied.Add(1)
		}
		c.mu.Lock()
		c.seen[e.name] = e.ts
		c.cursor = max(c.cursor, e.ts)
		c.mu.Unlock()
	}
	if !ok {
		return
	}
	c.mu.Lock()
	c.cursor = max(c.cursor, start.UnixNano())
	for name, ts := range c.seen {
		if ts < c.cursor-int64(c.margin) {
			delete(c.seen, name)
		}
	}
	c.lastOK, c.freshAt = start, start
	save := start.Sub(c.lastSave) >= saveEvery
	cursor := c.cursor
	if save {
		c.lastSave = start
	}
	c.mu.Unlock()
	if save {
		c.save(cursor, start)
	}
}

func (c *changes) fail(what string, err error) {
	c.ctr.pollFailures.Add(1)
	if c.s.ctx.Err() == nil {
		c.s.log.Warn("tiered: change log: "+what, "err", err)
	}
}

// save records the cursor, for a restart. A lost or torn file only makes
// the restart revalidate the cache.
func (c *changes) save(cursor int64, ok time.Time) {
	tmp := c.path + ".tmp"
	data := fmt.Sprintf("%d %d\n", cursor, ok.UnixNano())
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		c.s.log.Warn("tiered: saving the change log cursor", "err", err)
		return
	}
	if err := os.Rename(tmp, c.path); err != nil {
		c.s.log.Warn("tiered: saving the change log cursor", "err", err)
	}
}

// markAll marks every unpinned cached copy to be revalidated.
func (c *changes) markAll() error {
	s := c.s
	keys := map[string]struct{}{}
	for e := range s.c.Entries(s.ctx) {
		if !e.Pinned {
			keys[e.Key] = struct{}{}
		}
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	n := len(keys) // keys is the store's once handed over: Gets delete from it
	c.mu.Lock()
	c.unverified = keys
	c.mu.Unlock()
	if n > 0 {
		s.log.Info("tiered: change log: the log was not read for longer than it is kept; revalidating the cached copies before serving them", "entries", n)
	}
	return nil
}

// apply drops the cached copy of the key e names, unless the key has a
// pending upload (this process's version, newer unless its upload has
// reached the remote already: then it is checked at its first read once
// settled; see dropCached).
func (c *changes) apply(e entry) error {
	s := c.s
	key := e.key
	if key == "" {
		rc, _, err := s.remoteGet(s.ctx, e.name, nil, false)
		if errors.Is(err, storage.ErrNotFound) {
			return nil // compacted meanwhile
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(rc, storage.MaxKeyLen+1))
		rc.Close()
		if err != nil {
			return err
		}
		key = string(bytes.TrimSpace(b))
		if storage.ValidKey(key) != nil {
			return nil
		}
	}
	return s.dropCached(key, "")
}

// dropCached removes the unpinned cached copy of key (of version etag, or
// any when ""), under key's lock so that a fetch in flight does not bring
// the old bytes back.
//
// A copy with a pending upload is kept: it is this process's newest
// version. But that upload may have reached the remote already, before
// the change that made the entry (its announcement still in flight), so
// the key is marked unverified: once the upload settles, the first read
// checks the copy against the remote (revalidate), and drops it when the
// remote holds other bytes.
func (s *Store) dropCached(key, etag string) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.Timeout)
	defer cancel()
	ks, err := s.lockKey(ctx, key)
	if err != nil {
		return err
	}
	defer s.unlockKey(key, ks)
	if it, ok := s.pendingItem(key); ok && it.op == opUpload {
		if c := s.chg; c != nil {
			c.mu.Lock()
			c.unverified[key] = struct{}{}
			c.mu.Unlock()
		}
		return nil
	}
	dropped, err := s.c.Drop(ctx, key, etag)
	if err != nil {
		return err
	}
	if c := s.chg; c != nil {
		if dropped {
			c.ctr.dropped.Add(1)
		}
		c.mu.Lock()
		delete(c.unverified, key)
		c.mu.Unlock()
	}
	return nil
}

// revalidate runs before a Get or Stat of key is answered from the cache.
// When the log was read less than the bound ago and key's copy is not
// marked after a gap, it does nothing. Otherwise it checks the cached copy
// against the remote with a Stat: a copy the remote no longer holds is
// dropped and the key reported missing; a copy of other bytes is dropped,
// so that the caller fetches the remote's. A remote that cannot answer
// fails the call (ErrUnavailable) rather than serve what may be stale. A
// copy with a pending upload is this process's newest and is served.
func (s *Store) revalidate(ctx context.Context, op, key string) error {
	c := s.chg
	if c == nil {
		return nil
	}
	c.mu.Lock()
	fresh := !c.freshAt.IsZero() && s.now().Sub(c.freshAt) <= c.bound
	_, unv := c.unverified[key]
	c.mu.Unlock()
	if fresh && !unv {
		return nil
	}
	local, err := s.cacheStat(ctx, key)
	if err != nil {
		return nil // a miss reads the remote anyway; the caller reports the rest
	}
	if it, ok := s.pendingItem(key); ok && it.op == opUpload {
		return nil
	}
	c.ctr.revalidations.Add(1)
	remote, err := s.remoteStat(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		if derr := s.dropCached(key, local.ETag); derr != nil {
			return s.localErr(op, key, derr)
		}
		return s.Wrap(op, key, storage.ErrNotFound)
	case err != nil:
		return err
	case remote.SHA256 != "" && remote.SHA256 == local.SHA256 && remote.Size == local.Size:
		if unv {
			c.mu.Lock()
			delete(c.unverified, key)
			c.mu.Unlock()
		}
		return nil
	}
	if derr := s.dropCached(key, local.ETag); derr != nil {
		return s.localErr(op, key, derr)
	}
	return nil
}

// maybeCompact removes the entries older than the retention, oldest
// first: this process's own, and everyone's once twice as old (those of
// processes that stopped). It runs about four times per retention.
func (c *changes) maybeCompact() {
	s := c.s
	now := s.now()
	c.mu.Lock()
	due := !now.Before(c.nextCompact)
	if due {
		s.mu.Lock()
		jitter := time.Duration(s.rnd.Int64N(int64(c.retention/4) + 1))
		s.mu.Unlock()
		c.nextCompact = now.Add(c.retention/8 + jitter)
	}
	c.mu.Unlock()
	if !due {
		return
	}
	own := now.Add(-c.retention).UnixNano()
	anyone := now.Add(-2 * c.retention).UnixNano()
	for info, err := range s.remoteList(s.ctx, &storage.ListOptions{Prefix: ChangesPrefix}) {
		if err != nil {
			c.fail("compacting the change log", err)
			return
		}
		e, ok := parseEntry(info.Key)
		if !ok {
			continue
		}
		if e.ts >= own {
			return
		}
		if e.id != c.id && e.ts >= anyone {
			continue
		}
		if err := s.remoteDelete(s.ctx, e.name); err != nil && !errors.Is(err, storage.ErrNotFound) {
			c.fail("compacting the change log", err)
			return
		}
		c.ctr.compacted.Add(1)
	}
}

// deleteAnnounced is the write-through Delete when the change log is on.
// The delete is recorded in the journal before the remote delete, and the
// record is cleared only once the delete is announced, so that a process
// that dies in between finishes both after a restart: no acknowledged
// delete, nor one that reached the remote unacknowledged, goes
// unannounced. A remote delete that fails leaves things as they were; an
// announcement that fails is retried in the background with the delete,
// and fails the call. The caller holds key's lock and holds it busy.
func (s *Store) deleteAnnounced(ctx context.Context, key string) error {
	pend, hasPend := s.pendingItem(key)
	id, err := s.j.deleted(key)
	if err != nil {
		return fmt.Errorf("recording the delete in the journal: %w", err)
	}
	if err := s.remoteDelete(ctx, key); err != nil {
		if hasPend && pend.op == opDelete {
			s.queueDelete(key, id) // the pending delete, now under the new record
		} else if jerr := s.j.done(key, id); jerr != nil {
			s.log.Warn("tiered: clearing the record of a failed delete", "key", key, "err", jerr)
		}
		return err
	}
	aerr := s.announce(ctx, key)
	// The local copy goes before the record: a crash between the two
	// must not leave a copy of a deleted object.
	lerr := s.c.Delete(context.WithoutCancel(ctx), key)
	if aerr != nil {
		s.queueDelete(key, id)
		return aerr
	}
	if lerr != nil {
		s.queueDelete(key, id)
		return s.localErr("delete", key, lerr)
	}
	if err := s.j.done(key, id); err != nil {
		s.log.Warn("tiered: recording a remote delete", "key", key, "err", err)
	}
	if hasPend {
		s.settle(pend)
	}
	return nil
}
