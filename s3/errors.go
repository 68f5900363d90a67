package s3

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/storage"
)

// providerName is the Provider field of every error this package returns.
const providerName = "s3"

// newErr returns a *storage.Error of this provider.
func newErr(op, key string, kind, cause error) error {
	return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: kind, Err: cause}
}

// mapErr is the one place SDK errors become strata errors. It wraps err in
// a *storage.Error whose Kind is the sentinel the error means, keeping err as
// the cause so errors.As still finds the SDK's types, and errors.Is finds
// context.Canceled and context.DeadlineExceeded.
//
// Only a definite 404 (NoSuchKey, NotFound) is ErrNotFound; a 403 is
// ErrPermission even for a missing key (S3 answers 403 for a missing key
// when the caller may not list the bucket). A missing bucket is
// ErrInvalidArgument, not a missing object: it is a configuration error.
func mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) && se.Provider == providerName {
		return err
	}
	return newErr(op, key, kindOf(err), scrub(err))
}

// kindOf returns the storage sentinel err means, or nil.
func kindOf(err error) error {
	if storage.IsContextError(err) {
		// The context's own error: callers match it with errors.Is. The SDK
		// wraps it (smithy.CanceledError), and the cause keeps it.
		return nil
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch code {
	case "NoSuchKey":
		return storage.ErrNotFound
	case "NoSuchBucket":
		return storage.ErrInvalidArgument
	case "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AccountProblem":
		return storage.ErrPermission
	case "PreconditionFailed":
		return storage.ErrExist
	case "InvalidRange":
		return storage.ErrInvalidRange
	case "EntityTooLarge", "MetadataTooLarge", "KeyTooLongError":
		return storage.ErrTooLarge
	case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "XMinioServerNotInitialized":
		return storage.ErrUnavailable
	case "BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest":
		return storage.ErrCorrupt
	}
	switch {
	case status == 404:
		// HeadObject has no body, so its 404 carries the code "NotFound"
		// for both a missing key and a missing bucket; a 404 is a definite
		// "not there" either way.
		return storage.ErrNotFound
	case status == 401 || status == 403:
		return storage.ErrPermission
	case status == 412:
		return storage.ErrExist
	case status == 416:
		return storage.ErrInvalidRange
	case status >= 500:
		return storage.ErrUnavailable
	case status == 429:
		return storage.ErrUnavailable
	case status == 400:
		return storage.ErrInvalidArgument
	case status != 0:
		return nil
	}
	// No HTTP response: the request never completed.
	var rse *smithyhttp.RequestSendError
	var ne net.Error
	switch {
	case errors.As(err, &rse),
		errors.As(err, &ne),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.ErrUnexpectedEOF):
		return storage.ErrUnavailable
	}
	return nil
}

// scrubbed is an error whose message has the URL of a *url.Error redacted.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub hides secrets an error message could carry. The SDK's requests carry
// their signature in a header, not in the URL, and the endpoint may not hold
// a password, but a transport error names the request URL: its query is
// redacted here all the same, so that nothing that looks like a credential
// (X-Amz-Credential, X-Amz-Signature, X-Amz-Security-Token) reaches an error
// string.
func scrub(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.URL == "" {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return err
	}
	red := storage.Redact(u)
	if red == ue.URL {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), ue.URL, red), err: err}
}
