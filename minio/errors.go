package minio

import (
	"context"
	"errors"
	"net/http"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/internal/s3proto"
)

// providerName is the Provider field of every error this package returns.
const providerName = "minio"

// statusClientClosedRequest is the non-standard status 499 (see
// s3proto.StatusClientClosedRequest).
const statusClientClosedRequest = s3proto.StatusClientClosedRequest

// fail returns err, an error from minio-go (or from the network under it)
// for op, made with ctx, as the driver hands it to the shared layer, which
// classifies it with Kind: an HTTPS request answered in plain HTTP says
// what to change, and s3proto.Settle tells the caller's cancellation from
// the transport's own timeouts (see s3proto.Settle).
//
// Kind classifies an S3 error response by its code, then by its HTTP
// status, with the table shared with the s3 driver (s3proto.Kind):
// NoSuchKey (a definite not-found) is ErrNotFound; NoSuchBucket is
// ErrNoBucket; AccessDenied and 403 are ErrPermission, never ErrNotFound;
// PreconditionFailed is ErrExist for "put"; InvalidRange is
// ErrInvalidRange; 5xx, 499 (ClientDisconnected: a proxy or the server saw
// the connection go) and throttling are ErrUnavailable. Network failures
// (refused or reset connections, a body cut short, a transport timeout)
// are ErrUnavailable.
//
// Error strings carry the op, the key and the server's message; minio-go
// signs requests in headers, so no credential is in any of them.
func (s *drv) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	kind := s.Kind(op, err)
	if errors.Is(err, http.ErrSchemeMismatch) {
		err = newSchemeMismatch(err)
	}
	return s3proto.Settle(ctx, err, kind)
}

// newSchemeMismatch returns the cause of an error when the Store speaks
// HTTPS (Config.Secure, the default of a minio:// URL) and the server
// answered in plain HTTP: its message says what to change.
func newSchemeMismatch(err error) error {
	return s3proto.NewSchemeMismatch(err, func(string) string {
		return "add ?secure=false to the minio:// URL (Config.Secure false)"
	})
}

// Kind implements driver.Driver: it returns the storage sentinel err, an
// error of a request for op, means, or nil. It reads the S3 error response
// err carries and asks s3proto.Kind, the table shared with the s3 driver.
func (s *drv) Kind(op string, err error) error { return kindOf(op, err) }

// kindOf returns the storage sentinel err, an error of a request for op,
// belongs to, or nil. It does not look at context errors: fail does,
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
