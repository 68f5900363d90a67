package miniodriver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }

// testPartSize keeps multipart tests small: the smallest part S3 allows.
const testPartSize = minio.MinPartSize

// env is a Store on a fresh bucket of the shared MinIO server.
type env struct {
	srv    *miniotest.Server
	bucket string
	store  *minio.Store
	cfg    minio.Config // what store was made with
}

// newEnv starts (or reuses) MinIO and returns a Store on a fresh bucket,
// configured by cfg on top of the server's endpoint and credentials.
func newEnv(t testing.TB, mod func(*minio.Config)) *env {
	t.Helper()
	return newKnobEnv(t, s3proto.Knobs{}, mod)
}

// newKnobEnv is newEnv with settings no Config offers changed (a smaller
// listing page, no delimiter listing on the server; see s3proto.Knobs).
func newKnobEnv(t testing.TB, knobs s3proto.Knobs, mod func(*minio.Config)) *env {
	t.Helper()
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	cfg := minio.Config{
		Endpoint:  srv.Endpoint,
		Region:    srv.Region,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Bucket:    bucket,
		PartSize:  testPartSize,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := minio.New(s3proto.WithKnobs(t.Context(), knobs), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return &env{srv: srv, bucket: bucket, store: s, cfg: cfg}
}

// incomplete returns the multipart uploads left in the bucket, as
// "key (upload id)".
func incomplete(t testing.TB, c *miniogo.Client, bucket string) []string {
	t.Helper()
	var out []string
	for u := range c.ListIncompleteUploads(context.Background(), bucket, "", true) {
		require.NoError(t, u.Err)
		out = append(out, u.Key+" ("+u.UploadID+")")
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// randomBytes returns n bytes that differ from one seed to another.
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// onlyReader hides everything but Read, as a network body would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func readAll(t testing.TB, s *minio.Store, key string, opts *storage.GetOptions) ([]byte, storage.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key, opts)
	require.NoError(t, err, "Get %q", key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b, info
}
