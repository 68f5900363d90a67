package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// apiErr builds an error shaped as the SDK returns it: an operation error
// around an HTTP response error around an API error.
func apiErr(status int, code string) error {
	var inner error = &smithy.GenericAPIError{Code: code, Message: "message"}
	if code == "" {
		inner = errors.New("no body")
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      inner,
	}}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want error
	}{
		{apiErr(404, "NoSuchKey"), storage.ErrNotFound},
		{apiErr(404, "NotFound"), storage.ErrNotFound},
		{apiErr(404, ""), storage.ErrNotFound},
		{apiErr(404, "NoSuchBucket"), storage.ErrNoBucket},
		{apiErr(409, "BucketAlreadyOwnedByYou"), storage.ErrExist},
		{apiErr(409, "BucketAlreadyExists"), storage.ErrPermission},
		{apiErr(403, "AccessDenied"), storage.ErrPermission},
		{apiErr(403, ""), storage.ErrPermission},
		{apiErr(403, "SignatureDoesNotMatch"), storage.ErrPermission},
		{apiErr(412, "PreconditionFailed"), storage.ErrExist},
		{apiErr(416, "InvalidRange"), storage.ErrInvalidRange},
		{apiErr(500, "InternalError"), storage.ErrUnavailable},
		{apiErr(503, "SlowDown"), storage.ErrUnavailable},
		{apiErr(502, ""), storage.ErrUnavailable},
		{apiErr(429, ""), storage.ErrUnavailable},
		{apiErr(499, "ClientDisconnected"), storage.ErrUnavailable},
		{apiErr(499, ""), storage.ErrUnavailable},
		{&credentialsError{err: errors.New("no EC2 IMDS role found")}, storage.ErrPermission},
		{&credentialsError{err: apiErr(404, "")}, storage.ErrPermission},
		{&credentialsError{err: apiErr(403, "AccessDenied")}, storage.ErrPermission},
		{&credentialsError{err: apiErr(503, "")}, storage.ErrUnavailable},
		{&credentialsError{err: &smithyhttp.RequestSendError{Err: syscall.ECONNREFUSED}}, storage.ErrPermission},
		{&credentialsError{err: fmt.Errorf("no EC2 IMDS role found, %w", &smithy.OperationError{ServiceID: "ec2imds", Err: context.DeadlineExceeded})}, storage.ErrPermission},
		{&credentialsError{err: apiErr(429, "")}, storage.ErrUnavailable},
		{apiErr(400, "EntityTooLarge"), storage.ErrTooLarge},
		{apiErr(400, "InvalidArgument"), storage.ErrInvalidArgument},
		{apiErr(409, "ConditionalRequestConflict"), nil},
		{&smithyhttp.RequestSendError{Err: syscall.ECONNREFUSED}, storage.ErrUnavailable},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), storage.ErrUnavailable},
		{io.ErrUnexpectedEOF, storage.ErrUnavailable},
		{&smithy.CanceledError{Err: context.Canceled}, nil},
		{errors.New("something else"), nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, kindOf("put", tt.err), "%v", tt.err)
		err := mapErr(t.Context(), "put", "k", tt.err)
		if tt.want != nil {
			assert.ErrorIs(t, err, tt.want, "%v", tt.err)
		}
		assert.ErrorIs(t, err, tt.err, "the cause is kept")
	}
	err := mapErr(t.Context(), "stat", "k", apiErr(403, "AccessDenied"))
	assert.ErrorIs(t, err, fs.ErrPermission)
	assert.NotErrorIs(t, err, fs.ErrNotExist)
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae, "errors.As reaches the SDK's error")
	assert.Equal(t, "AccessDenied", ae.ErrorCode())
	// A cancellation the caller did not make (its context is live) is the
	// store's failure, as in the minio driver (s3proto.Settle).
	err = mapErr(t.Context(), "get", "k", &smithy.CanceledError{Err: context.Canceled})
	assert.NotErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, storage.ErrUnavailable)
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	err = mapErr(cancelled, "get", "k", &smithy.CanceledError{Err: context.Canceled})
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, storage.ErrUnavailable)
	assert.Nil(t, mapErr(t.Context(), "get", "k", nil))
	assert.Same(t, err, mapErr(t.Context(), "put", "other", err), "an error of this package is not wrapped twice")
}

func TestScrub(t *testing.T) {
	t.Parallel()
	raw := "https://h/b/k?X-Amz-Credential=AKIA%2F20250101&X-Amz-Signature=deadbeef&x-id=GetObject"
	err := &smithyhttp.RequestSendError{Err: &url.Error{Op: "Get", URL: raw, Err: syscall.ECONNREFUSED}}
	got := mapErr(t.Context(), "get", "k", err)
	assert.NotContains(t, got.Error(), "deadbeef")
	assert.NotContains(t, got.Error(), "AKIA")
	assert.Contains(t, got.Error(), "connection refused")
	assert.ErrorIs(t, got, syscall.ECONNREFUSED)
	assert.ErrorIs(t, got, storage.ErrUnavailable)
	plain := &url.Error{Op: "Get", URL: "http://h/b/k?x-id=GetObject", Err: io.EOF}
	assert.Same(t, error(plain), scrub(plain), "nothing to hide")
}
