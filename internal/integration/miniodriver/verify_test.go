package miniodriver_test

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

// overwrite replaces the bytes of key with data through plain minio-go,
// behind the Store's back, keeping sum as the object's strata checksum: what
// bit rot or a careless tool would leave.
func overwrite(t *testing.T, e *env, key string, data []byte, sum string) {
	t.Helper()
	_, err := e.srv.Client().PutObject(t.Context(), e.bucket, key, bytes.NewReader(data), int64(len(data)),
		miniogo.PutObjectOptions{UserMetadata: map[string]string{s3proto.MetaSHA256: sum}})
	require.NoError(t, err)
}

func TestGetVerifiesChecksum(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	good := randomBytes(21, 100_000)
	info, err := e.store.Put(ctx, "obj", bytes.NewReader(good), nil)
	require.NoError(t, err)
	require.Equal(t, sha(good), info.SHA256)

	// Untouched, a whole-object read passes the check.
	got, _ := readAll(t, e.store, "obj", nil)
	require.Equal(t, good, got)

	bad := bytes.Clone(good)
	bad[len(bad)/2] ^= 1
	overwrite(t, e, "obj", bad, sha(good))

	t.Run("whole object", func(t *testing.T) {
		rc, info, err := e.store.Get(ctx, "obj", nil)
		require.NoError(t, err, "the mismatch shows only once the bytes are read")
		defer rc.Close()
		assert.Equal(t, sha(good), info.SHA256, "Info reports the recorded checksum")
		got, err := io.ReadAll(rc)
		require.ErrorIs(t, err, storage.ErrCorrupt)
		require.NotErrorIs(t, err, io.EOF)
		var se *storage.Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, "minio", se.Provider)
		assert.Equal(t, "get", se.Op)
		assert.Equal(t, "obj", se.Key)
		assert.Contains(t, err.Error(), sha(bad), "the message names the checksum found")
		assert.Equal(t, bad, got, "the bytes were delivered, with the error")
		n, err := rc.Read(make([]byte, 10))
		assert.Zero(t, n)
		require.ErrorIs(t, err, storage.ErrCorrupt, "a Read after the verdict repeats it")
	})
	t.Run("io.Copy", func(t *testing.T) {
		rc, _, err := e.store.Get(ctx, "obj", &storage.GetOptions{Range: &storage.Range{}})
		require.NoError(t, err)
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc)
		require.ErrorIs(t, err, storage.ErrCorrupt, "a zero Range is the whole object, and verified")
	})
	t.Run("one byte at a time", func(t *testing.T) {
		rc, _, err := e.store.Get(ctx, "obj", nil)
		require.NoError(t, err)
		defer rc.Close()
		_, err = io.ReadAll(iotest.OneByteReader(rc))
		require.ErrorIs(t, err, storage.ErrCorrupt)
	})
	t.Run("ranges are not verified", func(t *testing.T) {
		for _, r := range []storage.Range{{Offset: 0, Length: int64(len(bad))}, {Offset: 10}, {Offset: 40_000, Length: 20_000}} {
			got, _ := readAll(t, e.store, "obj", &storage.GetOptions{Range: &r})
			assert.Equal(t, bad[r.Offset:r.Offset+int64(len(got))], got, "range %+v", r)
			if r.Length > 0 {
				assert.Len(t, got, int(r.Length))
			} else {
				assert.Len(t, got, len(bad)-int(r.Offset))
			}
		}
	})
	t.Run("verification off", func(t *testing.T) {
		off, err := minio.New(ctx, minio.Config{Endpoint: e.srv.Endpoint, Region: e.srv.Region, AccessKey: e.srv.AccessKey,
			SecretKey: e.srv.SecretKey, Bucket: e.bucket, SkipVerifyReads: true})
		require.NoError(t, err)
		defer off.Close()
		got, info := readAll(t, off, "obj", nil)
		assert.Equal(t, bad, got)
		assert.Equal(t, sha(good), info.SHA256)
	})
	t.Run("a shorter object", func(t *testing.T) {
		overwrite(t, e, "short", good[:1000], sha(good))
		rc, _, err := e.store.Get(ctx, "short", nil)
		require.NoError(t, err)
		defer rc.Close()
		_, err = io.ReadAll(rc)
		require.ErrorIs(t, err, storage.ErrCorrupt)
	})
	t.Run("empty object", func(t *testing.T) {
		overwrite(t, e, "empty", nil, sha(good))
		rc, _, err := e.store.Get(ctx, "empty", nil)
		require.NoError(t, err)
		defer rc.Close()
		_, err = io.ReadAll(rc)
		require.ErrorIs(t, err, storage.ErrCorrupt)
	})
	t.Run("no checksum recorded", func(t *testing.T) {
		_, err := e.srv.Client().PutObject(ctx, e.bucket, "foreign", bytes.NewReader(bad), int64(len(bad)), miniogo.PutObjectOptions{})
		require.NoError(t, err)
		got, info := readAll(t, e.store, "foreign", nil)
		assert.Equal(t, bad, got)
		assert.Empty(t, info.SHA256)
	})
}

// TestGetVerifiesMultipart checks that objects uploaded in parts, whose
// checksum was recorded afterwards (a stream) or up front (a seekable
// reader), read back whole through the check, and fail it once replaced.
func TestGetVerifiesMultipart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	data := randomBytes(22, 2*testPartSize+123)
	_, err := e.store.Put(ctx, "stream", onlyReader{bytes.NewReader(data)}, nil)
	require.NoError(t, err)
	_, err = e.store.Put(ctx, "seekable", bytes.NewReader(data), nil)
	require.NoError(t, err)
	for _, key := range []string{"stream", "seekable"} {
		got, info := readAll(t, e.store, key, nil)
		require.Equal(t, sha(data), info.SHA256, key)
		require.Equal(t, data, got, key)
	}
	bad := bytes.Clone(data)
	bad[0] ^= 0xff
	overwrite(t, e, "stream", bad, sha(data))
	rc, _, err := e.store.Get(ctx, "stream", nil)
	require.NoError(t, err)
	defer rc.Close()
	_, err = io.ReadAll(rc)
	require.ErrorIs(t, err, storage.ErrCorrupt)
}
