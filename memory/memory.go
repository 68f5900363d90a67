// Package memory is a storage.Provider that keeps objects in memory.
//
// It is the reference implementation of the strata contract: it is small,
// keeps every rule of package storage, and runs the conformance suite first.
// Use it in tests and examples, or as a scratch store that lives as long as
// the process.
//
// A Store holds its data in a map of immutable objects guarded by a mutex,
// with a sorted index of keys for List. Put reads the whole object into a
// private buffer and then commits it under the lock in one step, so readers
// see the old object or the new one, never a part, and Put with IfNotExists
// is race-free. Callers may change the slices and maps they passed to Put or
// got back from Get, Stat and List without touching what is stored.
//
// A Store also implements [storage.Copier]. It does not implement
// [storage.Presigner]: there is no server to hand out URLs for.
//
// # Errors
//
// Errors are *storage.Error values with Provider "memory" that wrap the
// sentinels of package storage: [storage.ErrNotFound] for a missing key,
// [storage.ErrExist] for Put with IfNotExists on an existing key,
// [storage.ErrInvalidKey], [storage.ErrInvalidArgument],
// [storage.ErrInvalidRange], [storage.ErrSizeMismatch] and
// [storage.ErrClosed] after Close. The error of a reader given to Put and
// context errors are kept as causes, so errors.Is(err, context.Canceled)
// holds for a cancelled call.
//
// # URLs
//
// Importing this package registers the scheme "mem" with [storage.Open]:
//
//   - "mem://" opens a new, empty Store, private to the caller.
//   - "mem://name" opens the process-wide store called name. Every Open of
//     the same name shares the same objects for the life of the process;
//     closing one of them closes only that handle, not the data the others
//     see. Names are compared exactly.
package memory

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// providerName is the Provider field of every error this package returns.
const providerName = "memory"

// listPage is how many entries List copies out under the lock at a time.
const listPage = 256

var (
	_ storage.Provider = (*Store)(nil)
	_ storage.Copier   = (*Store)(nil)
)

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// Now returns the current time; it stamps Info.ModTime. Nil means
	// time.Now. Tests inject a fake clock here.
	Now func() time.Time
}

// Store is an in-memory storage.Provider. Its zero value is not usable;
// make one with New or NewWithOptions. A Store is safe for concurrent use.
//
// Store is a [driver.Provider] over this package's driver, which is the
// whole of what the memory store does itself: the checks of every call,
// the errors and the hashing come from package driver.
type Store struct {
	*base
	m *mem
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// mem is the driver: the protocol of a store in a map.
type mem struct {
	b   *bucket
	now func() time.Time
	p   *driver.Provider // for Closed, checked again at commit
}

// bucket holds the objects. Several Stores (opened from the same mem://name)
// may share one bucket.
type bucket struct {
	mu      sync.RWMutex
	objects map[string]*object // guarded by mu
	keys    []string           // sorted keys of objects; guarded by mu
}

// object is an immutable stored object: it is replaced, never changed.
type object struct {
	data []byte
	info storage.Info // Metadata is owned by the object; clone before handing out
}

func newBucket() *bucket { return &bucket{objects: make(map[string]*object)} }

// New returns an empty Store.
func New() *Store { return NewWithOptions(nil) }

// NewWithOptions returns an empty Store configured by opts, which may be nil.
func NewWithOptions(opts *Options) *Store {
	return newStore(newBucket(), opts)
}

func newStore(b *bucket, opts *Options) *Store {
	m := &mem{b: b, now: time.Now}
	if opts != nil && opts.Now != nil {
		m.now = opts.Now
	}
	m.p = driver.New(providerName, m, nil)
	return &Store{base: m.p, m: m}
}

// Named stores for mem://name URLs.
var (
	namedMu sync.Mutex
	named   = map[string]*bucket{}
)

func init() {
	storage.Register("mem", openURL)
}

func openURL(ctx context.Context, u *url.URL) (storage.Provider, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.NewError("open", providerName, "", nil, err)
	}
	if u.User != nil || u.RawQuery != "" || (u.Path != "" && u.Path != "/") {
		return nil, &storage.Error{Op: "open", Provider: providerName, Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("URL %s: want mem:// or mem://name, with no path, user or query", storage.Redact(u))}
	}
	name := u.Host
	if name == "" {
		return New(), nil
	}
	namedMu.Lock()
	defer namedMu.Unlock()
	b := named[name]
	if b == nil {
		b = newBucket()
		named[name] = b
	}
	return newStore(b, nil), nil
}

// Kind implements driver.Driver. The memory driver's own errors already
// match a sentinel; what is left (a reader's error) says nothing more.
func (m *mem) Kind(string, error) error { return nil }

// Close implements driver.Driver: there is nothing to release.
func (m *mem) Close() error { return nil }

// Put implements driver.Driver. It reads body to the end into a private
// buffer, then stores the object in one step.
func (m *mem) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	// Fail early without reading when IfNotExists cannot succeed; the check
	// that counts is repeated under the lock at commit.
	if opts.IfNotExists && m.exists(key) {
		return storage.Info{}, storage.ErrExist
	}
	data, err := readAll(ctx, body, opts.Size)
	if err != nil {
		return storage.Info{}, err
	}
	sum := body.SHA256()
	obj := &object{
		data: data,
		info: storage.Info{
			Key:         key,
			Size:        int64(len(data)),
			ETag:        `"` + sum + `"`,
			SHA256:      sum,
			ContentType: opts.ContentType,
			Metadata:    cloneMeta(opts.Metadata),

			CacheControl:       opts.CacheControl,
			ContentDisposition: opts.ContentDisposition,
			ContentEncoding:    opts.ContentEncoding,
			ContentLanguage:    opts.ContentLanguage,
		},
	}
	return m.commit(ctx, obj, opts.IfNotExists)
}

func (m *mem) exists(key string) bool {
	m.b.mu.RLock()
	defer m.b.mu.RUnlock()
	_, ok := m.b.objects[key]
	return ok
}

// commit stores obj under its key, stamping its ModTime. It checks ctx and
// Close once more under the lock, so a Put cancelled or closed while it read
// stores nothing.
func (m *mem) commit(ctx context.Context, obj *object, ifNotExists bool) (storage.Info, error) {
	key := obj.info.Key
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if m.p.Closed() {
		return storage.Info{}, storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	_, exists := m.b.objects[key]
	if exists && ifNotExists {
		return storage.Info{}, storage.ErrExist
	}
	obj.info.ModTime = m.now().Round(0)
	m.b.objects[key] = obj
	if !exists {
		i := sort.SearchStrings(m.b.keys, key)
		m.b.keys = slices.Insert(m.b.keys, i, key)
	}
	return obj.publicInfo(), nil
}

// readAll reads r to the end, checking ctx between reads. sizeHint, when
// positive, sizes the buffer up front.
func readAll(ctx context.Context, r io.Reader, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint < 1<<30 {
		buf.Grow(int(sizeHint) + 1)
	}
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Keep only what is used: a large buffer may have grown past the data.
	if buf.Cap()-buf.Len() > 64<<10 {
		return bytes.Clone(buf.Bytes()), nil
	}
	return buf.Bytes(), nil
}

func (o *object) publicInfo() storage.Info {
	info := o.info
	info.Metadata = cloneMeta(o.info.Metadata)
	return info
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func (m *mem) lookup(key string) (*object, error) {
	m.b.mu.RLock()
	obj := m.b.objects[key]
	m.b.mu.RUnlock()
	if obj == nil {
		return nil, storage.ErrNotFound
	}
	return obj, nil
}

// Get implements driver.Driver. The returned reader reads a snapshot: a
// Put or Delete of the key after Get returns does not change what it
// yields.
func (m *mem) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	obj, err := m.lookup(key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	off, n, err := storage.CheckRange(rng, obj.info.Size)
	if err != nil {
		return nil, storage.Info{}, fmt.Errorf("range %+v of a %d-byte object: %w", *rng, obj.info.Size, storage.ErrInvalidRange)
	}
	return io.NopCloser(bytes.NewReader(obj.data[off : off+n])), obj.publicInfo(), nil
}

// Stat implements driver.Driver.
func (m *mem) Stat(ctx context.Context, key string) (storage.Info, error) {
	obj, err := m.lookup(key)
	if err != nil {
		return storage.Info{}, err
	}
	return obj.publicInfo(), nil
}

// Delete implements driver.Driver. Deleting a missing key succeeds.
func (m *mem) Delete(ctx context.Context, key string) error {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	if _, ok := m.b.objects[key]; !ok {
		return nil
	}
	delete(m.b.objects, key)
	if i, found := slices.BinarySearch(m.b.keys, key); found {
		m.b.keys = slices.Delete(m.b.keys, i, i+1)
	}
	return nil
}

// List implements driver.Driver. It copies entries out a page at a time
// and holds no lock while it yields, so the loop body may call Put and
// Delete on the same Store. Each page of entries is a snapshot; as on S3,
// whether an object written during the listing is yielded is not specified,
// but every object present for the whole listing is yielded once.
func (m *mem) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	prefix, after := opts.Prefix, opts.StartAfter
	return func(yield func(storage.Info, error) bool) {
		cursor, inclusive := after, false
		if cursor < prefix {
			cursor, inclusive = prefix, true
		}
		for {
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, err)
				return
			}
			page, more := m.page(prefix, cursor, inclusive)
			for _, info := range page {
				if !yield(info, nil) {
					return
				}
			}
			if !more {
				return
			}
			cursor, inclusive = page[len(page)-1].Key, false
		}
	}
}

// page returns up to listPage entries with keys starting with prefix and
// sorting after cursor (or at it, when inclusive), and whether more may
// follow.
func (m *mem) page(prefix, cursor string, inclusive bool) ([]storage.Info, bool) {
	m.b.mu.RLock()
	defer m.b.mu.RUnlock()
	i := sort.SearchStrings(m.b.keys, cursor)
	if !inclusive && i < len(m.b.keys) && m.b.keys[i] == cursor {
		i++
	}
	var out []storage.Info
	for ; i < len(m.b.keys); i++ {
		k := m.b.keys[i]
		if !strings.HasPrefix(k, prefix) {
			return out, false
		}
		if len(out) == listPage {
			return out, true
		}
		out = append(out, m.b.objects[k].publicInfo())
	}
	return out, false
}

// Copy implements storage.Copier: it stores the object under src again
// under dst, with its content type and metadata and a new ModTime.
func (s *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := s.CheckKeys(ctx, op, dst, src); err != nil {
		return storage.Info{}, err
	}
	obj, err := s.m.lookup(src)
	if err != nil {
		return storage.Info{}, s.Wrap(op, src, err)
	}
	// The data slice is never written after commit, so both objects may
	// share it.
	cp := &object{data: obj.data, info: obj.info}
	cp.info.Key = dst
	cp.info.Metadata = cloneMeta(obj.info.Metadata)
	info, err := s.m.commit(ctx, cp, false)
	return s.Result(op, dst, info, err)
}
