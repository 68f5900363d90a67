package tieredminio_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// cacheTmp lists the files of writes in progress in a cache directory.
func cacheTmp(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// harness runs the suite on tiered stores in mode over the remotes
// newRemote makes, checking that no cache write is left half done.
func harness(opts tiered.Options, newRemote func(t *testing.T) storage.Provider) conformance.Harness {
	var dirs sync.Map // *testing.T -> cache directory
	return conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			dir := t.TempDir()
			c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
			require.NoError(t, err)
			s, err := tiered.New(c, newRemote(t), opts)
			require.NoError(t, err)
			dirs.Store(t, dir)
			t.Cleanup(func() { dirs.Delete(t) })
			return s
		},
		Leftovers: func(t *testing.T) []string {
			dir, ok := dirs.Load(t)
			require.True(t, ok, "no store was made for this subtest")
			return cacheTmp(t, dir.(string))
		},
	}
}

// TestConformanceMinIO runs the suite with a real MinIO as the remote, one
// bucket per subtest. MinIO cannot hold both "a" and "a/b": in
// write-through mode the remote refuses the second Put and so does the
// store; in write-behind mode the Put is accepted locally and its upload
// keeps failing (see the package documentation), so the suite sees a
// store without prefix conflicts. That write-behind store has one
// uploader: the minio provider's prefix check cannot stop two uploads of
// "d" and "d/a" racing each other, and MinIO then holds an object it does
// not list, which leaves a bucket that cannot be removed.
//
// MinIO copies and presigns, and so does the store. In write-behind mode
// Presign is not declared: the suite presigns right after a Put, while
// the upload is still pending, and the store then answers
// tiered.ErrNotUploaded, which matches storage.ErrUnsupported (see
// TestPresignPending).
func TestConformanceMinIO(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	for _, mode := range []tiered.Mode{tiered.WriteThrough, tiered.WriteBehind} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			h := harness(tiered.Options{Mode: mode, Uploaders: 1}, func(t *testing.T) storage.Provider { return newMinIO(t, srv) })
			h.PrefixConflicts = mode == tiered.WriteThrough
			h.Copy = true
			h.Presign = mode == tiered.WriteThrough
			// Presigned uploads go to the remote, in both modes (the
			// suite flushes before it presigns a key it has written).
			h.PresignPut = true
			conformance.Run(t, h)
		})
	}
}

func newMinIO(t testing.TB, srv *miniotest.Server) *minio.Store {
	t.Helper()
	m, err := minio.New(t.Context(), minio.Config{
		Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Bucket: srv.NewBucket(t), PartSize: minio.MinPartSize,
	})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// TestConformanceMinIOStaleness runs the suite over MinIO with the change
// log on (tiered.Options.Staleness): the log's entries live in the bucket
// beside the objects, and must never show through the store. Write-through
// only: it is the mode whose every overwrite and delete writes an entry
// before it answers. PresignPut is refused with the log on (an upload out
// of the store's sight could not be announced), which the suite checks as
// an undeclared ability.
func TestConformanceMinIOStaleness(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	h := harness(tiered.Options{Mode: tiered.WriteThrough, Staleness: time.Second}, func(t *testing.T) storage.Provider { return newMinIO(t, srv) })
	h.PrefixConflicts = true
	h.Copy = true
	h.Presign = true
	conformance.Run(t, h)
}
