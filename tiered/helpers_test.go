package tiered_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/internal/fakeclock"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// fakeClock is a clock for Options.Now and Options.After that moves only
// when the test says so.
type fakeClock = fakeclock.Clock

func newFakeClock() *fakeClock { return fakeclock.New() }

// shared is a remote that several stores in turn can use: Close does not
// close it.
type shared struct{ storage.Provider }

func (shared) Close() error { return nil }

// Copy passes through to a wrapped storage.Copier, as a wrapper does.
func (s shared) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	if cp, ok := s.Provider.(storage.Copier); ok {
		return cp.Copy(ctx, dst, src)
	}
	return storage.Info{}, &storage.Error{Op: "copy", Provider: "shared", Key: dst, Kind: storage.ErrUnsupported}
}

// PresignGet passes through to a wrapped storage.Presigner.
func (s shared) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if ps, ok := s.Provider.(storage.Presigner); ok {
		return ps.PresignGet(ctx, key, expiry)
	}
	return "", &storage.Error{Op: "presign", Provider: "shared", Key: key, Kind: storage.ErrUnsupported}
}

// env is a tiered store over a cache directory, reopenable.
type env struct {
	t      *testing.T
	dir    string
	remote storage.Provider
	opts   tiered.Options
	copts  cache.Options // MaxBytes and Now are set by open
	s      *tiered.Store
}

func newEnv(t *testing.T, remote storage.Provider, opts tiered.Options) *env {
	t.Helper()
	return newEnvCache(t, remote, opts, cache.Options{})
}

// newEnvCache is newEnv with the cache opened with copts.
func newEnvCache(t *testing.T, remote storage.Provider, opts tiered.Options, copts cache.Options) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), remote: remote, opts: opts, copts: copts}
	e.open()
	t.Cleanup(func() { e.s.Close() })
	return e
}

// open makes a new Store on e's cache directory and remote.
func (e *env) open() *tiered.Store {
	e.t.Helper()
	copts := e.copts
	copts.MaxBytes, copts.Now = 1<<30, e.opts.Now
	c, err := cache.Open(e.dir, copts)
	require.NoError(e.t, err)
	s, err := tiered.New(c, shared{e.remote}, e.opts)
	require.NoError(e.t, err)
	e.s = s
	return s
}

// reopen closes the store and opens a new one, with opts changed by mod.
func (e *env) reopen(mod func(*tiered.Options)) *tiered.Store {
	e.t.Helper()
	require.NoError(e.t, e.s.Close())
	if mod != nil {
		mod(&e.opts)
	}
	return e.open()
}

func ctxT(t *testing.T) context.Context { return t.Context() }

func put(t *testing.T, p storage.Provider, key, data string) storage.Info {
	t.Helper()
	info, err := p.Put(ctxT(t), key, bytes.NewReader([]byte(data)), nil)
	require.NoError(t, err, "Put %q", key)
	return info
}

func get(t *testing.T, p storage.Provider, key string) string {
	t.Helper()
	rc, _, err := p.Get(ctxT(t), key, nil)
	require.NoError(t, err, "Get %q", key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "reading %q", key)
	return string(b)
}

func requireMissing(t *testing.T, p storage.Provider, key string) {
	t.Helper()
	rc, _, err := p.Get(ctxT(t), key, nil)
	if rc != nil {
		rc.Close()
	}
	require.ErrorIs(t, err, storage.ErrNotFound, "Get %q", key)
}

func keys(t *testing.T, p storage.Provider, opts *storage.ListOptions) []string {
	t.Helper()
	var out []string
	for info, err := range p.List(ctxT(t), opts) {
		require.NoError(t, err)
		out = append(out, info.Key)
	}
	require.True(t, sort.StringsAreSorted(out), "List out of order: %q", out)
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// eventually waits until cond holds, failing the test after a generous
// deadline. It polls: the conditions are about background goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// gated wraps a provider so that a test can hold its calls: while a gate
// is closed for an op, calls of it announce themselves on entered and
// wait for open (or their context).
type gated struct {
	storage.Provider
	mu      sync.Mutex
	gates   map[string]chan struct{}
	entered chan string
	filter  func(op string, key string, opts *storage.GetOptions) bool
}

func newGated(p storage.Provider) *gated {
	return &gated{Provider: p, gates: map[string]chan struct{}{}, entered: make(chan string, 100)}
}

// hold makes calls of op wait until release.
func (g *gated) hold(op string) {
	g.mu.Lock()
	g.gates[op] = make(chan struct{})
	g.mu.Unlock()
}

func (g *gated) release(op string) {
	g.mu.Lock()
	if ch := g.gates[op]; ch != nil {
		close(ch)
		delete(g.gates, op)
	}
	g.mu.Unlock()
}

func (g *gated) wait(ctx context.Context, op, key string, opts *storage.GetOptions) error {
	g.mu.Lock()
	ch := g.gates[op]
	if ch != nil && g.filter != nil && !g.filter(op, key, opts) {
		ch = nil
	}
	g.mu.Unlock()
	if ch == nil {
		return nil
	}
	g.entered <- op + " " + key
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gated) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	if err := g.wait(ctx, "put", key, nil); err != nil {
		return storage.Info{}, err
	}
	return g.Provider.Put(ctx, key, r, opts)
}

func (g *gated) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	if err := g.wait(ctx, "get", key, opts); err != nil {
		return nil, storage.Info{}, err
	}
	rc, info, err := g.Provider.Get(ctx, key, opts)
	if err != nil {
		return rc, info, err
	}
	return &gatedBody{ReadCloser: rc, g: g, ctx: ctx, key: key, opts: opts}, info, nil
}

// gatedBody holds its first Read while the gate "body" is closed.
type gatedBody struct {
	io.ReadCloser
	g      *gated
	ctx    context.Context
	key    string
	opts   *storage.GetOptions
	passed bool
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if !b.passed {
		if err := b.g.wait(b.ctx, "body", b.key, b.opts); err != nil {
			return 0, err
		}
		b.passed = true
	}
	return b.ReadCloser.Read(p)
}

func (g *gated) Delete(ctx context.Context, key string) error {
	if err := g.wait(ctx, "delete", key, nil); err != nil {
		return err
	}
	return g.Provider.Delete(ctx, key)
}

// next returns the next call that entered a closed gate.
func (g *gated) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-g.entered:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("no call reached the gate")
		return ""
	}
}

// flushAdvancing flushes s while moving clk on by an hour every few
// milliseconds until Flush returns, so that every retry comes due. One
// Advance before Flush is not enough: an upload attempt still failing
// when the clock moves schedules its retry after the new time, and its
// timer would then never fire.
func flushAdvancing(ctx context.Context, s *tiered.Store, clk *fakeClock) error {
	done := make(chan error, 1)
	go func() { done <- s.Flush(ctx) }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		clk.Advance(time.Hour)
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}
