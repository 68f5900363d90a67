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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
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
type Store struct {
	b      *bucket
	now    func() time.Time
	closed atomic.Bool
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
	s := &Store{b: b, now: time.Now}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
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

// check returns the error a call must fail with before doing anything:
// ErrClosed after Close, or the context's error.
func (s *Store) check(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return storage.NewError(op, providerName, key, nil, err)
	}
	return nil
}

func keyErr(op, key string) error {
	if err := storage.ValidKey(key); err != nil {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrInvalidKey, Err: err}
	}
	return nil
}

func notFound(op, key string) error {
	return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrNotFound}
}

// Put implements storage.Provider. It reads r to the end into a private
// buffer, then stores the object in one step.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	const op = "put"
	if err := s.check(ctx, op, key); err != nil {
		return storage.Info{}, err
	}
	if err := storage.CheckPut(key, opts); err != nil {
		kind := storage.ErrInvalidArgument
		if errors.Is(err, storage.ErrInvalidKey) {
			kind = storage.ErrInvalidKey
		}
		return storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: kind, Err: err}
	}
	if opts == nil {
		opts = &storage.PutOptions{}
	}
	// Fail early without reading when IfNotExists cannot succeed; the check
	// that counts is repeated under the lock at commit.
	if opts.IfNotExists {
		s.b.mu.RLock()
		_, exists := s.b.objects[key]
		s.b.mu.RUnlock()
		if exists {
			return storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrExist}
		}
	}
	if r == nil {
		r = bytes.NewReader(nil)
	}
	data, err := readAll(ctx, r, opts.Size)
	if err != nil {
		return storage.Info{}, storage.NewError(op, providerName, key, nil, err)
	}
	if err := storage.CheckSize(opts, int64(len(data))); err != nil {
		return storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrSizeMismatch, Err: err}
	}
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	obj := &object{
		data: data,
		info: storage.Info{
			Key:         key,
			Size:        int64(len(data)),
			ETag:        `"` + hexSum + `"`,
			SHA256:      hexSum,
			ContentType: opts.ContentType,
			Metadata:    cloneMeta(opts.Metadata),
		},
	}
	return s.commit(ctx, op, obj, opts.IfNotExists)
}

// commit stores obj under its key, stamping its ModTime. It checks ctx and
// Close once more under the lock, so a Put cancelled or closed while it read
// stores nothing.
func (s *Store) commit(ctx context.Context, op string, obj *object, ifNotExists bool) (storage.Info, error) {
	key := obj.info.Key
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.check(ctx, op, key); err != nil {
		return storage.Info{}, err
	}
	_, exists := s.b.objects[key]
	if exists && ifNotExists {
		return storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrExist}
	}
	obj.info.ModTime = s.now().Round(0)
	s.b.objects[key] = obj
	if !exists {
		i := sort.SearchStrings(s.b.keys, key)
		s.b.keys = slices.Insert(s.b.keys, i, key)
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

func (s *Store) lookup(ctx context.Context, op, key string) (*object, error) {
	if err := s.check(ctx, op, key); err != nil {
		return nil, err
	}
	if err := keyErr(op, key); err != nil {
		return nil, err
	}
	s.b.mu.RLock()
	obj := s.b.objects[key]
	s.b.mu.RUnlock()
	if obj == nil {
		return nil, notFound(op, key)
	}
	return obj, nil
}

// Get implements storage.Provider. The returned reader reads a snapshot: a
// Put or Delete of the key after Get returns does not change what it yields.
func (s *Store) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	const op = "get"
	obj, err := s.lookup(ctx, op, key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	var rng *storage.Range
	if opts != nil {
		rng = opts.Range
	}
	off, n, err := storage.CheckRange(rng, obj.info.Size)
	if err != nil {
		return nil, storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrInvalidRange,
			Err: fmt.Errorf("range %+v of a %d-byte object", *rng, obj.info.Size)}
	}
	return &reader{ctx: ctx, r: bytes.NewReader(obj.data[off : off+n])}, obj.publicInfo(), nil
}

// reader reads an object's bytes until its context ends.
type reader struct {
	ctx    context.Context
	r      *bytes.Reader
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, fs.ErrClosed
	}
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (r *reader) Close() error {
	r.closed = true
	return nil
}

// Stat implements storage.Provider.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	obj, err := s.lookup(ctx, "stat", key)
	if err != nil {
		return storage.Info{}, err
	}
	return obj.publicInfo(), nil
}

// Delete implements storage.Provider. Deleting a missing key succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := s.check(ctx, op, key); err != nil {
		return err
	}
	if err := keyErr(op, key); err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if _, ok := s.b.objects[key]; !ok {
		return nil
	}
	delete(s.b.objects, key)
	if i, found := slices.BinarySearch(s.b.keys, key); found {
		s.b.keys = slices.Delete(s.b.keys, i, i+1)
	}
	return nil
}

// List implements storage.Provider. It copies entries out a page at a time
// and holds no lock while it yields, so the loop body may call Put and
// Delete on the same Store. Each page of entries is a snapshot; as on S3,
// whether an object written during the listing is yielded is not specified,
// but every object present for the whole listing is yielded once.
func (s *Store) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	var prefix, after string
	if opts != nil {
		prefix, after = opts.Prefix, opts.StartAfter
	}
	return func(yield func(storage.Info, error) bool) {
		cursor, inclusive := after, false
		if cursor < prefix {
			cursor, inclusive = prefix, true
		}
		for {
			if err := s.check(ctx, "list", ""); err != nil {
				yield(storage.Info{}, err)
				return
			}
			page, more := s.page(prefix, cursor, inclusive)
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
func (s *Store) page(prefix, cursor string, inclusive bool) ([]storage.Info, bool) {
	s.b.mu.RLock()
	defer s.b.mu.RUnlock()
	i := sort.SearchStrings(s.b.keys, cursor)
	if !inclusive && i < len(s.b.keys) && s.b.keys[i] == cursor {
		i++
	}
	var out []storage.Info
	for ; i < len(s.b.keys); i++ {
		k := s.b.keys[i]
		if !strings.HasPrefix(k, prefix) {
			return out, false
		}
		if len(out) == listPage {
			return out, true
		}
		out = append(out, s.b.objects[k].publicInfo())
	}
	return out, false
}

// Copy implements storage.Copier: it stores the object under src again
// under dst, with its content type and metadata and a new ModTime.
func (s *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := s.check(ctx, op, dst); err != nil {
		return storage.Info{}, err
	}
	if err := keyErr(op, dst); err != nil {
		return storage.Info{}, err
	}
	obj, err := s.lookup(ctx, op, src)
	if err != nil {
		return storage.Info{}, err
	}
	// The data slice is never written after commit, so both objects may
	// share it.
	cp := &object{data: obj.data, info: obj.info}
	cp.info.Key = dst
	cp.info.Metadata = cloneMeta(obj.info.Metadata)
	return s.commit(ctx, op, cp, false)
}

// Close implements storage.Provider. Calls after Close fail with
// storage.ErrClosed. Closing a Store opened as mem://name closes only that
// handle; the named data stays for other handles. Close is idempotent.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
