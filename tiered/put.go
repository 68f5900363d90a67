package tiered

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// Put implements driver.Driver: the Store's Put stores the object under
// key in the cache and on the remote, as the store's Mode says (see the
// package documentation). The Info returned is the cache's. body goes to
// the cache as it is, which hashes it once for both layers.
func (t tier) Put(ctx context.Context, key string, body *driver.Body, o *storage.PutOptions) (storage.Info, error) {
	s := t.Store
	if reserved(key) {
		return storage.Info{}, s.Wrap("put", key, fmt.Errorf("%w: keys under %q are the change log's", storage.ErrInvalidArgument, ChangesPrefix))
	}
	ks, err := s.lockKey(ctx, key)
	if err != nil {
		return storage.Info{}, err
	}
	defer s.unlockKey(key, ks)
	if s.opts.Mode == WriteBehind {
		return s.putBehind(ctx, key, body, o)
	}
	return s.putThrough(ctx, key, body, o)
}

// putBehind stores the object pinned (durably, with its pin as the record
// of the pending upload), cancels a pending delete of the key in the
// journal, and queues the upload. With IfNotExists, the upload is recorded
// as a conditional create (see checkAbsent). The caller holds key's lock.
func (s *Store) putBehind(ctx context.Context, key string, r io.Reader, o *storage.PutOptions) (storage.Info, error) {
	cond := false
	if o.IfNotExists {
		var err error
		if cond, err = s.checkAbsent(ctx, key); err != nil {
			return storage.Info{}, err
		}
	}
	if cond {
		// Before the object: a pinned copy is never without its record.
		if err := s.j.conditional(key); err != nil {
			return storage.Info{}, fmt.Errorf("recording the conditional Put in the journal: %w", err)
		}
	}
	info, err := s.c.PutPinned(ctx, key, r, o)
	if err != nil {
		return storage.Info{}, s.localErr("put", key, err)
	}
	if err := s.j.undeleted(key); err != nil {
		// The journal would delete the new object after a restart:
		// take it back rather than acknowledge it.
		if derr := s.c.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.Error("tiered: removing a Put that failed", "key", key, "err", derr)
		}
		return storage.Info{}, fmt.Errorf("recording the Put in the delete journal: %w", err)
	}
	if !cond {
		// A plain Put replaces a conditional one still pending: the last
		// Put wins, as without IfNotExists. Should this record be lost in
		// a crash, the new object is sent as a conditional create, which
		// loses nothing either (see resolveConflict).
		if err := s.j.unconditional(key); err != nil {
			s.log.Warn("tiered: recording a Put in the journal", "key", key, "err", err)
		}
	}
	s.queueUpload(key, info.ETag, info.Size, cond)
	return info, nil
}

// checkAbsent fails with ErrExist when key is stored locally or on the
// remote (unless its remote delete is pending). It reports whether the
// upload must be a conditional create: when the remote said the key is
// free (another process may still take it before the upload) or could not
// say (an error matching storage.ErrUnavailable: the local tier decides,
// so that write-behind keeps taking writes through an outage). A key whose
// remote delete is pending is free and its upload plain: the remote still
// holds the deleted object until the Put replaces it.
func (s *Store) checkAbsent(ctx context.Context, key string) (bool, error) {
	_, err := s.cacheStat(ctx, key)
	if err == nil || errors.Is(err, storage.ErrCorrupt) {
		// A damaged copy still kept is a pending upload's: it exists.
		return false, storage.ErrExist
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return false, s.localErr("put", key, err)
	}
	if s.pendingDelete(key) {
		return false, nil
	}
	_, err = s.remoteStat(ctx, key)
	switch {
	case err == nil:
		return false, storage.ErrExist
	case errors.Is(err, storage.ErrNotFound):
		return true, nil
	case errors.Is(err, storage.ErrUnavailable) && ctx.Err() == nil:
		s.log.Info("tiered: the remote cannot say whether a key exists; accepting the conditional Put locally", "key", key, "err", err)
		return true, nil
	}
	return false, err
}

// putThrough stores the object pinned, uploads it from the cache, and
// unpins it. If the upload fails, the new local copy is removed, so that
// the cache never serves content the remote does not have; the error is
// returned. The caller holds key's lock.
func (s *Store) putThrough(ctx context.Context, key string, r io.Reader, o *storage.PutOptions) (storage.Info, error) {
	if err := s.acquire(ctx, key); err != nil {
		return storage.Info{}, err
	}
	defer s.release(key)
	pend, hasPend := s.pendingItem(key)
	switch {
	case hasPend && pend.op == opUpload:
		// A version left pending by a write-behind run: send it first, so
		// that if this Put fails, that acknowledged write is not lost.
		if err := s.sendPending(ctx, pend); err != nil && !errors.Is(err, errVersionGone) {
			return storage.Info{}, err
		}
		s.settle(pend)
		hasPend = false
	case hasPend && pend.op == opDelete && o.IfNotExists:
		// The remote still holds the deleted object, which would make the
		// conditional upload fail: finish the delete first.
		if err := s.remoteDelete(ctx, key); err != nil {
			return storage.Info{}, err
		}
		if err := s.j.done(key, pend.delID); err != nil {
			return storage.Info{}, err
		}
		s.settle(pend)
		hasPend = false
	}
	info, err := s.c.PutPinned(ctx, key, r, o)
	if err != nil {
		return storage.Info{}, s.localErr("put", key, err)
	}
	if _, err := s.upload(ctx, key, key, info.ETag, o.IfNotExists); err != nil {
		if derr := s.c.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.Error("tiered: removing the local copy of a failed write-through Put", "key", key, "err", derr)
		}
		return storage.Info{}, err
	}
	if hasPend { // a pending delete, now overtaken
		if err := s.j.undeleted(key); err != nil {
			return storage.Info{}, fmt.Errorf("recording the Put in the delete journal: %w", err)
		}
		s.settle(pend)
	}
	if !o.IfNotExists { // a created key had no older version to announce
		// Still pinned: were the process to die before the announcement,
		// the upload (and its announcement) would resume after a restart.
		if err := s.announceVersion(ctx, key, info.ETag); err != nil {
			s.queueUpload(key, info.ETag, info.Size, false)
			return storage.Info{}, err
		}
	}
	s.unpin(key, info.ETag)
	return info, nil
}

// Delete implements driver.Driver: the Store's Delete removes the object
// under key from both tiers. In write-through mode the remote delete comes
// first and its failure fails the call with nothing changed; in
// write-behind mode the delete is recorded in the journal (fsynced), the
// local copy removed, and the remote delete queued.
func (t tier) Delete(ctx context.Context, key string) error {
	s := t.Store
	if reserved(key) {
		return s.Wrap("delete", key, fmt.Errorf("%w: keys under %q are the change log's", storage.ErrInvalidArgument, ChangesPrefix))
	}
	ks, err := s.lockKey(ctx, key)
	if err != nil {
		return err
	}
	defer s.unlockKey(key, ks)
	if s.opts.Mode == WriteBehind {
		id, err := s.j.deleted(key)
		if err != nil {
			return fmt.Errorf("recording the delete in the journal: %w", err)
		}
		// The local copy goes before the remote delete is queued: were the
		// remote delete (and its record in the journal) to complete first,
		// a crash before the local delete would leave a copy the journal
		// no longer removes, served though the remote has lost it.
		lerr := s.c.Delete(context.WithoutCancel(ctx), key)
		s.queueDelete(key, id)
		if lerr != nil {
			return s.localErr("delete", key, lerr)
		}
		return nil
	}
	if err := s.acquire(ctx, key); err != nil {
		return err
	}
	defer s.release(key)
	if s.chg != nil {
		return s.deleteAnnounced(ctx, key)
	}
	if err := s.remoteDelete(ctx, key); err != nil {
		return err
	}
	pend, hasPend := s.pendingItem(key)
	if hasPend && pend.op == opDelete {
		if err := s.j.done(key, pend.delID); err != nil {
			s.log.Warn("tiered: recording a remote delete", "key", key, "err", err)
		}
	}
	if err := s.c.Delete(context.WithoutCancel(ctx), key); err != nil {
		return s.localErr("delete", key, err)
	}
	if hasPend {
		s.settle(pend)
	}
	return nil
}
