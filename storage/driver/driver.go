// Package driver is the layer under every strata provider: what each
// provider would otherwise write for every call, written once.
//
// A provider is split in two, as gocloud.dev/blob splits a bucket into a
// driver and a portable type. The [Driver] speaks one protocol (files under
// a root, S3 through an SDK, B2's native API) and classifies its errors in
// one function, [Driver.Kind]. [New] puts a [Provider] in front of it,
// which implements [storage.Provider] and does the rest, the same way for
// every driver:
//
//   - calls after Close fail with [storage.ErrClosed], and a call whose
//     context has already ended fails before the driver is asked;
//   - keys are checked with [storage.ValidKey], and the options of Put with
//     [storage.CheckPut], before the driver sees them;
//   - every error is a [*storage.Error] naming the operation, the provider
//     and the key, of the kind [Driver.Kind] gives (context errors stay
//     matchable with errors.Is);
//   - Put's reader is wrapped in a [Body], which hashes the bytes as the
//     driver reads them (the driver records the SHA-256 it gives with the
//     object) and fails the read, before the driver commits anything, when
//     the reader yields more or fewer bytes than PutOptions.Size promised;
//   - a whole-object Get whose Info carries a SHA-256 is verified as it is
//     read: a body whose size or hash differs ends in [storage.ErrCorrupt]
//     instead of io.EOF. Ranges are checked for their length.
//
// storage.Provider stays the interface users hold and implement; this
// package is how a provider gets the shared work without writing it. The
// smallest complete provider, the memory package, is a Driver of about a
// hundred lines and one call to New. A provider's exported type usually
// embeds the *Provider (through a type alias, so the field stays
// unexported) and adds its own abilities, whose calls go through
// [Provider.Check] and [Provider.Wrap] for the same checks and errors.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync/atomic"

	"github.com/strata-storage/strata/storage"
)

// Driver is the protocol of one store. The Provider in front of it has
// already checked that it is open, that the context has not ended and that
// the key (and Put's options) are valid, so a driver checks none of these.
// A driver returns its SDK's errors as they are, or errors that wrap a
// storage sentinel; the Provider classifies and wraps them. A driver may
// return a *storage.Error of its own when it knows better (it is passed
// through as it is).
type Driver interface {
	// Put stores the bytes of body under key. body hashes and counts what
	// is read from it; once the driver has read it to its end, body.SHA256
	// is the object's SHA-256, which the driver records with the object
	// when it can. A read error from body (the caller's reader failed, or
	// it yielded another size than opts.Size) must fail the Put with
	// nothing stored. opts is never nil.
	Put(ctx context.Context, key string, body *Body, opts *storage.PutOptions) (storage.Info, error)
	// Get opens the object under key, or the range rng of it (nil: the
	// whole object), and returns the Info of the whole object. A missing
	// key fails here, not at the first Read.
	Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error)
	// Stat returns the Info of the object under key.
	Stat(ctx context.Context, key string) (storage.Info, error)
	// Delete removes the object under key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List yields the objects under opts.Prefix after opts.StartAfter in
	// byte-wise key order; an error ends it.
	List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error]
	// Close releases what the driver holds. The Provider calls it once.
	Close() error
	// Kind classifies an error the driver returned from operation op
	// ("put", "get", "stat", "delete", "list", "copy", ...): it returns the
	// storage sentinel the error means (storage.ErrNotFound for a definite
	// not-found only, never a guess from a 403 or a timeout), or nil when
	// the error says nothing the caller can act on. It is not called for
	// context errors, nor for errors that already match a sentinel.
	Kind(op string, err error) error
}

// Options configure a Provider. The zero value verifies whole reads.
type Options struct {
	// ReadsChecked tells that the driver's readers check what they return
	// themselves and return storage errors (a disk cache that keeps a CRC
	// per entry, a local file read through sendfile). The Provider then
	// hands them out as they are, keeping their io.WriterTo, io.Seeker and
	// io.ReaderAt, instead of wrapping them to verify and to classify read
	// errors.
	ReadsChecked bool
	// Delimiter tells that the driver's List honours ListOptions.Delimiter
	// itself (a server-side delimiter listing). Otherwise the Provider
	// passes the driver no Delimiter and folds the keys it lists into
	// common prefixes, starting a new listing after each prefix to skip
	// what lies under it.
	Delimiter bool
}

// Provider is the portable side of a provider: it implements
// storage.Provider over a Driver, doing the shared work described in the
// package documentation. It is safe for concurrent use when its Driver is.
type Provider struct {
	name   string
	d      Driver
	opts   Options
	closed atomic.Bool
}

var _ storage.Provider = (*Provider)(nil)

// New returns a Provider over d. name is the Provider field of its errors
// ("local", "s3", ...). opts may be nil.
func New(name string, d Driver, opts *Options) *Provider {
	p := &Provider{name: name, d: d}
	if opts != nil {
		p.opts = *opts
	}
	return p
}

// Name returns the name given to New.
func (p *Provider) Name() string { return p.name }

// Driver returns the Driver under p.
func (p *Provider) Driver() Driver { return p.d }

// Check returns the error a call of operation op on key must fail with
// before it does anything: ErrClosed after Close, the context's error, or
// ErrInvalidKey for a key that is not valid. A provider's own abilities
// (Copy, PresignGet, ...) start with it.
func (p *Provider) Check(ctx context.Context, op, key string) error {
	if err := p.CheckOpen(ctx, op); err != nil {
		return withKey(err, key)
	}
	if err := storage.ValidKey(key); err != nil {
		return p.Wrap(op, key, err)
	}
	return nil
}

// CheckKeys is Check for a call about several keys (Copy's destination
// and source): it checks each key in turn and returns the first error.
func (p *Provider) CheckKeys(ctx context.Context, op string, keys ...string) error {
	if len(keys) == 0 {
		return p.CheckOpen(ctx, op)
	}
	for _, k := range keys {
		if err := p.Check(ctx, op, k); err != nil {
			return err
		}
	}
	return nil
}

// CheckOpen is Check for a call that is not about one key (List,
// CreateBucket): ErrClosed after Close, or the context's error.
func (p *Provider) CheckOpen(ctx context.Context, op string) error {
	if p.closed.Load() {
		return &storage.Error{Op: op, Provider: p.name, Kind: storage.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return &storage.Error{Op: op, Provider: p.name, Err: err}
	}
	return nil
}

// Closed reports whether Close has been called.
func (p *Provider) Closed() bool { return p.closed.Load() }

// Wrap returns err as the error of operation op on key: nil stays nil; a
// *storage.Error stays as it is, except one made by package storage itself
// (a key or size check), which is made the provider's, with op and key; a
// context error, or an error that already
// matches a storage sentinel, is kept as the cause of a *storage.Error
// without a kind of its own; any other error becomes the cause of a
// *storage.Error of the kind Driver.Kind gives.
func (p *Provider) Wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if se, ok := err.(*storage.Error); ok {
		if se.Provider != "storage" {
			return err
		}
		return &storage.Error{Op: op, Provider: p.name, Key: key, Kind: se.Kind, Err: se.Err}
	}
	e := &storage.Error{Op: op, Provider: p.name, Key: key, Err: err}
	if !storage.IsContextError(err) && !hasKind(err) {
		e.Kind = p.d.Kind(op, err)
	}
	return e
}

// hasKind reports whether err already matches one of the sentinels of
// package storage.
func hasKind(err error) bool {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

var kinds = []error{
	storage.ErrNotFound, storage.ErrExist, storage.ErrInvalidKey, storage.ErrInvalidArgument,
	storage.ErrInvalidRange, storage.ErrSizeMismatch, storage.ErrUnsupported, storage.ErrClosed,
	storage.ErrPermission, storage.ErrUnavailable, storage.ErrCorrupt, storage.ErrTooLarge, storage.ErrChanged,
}

// Put implements storage.Provider.
func (p *Provider) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	const op = "put"
	if err := p.CheckOpen(ctx, op); err != nil {
		return storage.Info{}, withKey(err, key)
	}
	if err := storage.CheckPut(key, opts); err != nil {
		return storage.Info{}, p.Wrap(op, key, err)
	}
	if opts == nil {
		opts = &storage.PutOptions{}
	}
	body := NewBody(r, opts.Size)
	info, err := p.d.Put(ctx, key, body, opts)
	if err != nil {
		if serr := body.sizeErr; serr != nil && !errors.Is(err, storage.ErrSizeMismatch) {
			err = &storage.Error{Op: op, Provider: p.name, Key: key, Kind: storage.ErrSizeMismatch, Err: err}
		}
		return storage.Info{}, p.Wrap(op, key, err)
	}
	if info.SHA256 == "" && body.Done() {
		info.SHA256 = body.SHA256()
	}
	return p.Result(op, key, info, nil)
}

// Result returns what a call of operation op on key answers, from the
// driver's info and err: err as Wrap makes it (and no Info), or info with
// its Key filled in and its ETag in the one quoted form. Put, Get and
// Stat end with it; so does a provider's own ability that returns an Info
// (Copy).
func (p *Provider) Result(op, key string, info storage.Info, err error) (storage.Info, error) {
	if err != nil {
		return storage.Info{}, p.Wrap(op, key, err)
	}
	if info.Key == "" {
		info.Key = key
	}
	info.ETag = QuoteETag(info.ETag)
	return info, nil
}

// withKey sets the key of a *storage.Error made before the key was known
// to be valid.
func withKey(err error, key string) error {
	if e, ok := err.(*storage.Error); ok {
		e.Key = key
	}
	return err
}

// Get implements storage.Provider.
func (p *Provider) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	const op = "get"
	if err := p.Check(ctx, op, key); err != nil {
		return nil, storage.Info{}, err
	}
	var rng *storage.Range
	if opts != nil && opts.Range != nil {
		r := *opts.Range
		if r.Offset < 0 {
			return nil, storage.Info{}, &storage.Error{Op: op, Provider: p.name, Key: key, Kind: storage.ErrInvalidRange,
				Err: errors.New("range starts before the object")}
		}
		if r.Offset > 0 || r.Length > 0 {
			rng = &r // otherwise the whole object, verified as one
		}
	}
	rc, info, err := p.d.Get(ctx, key, rng)
	if info, err = p.Result(op, key, info, err); err != nil {
		return nil, storage.Info{}, err
	}
	if p.opts.ReadsChecked {
		return rc, info, nil
	}
	return newReader(ctx, p, op, key, rc, info, rng), info, nil
}

// Stat implements storage.Provider.
func (p *Provider) Stat(ctx context.Context, key string) (storage.Info, error) {
	const op = "stat"
	if err := p.Check(ctx, op, key); err != nil {
		return storage.Info{}, err
	}
	info, err := p.d.Stat(ctx, key)
	return p.Result(op, key, info, err)
}

// Delete implements storage.Provider.
func (p *Provider) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := p.Check(ctx, op, key); err != nil {
		return err
	}
	return p.Wrap(op, key, p.d.Delete(ctx, key))
}

// List implements storage.Provider. It also makes sure that what the driver
// yields keeps the contract: keys under the prefix, after StartAfter, in
// strictly increasing order. A driver that breaks it ends the listing with
// an error rather than hand a caller (a migration, a resumed walk) a
// listing it would trust. It folds keys into common prefixes for a
// Delimiter the driver does not handle itself.
func (p *Provider) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	const op = "list"
	var o storage.ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(storage.Info, error) bool) {
		if err := p.CheckOpen(ctx, op); err != nil {
			yield(storage.Info{}, err)
			return
		}
		if o.Delimiter != "" && o.Delimiter != "/" {
			yield(storage.Info{}, &storage.Error{Op: op, Provider: p.name, Kind: storage.ErrInvalidArgument,
				Err: fmt.Errorf("delimiter %q: only \"/\" is supported", o.Delimiter)})
			return
		}
		fold := o.Delimiter != "" && !p.opts.Delimiter
		last := o.StartAfter
		first := last == ""
		for {
			lo := o
			lo.StartAfter = last
			if fold {
				lo.Delimiter = ""
			}
			restart := false
			for info, err := range p.d.List(ctx, lo) {
				if err != nil {
					yield(storage.Info{}, p.Wrap(op, "", err))
					return
				}
				if p.closed.Load() {
					yield(storage.Info{}, &storage.Error{Op: op, Provider: p.name, Kind: storage.ErrClosed})
					return
				}
				if !strings.HasPrefix(info.Key, o.Prefix) {
					yield(storage.Info{}, outOfOrder(p.name, info.Key))
					return
				}
				if fold {
					if i := strings.IndexByte(info.Key[len(o.Prefix):], '/'); i >= 0 {
						// A common prefix: yield it unless the listing
						// resumes after it, then skip what lies under it
						// with a new listing (no valid UTF-8 key under it
						// sorts after prefix+"\xff").
						cp := info.Key[:len(o.Prefix)+i+1]
						if first || cp > last {
							if !yield(storage.Info{Key: cp, IsPrefix: true}, nil) {
								return
							}
						}
						first, last = false, max(last, cp+"\xff")
						restart = true
						break
					}
				}
				if !first && info.Key <= last {
					if info.IsPrefix {
						continue // a prefix at or before where the listing resumes
					}
					yield(storage.Info{}, outOfOrder(p.name, info.Key))
					return
				}
				first, last = false, info.Key
				info.ETag = QuoteETag(info.ETag)
				if !yield(info, nil) {
					return
				}
			}
			if !restart {
				return
			}
		}
	}
}

// QuoteETag returns etag in the quoted form of an HTTP entity tag, the one
// form storage.Info.ETag takes: a bare value ("abc", as some stores and
// older journals hold it) is quoted, and one already quoted ("\"abc\"") or
// weak ("W/\"abc\"") is returned as it is, as is "".
func QuoteETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, `W/"`) || len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag
	}
	return `"` + etag + `"`
}

func outOfOrder(provider, key string) error {
	return &storage.Error{Op: "list", Provider: provider, Key: key, Kind: storage.ErrUnavailable,
		Err: errors.New("the store listed a key out of order or outside the prefix")}
}

// Close implements storage.Provider. The first call closes the driver;
// every call after it fails with ErrClosed, except Close, which returns
// nil: closing twice is harmless.
func (p *Provider) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return p.Wrap("close", "", p.d.Close())
}
