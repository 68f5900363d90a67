package tiered

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-storage/strata/storage"
)

// ErrNotUploaded is the cause of the error PresignGet returns for an
// object whose upload is still pending (write-behind): the remote does not
// hold it yet, so no URL of the remote copy would serve it. That error
// also matches storage.ErrUnsupported, so that a caller that falls back to
// serving through the store when presigning is unsupported (as httpserve
// does) serves it; match ErrNotUploaded to tell it from a remote that
// cannot presign at all. Once the upload is confirmed, PresignGet works.
var ErrNotUploaded = errors.New("the object is only on local disk until its pending upload is confirmed; read it through the store")

// ErrPending is the cause of the error PresignPut returns for a key that
// has a write or a delete not yet sent to the remote (write-behind, or
// left by a write-behind run): sent after the client's upload, it would
// replace or delete the uploaded object. That error also matches
// storage.ErrUnsupported, so that a caller that falls back to uploading
// through the store when presigning is unsupported does so; match
// ErrPending to tell it from a remote that cannot presign at all. Once
// the pending work is done (Flush waits for it), PresignPut works.
var ErrPending = errors.New("the key has a write or delete that is not on the remote yet and would replace a presigned upload when sent; upload through the store, or Flush first")

var (
	_ storage.Presigner    = (*Store)(nil)
	_ storage.PutPresigner = (*Store)(nil)
	_ storage.Copier       = (*Store)(nil)
)

// PresignGet implements storage.Presigner by presigning the remote copy:
// the store offers the ability exactly when its remote does, and fails
// with storage.ErrUnsupported otherwise. A key whose upload is pending
// fails with an error matching ErrNotUploaded (and storage.ErrUnsupported),
// and a key whose remote delete is pending with storage.ErrNotFound,
// rather than hand out a URL of what the remote holds now.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	const op = "presign"
	if err := s.Check(ctx, op, key); err != nil {
		return "", err
	}
	if reserved(key) {
		return "", s.Wrap(op, key, storage.ErrNotFound)
	}
	ps, ok := s.remote.(storage.Presigner)
	if !ok {
		return "", s.Wrap(op, key, fmt.Errorf("%w: the remote (%T) cannot presign URLs", storage.ErrUnsupported, s.remote))
	}
	if it, ok := s.pendingItem(key); ok {
		if it.op == opDelete {
			return "", s.Wrap(op, key, storage.ErrNotFound)
		}
		return "", s.Wrap(op, key, fmt.Errorf("%w: %w", storage.ErrUnsupported, ErrNotUploaded))
	}
	w := s.watch(ctx)
	defer w.done()
	u, err := ps.PresignGet(w.ctx, key, expiry)
	if err != nil {
		return "", s.remoteErr(ctx, "presign", key, w, err)
	}
	return u, nil
}

// PresignPut implements storage.PutPresigner by presigning an upload to
// the remote (with storage.PresignPut): the store offers the ability
// exactly when its remote does, and fails with storage.ErrUnsupported
// otherwise. The client's upload goes to the remote only, so PresignPut
// drops the store's local copy of key, if any: the next Get fetches the
// object from the remote, the uploaded one once the client has sent it.
//
// A Get of key between PresignPut and the end of the upload may fetch
// and cache the old object again, which the store then serves until it
// is evicted, replaced or deleted through the store: call PresignPut
// again (or Delete the key first) when that matters, or read with the
// remote.
//
// A key with a write or delete still pending for the remote (write-behind
// mode, or left by a write-behind run) fails with an error matching
// ErrPending (and storage.ErrUnsupported), since that pending work would
// replace or delete the uploaded object when it is sent. A Put or Delete
// of the key through the store after PresignPut, in write-behind mode,
// is sent after the client's upload and wins.
//
// With Options.Staleness set, PresignPut fails with an error matching
// storage.ErrUnsupported: the upload happens out of the store's sight, so
// nothing would tell the other processes to drop the object it replaces.
func (s *Store) PresignPut(ctx context.Context, key string, expiry time.Duration, opts *storage.PresignPutOptions) (*storage.PresignedRequest, error) {
	const op = "presign-put"
	if err := s.Check(ctx, op, key); err != nil {
		return nil, err
	}
	if reserved(key) {
		return nil, s.Wrap(op, key, fmt.Errorf("%w: keys under %q are the change log's", storage.ErrInvalidArgument, ChangesPrefix))
	}
	if s.chg != nil {
		// The upload happens later, out of the store's sight: nothing
		// could announce it, so other processes would go on serving the
		// object it replaces, past Options.Staleness.
		return nil, s.Wrap(op, key, fmt.Errorf("%w: a presigned upload bypasses the change log that bounds staleness (Options.Staleness)", storage.ErrUnsupported))
	}
	if _, ok := s.remote.(storage.PutPresigner); !ok {
		return nil, s.Wrap(op, key, fmt.Errorf("%w: the remote (%T) cannot presign uploads", storage.ErrUnsupported, s.remote))
	}
	// The key's lock keeps Puts, Deletes and fetches of it out, and
	// releasing it stops a fetch that started before from caching the
	// old object; acquire waits for an upload of it in flight.
	ks, err := s.lockKey(ctx, key)
	if err != nil {
		return nil, s.Wrap(op, key, err)
	}
	defer s.unlockKey(key, ks)
	if err := s.acquire(ctx, key); err != nil {
		return nil, s.Wrap(op, key, err)
	}
	defer s.release(key)
	if it, ok := s.pendingItem(key); ok {
		what := "an upload"
		if it.op == opDelete {
			what = "a delete"
		}
		return nil, s.Wrap(op, key, fmt.Errorf("%w: %w (%s is pending)", storage.ErrUnsupported, ErrPending, what))
	}
	w := s.watch(ctx)
	pr, err := storage.PresignPut(w.ctx, s.remote, key, expiry, opts)
	err = s.remoteErr(ctx, op, key, w, err)
	w.done()
	if err != nil {
		return nil, err
	}
	if err := s.c.Delete(context.WithoutCancel(ctx), key); err != nil {
		return nil, s.localErr(op, key, err)
	}
	return pr, nil
}

// Copy implements storage.Copier: the store offers the ability exactly
// when its remote does, and fails with storage.ErrUnsupported otherwise.
//
// In write-through mode, when neither key has pending work left by a
// write-behind run, the remote copies the object itself (no bytes pass
// through the process) and the cache gets a copy of src's local copy
// under dst when that holds the same SHA-256 as the remote's copy;
// otherwise dst's stale local copy is removed and the next Get fetches it.
// In write-behind mode, and for keys with pending work, Copy is a Put of
// dst with src's content, content type and metadata, read through the
// store (from the cache, or fetched): it is durable locally when Copy
// returns and uploaded as any Put, so that it works through an outage and
// keeps the per-key order of writes.
func (s *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := s.CheckKeys(ctx, op, dst, src); err != nil {
		return storage.Info{}, err
	}
	if reserved(dst) || reserved(src) {
		return storage.Info{}, s.Wrap(op, dst, fmt.Errorf("%w: keys under %q are the change log's", storage.ErrInvalidArgument, ChangesPrefix))
	}
	cp, ok := s.remote.(storage.Copier)
	if !ok {
		return storage.Info{}, s.Wrap(op, dst, fmt.Errorf("%w: the remote (%T) cannot copy objects", storage.ErrUnsupported, s.remote))
	}
	if s.opts.Mode == WriteThrough {
		info, done, err := s.copyRemote(ctx, cp, dst, src)
		if done {
			return info, err
		}
	}
	return s.copyLocal(ctx, dst, src)
}

// copyRemote copies src to dst on the remote, unless either key has
// pending work (then done is false and nothing was done).
func (s *Store) copyRemote(ctx context.Context, cp storage.Copier, dst, src string) (info storage.Info, done bool, err error) {
	ks, err := s.lockKey(ctx, dst)
	if err != nil {
		return storage.Info{}, true, s.Wrap("copy", dst, err)
	}
	defer s.unlockKey(dst, ks)
	if err := s.acquire(ctx, dst); err != nil {
		return storage.Info{}, true, s.Wrap("copy", dst, err)
	}
	defer s.release(dst)
	_, dstPend := s.pendingItem(dst)
	_, srcPend := s.pendingItem(src)
	if dstPend || srcPend {
		return storage.Info{}, false, nil
	}
	w := s.watch(ctx)
	rinfo, err := cp.Copy(w.ctx, dst, src)
	err = s.remoteErr(ctx, "copy", dst, w, err)
	w.done()
	if err == nil {
		err = s.announce(ctx, dst)
	}
	if err != nil {
		return storage.Info{}, true, err
	}
	// dst's local copy, if any, is of the old object.
	if err := s.c.Delete(context.WithoutCancel(ctx), dst); err != nil {
		return storage.Info{}, true, s.localErr("copy", dst, err)
	}
	if local, err := s.c.Stat(ctx, src); err == nil && local.SHA256 != "" && local.SHA256 == rinfo.SHA256 && local.Size == rinfo.Size {
		if _, err := s.c.Copy(ctx, dst, src); err != nil {
			// Only a cached copy is lost: the next Get fetches it.
			s.log.Warn("tiered: copying in the cache", "dst", dst, "src", src, "err", err)
			s.c.Delete(context.WithoutCancel(ctx), dst)
		}
	}
	return rinfo, true, nil
}

// copyLocal stores src's content under dst with a Put of the store.
func (s *Store) copyLocal(ctx context.Context, dst, src string) (storage.Info, error) {
	rc, info, err := s.Get(ctx, src, nil)
	if err != nil {
		return storage.Info{}, err
	}
	defer rc.Close()
	return s.Put(ctx, dst, rc, storage.PutOptionsOf(info))
}
