package driver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// mapDriver is a whole provider's protocol: objects in a map. Everything
// else a provider must do (closed and context checks, key and option
// checks, errors with operation, provider and key, the SHA-256 of what was
// written, size checks, verified reads, a sorted listing's contract) comes
// from driver.New.
type mapDriver struct {
	mu   sync.Mutex
	objs map[string][]byte
	info map[string]storage.Info
}

func (d *mapDriver) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	data, err := io.ReadAll(body) // fails, storing nothing, on a size mismatch
	if err != nil {
		return storage.Info{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.objs[key]; ok && opts.IfNotExists {
		return storage.Info{}, storage.ErrExist
	}
	info := storage.Info{Key: key, Size: int64(len(data)), SHA256: body.SHA256(), ContentType: opts.ContentType}
	d.objs[key], d.info[key] = data, info
	return info, nil
}

func (d *mapDriver) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, ok := d.objs[key]
	if !ok {
		return nil, storage.Info{}, storage.ErrNotFound
	}
	off, n, err := storage.CheckRange(rng, int64(len(data)))
	if err != nil {
		return nil, storage.Info{}, err
	}
	return io.NopCloser(bytes.NewReader(data[off : off+n])), d.info[key], nil
}

func (d *mapDriver) Stat(ctx context.Context, key string) (storage.Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info, ok := d.info[key]
	if !ok {
		return storage.Info{}, storage.ErrNotFound
	}
	return info, nil
}

func (d *mapDriver) Delete(ctx context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.objs, key)
	delete(d.info, key)
	return nil
}

func (d *mapDriver) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	d.mu.Lock()
	var page []storage.Info
	for k, info := range d.info {
		if strings.HasPrefix(k, opts.Prefix) && k > opts.StartAfter {
			page = append(page, info)
		}
	}
	d.mu.Unlock()
	slices.SortFunc(page, func(a, b storage.Info) int { return strings.Compare(a.Key, b.Key) })
	return func(yield func(storage.Info, error) bool) {
		for _, info := range page {
			if !yield(info, nil) {
				return
			}
		}
	}
}

func (d *mapDriver) Close() error { return nil }

// Kind classifies errors; this driver's own already match a sentinel.
func (d *mapDriver) Kind(op string, err error) error { return nil }

func Example() {
	ctx := context.Background()
	var p storage.Provider = driver.New("map", &mapDriver{objs: map[string][]byte{}, info: map[string]storage.Info{}}, nil)

	info, _ := p.Put(ctx, "a/b", strings.NewReader("hello"), nil)
	fmt.Println(info.SHA256[:12])

	_, err := p.Put(ctx, "a/c", strings.NewReader("hello"), &storage.PutOptions{Size: 4})
	fmt.Println(errors.Is(err, storage.ErrSizeMismatch))

	_, err = p.Stat(ctx, "../etc/passwd")
	fmt.Println(err)

	_, err = p.Stat(ctx, "a/c")
	fmt.Println(err)
	// Output:
	// 2cf24dba5fb0
	// true
	// map stat "../etc/passwd": invalid key: key has a . or .. segment
	// map stat "a/c": object not found
}
