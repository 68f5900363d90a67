package minio

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/storage"
)

// providerName is the Provider field of every error this package returns.
const providerName = "minio"

// statusClientClosedRequest is the non-standard status 499 (nginx's "client
// closed request", MinIO's ClientDisconnected): the connection went away
// before the answer was ready. It is an outage unless the caller's context
// ended, which mapErr checks.
const statusClientClosedRequest = 499

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

// schemeMismatch is the cause of an error when the Store speaks HTTPS
// (Config.Secure, the default of a minio:// URL) and the server answered
// in plain HTTP. Its message says what to change; it unwraps to the
// transport's error, which matches http.ErrSchemeMismatch.
type schemeMismatch struct {
	host string // the server's host:port, or "" when unknown
	err  error
}

func newSchemeMismatch(err error) *schemeMismatch {
	e := &schemeMismatch{err: err}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			e.host = u.Host
		}
	}
	return e
}

func (e *schemeMismatch) Error() string {
	host := e.host
	if host == "" {
		host = "the server"
	}
	return host + " speaks plain HTTP, not HTTPS: add ?secure=false to the minio:// URL (Config.Secure false)"
}

func (e *schemeMismatch) Unwrap() error { return e.err }

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

// kindOf returns the storage sentinel err belongs to, or nil. It does not
// look at context errors: mapErr does, knowing the caller's context.
func kindOf(op string, err error) error {
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) {
		return kindOfResponse(op, resp)
	}
	if errors.Is(err, http.ErrSchemeMismatch) {
		// A secure URL for a server that speaks plain HTTP: a
		// configuration error that no retry mends.
		return storage.ErrInvalidArgument
	}
	if storage.IsContextError(err) {
		return nil
	}
	var netErr net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return storage.ErrUnavailable
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// A transport failure that is none of the above (a TLS handshake
		// error, a proxy that went away): the store could not be reached.
		return storage.ErrUnavailable
	}
	return nil
}

// kindOfResponse classifies an S3 error response.
func kindOfResponse(op string, resp miniogo.ErrorResponse) error {
	switch resp.Code {
	case miniogo.NoSuchKey:
		return storage.ErrNotFound
	case miniogo.NoSuchBucket:
		return storage.ErrNoBucket
	case "BucketAlreadyOwnedByYou":
		return storage.ErrExist
	case "BucketAlreadyExists":
		// The name is another account's.
		return storage.ErrPermission
	case miniogo.AccessDenied, miniogo.InvalidAccessKeyID, miniogo.SignatureDoesNotMatch,
		"AllAccessDisabled", "AccountProblem", "ExpiredToken", "InvalidToken", "XMinioAccessKeyDisabled":
		return storage.ErrPermission
	case miniogo.PreconditionFailed:
		if op == "put" {
			return storage.ErrExist
		}
		return nil
	case miniogo.InvalidRange:
		return storage.ErrInvalidRange
	case miniogo.EntityTooLarge, "KeyTooLongError", "MetadataTooLarge", "XMinioInvalidObjectName":
		return storage.ErrTooLarge
	case miniogo.BadDigest, miniogo.XAmzContentSHA256Mismatch, "XAmzContentChecksumMismatch", "InvalidDigest":
		return storage.ErrCorrupt
	case "XMinioObjectExistsAsDirectory", "XMinioParentIsObject":
		// MinIO keeps objects as a directory tree, so "a" and "a/b"
		// cannot both exist: the second Put finds the name taken.
		if op == "put" || op == "copy" {
			return storage.ErrExist
		}
		return storage.ErrInvalidArgument
	case miniogo.InvalidArgument, miniogo.EntityTooSmall, miniogo.InvalidBucketName, "InvalidStorageClass":
		return storage.ErrInvalidArgument
	case miniogo.InternalError, "SlowDown", "ServiceUnavailable", "RequestTimeout",
		"XMinioServerNotInitialized", "XMinioStorageFull", "OperationAborted",
		"ClientDisconnected":
		return storage.ErrUnavailable
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return storage.ErrPermission
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return storage.ErrInvalidRange
	case resp.StatusCode == http.StatusPreconditionFailed && op == "put":
		return storage.ErrExist
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == statusClientClosedRequest,
		resp.StatusCode >= 500:
		return storage.ErrUnavailable
	}
	// A 404 that is not NoSuchKey or NoSuchBucket (NoSuchUpload) is not a
	// definite "this key is missing", so it is left unclassified.
	return nil
}
