package tieredminio_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// BenchmarkGet is package tiered's BenchmarkGet with MinIO as the remote:
// reads of 256 KiB objects straight from the remote (the baseline),
// through the store on a hit, and through the store on a miss (fetched
// from the remote into the cache, then served; the local copy is dropped,
// outside the timer, before each).
func BenchmarkGet(b *testing.B) {
	srv := miniotest.Start(b)
	remote, err := minio.New(b.Context(), minio.Config{
		Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Bucket: srv.NewBucket(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { remote.Close() })
	data := conformance.RandomBytes(2, 256<<10)
	ctx := b.Context()
	if _, err := remote.Put(ctx, "obj", bytes.NewReader(data), nil); err != nil {
		b.Fatal(err)
	}
	c, err := cache.Open(b.TempDir(), cache.Options{MaxBytes: 4 << 30})
	if err != nil {
		b.Fatal(err)
	}
	s, err := tiered.New(c, shared{remote}, tiered.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	read := func(p storage.Provider) {
		rc, _, err := p.Get(ctx, "obj", nil)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			read(remote)
		}
	})
	b.Run("hit", func(b *testing.B) {
		read(s)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			read(s)
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			b.StopTimer()
			if _, err := s.Cache().Drop(ctx, "obj", ""); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			read(s)
		}
	})
}
