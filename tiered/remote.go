package tiered

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// errStalled is the cause a watchdog cancels its context with.
var errStalled = errors.New("remote stalled")

// watchdog bounds a remote call: it cancels its context when it stays
// armed for longer than the store's Timeout. Calls without a body keep it
// armed throughout; bodies arm it only while waiting on the remote.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      *time.Timer
	d      time.Duration
}

// watch returns an armed watchdog whose context is derived from parent.
func (s *Store) watch(parent context.Context) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, d: s.opts.Timeout}
	w.t = time.AfterFunc(w.d, func() { cancel(errStalled) })
	return w
}

func (w *watchdog) arm()    { w.t.Reset(w.d) }
func (w *watchdog) disarm() { w.t.Stop() }
func (w *watchdog) done() {
	w.t.Stop()
	w.cancel(context.Canceled)
}

func (w *watchdog) fired() bool { return errors.Is(context.Cause(w.ctx), errStalled) }

// cause keeps another provider's error (the cache's or the remote's, a
// *storage.Error of its own) as the cause of one of the store's errors:
// the layer's Wrap would hand it on as it is. Kind classifies a remote's
// error that matches no sentinel as storage.ErrUnavailable.
type cause struct {
	err    error
	remote bool
}

func (c cause) Error() string { return c.err.Error() }
func (c cause) Unwrap() error { return c.err }

// Kind implements driver.Driver. The store's errors that say something a
// caller can act on match a sentinel already; a remote's error that says
// nothing more precise is an outage (storage.ErrUnavailable), and the
// rest (a journal that cannot be written) say nothing more.
func (tier) Kind(_ string, err error) error {
	var c cause
	if errors.As(err, &c) && c.remote {
		return storage.ErrUnavailable
	}
	return nil
}

// remoteErr turns the error of a remote call made for op on key into the
// store's: the caller's context error when ctx ended, ErrUnavailable when
// the watchdog w (may be nil) fired or when the remote's error says nothing
// more precise, and otherwise the remote's error with its sentinel. A
// not-found is passed on only when the remote said so.
func (s *Store) remoteErr(ctx context.Context, op, key string, w *watchdog, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(err, cerr) {
			return s.Wrap(op, key, cause{err: err})
		}
		return s.Wrap(op, key, fmt.Errorf("%w (remote: %v)", cerr, err))
	}
	if !errors.Is(err, storage.ErrNotFound) {
		s.ctr.remoteErrors.Add(1)
		switch {
		case w != nil && w.fired():
			return s.Wrap(op, key, fmt.Errorf("%w: the remote did not answer within %v", storage.ErrUnavailable, s.opts.Timeout))
		case s.ctx.Err() != nil && storage.IsContextError(err):
			return s.Wrap(op, key, fmt.Errorf("%w: %w", storage.ErrClosed, err))
		case storage.IsContextError(err) && !errors.Is(err, storage.ErrClosed):
			// The remote's own deadline (the layer leaves context errors
			// unclassified): an outage all the same.
			return s.Wrap(op, key, fmt.Errorf("%w: %w", storage.ErrUnavailable, err))
		}
	}
	return s.Wrap(op, key, cause{err: err, remote: true})
}

// remoteGet opens key on the remote. A paced body is read at the
// caller's pace, so its watchdog runs only inside Read; an unpaced one
// (a fill) must keep making progress.
func (s *Store) remoteGet(ctx context.Context, key string, opts *storage.GetOptions, paced bool) (io.ReadCloser, storage.Info, error) {
	w := s.watch(ctx)
	s.ctr.remoteGets.Add(1)
	rc, info, err := s.remote.Get(w.ctx, key, opts)
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		err = s.remoteErr(ctx, "get", key, w, err)
		w.done()
		return nil, storage.Info{}, err
	}
	if paced {
		w.disarm()
	} else {
		w.arm()
	}
	return &remoteBody{s: s, rc: rc, w: w, ctx: ctx, key: key, paced: paced}, info, nil
}

// remoteBody is the stream of a remote Get, under a watchdog.
type remoteBody struct {
	s     *Store
	rc    io.ReadCloser
	w     *watchdog
	ctx   context.Context
	key   string
	paced bool
}

func (b *remoteBody) Read(p []byte) (int, error) {
	if b.paced {
		b.w.arm()
	}
	n, err := b.rc.Read(p)
	if b.paced {
		b.w.disarm()
	} else if n > 0 {
		b.w.arm()
	}
	b.s.ctr.bytesIn.Add(int64(n))
	if err != nil && err != io.EOF {
		err = b.s.remoteErr(b.ctx, "get", b.key, b.w, err)
	}
	return n, err
}

func (b *remoteBody) Close() error {
	b.w.done()
	return b.rc.Close()
}

func (s *Store) remoteStat(ctx context.Context, key string) (storage.Info, error) {
	w := s.watch(ctx)
	defer w.done()
	s.ctr.remoteStats.Add(1)
	info, err := s.remote.Stat(w.ctx, key)
	if err != nil {
		return storage.Info{}, s.remoteErr(ctx, "stat", key, w, err)
	}
	return info, nil
}

func (s *Store) remoteDelete(ctx context.Context, key string) error {
	w := s.watch(ctx)
	defer w.done()
	s.ctr.remoteDels.Add(1)
	return s.remoteErr(ctx, "delete", key, w, s.remote.Delete(w.ctx, key))
}

// remoteList lists the remote, each page (each step of its sequence)
// under the watchdog.
func (s *Store) remoteList(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		w := s.watch(ctx)
		defer w.done()
		s.ctr.remoteLists.Add(1)
		next, stop := iter.Pull2(s.remote.List(w.ctx, opts))
		defer stop()
		for {
			w.arm()
			info, err, ok := next()
			w.disarm()
			if !ok {
				return
			}
			if err != nil {
				yield(storage.Info{}, s.remoteErr(ctx, "list", "", w, err))
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// errVersionGone means the cache no longer holds the version an upload
// was to send.
var errVersionGone = errors.New("the cache no longer holds that version")

// sameETag reports whether two ETags of the cache name the same version,
// whatever their form: the cache's are quoted, and a journal written
// before they were may hold bare ones.
func sameETag(a, b string) bool { return driver.QuoteETag(a) == driver.QuoteETag(b) }

// errVersionSuperseded is errVersionGone when the cache holds a newer
// version of the key: a write that replaced it is on its way to the queue.
var errVersionSuperseded = fmt.Errorf("%w: a newer version replaced it", errVersionGone)

// upload sends the cached object under key to the remote under rkey
// (key itself, or its conflict key), if the cache still holds version
// etag ("" for any), and confirms the remote copy: the bytes sent must be
// the ones the cache recorded (size and SHA-256), and the remote must
// report the same size and, when it reports one, the same SHA-256. It
// returns the remote's Info. It does not unpin.
func (s *Store) upload(ctx context.Context, key, rkey, etag string, ifNotExists bool) (storage.Info, error) {
	// An upload is not a read: it leaves the entry's access time and the
	// cache's read counters alone.
	rc, info, err := s.c.Peek(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Info{}, errVersionGone
	}
	if err != nil {
		s.ctr.uploadFailures.Add(1)
		return storage.Info{}, s.Wrap("upload", key, cause{err: err})
	}
	defer rc.Close()
	if etag != "" && !sameETag(info.ETag, etag) {
		return storage.Info{}, errVersionSuperseded
	}
	w := s.watch(ctx)
	defer w.done()
	hr := storage.NewHashingReader(rc)
	body := &uploadBody{r: hr, w: w, s: s, key: key, size: info.Size, want: info.SHA256}
	s.ctr.remotePuts.Add(1)
	po := storage.PutOptionsOf(info)
	po.IfNotExists = ifNotExists
	rinfo, err := s.remote.Put(w.ctx, rkey, body, po)
	if err != nil {
		s.ctr.uploadFailures.Add(1)
		if errors.Is(body.err, storage.ErrCorrupt) {
			// The local copy failed the cache's check, or the body's,
			// as it was read: the remote is not to blame, and has
			// stored nothing.
			return storage.Info{}, s.Wrap("upload", key, cause{err: body.err})
		}
		return storage.Info{}, s.remoteErr(ctx, "upload", rkey, w, err)
	}
	var problem string
	switch {
	case hr.N() != info.Size || (info.SHA256 != "" && hr.SHA256() != info.SHA256):
		problem = "the local copy does not match its recorded size and SHA-256"
	case rinfo.Size != info.Size:
		problem = fmt.Sprintf("the remote stored %d bytes of %d", rinfo.Size, info.Size)
	case rinfo.SHA256 != "" && info.SHA256 != "" && rinfo.SHA256 != info.SHA256:
		problem = "the remote copy's SHA-256 differs from the local copy's"
	}
	if problem != "" {
		s.ctr.uploadFailures.Add(1)
		return storage.Info{}, s.Wrap("upload", rkey, fmt.Errorf("%w: %s", storage.ErrCorrupt, problem))
	}
	s.ctr.uploads.Add(1)
	return rinfo, nil
}

// uploadBody feeds an upload from the cache. The watchdog runs while the
// remote is not reading: a remote that stops taking data, or does not
// answer once it has it all, is given up on after Timeout.
//
// The cache checks a whole read's content against its CRC-32C, unless it
// was opened with cache.Options.SkipVerify; either way the body checks
// the SHA-256 it computes anyway (the remote copy is compared by it) and
// fails the Read that would deliver the last bytes when it differs from
// the one the cache recorded, withholding them, so that the remote Put
// fails and stores nothing even when the remote stops reading at the
// size it was promised. A pending upload's local copy is the only copy:
// damage in it must never reach the remote as the object.
type uploadBody struct {
	r    *storage.HashingReader
	w    *watchdog
	s    *Store
	key  string
	size int64  // the object's size, as the cache recorded it
	want string // its SHA-256, as the cache recorded it; "" for none
	err  error  // the local copy's read or check error, if any
}

func (b *uploadBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.w.disarm()
	n, err := b.r.Read(p)
	b.w.arm()
	if err != nil && err != io.EOF {
		b.err = err
	}
	if n > 0 && b.want != "" && b.r.N() >= b.size && b.r.SHA256() != b.want {
		b.err = b.s.Wrap("upload", b.key, fmt.Errorf("%w: the local copy does not hash to the SHA-256 the cache recorded", storage.ErrCorrupt))
		return 0, b.err
	}
	b.s.ctr.bytesOut.Add(int64(n))
	return n, err
}
