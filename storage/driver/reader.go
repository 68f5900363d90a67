package driver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync/atomic"

	"github.com/strata-storage/strata/storage"
)

// reader is the body of a Get as the Provider hands it out. It classifies
// read errors other than io.EOF (a connection reset mid-body) as the
// driver's errors are, fails reads after the context ended, checks that
// the body has the length the Info and the range promise, and, for a whole
// object with a recorded SHA-256, that its bytes hash to it. A mismatch
// ends the body with storage.ErrCorrupt instead of io.EOF, and later Reads
// return it again.
type reader struct {
	ctx context.Context
	p   *Provider
	op  string
	key string
	rc  io.ReadCloser

	want int64 // the bytes the body must have

	// Read's own state: a reader is read from one goroutine at a time.
	h   hash.Hash // nil when the bytes are not hashed
	sum []byte    // the recorded SHA-256 when h != nil
	n   int64
	err error // the error already returned at the end, returned again

	// closed may be set by a Close from another goroutine, which is how a
	// caller stops a Read blocked on the network, so Read holds no lock.
	closed atomic.Bool
}

func newReader(ctx context.Context, p *Provider, op, key string, rc io.ReadCloser, info storage.Info, rng *storage.Range) *reader {
	r := &reader{ctx: ctx, p: p, op: op, key: key, rc: rc, want: info.Size}
	if rng != nil {
		r.want = max(0, info.Size-rng.Offset)
		if rng.Length > 0 {
			r.want = min(r.want, rng.Length)
		}
		return r
	}
	if sum, err := hex.DecodeString(info.SHA256); err == nil && len(sum) == sha256.Size {
		r.h, r.sum = sha256.New(), sum
	}
	return r
}

// Read implements io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.closed.Load() {
		return 0, &storage.Error{Op: r.op, Provider: r.p.name, Key: r.key, Kind: storage.ErrClosed, Err: errors.New("read after the reader was closed")}
	}
	// The transport may still hold buffered bytes after ctx ends; a read
	// after cancellation fails all the same.
	if err := r.ctx.Err(); err != nil {
		return 0, &storage.Error{Op: r.op, Provider: r.p.name, Key: r.key, Err: err}
	}
	n, err := r.rc.Read(p)
	if n > 0 {
		if r.h != nil {
			r.h.Write(p[:n])
		}
		r.n += int64(n)
	}
	switch {
	case err == io.EOF:
		if cerr := r.check(); cerr != nil {
			r.err = cerr
			return n, cerr
		}
		return n, io.EOF
	case err != nil:
		werr := r.p.Wrap(r.op, r.key, err)
		if se, ok := werr.(*storage.Error); ok && se.Kind == nil && !storage.IsContextError(err) && !hasKind(err) {
			// A body that breaks off after the call succeeded is a
			// transfer that failed, whatever the driver calls it.
			se.Kind = storage.ErrUnavailable
		}
		return n, werr
	case r.n > r.want:
		r.err = r.corrupt(fmt.Sprintf("read more than the %d bytes expected", r.want))
		return n, r.err
	}
	return n, nil
}

// check compares what was read, at its end, with what was expected.
func (r *reader) check() error {
	if r.n < r.want {
		// A body cut short is a transfer that broke, not stored damage.
		return &storage.Error{Op: r.op, Provider: r.p.name, Key: r.key, Kind: storage.ErrUnavailable,
			Err: fmt.Errorf("body ended after %d of %d bytes: %w", r.n, r.want, io.ErrUnexpectedEOF)}
	}
	if r.n > r.want {
		return r.corrupt(fmt.Sprintf("read %d bytes, expected %d", r.n, r.want))
	}
	if r.h != nil {
		if got := r.h.Sum(nil); !bytes.Equal(got, r.sum) {
			return r.corrupt(fmt.Sprintf("the %d bytes read have SHA-256 %x, not the recorded %x", r.n, got, r.sum))
		}
		r.h = nil
	}
	return nil
}

func (r *reader) corrupt(why string) error {
	return &storage.Error{Op: r.op, Provider: r.p.name, Key: r.key, Kind: storage.ErrCorrupt, Err: errors.New(why)}
}

// Close implements io.Closer.
func (r *reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	return r.p.Wrap(r.op, r.key, r.rc.Close())
}
