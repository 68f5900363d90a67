package reliability

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/cache/cachetest"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// readChecked reads key from p and returns the bytes and the error of the
// Get or of the read.
func readChecked(ctx context.Context, p storage.Provider, key string) ([]byte, error) {
	rc, _, err := p.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestRemoteBitFlipDetected overwrites an object on MinIO behind strata's
// back with damaged bytes, keeping the SHA-256 strata stored in its
// metadata, and checks that a tiered store fetching it on a miss fails the
// read with storage.ErrCorrupt, and does not keep the damaged copy, rather
// than serve the damaged bytes as good.
func TestRemoteBitFlipDetected(t *testing.T) {
	srv := miniotest.Start(t)
	bucket, _ := damagedRemote(t, srv)
	ctx := context.Background()
	t.Run("tiered", func(t *testing.T) {
		remote, err := minio.New(ctx, minio.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region,
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
		require.NoError(t, err)
		c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 16 << 20})
		require.NoError(t, err)
		ts, err := tiered.New(c, remote, tiered.Options{})
		require.NoError(t, err)
		defer ts.Close()
		got, err := readChecked(ctx, ts, "video.mp4")
		require.ErrorIs(t, err, storage.ErrCorrupt, "read %d bytes", len(got))
		_, err = ts.Cache().Stat(ctx, "video.mp4")
		require.True(t, errors.Is(err, storage.ErrNotFound), "the damaged object is not kept in the cache: %v", err)
	})
}

// damagedRemote stores an object through the minio provider (which records
// its SHA-256 in the metadata), then overwrites it behind strata's back with
// one bit flipped and the same metadata, and returns the bucket and the
// original checksum. The object is "video.mp4".
func damagedRemote(t *testing.T, srv *miniotest.Server) (bucket, sum string) {
	t.Helper()
	bucket = srv.NewBucket(t)
	ctx := context.Background()
	data := Content("video.mp4", 300<<10)
	sum = SHA256(data)
	mp, err := minio.New(ctx, minio.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	require.NoError(t, err)
	defer mp.Close()
	info, err := mp.Put(ctx, "video.mp4", bytes.NewReader(data), nil)
	require.NoError(t, err)
	require.Equal(t, sum, info.SHA256)

	// Damage it behind strata's back: same key, same metadata, one bit
	// flipped.
	raw, err := miniogo.New(srv.Endpoint, &miniogo.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""), Region: srv.Region})
	require.NoError(t, err)
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x80
	_, err = raw.PutObject(ctx, bucket, "video.mp4", bytes.NewReader(bad), int64(len(bad)),
		miniogo.PutObjectOptions{UserMetadata: map[string]string{"strata-sha256": sum}})
	require.NoError(t, err)
	st, err := mp.Stat(ctx, "video.mp4")
	require.NoError(t, err)
	require.Equal(t, sum, st.SHA256, "the damaged object still claims the original checksum")

	return bucket, sum
}

// TestCachedBitFlipDetected flips a bit of a cached object's file and
// checks that the cache, and a tiered store on it, do not serve the
// damaged bytes as good: the read fails with storage.ErrCorrupt, or the
// tiered store fetches the object again and serves the right bytes.
func TestCachedBitFlipDetected(t *testing.T) {
	ctx := context.Background()
	data := Content("photo.jpg", 64<<10)

	t.Run("cache", func(t *testing.T) {
		dir := t.TempDir()
		c, err := cache.Open(dir, cache.Options{MaxBytes: 16 << 20})
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Put(ctx, "photo.jpg", bytes.NewReader(data), nil)
		require.NoError(t, err)
		cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(len(data)/2))
		got, err := readChecked(ctx, c, "photo.jpg")
		require.ErrorIs(t, err, storage.ErrCorrupt, "a damaged cached file fails the read (got %d bytes)", len(got))
	})
	t.Run("tiered", func(t *testing.T) {
		dir := t.TempDir()
		c, err := cache.Open(dir, cache.Options{MaxBytes: 16 << 20})
		require.NoError(t, err)
		remote := memory.New()
		ts, err := tiered.New(c, remote, tiered.Options{})
		require.NoError(t, err)
		defer ts.Close()
		_, err = ts.Put(ctx, "photo.jpg", bytes.NewReader(data), nil)
		require.NoError(t, err)
		cachetest.FlipByte(t, cachetest.ObjectFile(t, dir), int64(len(data)/2))
		got, err := readChecked(ctx, ts, "photo.jpg")
		if err != nil {
			require.ErrorIs(t, err, storage.ErrCorrupt)
		} else {
			require.Equal(t, SHA256(data), SHA256(got), "served bytes are the object's, fetched again")
		}
		// Either way, the next read serves the right bytes.
		got, err = readChecked(ctx, ts, "photo.jpg")
		require.NoError(t, err)
		require.Equal(t, SHA256(data), SHA256(got))
	})
}

// TestRemoteBitFlipProviders reads a remote object damaged behind
// strata's back (its stored SHA-256 kept) through the s3 and minio
// providers directly: a whole-object read should end in storage.ErrCorrupt
// rather than io.EOF.
func TestRemoteBitFlipProviders(t *testing.T) {
	srv := miniotest.Start(t)
	bucket, _ := damagedRemote(t, srv)
	ctx := context.Background()
	mp, err := minio.New(ctx, minio.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	require.NoError(t, err)
	defer mp.Close()
	sp, err := s3.New(ctx, s3.Config{Endpoint: srv.URL, Bucket: bucket, Region: srv.Region,
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey})
	require.NoError(t, err)
	defer sp.Close()
	for name, p := range map[string]storage.Provider{"minio": mp, "s3": sp} {
		t.Run(name, func(t *testing.T) {
			got, err := readChecked(ctx, p, "video.mp4")
			require.ErrorIs(t, err, storage.ErrCorrupt, "read %d bytes, sha256 %s", len(got), SHA256(got))
		})
	}
}
