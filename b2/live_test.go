package b2

import (
	"context"
	"io"
	"iter"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-storage/strata/storage"
)

func getenv(name string) string { return os.Getenv(name) }

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// prefixed confines a Store to the keys under prefix, so that every
// subtest of the live conformance run gets an empty store in one shared
// test bucket. Close deletes what is left under the prefix.
type prefixed struct {
	*Store
	prefix string
	once   sync.Once
}

func (p *prefixed) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, err
	}
	info, err := p.Store.Put(ctx, p.prefix+key, r, opts)
	return p.strip(info), err
}

func (p *prefixed) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return nil, storage.Info{}, err
	}
	rc, info, err := p.Store.Get(ctx, p.prefix+key, opts)
	return rc, p.strip(info), err
}

func (p *prefixed) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, err
	}
	info, err := p.Store.Stat(ctx, p.prefix+key)
	return p.strip(info), err
}

func (p *prefixed) Delete(ctx context.Context, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return err
	}
	return p.Store.Delete(ctx, p.prefix+key)
}

func (p *prefixed) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := storage.ValidKey(key); err != nil {
		return "", err
	}
	return p.Store.PresignGet(ctx, p.prefix+key, expiry)
}

func (p *prefixed) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	o := storage.ListOptions{Prefix: p.prefix}
	if opts != nil {
		o.Prefix += opts.Prefix
		if opts.StartAfter != "" {
			o.StartAfter = p.prefix + opts.StartAfter
		}
	}
	return func(yield func(storage.Info, error) bool) {
		for info, err := range p.Store.List(ctx, &o) {
			if !yield(p.strip(info), err) {
				return
			}
		}
	}
}

func (p *prefixed) Close() error {
	p.once.Do(func() {
		if p.Store.Closed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for info, err := range p.Store.List(ctx, &storage.ListOptions{Prefix: p.prefix}) {
			if err != nil {
				break
			}
			_ = p.Store.Delete(ctx, info.Key)
		}
	})
	return p.Store.Close()
}

func (p *prefixed) strip(info storage.Info) storage.Info {
	info.Key = strings.TrimPrefix(info.Key, p.prefix)
	return info
}
