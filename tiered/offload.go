package tiered

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/storage"
)

// OffloadOptions are the optional arguments of Offload.
type OffloadOptions struct {
	// IdleFor is how long a local copy must have gone unread before it is
	// dropped. Zero drops every local copy whose remote copy is verified;
	// a negative value drops none (Offload then only uploads).
	IdleFor time.Duration

	// SkipMissing leaves alone the clean (unpinned) local copies that the
	// remote does not have, counting them in Missing, instead of uploading
	// them. Set it when other processes delete from the same remote, so
	// that Offload does not bring their deletes back.
	SkipMissing bool

	// Concurrency is how many entries are checked at once. Zero means the
	// store's Options.Uploaders.
	Concurrency int

	// Progress, when not nil, is called after each entry with the counts
	// so far. Calls do not overlap.
	Progress func(OffloadResult)

	// DryRun makes Offload report what it would upload and drop, making
	// the same decisions from the same Stat of the remote, without doing
	// it: nothing is uploaded, unpinned or dropped, and no entry's access
	// time changes. It assumes that every upload would succeed and that
	// the remote would confirm its SHA-256, so an uploaded entry counts as
	// Verified and, if idle long enough, as Dropped.
	DryRun bool

	// OnAction, when not nil, is called for each upload and drop: after it
	// is done, or, with DryRun, once it is decided. Calls do not overlap
	// each other or those of Progress.
	OnAction func(OffloadAction)
}

// OffloadAction is one upload or drop of Offload.
type OffloadAction struct {
	// Op is "upload" or "drop".
	Op   string
	Key  string
	Size int64
	// Reason says why, for the uploads ("pending upload", "pending
	// upload, differs at the remote", "missing at the remote") and for
	// the drop of a stale copy ("older version than the remote's"); it is
	// "" for the drop of a verified copy.
	Reason string
}

// OffloadResult counts what Offload did.
type OffloadResult struct {
	// Total is the number of cache entries when Offload started; Scanned
	// counts those checked so far.
	Total, Scanned int64
	// Uploaded counts entries sent to the remote because it did not have
	// them or had another version; UploadedBytes their size.
	Uploaded, UploadedBytes int64
	// Verified counts entries whose remote copy was found to match (size
	// and SHA-256), before or after an upload.
	Verified int64
	// Dropped counts local copies removed after verification, and
	// DroppedBytes their size.
	Dropped, DroppedBytes int64
	// Stale counts clean local copies that differed from the remote's
	// newer version (written by another process) and were dropped.
	Stale int64
	// Missing counts clean local copies the remote does not have, left
	// alone because of SkipMissing.
	Missing int64
	// Unverified counts entries kept because the remote reports no SHA-256
	// to compare with.
	Unverified int64
	// Failed counts entries that could not be checked, uploaded or
	// dropped; Err joins their errors (at most ten).
	Failed int64
	Err    error
}

// Offload is the daily migration job: for every entry in the cache it
// makes sure the remote holds the same content, uploading the entries that
// are only local (pending uploads, and clean copies the remote lost) or
// whose pending version differs there, and then drops the local copies not
// read for longer than opts.IdleFor, each only after verifying that the
// remote copy's size and SHA-256 match it. A clean copy that differs from
// the remote is another process's older version: it is dropped, not
// uploaded. Entries are checked at most opts.Concurrency at a time, in no
// particular order. It returns the counts, and an error when ctx ended or
// any entry failed (the counts are valid either way). opts may be nil;
// with opts.DryRun it only says what it would do.
//
// Offload's uploads are not reads: they leave the entries' access times,
// and so their idle time and place in the cache's LRU order, as they are.
func (s *Store) Offload(ctx context.Context, opts *OffloadOptions) (OffloadResult, error) {
	var o OffloadOptions
	if opts != nil {
		o = *opts
	}
	if o.Concurrency <= 0 {
		o.Concurrency = s.opts.Uploaders
	}
	if err := s.CheckOpen(ctx, "offload"); err != nil {
		return OffloadResult{}, err
	}
	var (
		res  OffloadResult
		mu   sync.Mutex // res and Progress
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, o.Concurrency)
	)
	res.Total = s.c.Usage().Entries
	now := s.now()
	report := func(a OffloadAction) {
		if o.OnAction != nil {
			mu.Lock()
			defer mu.Unlock()
			o.OnAction(a)
		}
	}
	record := func(f func(*OffloadResult), err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Scanned++
		f(&res)
		if err != nil {
			res.Failed++
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
		if o.Progress != nil {
			o.Progress(res)
		}
	}
	for e := range s.c.Entries(ctx) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var r OffloadResult
			err := s.offloadEntry(ctx, e, &o, now, &r, report)
			record(func(t *OffloadResult) {
				t.Uploaded += r.Uploaded
				t.UploadedBytes += r.UploadedBytes
				t.Verified += r.Verified
				t.Dropped += r.Dropped
				t.DroppedBytes += r.DroppedBytes
				t.Stale += r.Stale
				t.Missing += r.Missing
				t.Unverified += r.Unverified
			}, err)
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	res.Err = errors.Join(errs...)
	if res.Err != nil {
		return res, s.Wrap("offload", "", res.Err)
	}
	return res, nil
}

// offloadEntry does Offload's work for one cache entry, holding its key
// busy so that no upload or delete of the key runs meanwhile, or with
// o.DryRun decides it only. It reports each upload and drop.
func (s *Store) offloadEntry(ctx context.Context, e cache.Entry, o *OffloadOptions, now time.Time, r *OffloadResult, report func(OffloadAction)) error {
	if err := s.acquire(ctx, e.Key); err != nil {
		return err
	}
	defer s.release(e.Key)
	if s.pendingDelete(e.Key) {
		return nil
	}
	pend, hasPend := s.pendingItem(e.Key)
	if hasPend && pend.op == opUpload && pend.cond {
		// A conditional create: only the uploader may send it, for it
		// alone keeps another writer's object if the key is taken.
		return nil
	}
	remote, err := s.remoteStat(ctx, e.Key)
	missing := errors.Is(err, storage.ErrNotFound)
	if err != nil && !missing {
		return err
	}
	same := !missing && remote.Size == e.Size && remote.SHA256 != "" && remote.SHA256 == e.SHA256
	switch {
	case same:
	case e.Pinned || (missing && !o.SkipMissing):
		if !missing && remote.SHA256 == "" && !e.Pinned {
			r.Unverified++
			return nil
		}
		up := OffloadAction{Op: "upload", Key: e.Key, Size: e.Size, Reason: "missing at the remote"}
		switch {
		case e.Pinned && missing:
			up.Reason = "pending upload"
		case e.Pinned:
			up.Reason = "pending upload, differs at the remote"
		}
		if o.DryRun {
			// As if the upload succeeded and the remote confirmed it.
			report(up)
			r.Uploaded++
			r.UploadedBytes += e.Size
			break
		}
		info, err := s.upload(ctx, e.Key, e.Key, e.ETag, false)
		if errors.Is(err, errVersionGone) {
			return nil // replaced or deleted meanwhile; its own upload takes care of it
		}
		if err != nil {
			return err
		}
		if err := s.announce(ctx, e.Key); err != nil {
			return err
		}
		report(up)
		r.Uploaded++
		r.UploadedBytes += e.Size
		if info.SHA256 == "" {
			// The remote confirmed the size only; it cannot be dropped
			// on that.
			s.unpinSettled(e, pend, hasPend)
			r.Unverified++
			return nil
		}
	case missing:
		r.Missing++
		return nil
	case remote.SHA256 == "":
		r.Unverified++
		return nil
	default:
		// A clean copy of a version the remote no longer has.
		ok := o.DryRun
		if !ok {
			if ok, err = s.c.Drop(ctx, e.Key, e.ETag); err != nil {
				return err
			}
		}
		if ok {
			report(OffloadAction{Op: "drop", Key: e.Key, Size: e.Size, Reason: "older version than the remote's"})
			r.Stale++
		}
		return nil
	}
	r.Verified++
	if e.Pinned && !o.DryRun {
		s.unpinSettled(e, pend, hasPend)
	}
	// IdleFor zero drops whatever the last access: a copy read after
	// Offload started goes too.
	if o.IdleFor < 0 || (o.IdleFor > 0 && now.Sub(e.LastAccess) < o.IdleFor) {
		return nil
	}
	ok := o.DryRun
	if !ok {
		if ok, err = s.c.Drop(ctx, e.Key, e.ETag); err != nil {
			return fmt.Errorf("dropping %q: %w", e.Key, err)
		}
		if ok {
			s.ctr.offloadDropped.Add(1)
		}
	}
	if ok {
		report(OffloadAction{Op: "drop", Key: e.Key, Size: e.Size})
		r.Dropped++
		r.DroppedBytes += e.Size
	}
	return nil
}

// unpinSettled unpins a pinned entry Offload has confirmed on the remote
// and forgets its pending upload if it was for that version.
func (s *Store) unpinSettled(e cache.Entry, pend item, hasPend bool) {
	s.unpin(e.Key, e.ETag)
	if hasPend && pend.op == opUpload && sameETag(pend.etag, e.ETag) {
		s.settle(pend)
	}
}
