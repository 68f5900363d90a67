package minio

import (
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

// mapErr turns an error from minio-go (or from the network under it) into
// a *storage.Error for op on key. It is the one place where this package
// classifies errors; everything else calls it.
//
// The rules, in order:
//
//   - nil stays nil; an error that already is a *storage.Error is kept.
//   - Context errors keep their cause, with no Kind, so
//     errors.Is(err, context.Canceled) holds and nothing is mistaken for an
//     outage.
//   - An S3 error response is classified by its code, then by its HTTP
//     status: NoSuchKey (a definite not-found) is ErrNotFound; AccessDenied
//     and 403 are ErrPermission, never ErrNotFound; PreconditionFailed is
//     ErrExist for "put" (the only call that sends If-None-Match);
//     InvalidRange is ErrInvalidRange; 5xx and throttling are
//     ErrUnavailable.
//   - Network failures (refused or reset connections, timeouts, a body cut
//     short) are ErrUnavailable.
//
// Error strings carry the op, the key and the server's message; minio-go
// signs requests in headers, so no credential is in any of them.
func mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: kindOf(op, err), Err: err}
}

// kindOf returns the storage sentinel err belongs to, or nil.
func kindOf(op string, err error) error {
	if storage.IsContextError(err) {
		return nil
	}
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) {
		return kindOfResponse(op, resp)
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
		"XMinioServerNotInitialized", "XMinioStorageFull", "OperationAborted":
		return storage.ErrUnavailable
	}
	switch {
	case resp.StatusCode == http.StatusForbidden:
		return storage.ErrPermission
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return storage.ErrInvalidRange
	case resp.StatusCode == http.StatusPreconditionFailed && op == "put":
		return storage.ErrExist
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return storage.ErrUnavailable
	}
	// A 404 that is not NoSuchKey (NoSuchBucket, NoSuchUpload) is not a
	// definite "this key is missing", so it is left unclassified.
	return nil
}
