package s3proto

import (
	"context"
	"errors"

	"github.com/strata-storage/strata/storage"
)

// Settle returns err, the error of a request a driver made with ctx, as the
// driver hands it to the shared layer (storage/driver), which classifies it
// with the driver's Kind. kind is what that Kind makes of err.
//
//   - When ctx has ended and err is not a definite answer of the server
//     (kind is nil or ErrUnavailable: a request cut off, a timeout, a 499),
//     the caller gave up: the error returned matches ctx.Err() with
//     errors.Is, and so carries no kind, and nothing is taken for an
//     outage. err stays reachable with errors.As.
//   - When ctx is live and err matches context.DeadlineExceeded or
//     context.Canceled, it is the transport's own timeout (net/http's
//     "timeout awaiting response headers" matches DeadlineExceeded) or a
//     cancellation inside the SDK, not the caller's: it becomes a
//     [*TransportTimeout], which no longer matches the context errors, so
//     that a caller does not take the store's slowness for its own
//     deadline or cancellation, and which [NoResponseKind] calls
//     ErrUnavailable.
//   - A *storage.Error, and any other error, is returned as it is.
func Settle(ctx context.Context, err, kind error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*storage.Error); ok {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		if kind != nil && kind != storage.ErrUnavailable {
			return err // a definite answer given before the end
		}
		if errors.Is(err, cerr) {
			return err
		}
		return &ctxError{ctx: cerr, err: err}
	}
	if storage.IsContextError(err) {
		return &TransportTimeout{Err: err}
	}
	return err
}

// ctxError is the cause of a call the caller's context ended, with what
// the transport or the server reported of it (err). It matches both.
type ctxError struct {
	ctx error // context.Canceled or context.DeadlineExceeded
	err error
}

func (e *ctxError) Error() string {
	return e.ctx.Error() + " (the request ended with: " + e.err.Error() + ")"
}
func (e *ctxError) Unwrap() []error { return []error{e.ctx, e.err} }

// TransportTimeout is a timeout of the HTTP transport (a response header
// timeout, a dial or read deadline), or a cancellation inside the SDK,
// while the caller's context was live. It
// reads and matches as the error it wraps, with errors.Is and errors.As,
// except that it does not match context.Canceled or
// context.DeadlineExceeded: those mean the caller's context ended, and
// here it did not. It is a net.Error whose Timeout is true.
type TransportTimeout struct{ Err error }

func (e *TransportTimeout) Error() string { return "transport timeout: " + e.Err.Error() }

// Timeout reports true: the store did not answer in time.
func (e *TransportTimeout) Timeout() bool { return true }

// Temporary reports true, as a net.Error.
func (e *TransportTimeout) Temporary() bool { return true }

// Is matches what the wrapped error matches, except the context errors.
func (e *TransportTimeout) Is(target error) bool {
	if target == context.Canceled || target == context.DeadlineExceeded {
		return false
	}
	return errors.Is(e.Err, target)
}

// As finds what the wrapped error holds.
func (e *TransportTimeout) As(target any) bool { return errors.As(e.Err, target) }

// WithKind returns err marked as meaning kind, a storage sentinel: it
// matches kind and everything err matches, and reads as err. A driver
// returns it when it knows what an error means before its Kind is asked
// (a HEAD of the bucket that answered 404 is ErrNoBucket).
func WithKind(kind, err error) error {
	if kind == nil || err == nil {
		return err
	}
	return &kinded{kind: kind, err: err}
}

type kinded struct{ kind, err error }

func (e *kinded) Error() string   { return e.err.Error() }
func (e *kinded) Unwrap() []error { return []error{e.kind, e.err} }
