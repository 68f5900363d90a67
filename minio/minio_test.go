package minio

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestUnavailable(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: every call is an outage, not a not-found.
	s, err := New(t.Context(), Config{Endpoint: "127.0.0.1:1", Region: "us-east-1", AccessKey: "a", SecretKey: "secret-never-shown", Bucket: "bucket", MaxRetries: 1})
	require.NoError(t, err, "New sends no request")
	_, err = s.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.NotErrorIs(t, err, storage.ErrNotFound)
	_, _, err = s.Get(t.Context(), "k", nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	_, err = s.Put(t.Context(), "k", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	assert.NotContains(t, err.Error(), "secret-never-shown")
	for _, err := range s.List(t.Context(), nil) {
		require.ErrorIs(t, err, storage.ErrUnavailable)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s, err := New(t.Context(), Config{Endpoint: "127.0.0.1:1", Bucket: "bucket"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrClosed)
	_, err = s.Put(t.Context(), "k", strings.NewReader(""), nil)
	require.ErrorIs(t, err, storage.ErrClosed)
	for _, err := range s.List(t.Context(), nil) {
		require.ErrorIs(t, err, storage.ErrClosed)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no endpoint":   {Bucket: "b"},
		"scheme":        {Endpoint: "http://127.0.0.1:9000", Bucket: "b"},
		"path":          {Endpoint: "127.0.0.1:9000/b", Bucket: "b"},
		"no bucket":     {Endpoint: "127.0.0.1:9000"},
		"bad bucket":    {Endpoint: "127.0.0.1:9000", Bucket: "B_"},
		"small part":    {Endpoint: "127.0.0.1:9000", Bucket: "b", PartSize: 1 << 20},
		"short sse key": {Endpoint: "127.0.0.1:9000", Bucket: "b", SSECustomerKey: []byte("short-secret-key")},
		"half creds":    {Endpoint: "127.0.0.1:9000", Bucket: "b", SecretKey: "only-secret"},
	} {
		_, err := New(t.Context(), cfg)
		require.ErrorIs(t, err, storage.ErrInvalidArgument, name)
		assert.NotContains(t, err.Error(), "short-secret-key", name)
		assert.NotContains(t, err.Error(), "only-secret", name)
	}
}

// TestOpenURLSettings checks that storage.Open gives a Store the settings
// of its URL. New sends no request; the round trip through a URL against
// MinIO is internal/integration/miniodriver's TestOpenURL.
func TestOpenURLSettings(t *testing.T) {
	t.Parallel()
	p, err := storage.Open(t.Context(), "minio://127.0.0.1:1/media?secure=false&region=eu-west-1&part_size=5242880&threads=2&max_retries=4")
	require.NoError(t, err)
	defer p.Close()
	s := p.(*Store)
	assert.Equal(t, int64(5<<20), s.d.set.PartSize)
	assert.Equal(t, 2, s.d.set.Concurrency)
	assert.Equal(t, 4, s.d.tries)
	assert.Equal(t, "media", s.Bucket())
}

func TestMapErr(t *testing.T) {
	t.Parallel()
	resp := func(code string, status int) error {
		return miniogo.ErrorResponse{Code: code, StatusCode: status, Message: "m"}
	}
	cases := []struct {
		op   string
		err  error
		want error
	}{
		{"get", resp("NoSuchKey", 404), storage.ErrNotFound},
		{"get", resp("NoSuchBucket", 404), storage.ErrNoBucket},
		{"create-bucket", resp("BucketAlreadyOwnedByYou", 409), storage.ErrExist},
		{"get", resp("AccessDenied", 403), storage.ErrPermission},
		{"get", resp("", 403), storage.ErrPermission},
		{"put", resp("PreconditionFailed", 412), storage.ErrExist},
		{"copy", resp("PreconditionFailed", 412), storage.ErrUnavailable}, // the source changed (s3proto.Kind)
		{"get", resp("InvalidRange", 416), storage.ErrInvalidRange},
		{"get", resp("InternalError", 500), storage.ErrUnavailable},
		{"get", resp("SlowDown", 503), storage.ErrUnavailable},
		{"get", resp("502 Bad Gateway", 502), storage.ErrUnavailable},
		{"put", resp("XAmzContentSHA256Mismatch", 400), storage.ErrCorrupt},
		{"put", resp("XMinioObjectExistsAsDirectory", 400), storage.ErrExist},
		{"get", fmt.Errorf("wrapped: %w", resp("NoSuchKey", 404)), storage.ErrNotFound},
		{"get", io.ErrUnexpectedEOF, storage.ErrUnavailable},
		{"get", resp("ClientDisconnected", 499), storage.ErrUnavailable},
		{"get", resp("499 status code 499", 499), storage.ErrUnavailable},
		{"get", errors.New("other"), nil},
	}
	for _, c := range cases {
		err := mapErr(t.Context(), c.op, "k", c.err)
		var se *storage.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "minio", se.Provider)
		assert.Equal(t, c.want, se.Kind, "%s %v", c.op, c.err)
		require.ErrorIs(t, err, c.err, "the cause is kept")
	}
	assert.NoError(t, mapErr(t.Context(), "get", "k", nil))
}

func TestPartSizeFor(t *testing.T) {
	t.Parallel()
	assert.Equal(t, int64(16<<20), partSizeFor(100<<30, 16<<20))
	p := partSizeFor(1<<40, 16<<20) // 1 TiB needs bigger parts
	assert.LessOrEqual(t, (int64(1<<40)+p-1)/p, int64(maxParts))
	assert.Zero(t, p%(1<<20))
}
