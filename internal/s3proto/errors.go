package s3proto

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/strata-storage/strata/storage"
)

// The operations Kind distinguishes, as the Op of a storage.Error.
const (
	// OpPut is Put: its PutObject and CompleteMultipartUpload carry
	// If-None-Match when PutOptions.IfNotExists is set.
	OpPut = "put"
	// OpCopy is Copy: its CopyObject carries x-amz-copy-source-if-match.
	OpCopy = "copy"
	// OpStat is Stat, a HEAD: its 404 has no body (see the package
	// documentation).
	OpStat = "stat"
)

// StatusClientClosedRequest is the non-standard status 499 (nginx's
// "client closed request", MinIO's ClientDisconnected): the connection went
// away before the answer was ready.
const StatusClientClosedRequest = 499

// Kind returns the storage sentinel that an S3 error response to op means,
// or nil when it means none of them. status is the HTTP status, code the
// S3 error code ("NoSuchKey"; "" when the response had none), message the
// server's message (unused today: no rule reads messages, and none
// should).
//
// A code decides first; the status decides when the code is unknown or
// missing:
//
//   - NoSuchKey is ErrNotFound, NoSuchBucket is ErrNoBucket (which
//     matches ErrInvalidArgument, never ErrNotFound). A 404 with another
//     code (NoSuchUpload, NoSuchVersion) is not a missing key: nil. A 404
//     with no code, or the code "NotFound", is ErrNotFound, and so is any
//     404 to a Stat but NoSuchBucket: such a 404 does not say whether the
//     key or the bucket is missing, and the driver must settle it with
//     ConfirmMissing (see the package documentation). Bare reports
//     whether a 404 is of that kind.
//   - AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch and the
//     other refusals, 401 and 403 are ErrPermission; a name another
//     account holds (BucketAlreadyExists) too.
//   - PreconditionFailed (412) is ErrExist for a Put, which sends it only
//     for If-None-Match (IfNotExists); for a Copy it means the source
//     changed between the driver's Stat and the CopyObject, which the
//     drivers retry and then report as ErrUnavailable (a store that would
//     not hold still; the caller may try again). For other operations it
//     is nil.
//   - InvalidRange and 416 are ErrInvalidRange; EntityTooLarge and other
//     limits ErrTooLarge; BadDigest and checksum mismatches ErrCorrupt;
//     InvalidArgument, a bad bucket name and any other 400 are
//     ErrInvalidArgument.
//   - SlowDown, InternalError and other server trouble, 429, 499
//     (ClientDisconnected) and every 5xx are ErrUnavailable. A driver
//     reports the caller's context instead when it has ended.
func Kind(op string, status int, code, message string) error {
	_ = message
	switch code {
	case "NoSuchKey":
		return storage.ErrNotFound
	case "NoSuchBucket":
		return storage.ErrNoBucket
	case "BucketAlreadyOwnedByYou":
		return storage.ErrExist
	case "BucketAlreadyExists":
		// The name is another account's.
		return storage.ErrPermission
	case "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"ExpiredToken", "InvalidToken", "AccountProblem", "XMinioAccessKeyDisabled":
		return storage.ErrPermission
	case "PreconditionFailed":
		return precondition(op)
	case "InvalidRange":
		return storage.ErrInvalidRange
	case "EntityTooLarge", "MetadataTooLarge", "KeyTooLongError", "XMinioInvalidObjectName":
		return storage.ErrTooLarge
	case "BadDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch", "InvalidDigest":
		return storage.ErrCorrupt
	case "XMinioObjectExistsAsDirectory", "XMinioParentIsObject":
		// MinIO keeps objects as a directory tree, so "a" and "a/b"
		// cannot both exist: the second write finds the name taken.
		if op == OpPut || op == OpCopy {
			return storage.ErrExist
		}
		return storage.ErrInvalidArgument
	case "InvalidArgument", "EntityTooSmall", "InvalidBucketName", "InvalidStorageClass":
		return storage.ErrInvalidArgument
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
		"XMinioServerNotInitialized", "XMinioStorageFull", "OperationAborted", "ClientDisconnected":
		return storage.ErrUnavailable
	}
	switch {
	case status == http.StatusNotFound:
		if Bare(op, status, code) {
			return storage.ErrNotFound
		}
		return nil
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return storage.ErrPermission
	case status == http.StatusPreconditionFailed:
		return precondition(op)
	case status == http.StatusRequestedRangeNotSatisfiable:
		return storage.ErrInvalidRange
	case status == http.StatusTooManyRequests, status == StatusClientClosedRequest, status >= 500:
		return storage.ErrUnavailable
	case status == http.StatusBadRequest:
		return storage.ErrInvalidArgument
	}
	return nil
}

// precondition is what a 412 to op means (see Kind).
func precondition(op string) error {
	switch op {
	case OpPut:
		return storage.ErrExist
	case OpCopy:
		return storage.ErrUnavailable
	}
	return nil
}

// Bare reports whether an error response is a 404 that does not say
// whether the key or the bucket is missing: any 404 to a Stat (a HEAD,
// whose response has no body) other than NoSuchBucket, and a 404 to
// another operation that came without a code (or with "NotFound", which
// is what aws-sdk-go-v2 calls a 404 without one). Kind calls it
// ErrNotFound; ConfirmMissing settles it.
func Bare(op string, status int, code string) bool {
	if status != http.StatusNotFound || code == "NoSuchBucket" {
		return false
	}
	return op == OpStat || code == "" || code == "NotFound"
}

// ConfirmMissing returns the error a bare 404 (see Bare) stands for, err
// being that 404 as the driver reported it (of Kind ErrNotFound), once the
// driver has asked whether its bucket exists: bucketErr is the error of
// that request (nil when the bucket answered). A bucket that answered 404
// (bucketErr matches ErrNoBucket) makes err a missing bucket, ErrNoBucket;
// one that answered, even with a refusal (ErrPermission: the name is
// taken, so the bucket is there), leaves err a missing key. When the
// question got no answer at all, its error is returned: nothing is known.
func ConfirmMissing(err, bucketErr error) error {
	switch {
	case bucketErr == nil, errors.Is(bucketErr, storage.ErrPermission):
		return err
	case errors.Is(bucketErr, storage.ErrNoBucket):
		var se *storage.Error
		if errors.As(err, &se) {
			c := *se
			c.Kind = storage.ErrNoBucket
			return &c
		}
		return WithKind(storage.ErrNoBucket, err)
	}
	return bucketErr
}

// BucketKind is Kind for the HEAD of a bucket, which has no body either:
// its 404 is a missing bucket.
func BucketKind(status int, code string) error {
	if status == http.StatusNotFound {
		return storage.ErrNoBucket
	}
	return Kind("bucket", status, code, "")
}

// NoResponseKind returns the storage sentinel of an error that came with
// no S3 response, or nil: an https endpoint that speaks plain HTTP is
// ErrInvalidArgument (no retry mends it); a refused, reset or broken
// connection, a body cut short, a network error or any other failure of
// the transport is ErrUnavailable. The caller's context errors are nil: a
// driver reports them as they are.
func NoResponseKind(err error) error {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return storage.ErrInvalidArgument
	}
	if storage.IsContextError(err) {
		return nil
	}
	var (
		ne net.Error
		ue *url.Error
	)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne),
		errors.As(err, &ue):
		return storage.ErrUnavailable
	}
	return nil
}

// SchemeMismatch is the cause of an error when a driver speaks HTTPS to a
// server that answered in plain HTTP. Its message says what to change, in
// the driver's words; it unwraps to the transport's error, which matches
// http.ErrSchemeMismatch.
type SchemeMismatch struct {
	// Host is the server's host:port, or "" when unknown.
	Host string
	// Err is the transport's error.
	Err error
	fix func(host string) string
}

// NewSchemeMismatch returns the SchemeMismatch of err, whose message ends
// with fix(host): what to write in the driver's URL or Config for that
// host ("HOST:PORT" when the error does not name it).
func NewSchemeMismatch(err error, fix func(host string) string) *SchemeMismatch {
	e := &SchemeMismatch{Err: err, fix: fix}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			e.Host = u.Host
		}
	}
	return e
}

// Error implements error.
func (e *SchemeMismatch) Error() string {
	host := e.Host
	if host == "" {
		host = "HOST:PORT"
	}
	return host + " speaks plain HTTP, not HTTPS: " + e.fix(host)
}

// Unwrap returns the transport's error.
func (e *SchemeMismatch) Unwrap() error { return e.Err }
