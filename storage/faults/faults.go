// Package faults wraps a storage.Provider in one that misbehaves on demand,
// so that code built on strata can be tested against a slow, flaky or
// failing store.
//
// A *Provider passes every call through to the provider it wraps until a
// [Fault] is set for the call's operation. A Fault can add latency, fail a
// fraction of calls before they reach the wrapped provider, lose the reply
// of a fraction of calls after they took effect, hang a call until its
// context ends, and cut off, drop or stall the bytes of a body (the stream
// of a Get, or the reader of a Put as the wrapped provider sees it). Faults
// are set and cleared at run time and apply to the operations named, so a
// test can break only Gets, then heal the store and check that it recovers:
//
//	fp := faults.Wrap(remote, faults.WithSeed(1))
//	fp.Set(faults.Fault{FailRate: 0.3}, faults.OpGet)
//	... exercise the code under test ...
//	fp.Clear()
//
// A Fault can be limited to some keys (Fault.Keys) and spare the first
// calls made after it is set (Fault.After), so that a store can break part
// way through a run, or for one object only.
//
// The Provider also counts the calls of each operation, so a test can
// assert, for example, that concurrent cache misses made exactly one remote
// Get; [WithObserver] reports each call as it starts and ends.
//
// All methods are safe for concurrent use. Random choices (which calls
// fail, latency jitter) come from a generator seeded with [WithSeed], so a
// sequence of calls made one after another gets the same faults in every
// run; calls made concurrently draw in the order they arrive.
//
// # Errors
//
// An injected failure is a *storage.Error with Provider "faults" that
// matches [storage.ErrUnavailable] (unless Fault.Err says otherwise) and
// [ErrInjected], so a test can tell injected failures from real ones. A
// body cut off or dropped part way fails the read with an error that also
// matches io.ErrUnexpectedEOF. A hung or stalled call returns its context's
// error. With no fault set, errors are the wrapped provider's, unchanged.
//
// # Abilities
//
// *Provider is a storage.Wrapper, and follows the convention of strata's
// wrappers: it always has the methods of storage.Copier,
// storage.Presigner, storage.Flusher and storage.BucketCreator. Copy,
// PresignGet and CreateBucket pass through when the wrapped provider has
// the ability and fail with storage.ErrUnsupported when it does not, as the
// conformance suite requires of a wrapper, so that storage.Copy falls back
// to a Get and a Put through the Provider (where their faults apply).
// Flush passes through to a wrapped Flusher and otherwise succeeds at
// once: a provider that does not buffer writes has nothing to flush. Other
// abilities of the wrapped provider are reached with storage.As.
//
// # URLs
//
// [OpenURL] opens a Provider described by a URL, for programs that take
// locations as URLs (strata's command registers it, in its test builds
// only, as the scheme "test"):
//
//	test://?inner=<URL-escaped location>&delay=5ms&fail_puts_after=100&fail_get=thumb&log=/tmp/calls.log
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
)

const providerName = "faults"

var (
	_ storage.Provider      = (*Provider)(nil)
	_ storage.Wrapper       = (*Provider)(nil)
	_ storage.Copier        = (*Provider)(nil)
	_ storage.Presigner     = (*Provider)(nil)
	_ storage.Flusher       = (*Provider)(nil)
	_ storage.BucketCreator = (*Provider)(nil)
)

// ErrInjected is the cause of every failure a Fault injects.
var ErrInjected = errors.New("faults: injected failure")

// Op names an operation of a provider.
type Op string

// The operations faults can target.
const (
	OpPut     Op = "put"
	OpGet     Op = "get"
	OpStat    Op = "stat"
	OpDelete  Op = "delete"
	OpList    Op = "list"
	OpCopy    Op = "copy"
	OpPresign Op = "presign"
	OpFlush   Op = "flush"
	// OpCreateBucket is storage.BucketCreator's CreateBucket.
	OpCreateBucket Op = "create bucket"
)

// AllOps are the operations a Fault applies to when Set names none.
var AllOps = []Op{OpPut, OpGet, OpStat, OpDelete, OpList, OpCopy, OpPresign, OpFlush, OpCreateBucket}

// Fault describes misbehaviour injected into the calls of an operation.
// The zero Fault injects nothing. When several are set, they apply in this
// order: Latency (and Jitter), then Hang, then FailRate, then the call with
// its body faults (Cut, Drop, Stall), then LostReplyRate.
type Fault struct {
	// Latency is added before each call; Jitter adds a further random
	// delay in [0, Jitter). The call fails with its context's error if the
	// context ends while it waits.
	Latency, Jitter time.Duration

	// Hang blocks each call until its context ends, then returns the
	// context's error, as a server that accepts a connection and never
	// answers. The wrapped provider is not called.
	Hang bool

	// FailRate is the fraction (0 to 1) of calls that fail at once, before
	// reaching the wrapped provider, as with a refused connection or a 503.
	FailRate float64

	// LostReplyRate is the fraction of calls that reach the wrapped
	// provider, take effect, and then fail as if the reply was lost: a Put
	// stores the object but reports an error. Gets are not affected (their
	// reply is the body; use Cut or Drop).
	LostReplyRate float64

	// Err, when not nil, is the cause of injected failures instead of
	// storage.ErrUnavailable; for example storage.ErrNotFound, or
	// storage.ErrPermission. The error still matches ErrInjected.
	Err error

	// Cut cuts bodies off after CutAfter bytes: a Get's stream fails
	// there, and the wrapped provider's Put sees its reader fail there, as
	// when a connection resets, so it stores nothing and the Put fails. A
	// List is cut after CutAfter entries.
	Cut      bool
	CutAfter int64

	// Drop drops the connection half way through each body: a Get's
	// stream fails at the middle of the bytes it would yield; a Put's
	// reader fails half way through PutOptions.Size when that is known,
	// and otherwise after half of the bytes of its first Read.
	Drop bool

	// Stall makes each body stop where Cut (when set) or else Drop would
	// end it, and block until the context ends, as a server that stops
	// sending. The read then fails with the context's error.
	Stall bool

	// Keys, when not nil, limits the fault to the calls whose key it
	// accepts: the key of a Put, Get, Stat, Delete or PresignGet, the
	// destination of a Copy, the prefix of a List, and "" for Flush and
	// CreateBucket. Other calls pass through untouched.
	Keys func(key string) bool

	// After, when positive, spares the first After calls of the operation
	// made after the fault was set (of those Keys accepts): they pass
	// through untouched, and the fault applies from the next one on, as a
	// store that breaks part way through a run.
	After int64
}

func (f Fault) bodyFault() bool { return f.Cut || f.Drop || f.Stall }

// Option configures Wrap.
type Option func(*Provider)

// WithSeed seeds the generator of random choices. The default seed is 1.
func WithSeed(seed uint64) Option {
	return func(p *Provider) { p.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithSleep replaces the function that waits out Latency; tests inject one
// that records the delays instead of waiting. It must return ctx.Err() if
// ctx ends first.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(p *Provider) { p.sleep = sleep }
}

// WithFault sets f for ops from the start, as Set does.
func WithFault(f Fault, ops ...Op) Option {
	return func(p *Provider) { p.Set(f, ops...) }
}

// WithObserver calls f as each call starts and as it ends (see [Call]),
// from the goroutine of the call, before any fault applies and after every
// fault has. f must be safe for concurrent use. It sees the calls a test
// makes, in the order they happen: how many are under way at once, which
// keys a program wrote, whether an interrupted program started a Put it
// never finished.
func WithObserver(f func(Call)) Option {
	return func(p *Provider) { p.observe = f }
}

// Call is a call of a Provider as WithObserver reports it.
type Call struct {
	Op Op
	// Key is the call's key, as Fault.Keys sees it.
	Key string
	// Done is false when the call starts and true when it ends: when it
	// returns, for a Get when its stream opens (or fails to), and for a
	// List when the listing ends or the caller stops it.
	Done bool
	// Err is the error the call ended with, when Done.
	Err error
}

// active is a fault as set, with the count of calls it has seen.
type active struct {
	f    Fault
	seen int64 // guarded by Provider.mu
}

// Provider is a storage.Provider that injects faults into the calls it
// passes to the provider it wraps. Make one with Wrap.
type Provider struct {
	inner storage.Provider
	sleep func(context.Context, time.Duration) error

	observe func(Call)

	mu     sync.Mutex
	faults map[Op]*active // guarded by mu
	rng    *rand.Rand     // guarded by mu

	calls    sync.Map // Op -> *atomic.Int64
	injected sync.Map // Op -> *atomic.Int64
	closed   atomic.Bool
}

// Wrap returns a Provider that passes calls to p, injecting the faults
// set with WithFault and Set.
func Wrap(p storage.Provider, opts ...Option) *Provider {
	fp := &Provider{inner: p, sleep: sleepCtx, faults: map[Op]*active{}}
	WithSeed(1)(fp)
	for _, o := range opts {
		o(fp)
	}
	return fp
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unwrap returns the wrapped provider (see storage.As).
func (p *Provider) Unwrap() storage.Provider { return p.inner }

// Set sets f as the fault of each op in ops, or of every op when ops is
// empty, replacing the fault set before. Calls already under way keep the
// fault they started with.
func (p *Provider) Set(f Fault, ops ...Op) {
	if len(ops) == 0 {
		ops = AllOps
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, op := range ops {
		p.faults[op] = &active{f: f}
	}
}

// Clear removes the faults of ops, or of every op when ops is empty.
func (p *Provider) Clear(ops ...Op) {
	if len(ops) == 0 {
		ops = AllOps
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, op := range ops {
		delete(p.faults, op)
	}
}

// Fault returns the fault set for op.
func (p *Provider) Fault(op Op) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.faults[op]; a != nil {
		return a.f
	}
	return Fault{}
}

func counter(m *sync.Map, op Op) *atomic.Int64 {
	if c, ok := m.Load(op); ok {
		return c.(*atomic.Int64)
	}
	c, _ := m.LoadOrStore(op, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// Calls returns how many calls of op were made to p since it was made or
// since ResetCounts, failed ones included.
func (p *Provider) Calls(op Op) int64 { return counter(&p.calls, op).Load() }

// Injected returns how many calls of op had a fault injected (a failure, a
// lost reply, a hang, or a body cut, dropped or stalled).
func (p *Provider) Injected(op Op) int64 { return counter(&p.injected, op).Load() }

// ResetCounts sets every count of Calls and Injected to zero.
func (p *Provider) ResetCounts() {
	for _, m := range []*sync.Map{&p.calls, &p.injected} {
		m.Range(func(_, v any) bool {
			v.(*atomic.Int64).Store(0)
			return true
		})
	}
}

// decision is what happens to one call, drawn when it starts.
type decision struct {
	f         Fault
	delay     time.Duration
	fail      bool
	lostReply bool
}

// decide counts a call of op on key, reports its start, and draws what
// happens to it.
func (p *Provider) decide(op Op, key string) decision {
	counter(&p.calls, op).Add(1)
	if p.observe != nil {
		p.observe(Call{Op: op, Key: key})
	}
	p.mu.Lock()
	a := p.faults[op]
	p.mu.Unlock()
	if a == nil || (a.f.Keys != nil && !a.f.Keys(key)) { // Keys runs unlocked: it may call p
		return decision{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.seen++; a.seen <= a.f.After {
		return decision{}
	}
	f := a.f
	d := decision{f: f, delay: f.Latency}
	if f.Jitter > 0 {
		d.delay += time.Duration(p.rng.Int64N(int64(f.Jitter)))
	}
	if f.FailRate > 0 && p.rng.Float64() < f.FailRate {
		d.fail = true
	}
	if f.LostReplyRate > 0 && p.rng.Float64() < f.LostReplyRate {
		d.lostReply = true
	}
	return d
}

// done reports the end of a call.
func (p *Provider) done(op Op, key string, err error) {
	if p.observe != nil {
		p.observe(Call{Op: op, Key: key, Done: true, Err: err})
	}
}

func (p *Provider) injectedErr(op Op, key string, f Fault, extra error) error {
	counter(&p.injected, op).Add(1)
	kind, cause := storage.ErrUnavailable, ErrInjected
	if f.Err != nil {
		kind, cause = nil, fmt.Errorf("%w: %w", ErrInjected, f.Err)
	}
	if extra != nil {
		cause = fmt.Errorf("%w: %w", cause, extra)
	}
	return &storage.Error{Op: string(op), Provider: providerName, Key: key, Kind: kind, Err: cause}
}

// before applies the faults that act before the wrapped call: latency,
// hang and failure. A non-nil error ends the call.
func (p *Provider) before(ctx context.Context, op Op, key string, d decision) error {
	if d.delay > 0 {
		if err := p.sleep(ctx, d.delay); err != nil {
			return storage.NewError(string(op), providerName, key, nil, err)
		}
	}
	if d.f.Hang {
		counter(&p.injected, op).Add(1)
		<-ctx.Done()
		return storage.NewError(string(op), providerName, key, nil, ctx.Err())
	}
	if d.fail {
		return p.injectedErr(op, key, d.f, nil)
	}
	return nil
}

// after turns a successful call into a lost reply when the decision says
// so.
func (p *Provider) after(op Op, key string, d decision, err error) error {
	if err == nil && d.lostReply {
		return p.injectedErr(op, key, d.f, errors.New("reply lost after the call took effect"))
	}
	return err
}

// Put implements storage.Provider.
func (p *Provider) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	info, err := p.put(ctx, key, r, opts)
	p.done(OpPut, key, err)
	return info, err
}

func (p *Provider) put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	d := p.decide(OpPut, key)
	if err := p.before(ctx, OpPut, key, d); err != nil {
		return storage.Info{}, err
	}
	var br *bodyReader
	if d.f.bodyFault() && r != nil {
		limit := int64(-1) // after the first bytes, when Drop or Stall has no size to halve
		if d.f.Cut {
			limit = d.f.CutAfter
		} else if opts != nil && opts.Size > 0 {
			limit = opts.Size / 2
		}
		br = &bodyReader{ctx: ctx, r: r, left: limit, f: d.f}
		r = br
	}
	info, err := p.inner.Put(ctx, key, r, opts)
	if br != nil && br.tripped {
		counter(&p.injected, OpPut).Add(1)
		var cause error
		switch {
		case err == nil:
			// The wrapped provider stored an upload it saw fail: say so.
			cause = fmt.Errorf("%w (and %T stored the truncated upload anyway)", br.err, p.inner)
		case !errors.Is(err, br.err):
			cause = errors.Join(br.err, err)
		default:
			cause = err
		}
		kind := kindOf(d.f)
		if d.f.Stall {
			kind = nil // the error is the context's
		}
		return storage.Info{}, &storage.Error{Op: "put", Provider: providerName, Key: key, Kind: kind, Err: cause}
	}
	return info, p.after(OpPut, key, d, err)
}

// Get implements storage.Provider.
func (p *Provider) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	rc, info, err := p.get(ctx, key, opts)
	p.done(OpGet, key, err)
	return rc, info, err
}

func (p *Provider) get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	d := p.decide(OpGet, key)
	if err := p.before(ctx, OpGet, key, d); err != nil {
		return nil, storage.Info{}, err
	}
	rc, info, err := p.inner.Get(ctx, key, opts)
	if err != nil || !d.f.bodyFault() {
		return rc, info, err
	}
	limit := d.f.CutAfter
	if !d.f.Cut {
		n := info.Size
		if opts != nil && opts.Range != nil {
			if _, length, rerr := storage.CheckRange(opts.Range, info.Size); rerr == nil {
				n = length
			}
		}
		limit = n / 2
	}
	return &bodyReadCloser{bodyReader: bodyReader{ctx: ctx, r: rc, left: limit, f: d.f, onTrip: func() {
		counter(&p.injected, OpGet).Add(1)
	}, wrap: func(e error) error {
		return &storage.Error{Op: "get", Provider: providerName, Key: key, Kind: kindOf(d.f), Err: e}
	}}, c: rc}, info, nil
}

func kindOf(f Fault) error {
	if f.Err != nil {
		return nil
	}
	return storage.ErrUnavailable
}

// Stat implements storage.Provider.
func (p *Provider) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := p.stat(ctx, key)
	p.done(OpStat, key, err)
	return info, err
}

func (p *Provider) stat(ctx context.Context, key string) (storage.Info, error) {
	d := p.decide(OpStat, key)
	if err := p.before(ctx, OpStat, key, d); err != nil {
		return storage.Info{}, err
	}
	info, err := p.inner.Stat(ctx, key)
	if err = p.after(OpStat, key, d, err); err != nil {
		return storage.Info{}, err
	}
	return info, nil
}

// Delete implements storage.Provider.
func (p *Provider) Delete(ctx context.Context, key string) error {
	d := p.decide(OpDelete, key)
	err := p.before(ctx, OpDelete, key, d)
	if err == nil {
		err = p.after(OpDelete, key, d, p.inner.Delete(ctx, key))
	}
	p.done(OpDelete, key, err)
	return err
}

// List implements storage.Provider. Faults are drawn once per listing,
// when it starts; Cut ends it with an error after CutAfter entries, and
// Drop and Stall act after the first entry.
func (p *Provider) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	var prefix string
	if opts != nil {
		prefix = opts.Prefix
	}
	return func(yield func(storage.Info, error) bool) {
		var err error
		yield = p.observeList(prefix, &err, yield)
		defer func() { p.done(OpList, prefix, err) }()
		d := p.decide(OpList, prefix)
		if err := p.before(ctx, OpList, "", d); err != nil {
			yield(storage.Info{}, err)
			return
		}
		limit := int64(-1)
		switch {
		case d.f.Cut:
			limit = d.f.CutAfter
		case d.f.Drop || d.f.Stall:
			limit = 1
		}
		n := int64(0)
		for info, err := range p.inner.List(ctx, opts) {
			if err == nil && limit >= 0 && n == limit {
				if d.f.Stall {
					counter(&p.injected, OpList).Add(1)
					<-ctx.Done()
					yield(storage.Info{}, storage.NewError("list", providerName, "", nil, ctx.Err()))
					return
				}
				yield(storage.Info{}, p.injectedErr(OpList, "", d.f, io.ErrUnexpectedEOF))
				return
			}
			n++
			if !yield(info, err) || err != nil {
				return
			}
		}
		if d.lostReply {
			yield(storage.Info{}, p.injectedErr(OpList, "", d.f, errors.New("reply lost")))
		}
	}
}

// observeList returns yield, recording in *err the first error it passes
// on when an observer is set.
func (p *Provider) observeList(prefix string, err *error, yield func(storage.Info, error) bool) func(storage.Info, error) bool {
	if p.observe == nil {
		return yield
	}
	return func(info storage.Info, e error) bool {
		if e != nil && *err == nil {
			*err = e
		}
		return yield(info, e)
	}
}

// Copy implements storage.Copier. It fails with storage.ErrUnsupported
// when the wrapped provider is not a storage.Copier.
func (p *Provider) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	info, err := p.copy(ctx, dst, src)
	p.done(OpCopy, dst, err)
	return info, err
}

func (p *Provider) copy(ctx context.Context, dst, src string) (storage.Info, error) {
	d := p.decide(OpCopy, dst)
	cp, ok := p.inner.(storage.Copier)
	if !ok {
		return storage.Info{}, &storage.Error{Op: "copy", Provider: providerName, Key: dst, Kind: storage.ErrUnsupported,
			Err: fmt.Errorf("%T does not implement storage.Copier", p.inner)}
	}
	if err := p.before(ctx, OpCopy, dst, d); err != nil {
		return storage.Info{}, err
	}
	info, err := cp.Copy(ctx, dst, src)
	if err = p.after(OpCopy, dst, d, err); err != nil {
		return storage.Info{}, err
	}
	return info, nil
}

// PresignGet implements storage.Presigner. It fails with
// storage.ErrUnsupported when the wrapped provider is not a
// storage.Presigner.
func (p *Provider) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := p.presign(ctx, key, expiry)
	p.done(OpPresign, key, err)
	return u, err
}

func (p *Provider) presign(ctx context.Context, key string, expiry time.Duration) (string, error) {
	d := p.decide(OpPresign, key)
	ps, ok := p.inner.(storage.Presigner)
	if !ok {
		return "", &storage.Error{Op: "presign", Provider: providerName, Key: key, Kind: storage.ErrUnsupported,
			Err: fmt.Errorf("%T does not implement storage.Presigner", p.inner)}
	}
	if err := p.before(ctx, OpPresign, key, d); err != nil {
		return "", err
	}
	u, err := ps.PresignGet(ctx, key, expiry)
	if err = p.after(OpPresign, key, d, err); err != nil {
		return "", err
	}
	return u, nil
}

// Flush implements storage.Flusher: it flushes a wrapped Flusher, and
// otherwise only checks that p is open and ctx has not ended.
func (p *Provider) Flush(ctx context.Context) error {
	err := p.flush(ctx)
	p.done(OpFlush, "", err)
	return err
}

func (p *Provider) flush(ctx context.Context) error {
	d := p.decide(OpFlush, "")
	if err := p.before(ctx, OpFlush, "", d); err != nil {
		return err
	}
	var err error
	if f, ok := p.inner.(storage.Flusher); ok {
		err = f.Flush(ctx)
	} else if p.closed.Load() {
		err = &storage.Error{Op: "flush", Provider: providerName, Kind: storage.ErrClosed}
	} else if cerr := ctx.Err(); cerr != nil {
		err = storage.NewError("flush", providerName, "", nil, cerr)
	}
	return p.after(OpFlush, "", d, err)
}

// CreateBucket implements storage.BucketCreator. It fails with
// storage.ErrUnsupported when the wrapped provider is not a
// storage.BucketCreator.
func (p *Provider) CreateBucket(ctx context.Context) error {
	err := p.createBucket(ctx)
	p.done(OpCreateBucket, "", err)
	return err
}

func (p *Provider) createBucket(ctx context.Context) error {
	d := p.decide(OpCreateBucket, "")
	if _, ok := p.inner.(storage.BucketCreator); !ok {
		return &storage.Error{Op: string(OpCreateBucket), Provider: providerName, Kind: storage.ErrUnsupported,
			Err: fmt.Errorf("%T does not implement storage.BucketCreator", p.inner)}
	}
	if err := p.before(ctx, OpCreateBucket, "", d); err != nil {
		return err
	}
	return p.after(OpCreateBucket, "", d, storage.CreateBucket(ctx, p.inner))
}

// Close closes the wrapped provider. No fault applies to it.
func (p *Provider) Close() error {
	p.closed.Store(true)
	return p.inner.Close()
}

// bodyReader passes reads through until left bytes have gone by (left < 0:
// until the first bytes have), then fails (Cut, Drop) or blocks until ctx
// ends (Stall).
type bodyReader struct {
	ctx     context.Context
	r       io.Reader
	left    int64
	f       Fault
	tripped bool
	err     error
	// discarded is set when bytes were read and not passed on, so the
	// body fails at the next Read whatever follows.
	discarded bool
	onTrip    func()
	wrap      func(error) error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.tripped {
		return 0, b.err
	}
	if b.discarded {
		b.trip()
		return 0, b.err
	}
	if b.left == 0 {
		// At the limit: a body that ends here is whole; one that goes on
		// is cut.
		var one [1]byte
		n, err := b.r.Read(one[:])
		for n == 0 && err == nil {
			n, err = b.r.Read(one[:])
		}
		if n == 0 {
			return 0, err
		}
		b.trip()
		return 0, b.err
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	switch {
	case b.left > 0:
		b.left -= int64(n)
	case b.left < 0 && n > 0:
		// No size to halve: pass on half of the first bytes read and
		// drop the rest with the connection.
		b.left = 0
		if n > 1 {
			n /= 2
			b.discarded = true
			err = nil
		}
	}
	return n, err
}

func (b *bodyReader) trip() {
	b.tripped = true
	if b.onTrip != nil {
		b.onTrip()
	}
	if b.f.Stall {
		<-b.ctx.Done()
		b.err = b.ctx.Err()
		return
	}
	b.err = fmt.Errorf("%w: body cut off: %w", ErrInjected, io.ErrUnexpectedEOF)
	if b.wrap != nil {
		b.err = b.wrap(b.err)
	}
}

type bodyReadCloser struct {
	bodyReader
	c io.Closer
}

func (b *bodyReadCloser) Close() error { return b.c.Close() }
