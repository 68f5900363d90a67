package reliability

import (
	"context"
	"errors"
	"io"
	"iter"
	"sync/atomic"

	"github.com/strata-storage/strata/storage"
)

// Failover is a storage.Provider over several providers that reach the same
// store through different servers (the nodes of a distributed MinIO). Each
// call starts at the next node in turn (round robin) and, when a node answers
// with an error matching storage.ErrUnavailable, tries the following ones,
// as a client behind a load balancer with health checks would.
//
// A Put is retried on another node only when its reader can be rewound (it
// is an io.Seeker, such as a *bytes.Reader); otherwise the error is returned
// and the caller (a tiered store's uploader) retries later, and the next call
// starts at another node anyway. A List is retried only when it fails before
// yielding anything. A Get is retried when it fails at the call; a body that
// breaks part way fails the read.
//
// Answers other than unavailable (not found, exists, invalid key) are final:
// a definite answer of one node is the cluster's answer.
//
// A node can be taken out of rotation (Drain) and put back (Admit), as an
// operator takes a server out of a load balancer while it restarts and puts
// it back once it has rejoined the cluster. That matters with MinIO: a node
// that comes back answers 200 on its health endpoints at once but, until it
// reconnects to its peers' drives (up to 15 seconds), answers a GET of an
// object written while it was away with 404 and a DELETE of it with 204
// while deleting nothing.
type Failover struct {
	nodes   []storage.Provider
	drained []atomic.Bool
	next    atomic.Uint64
}

var _ storage.Provider = (*Failover)(nil)

// NewFailover returns a Failover over nodes, which it takes over: Close
// closes them. It panics when nodes is empty.
func NewFailover(nodes ...storage.Provider) *Failover {
	if len(nodes) == 0 {
		panic("reliability: NewFailover with no nodes")
	}
	return &Failover{nodes: nodes, drained: make([]atomic.Bool, len(nodes))}
}

// Drain takes node i (in NewFailover's order) out of rotation: calls that
// start after it do not use it, unless every node is drained.
func (f *Failover) Drain(i int) { f.drained[i].Store(true) }

// Admit puts node i back in rotation.
func (f *Failover) Admit(i int) { f.drained[i].Store(false) }

// order returns the nodes in the order this call tries them: the nodes in
// rotation, starting at the next one in turn, or every node when all are
// drained.
func (f *Failover) order() []storage.Provider {
	start := int(f.next.Add(1) % uint64(len(f.nodes)))
	out := make([]storage.Provider, 0, len(f.nodes))
	for k := range f.nodes {
		i := (start + k) % len(f.nodes)
		if !f.drained[i].Load() {
			out = append(out, f.nodes[i])
		}
	}
	if len(out) == 0 {
		out = append(append(out, f.nodes[start:]...), f.nodes[:start]...)
	}
	return out
}

// retryable reports whether another node may answer where this one did not.
func retryable(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && errors.Is(err, storage.ErrUnavailable)
}

// Put implements storage.Provider.
func (f *Failover) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	seeker, canRewind := r.(io.Seeker)
	var start int64
	if canRewind {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			canRewind = false
		}
	}
	var err error
	for i, n := range f.order() {
		if i > 0 {
			if !canRewind {
				return storage.Info{}, err
			}
			if _, serr := seeker.Seek(start, io.SeekStart); serr != nil {
				return storage.Info{}, err
			}
		}
		var info storage.Info
		info, err = n.Put(ctx, key, r, opts)
		if !retryable(ctx, err) {
			return info, err
		}
	}
	return storage.Info{}, err
}

// Get implements storage.Provider.
func (f *Failover) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	var err error
	for _, n := range f.order() {
		var rc io.ReadCloser
		var info storage.Info
		rc, info, err = n.Get(ctx, key, opts)
		if !retryable(ctx, err) {
			return rc, info, err
		}
	}
	return nil, storage.Info{}, err
}

// Stat implements storage.Provider.
func (f *Failover) Stat(ctx context.Context, key string) (storage.Info, error) {
	var err error
	for _, n := range f.order() {
		var info storage.Info
		info, err = n.Stat(ctx, key)
		if !retryable(ctx, err) {
			return info, err
		}
	}
	return storage.Info{}, err
}

// Delete implements storage.Provider.
func (f *Failover) Delete(ctx context.Context, key string) error {
	var err error
	for _, n := range f.order() {
		err = n.Delete(ctx, key)
		if !retryable(ctx, err) {
			return err
		}
	}
	return err
}

// List implements storage.Provider.
func (f *Failover) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		var last error
		for _, n := range f.order() {
			yielded := false
			failed := false
			for info, err := range n.List(ctx, opts) {
				if err != nil && !yielded && retryable(ctx, err) {
					last, failed = err, true
					break
				}
				yielded = true
				if !yield(info, err) || err != nil {
					return
				}
			}
			if !failed {
				return
			}
		}
		yield(storage.Info{}, last)
	}
}

// Close closes every node.
func (f *Failover) Close() error {
	var errs []error
	for _, n := range f.nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}
