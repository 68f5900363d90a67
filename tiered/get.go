package tiered

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/storage"
)

// maxFillRounds is how many times a Get fetches an object into the cache
// and finds it gone again (evicted at once by a tiny cache, or replaced by
// racing writes) before it reads it straight from the remote.
const maxFillRounds = 3

// fill is one fetch of an object from the remote into the cache, shared by
// every Get that misses the key while it runs.
type fill struct {
	hdr  chan struct{} // closed once info, large and hdrErr are set
	done chan struct{} // closed once err is set

	info   storage.Info
	large  bool  // bigger than RangeThreshold: waiters read the remote directly
	hdrErr error // the fetch failed before the remote answered
	err    error // the fetch failed
	direct bool  // the cache could not take the object: read the remote directly
}

// Get implements driver.Driver: the Store's Get opens the object under
// key, from the cache when it holds it, and otherwise from the remote (see
// the package documentation).
func (t tier) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	s := t.Store
	if reserved(key) {
		return nil, storage.Info{}, s.Wrap("get", key, storage.ErrNotFound)
	}
	if err := s.revalidate(ctx, "get", key); err != nil {
		return nil, storage.Info{}, err
	}
	var opts *storage.GetOptions
	if rng != nil {
		opts = &storage.GetOptions{Range: rng}
	}
	for round, damaged := 0, false; ; round++ {
		rc, info, err := s.c.Get(ctx, key, opts)
		if errors.Is(err, storage.ErrCorrupt) && !damaged {
			// The cached copy is damaged, found as the cache opened it.
			// The cache has removed it unless it is pinned (the only
			// copy of a pending upload): look again, and a miss fetches
			// the object from the remote at once. A pinned copy fails
			// again, and that error is the answer: the remote holds an
			// older version, or none.
			damaged = true
			s.log.Debug("tiered: the cached copy is damaged; looking again", "key", key, "err", err)
			rc, info, err = s.c.Get(ctx, key, opts)
		}
		if err == nil {
			if round == 0 {
				s.ctr.hits.Add(1)
			}
			s.origins.apply(key, &info)
			return rc, info, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return nil, storage.Info{}, s.localErr("get", key, err)
		}
		if round == 0 {
			s.ctr.misses.Add(1)
			if rng != nil && s.opts.RangeThreshold >= 0 && rng.Offset >= s.opts.RangeThreshold {
				return s.seek(ctx, key, opts)
			}
		}
		if round == maxFillRounds {
			return s.direct(ctx, key, opts)
		}
		f, err := s.joinFill(key)
		if err != nil {
			return nil, storage.Info{}, err
		}
		select {
		case <-f.hdr:
		case <-ctx.Done():
			return nil, storage.Info{}, ctx.Err()
		}
		if f.hdrErr != nil {
			return nil, storage.Info{}, f.hdrErr
		}
		if f.large {
			return s.direct(ctx, key, opts)
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, storage.Info{}, ctx.Err()
		}
		if f.err != nil {
			return nil, storage.Info{}, f.err
		}
		if f.direct {
			return s.direct(ctx, key, opts)
		}
	}
}

// localErr passes on an error of the cache as it is, or as the store's
// ErrClosed once the store is closed.
func (s *Store) localErr(op, key string, err error) error {
	if s.Closed() {
		return s.Wrap(op, key, fmt.Errorf("%w: %w", storage.ErrClosed, err))
	}
	return err
}

// direct reads key (or a range of it) straight from the remote, unless a
// delete of it is pending.
func (s *Store) direct(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	if s.pendingDelete(key) {
		return nil, storage.Info{}, s.Wrap("get", key, storage.ErrNotFound)
	}
	s.ctr.directReads.Add(1)
	return s.remoteGet(ctx, key, opts, true)
}

// seek answers a ranged Get that starts at or past RangeThreshold of an
// object missing from the cache: the object is larger than the
// threshold, so the range is read straight from the remote at once, with
// one ranged request, as for any large object; and unless the remote
// refused it, one background fetch copies the whole object into the cache
// (or the one under way goes on), which the read does not wait for.
// Without this, the read would wait for that fetch's remote answer to
// learn the object's size first.
func (s *Store) seek(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	rc, info, err := s.direct(ctx, key, opts)
	if err != nil {
		return nil, storage.Info{}, err
	}
	if s.largeFills.Load() < int32(s.opts.Uploaders) {
		// A full quota of large fills would make the fetch give up at
		// once, after opening a whole-object Get for nothing.
		s.joinFill(key) // fails only when the store is closed
	}
	return rc, info, nil
}

// joinFill returns the fetch of key in progress, or starts one.
func (s *Store) joinFill(key string) (*fill, error) {
	s.kmu.Lock()
	ks := s.refLocked(key)
	if f := ks.fill; f != nil {
		s.unrefLocked(key, ks)
		s.kmu.Unlock()
		s.ctr.fillsShared.Add(1)
		return f, nil
	}
	f := &fill{hdr: make(chan struct{}), done: make(chan struct{})}
	ks.fill = f
	epoch := ks.epoch
	s.kmu.Unlock()
	if !s.goBackground(func() { s.runFill(key, ks, f, epoch) }) {
		s.kmu.Lock()
		ks.fill = nil
		s.unrefLocked(key, ks)
		s.kmu.Unlock()
		return nil, s.Wrap("get", key, storage.ErrClosed)
	}
	return f, nil
}

// goBackground runs fn in a goroutine Close waits for, unless the store
// is closed.
func (s *Store) goBackground(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Closed() {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// runFill fetches key into the cache. It commits only if no Put or Delete
// of key finished since the epoch it was started at (checked under the
// key's lock, just before the cache commits), so that it never brings
// back a deleted object or puts an old one over a new one.
func (s *Store) runFill(key string, ks *keyState, f *fill, epoch uint64) {
	hdrDone := false
	setHdr := func() {
		if !hdrDone {
			hdrDone = true
			close(f.hdr)
		}
	}
	defer func() {
		if f.hdrErr != nil {
			f.err = f.hdrErr
		}
		setHdr()
		s.kmu.Lock()
		ks.fill = nil
		s.unrefLocked(key, ks)
		s.kmu.Unlock()
		close(f.done)
	}()
	ctx := s.ctx
	if _, err := s.c.Stat(ctx, key); err == nil {
		return // a fill that just ended, or a Put, stored it: read it locally
	}
	if s.pendingDelete(key) {
		f.hdrErr = s.Wrap("get", key, storage.ErrNotFound)
		return
	}
	body, info, err := s.remoteGet(ctx, key, nil, false)
	if err != nil {
		switch {
		case s.ctx.Err() != nil:
			err = s.Wrap("get", key, storage.ErrClosed)
		case !errors.Is(err, storage.ErrNotFound):
			s.ctr.fillErrors.Add(1)
		}
		f.hdrErr = err
		return
	}
	rc := body.(*remoteBody)
	defer rc.Close()
	f.info = info
	if s.opts.RangeThreshold >= 0 && info.Size > s.opts.RangeThreshold {
		f.large = true
		if s.largeFills.Add(1) > int32(s.opts.Uploaders) {
			// Enough large objects are being fetched already: serve
			// this one from the remote without caching it.
			s.largeFills.Add(-1)
			return
		}
		defer s.largeFills.Add(-1)
	}
	setHdr()
	s.ctr.fills.Add(1)
	// The cache writes under the fetch's watchdog: a remote that stops
	// sending, or a cache that makes the fetch wait for space, for longer
	// than Timeout ends it.
	wctx := rc.w.ctx
	fr := &fillReader{s: s, r: rc, h: sha256.New(), want: info.SHA256, key: key, ks: ks, epoch: epoch, ctx: wctx}
	cached, err := s.c.Put(wctx, key, fr, &storage.PutOptions{
		ContentType: cleanContentType(info.ContentType), Metadata: cleanMetadata(info.Metadata),
		Size: info.Size, IfNotExists: true,

		CacheControl:       cleanAttr("Cache-Control", info.CacheControl),
		ContentDisposition: cleanAttr("Content-Disposition", info.ContentDisposition),
		ContentEncoding:    cleanAttr("Content-Encoding", info.ContentEncoding),
		ContentLanguage:    cleanAttr("Content-Language", info.ContentLanguage),
	})
	if err == nil {
		// Recorded before the key's lock is let go, so that the first
		// hit already answers with the remote's ETag.
		s.origins.set(key, cached.ETag, info.ETag)
	}
	if fr.locked {
		<-ks.lock
	}
	switch {
	case err == nil, errors.Is(err, storage.ErrExist), errors.Is(err, errFillRaced):
		// Stored, or a Put or Delete came first: the waiters look again.
	case errors.Is(err, cache.ErrFull) && s.ctx.Err() == nil:
		s.log.Debug("tiered: object not cached: the cache is full", "key", key, "err", err)
		f.direct = true
	default:
		s.ctr.fillErrors.Add(1)
		var se *storage.Error
		if !errors.As(err, &se) || se.Provider != provider {
			err = s.Wrap("get", key, cause{err: err})
		}
		f.err = err
		if f.large {
			s.log.Warn("tiered: background fetch failed", "key", key, "err", err)
		}
	}
}

var errFillRaced = errors.New("the key was written or deleted during the fetch")

// fillReader streams a remote object into the cache. At the end it checks
// the SHA-256 the remote reported, then takes the key's lock and checks
// that no Put or Delete of the key finished meanwhile; the cache commits
// while the lock is held, and runFill releases it.
type fillReader struct {
	s      *Store
	r      io.Reader
	h      hash.Hash
	want   string
	key    string
	ks     *keyState
	epoch  uint64
	ctx    context.Context
	locked bool
}

func (r *fillReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	if err != io.EOF {
		return n, err
	}
	if r.want != "" && hex.EncodeToString(r.h.Sum(nil)) != r.want {
		return n, r.s.Wrap("get", r.key, fmt.Errorf("%w: the bytes received from the remote do not match the SHA-256 it reports", storage.ErrCorrupt))
	}
	if !r.locked {
		select {
		case r.ks.lock <- struct{}{}:
			r.locked = true
		case <-r.ctx.Done():
			if r.s.ctx.Err() != nil {
				return n, r.ctx.Err()
			}
			// A Put or Delete held the key for longer than Timeout: when
			// it lets go the epoch changes anyway, so the waiters look
			// again.
			return n, errFillRaced
		}
	}
	r.s.kmu.Lock()
	raced := r.ks.epoch != r.epoch
	r.s.kmu.Unlock()
	if raced {
		return n, errFillRaced
	}
	return n, io.EOF
}

// cleanContentType drops a content type the cache would refuse: a remote
// filled by other tools may hold anything.
// cleanAttr returns v, an HTTP attribute the remote reports, or "" when
// strata could not store it (another client wrote it); the object is
// still cached, without it.
func cleanAttr(name, v string) string {
	if storage.ValidHTTPAttribute(name, v) != nil {
		return ""
	}
	return v
}

func cleanContentType(ct string) string {
	if storage.ValidContentType(ct) != nil {
		return ""
	}
	return ct
}

// cleanMetadata drops the metadata entries the cache would refuse.
func cleanMetadata(md map[string]string) map[string]string {
	if len(md) == 0 || storage.ValidMetadata(md) == nil {
		return md
	}
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(md)) {
		out[k] = md[k]
		if storage.ValidMetadata(out) != nil {
			delete(out, k)
		}
	}
	return out
}

// Stat implements driver.Driver: the Store's Stat returns the Info of the
// object under key, from the cache when it holds it and from the remote
// otherwise (without fetching the object).
func (t tier) Stat(ctx context.Context, key string) (storage.Info, error) {
	s := t.Store
	if reserved(key) {
		return storage.Info{}, s.Wrap("stat", key, storage.ErrNotFound)
	}
	if err := s.revalidate(ctx, "stat", key); err != nil {
		return storage.Info{}, err
	}
	info, err := s.cacheStat(ctx, key)
	if err == nil {
		s.origins.apply(key, &info)
		return info, nil
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return storage.Info{}, s.localErr("stat", key, err)
	}
	if s.pendingDelete(key) {
		return storage.Info{}, storage.ErrNotFound
	}
	return s.remoteStat(ctx, key)
}

// cacheStat is the cache's Stat, made again when the cached copy is
// damaged (storage.ErrCorrupt): the cache then removes it unless it is
// pinned, so the second answer is a not-found, and the caller goes to the
// remote, or the same error for a pinned copy.
func (s *Store) cacheStat(ctx context.Context, key string) (storage.Info, error) {
	info, err := s.c.Stat(ctx, key)
	if errors.Is(err, storage.ErrCorrupt) {
		info, err = s.c.Stat(ctx, key)
	}
	return info, err
}

// List implements driver.Driver: the Store's List yields the objects
// under o.Prefix in key order: the remote's listing, merged with the
// pending uploads not on the remote yet and without the keys whose remote
// delete is pending. A remote that cannot be listed fails the listing.
func (t tier) List(ctx context.Context, o storage.ListOptions) iter.Seq2[storage.Info, error] {
	s := t.Store
	return func(yield func(storage.Info, error) bool) {
		// The pending uploads are taken before the remote is listed: an
		// upload confirmed after this is on the remote before its listing.
		var local []string
		s.mu.Lock()
		for k, it := range s.items {
			if it.op == opUpload && strings.HasPrefix(k, o.Prefix) && k > o.StartAfter {
				local = append(local, k)
			}
		}
		s.mu.Unlock()
		slices.Sort(local)
		// So are the pending deletes: the remote may list a key whose
		// delete it confirms while the listing runs.
		deleted := s.j.pendingUnder(o.Prefix)

		next, stop := iter.Pull2(s.remoteList(ctx, &o))
		defer stop()
		ri, rerr, rok := next()
		for {
			if rok && rerr != nil {
				yield(storage.Info{}, rerr)
				return
			}
			var info storage.Info
			switch {
			case len(local) > 0 && (!rok || local[0] <= ri.Key):
				k := local[0]
				local = local[1:]
				var remote *storage.Info
				if rok && ri.Key == k {
					r := ri
					remote = &r
					ri, rerr, rok = next()
				}
				li, err := s.cacheStat(ctx, k)
				switch {
				case err == nil:
					info = li
				case (errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrCorrupt)) && remote != nil:
					info = *remote // uploaded and evicted meanwhile, or damaged
				case errors.Is(err, storage.ErrNotFound):
					continue // deleted meanwhile
				case errors.Is(err, storage.ErrCorrupt):
					// A pending upload whose only copy is damaged beyond
					// describing: Get and Status report it; the listing
					// goes on without it.
					s.log.Warn("tiered: list: leaving out a pending upload whose local copy is damaged", "key", k, "err", err)
					continue
				default:
					yield(storage.Info{}, s.localErr("list", k, err))
					return
				}
			case rok:
				info = ri
				ri, rerr, rok = next()
			default:
				return
			}
			if _, del := deleted[info.Key]; del || s.pendingDelete(info.Key) || reserved(info.Key) {
				continue
			}
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, err)
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// String describes the store for logs.
func (s *Store) String() string {
	return fmt.Sprintf("tiered(%s, cache %s)", s.opts.Mode, s.c.Dir())
}
