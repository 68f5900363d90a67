package minio

import (
	"context"
	"errors"
	"net/http"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// providerName is the Provider field of every error this package returns.
const providerName = "minio"

// statusClientClosedRequest is the non-standard status 499 (see
// s3proto.StatusClientClosedRequest).
const statusClientClosedRequest = s3proto.StatusClientClosedRequest

// mapErr turns an error from minio-go (or from the network under it) into
// a *storage.Error for op on key. ctx is the context the failed call ran
// with: it tells the caller's cancellation from the transport's own
// timeouts. mapErr is the one place where this package classifies errors;
// everything else calls it.
//
// The rules, in order:
//
//   - nil stays nil; an error that already is a *storage.Error is kept.
//   - When ctx is done and the error is not a definite answer of the server
//     (a request cut off, a timeout, a 499 or ClientDisconnected), the
//     caller's context ended the call: the error has no Kind and matches
//     ctx.Err() with errors.Is, so nothing is mistaken for an outage.
//   - An S3 error response is classified by its code, then by its HTTP
//     status: NoSuchKey (a definite not-found) is ErrNotFound; AccessDenied
//     and 403 are ErrPermission, never ErrNotFound; PreconditionFailed is
//     ErrExist for "put" (the only call that sends If-None-Match);
//     InvalidRange is ErrInvalidRange; 5xx, 499 (ClientDisconnected: a proxy
//     or the server saw the connection go) and throttling are
//     ErrUnavailable.
//   - A timeout of the transport while ctx is not done (the
//     ResponseHeaderTimeout of an http.Transport, a dial or read deadline)
//     is ErrUnavailable. net/http's "timeout awaiting response headers"
//     matches context.DeadlineExceeded; the error returned does not, so a
//     caller never takes the store's slowness for its own deadline.
//   - Other network failures (refused or reset connections, a body cut
//     short) are ErrUnavailable.
//
// Error strings carry the op, the key and the server's message; minio-go
// signs requests in headers, so no credential is in any of them.
func mapErr(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	kind := kindOf(op, err)
	if errors.Is(err, http.ErrSchemeMismatch) {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: kind, Err: newSchemeMismatch(err)}
	}
	if cerr := ctx.Err(); cerr != nil && (kind == nil || kind == storage.ErrUnavailable) {
		// The caller gave up: whatever the transport saw of it (a
		// cancelled request, a deadline, a 499) is reported as the
		// context's error.
		if !errors.Is(err, cerr) {
			err = &ctxError{ctx: cerr, err: err}
		}
		return &storage.Error{Op: op, Provider: providerName, Key: key, Err: err}
	}
	if storage.IsContextError(err) {
		// ctx is not done, so the context error is the transport's own
		// timeout (net/http's errTimeout matches DeadlineExceeded), or
		// a cancellation inside minio-go: the store did not answer.
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrUnavailable, Err: &transportError{err: err}}
	}
	return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: kind, Err: err}
}

// newSchemeMismatch returns the cause of an error when the Store speaks
// HTTPS (Config.Secure, the default of a minio:// URL) and the server
// answered in plain HTTP: its message says what to change.
func newSchemeMismatch(err error) error {
	return s3proto.NewSchemeMismatch(err, func(string) string {
		return "add ?secure=false to the minio:// URL (Config.Secure false)"
	})
}

// ctxError is the cause of a call the caller's context ended, with what
// the transport or the server reported of it (err), when that does not
// match the context's error by itself. It matches both.
type ctxError struct {
	ctx error // context.Canceled or context.DeadlineExceeded
	err error
}

func (e *ctxError) Error() string   { return e.ctx.Error() + ": " + e.err.Error() }
func (e *ctxError) Unwrap() []error { return []error{e.ctx, e.err} }

// transportError wraps a transport timeout that happened while the
// caller's context was live. It reads and matches as the error it wraps,
// with errors.Is and errors.As, except that it does not match
// context.Canceled or context.DeadlineExceeded: those mean the caller's
// context ended, and here it did not.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }

// Timeout reports true, as a net.Error: the store did not answer in time.
func (e *transportError) Timeout() bool { return true }

// Temporary reports true, as a net.Error.
func (e *transportError) Temporary() bool { return true }

// Is matches what the wrapped error matches, except the context errors.
func (e *transportError) Is(target error) bool {
	if target == context.Canceled || target == context.DeadlineExceeded {
		return false
	}
	return errors.Is(e.err, target)
}

// As finds what the wrapped error holds.
func (e *transportError) As(target any) bool { return errors.As(e.err, target) }

// kindOf returns the storage sentinel err, an error of a request for op,
// belongs to, or nil. It does not look at context errors: mapErr does,
// knowing the caller's context.
func kindOf(op string, err error) error {
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) {
		return kindOfResponse(op, resp)
	}
	return s3proto.NoResponseKind(err)
}

// kindOfResponse classifies an S3 error response with s3proto.Kind, the
// table shared with the s3 driver.
func kindOfResponse(op string, resp miniogo.ErrorResponse) error {
	return s3proto.Kind(op, resp.StatusCode, responseCode(resp), resp.Message)
}

// responseCode is the S3 error code of resp, or "" when the response had
// none: minio-go fills Code with the status line ("404 Not Found") when
// the body had no error to decode.
func responseCode(resp miniogo.ErrorResponse) string {
	if resp.Code != "" && resp.Code[0] >= '0' && resp.Code[0] <= '9' {
		return ""
	}
	return resp.Code
}
