package local_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

var benchSizes = []struct {
	name string
	n    int
}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}}

// BenchmarkPut compares Put with writing the same bytes with the os
// package in the same run: os.WriteFile (no fsync, not atomic) and the same
// atomic sequence Put follows (temporary file, fsync, rename, fsync of the
// directory), so the ratios show what the store adds.
func BenchmarkPut(b *testing.B) {
	for _, sz := range benchSizes {
		data := bytes.Repeat([]byte{'x'}, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			b.Run("os.WriteFile", func(b *testing.B) {
				p := filepath.Join(b.TempDir(), "a", "b")
				os.MkdirAll(filepath.Dir(p), 0o750)
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if err := os.WriteFile(p, data, 0o640); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, sync := range []bool{true, false} {
				name := "os-atomic"
				if !sync {
					name += "-nosync"
				}
				b.Run(name, func(b *testing.B) {
					dir := filepath.Join(b.TempDir(), "a")
					os.MkdirAll(dir, 0o750)
					b.SetBytes(int64(sz.n))
					for b.Loop() {
						if err := atomicWrite(dir, "b", data, sync); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			for _, c := range []struct {
				name string
				opts local.Options
			}{
				{"local", local.Options{}},
				{"local-nosync", local.Options{NoSync: true}},
				{"local-sidecar", local.Options{Metadata: local.MetadataSidecar}},
			} {
				b.Run(c.name, func(b *testing.B) {
					s, err := local.New(b.TempDir(), &c.opts)
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					opts := &storage.PutOptions{ContentType: "application/octet-stream"}
					b.SetBytes(int64(sz.n))
					for b.Loop() {
						if _, err := s.Put(b.Context(), "a/b", bytes.NewReader(data), opts); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func atomicWrite(dir, name string, data []byte, sync bool) error {
	f, err := os.CreateTemp(dir, ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// BenchmarkGet compares Get (open through os.Root, fstat, read the
// metadata, stream) with reading the same file with the os package:
// os.ReadFile, and os.Open plus io.Copy into the same reused buffer.
func BenchmarkGet(b *testing.B) {
	for _, sz := range benchSizes {
		data := bytes.Repeat([]byte{'x'}, sz.n)
		b.Run(sz.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := local.New(dir, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Put(b.Context(), "a/b", bytes.NewReader(data), &storage.PutOptions{ContentType: "x/y"}); err != nil {
				b.Fatal(err)
			}
			p := filepath.Join(dir, "a", "b")
			b.Run("os.ReadFile", func(b *testing.B) {
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					got, err := os.ReadFile(p)
					if err != nil || len(got) != sz.n {
						b.Fatal(err, len(got))
					}
				}
			})
			buf := bytes.NewBuffer(make([]byte, 0, sz.n))
			b.Run("os.Open+io.Copy", func(b *testing.B) {
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					f, err := os.Open(p)
					if err != nil {
						b.Fatal(err)
					}
					buf.Reset()
					n, err := io.Copy(buf, f)
					f.Close()
					if err != nil || n != int64(sz.n) {
						b.Fatal(err, n)
					}
				}
			})
			b.Run("local", func(b *testing.B) {
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					rc, _, err := s.Get(b.Context(), "a/b", nil)
					if err != nil {
						b.Fatal(err)
					}
					buf.Reset()
					n, err := io.Copy(buf, rc)
					rc.Close()
					if err != nil || n != int64(sz.n) {
						b.Fatal(err, n)
					}
				}
			})
			b.Run("local-stat", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Stat(b.Context(), "a/b"); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
