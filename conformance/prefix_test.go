package conformance_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// dirStore is a memory store that, like a directory tree or MinIO, cannot
// hold an object "a" and an object "a/b" at once: it refuses the second
// with ErrExist. A mutex makes the check and the write one step.
type dirStore struct {
	*memory.Store
	mu sync.Mutex
}

func (d *dirStore) conflict(ctx context.Context, key string) error {
	for i := range len(key) {
		if key[i] == '/' {
			if _, err := d.Store.Stat(ctx, key[:i]); err == nil {
				return &storage.Error{Op: "put", Provider: "dirstore", Key: key, Kind: storage.ErrExist}
			}
		}
	}
	for _, err := range d.Store.List(ctx, &storage.ListOptions{Prefix: key + "/"}) {
		if err != nil {
			return err
		}
		return &storage.Error{Op: "put", Provider: "dirstore", Key: key, Kind: storage.ErrExist}
	}
	return nil
}

func (d *dirStore) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return d.Store.Put(ctx, key, r, opts)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.conflict(ctx, key); err != nil {
		return storage.Info{}, err
	}
	return d.Store.Put(ctx, key, r, opts)
}

func (d *dirStore) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	if storage.ValidKey(dst) != nil || strings.Contains(src, "\x00") {
		return d.Store.Copy(ctx, dst, src)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.Store.Stat(ctx, src); err != nil {
		return d.Store.Copy(ctx, dst, src)
	}
	if err := d.conflict(ctx, dst); err != nil {
		return storage.Info{}, err
	}
	return d.Store.Copy(ctx, dst, src)
}

// TestPrefixConflictsProvider runs the suite with Harness.PrefixConflicts
// against a store that has them.
func TestPrefixConflictsProvider(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		New:             func(t *testing.T) storage.Provider { return &dirStore{Store: memory.New()} },
		Copy:            true,
		PrefixConflicts: true,
	})
}
