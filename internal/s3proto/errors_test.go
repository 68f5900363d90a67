package s3proto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/strata-storage/strata/storage"
)

func TestKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		op     string
		status int
		code   string
		want   error
	}{
		{"get", 404, "NoSuchKey", storage.ErrNotFound},
		{"get", 404, "NoSuchBucket", storage.ErrNoBucket},
		{"stat", 404, "NoSuchBucket", storage.ErrNoBucket},
		{"stat", 404, "NotFound", storage.ErrNotFound}, // bare: ConfirmMissing settles it
		{"stat", 404, "NoSuchKey", storage.ErrNotFound},
		{"get", 404, "", storage.ErrNotFound},
		{"get", 404, "NoSuchUpload", nil},
		{"get", 404, "NoSuchVersion", nil},
		{"get", 403, "AccessDenied", storage.ErrPermission},
		{"get", 403, "InvalidAccessKeyId", storage.ErrPermission},
		{"get", 403, "SignatureDoesNotMatch", storage.ErrPermission},
		{"get", 403, "", storage.ErrPermission},
		{"get", 401, "", storage.ErrPermission},
		{"create-bucket", 409, "BucketAlreadyOwnedByYou", storage.ErrExist},
		{"create-bucket", 409, "BucketAlreadyExists", storage.ErrPermission},
		{"put", 412, "PreconditionFailed", storage.ErrExist},
		{"put", 412, "", storage.ErrExist},
		{"copy", 412, "PreconditionFailed", storage.ErrUnavailable},
		{"get", 412, "PreconditionFailed", nil},
		{"delete", 412, "", nil},
		{"get", 416, "InvalidRange", storage.ErrInvalidRange},
		{"get", 416, "", storage.ErrInvalidRange},
		{"put", 400, "EntityTooLarge", storage.ErrTooLarge},
		{"put", 400, "XAmzContentSHA256Mismatch", storage.ErrCorrupt},
		{"put", 400, "BadDigest", storage.ErrCorrupt},
		{"put", 400, "XMinioObjectExistsAsDirectory", storage.ErrExist},
		{"get", 400, "XMinioObjectExistsAsDirectory", storage.ErrInvalidArgument},
		{"put", 400, "InvalidArgument", storage.ErrInvalidArgument},
		{"put", 400, "AuthorizationHeaderMalformed", storage.ErrInvalidArgument},
		{"put", 400, "RequestTimeout", storage.ErrUnavailable},
		{"get", 503, "SlowDown", storage.ErrUnavailable},
		{"get", 500, "InternalError", storage.ErrUnavailable},
		{"get", 502, "", storage.ErrUnavailable},
		{"get", 429, "", storage.ErrUnavailable},
		{"get", 499, "ClientDisconnected", storage.ErrUnavailable},
		{"get", 499, "", storage.ErrUnavailable},
		{"put", 409, "ConditionalRequestConflict", nil},
		{"get", 301, "PermanentRedirect", nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Kind(tt.op, tt.status, tt.code, "m"), "%s %d %q", tt.op, tt.status, tt.code)
	}
}

func TestBare(t *testing.T) {
	t.Parallel()
	assert.True(t, Bare(OpStat, 404, ""))
	assert.True(t, Bare(OpStat, 404, "NotFound"))
	assert.True(t, Bare(OpStat, 404, "NoSuchKey"), "minio-go guesses NoSuchKey for a HEAD")
	assert.False(t, Bare(OpStat, 404, "NoSuchBucket"))
	assert.False(t, Bare(OpStat, 403, ""))
	assert.True(t, Bare("get", 404, ""))
	assert.False(t, Bare("get", 404, "NoSuchKey"), "a GET's 404 has a body that says")
	assert.False(t, Bare("get", 404, "NoSuchUpload"))
}

func TestConfirmMissing(t *testing.T) {
	t.Parallel()
	notFound := &storage.Error{Op: "stat", Provider: "p", Key: "k", Kind: storage.ErrNotFound, Err: errors.New("404")}
	noBucket := &storage.Error{Op: "stat", Provider: "p", Kind: storage.ErrNoBucket}
	denied := &storage.Error{Op: "stat", Provider: "p", Kind: storage.ErrPermission}
	down := &storage.Error{Op: "stat", Provider: "p", Kind: storage.ErrUnavailable}

	assert.Same(t, notFound, ConfirmMissing(notFound, nil), "the bucket is there: the key is missing")
	assert.Same(t, notFound, ConfirmMissing(notFound, denied), "a refused HEAD of the bucket: it is there")
	err := ConfirmMissing(notFound, noBucket)
	assert.ErrorIs(t, err, storage.ErrNoBucket)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	assert.NotErrorIs(t, err, storage.ErrNotFound)
	var se *storage.Error
	if assert.ErrorAs(t, err, &se) {
		assert.Equal(t, "k", se.Key)
		assert.Equal(t, notFound.Err, se.Err, "the cause is kept")
	}
	assert.Equal(t, storage.ErrNotFound, notFound.Kind, "err is not changed")
	assert.Same(t, down, ConfirmMissing(notFound, down), "no answer: nothing is known")
}

func TestBucketKind(t *testing.T) {
	t.Parallel()
	assert.Equal(t, storage.ErrNoBucket, BucketKind(404, ""))
	assert.Equal(t, storage.ErrNoBucket, BucketKind(404, "NotFound"))
	assert.Equal(t, storage.ErrPermission, BucketKind(403, ""))
	assert.Equal(t, storage.ErrUnavailable, BucketKind(503, ""))
}

func TestNoResponseKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want error
	}{
		{syscall.ECONNREFUSED, storage.ErrUnavailable},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), storage.ErrUnavailable},
		{syscall.EPIPE, storage.ErrUnavailable},
		{&net.OpError{Op: "dial", Err: errors.New("x")}, storage.ErrUnavailable},
		{fmt.Errorf("body: %w", io.ErrUnexpectedEOF), storage.ErrUnavailable},
		{fmt.Errorf("https: %w", http.ErrSchemeMismatch), storage.ErrInvalidArgument},
		{fmt.Errorf("x: %w", context.Canceled), nil},
		{errors.New("other"), nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, NoResponseKind(tt.err), "%v", tt.err)
	}
}
