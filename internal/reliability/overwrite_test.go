package reliability

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

func newTieredOn(t *testing.T, srv *miniotest.Server, bucket string, mode tiered.Mode) *tiered.Store {
	t.Helper()
	remote, err := minio.New(context.Background(), minio.Config{Endpoint: srv.Endpoint, Bucket: bucket,
		Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PrefixCheck: minio.PrefixCheckOff})
	require.NoError(t, err)
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 64 << 20})
	require.NoError(t, err)
	ts, err := tiered.New(c, remote, tiered.Options{Mode: mode})
	require.NoError(t, err)
	t.Cleanup(func() { ts.Close() })
	return ts
}

func readAll(t *testing.T, p storage.Provider, key string) string {
	t.Helper()
	rc, _, err := p.Get(context.Background(), key, nil)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

// TestOverwriteAcrossStores pins down what the package documentation says
// about overwrites between processes: a store that cached a key keeps
// serving its copy after another process overwrote the key on the remote,
// until the copy leaves its cache; Offload finds and drops such stale copies.
func TestOverwriteAcrossStores(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	ctx := context.Background()
	a := newTieredOn(t, srv, bucket, tiered.WriteThrough)
	b := newTieredOn(t, srv, bucket, tiered.WriteThrough)

	_, err := a.Put(ctx, "k", bytes.NewReader([]byte("version 1")), nil)
	require.NoError(t, err)
	require.Equal(t, "version 1", readAll(t, b, "k"), "b fetches on miss")

	_, err = a.Put(ctx, "k", bytes.NewReader([]byte("version 2")), nil)
	require.NoError(t, err)
	require.Equal(t, "version 2", readAll(t, a, "k"))
	require.Equal(t, "version 1", readAll(t, b, "k"), "b serves its cached copy: no invalidation between processes")

	res, err := b.Offload(ctx, &tiered.OffloadOptions{IdleFor: -1})
	require.NoError(t, err)
	require.EqualValues(t, 1, res.Stale, "Offload finds the stale copy")
	require.Equal(t, "version 2", readAll(t, b, "k"), "after Offload, b fetches the new version")

	// IfNotExists is how media servers keep keys immutable: the second
	// writer of a key is refused, so no copy can go stale.
	_, err = b.Put(ctx, "m", bytes.NewReader([]byte("first")), &storage.PutOptions{IfNotExists: true})
	require.NoError(t, err)
	_, err = a.Put(ctx, "m", bytes.NewReader([]byte("second")), &storage.PutOptions{IfNotExists: true})
	require.ErrorIs(t, err, storage.ErrExist)
}
