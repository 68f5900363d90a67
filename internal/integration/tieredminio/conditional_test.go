package tieredminio_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/internal/fakeclock"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// The same conflict over MinIO, whose own conditional create refuses the
// upload: both objects are kept there.
func TestWriteBehindIfNotExistsConflictMinIO(t *testing.T) {
	t.Parallel()
	srv := miniotest.Start(t)
	m := newMinIO(t, srv)
	clk := newFakeClock()
	fp := faults.Wrap(m, faults.WithFault(faults.Fault{FailRate: 1}))
	e := newEnv(t, fp, behind(clk))
	info, err := e.s.Put(ctxT(t), "k", strings.NewReader("ours"), &storage.PutOptions{IfNotExists: true})
	require.NoError(t, err)
	put(t, m, "k", "theirs")
	e.reopen(nil)
	drain(t, e.s, fp, clk)
	remoteHas(t, m, "k", "theirs")
	remoteHas(t, m, tiered.ConflictKey("k", info.SHA256), "ours")
	require.EqualValues(t, 1, e.s.Status().Conflicts)
}

// The helpers below are copies of package tiered's test helpers.

func behind(clk *fakeClock) tiered.Options {
	return tiered.Options{Mode: tiered.WriteBehind, Now: clk.Now, After: clk.After, MinBackoff: time.Second, MaxBackoff: 8 * time.Second}
}

// drain lets the remote answer again and waits until nothing is pending.
func drain(t *testing.T, s *tiered.Store, fp *faults.Provider, clk *fakeClock) {
	t.Helper()
	fp.Clear()
	require.NoError(t, flushAdvancing(ctxT(t), s, clk))
}

func remoteHas(t *testing.T, remote storage.Provider, key, want string) {
	t.Helper()
	require.Equal(t, want, get(t, remote, key), "the remote copy of %q", key)
}

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

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
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
