package tiered_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// putPresigning is a remote that presigns uploads: it records what it was
// asked, and the test plays the client by putting to the remote itself.
type putPresigning struct {
	storage.Provider
	mu    sync.Mutex
	asked []string // keys
}

func (p *putPresigning) PresignPut(ctx context.Context, key string, expiry time.Duration, opts *storage.PresignPutOptions) (*storage.PresignedRequest, error) {
	if expiry <= 0 {
		return nil, &storage.Error{Op: "presign-put", Provider: "fake", Key: key, Kind: storage.ErrInvalidArgument}
	}
	p.mu.Lock()
	p.asked = append(p.asked, key)
	p.mu.Unlock()
	h := http.Header{}
	if opts != nil && opts.ContentType != "" {
		h.Set("Content-Type", opts.ContentType)
	}
	return &storage.PresignedRequest{Method: http.MethodPut, URL: "https://remote.invalid/" + key, Header: h}, nil
}

func (p *putPresigning) askedFor() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// newTiered returns a tiered store over remote with a fresh cache.
func newTiered(t *testing.T, remote storage.Provider, opts tiered.Options) *tiered.Store {
	t.Helper()
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 30, Now: opts.Now})
	require.NoError(t, err)
	s, err := tiered.New(c, remote, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// PresignPut forwards to the remote and drops the cached copy, so that
// the next Get serves the uploaded object, not the old one.
func TestPresignPutDropsCachedCopy(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	remote := &putPresigning{Provider: mem}
	s := newTiered(t, remote, tiered.Options{})
	put(t, s, "k", "old")
	require.Equal(t, "old", get(t, s, "k"))
	gets := s.Counters()

	opts := &storage.PresignPutOptions{ContentType: "image/png"}
	pr, err := s.PresignPut(ctxT(t), "k", time.Minute, opts)
	require.NoError(t, err)
	require.Equal(t, "https://remote.invalid/k", pr.URL, "the remote's request")
	require.Equal(t, "image/png", pr.Header.Get("Content-Type"))
	require.Equal(t, []string{"k"}, remote.askedFor())

	// The client uploads straight to the remote.
	_, err = mem.Put(ctxT(t), "k", bytes.NewReader([]byte("new")), &storage.PutOptions{ContentType: "image/png"})
	require.NoError(t, err)
	require.Equal(t, "new", get(t, s, "k"), "the next Get fetches the uploaded object")
	require.Greater(t, s.Counters().Misses, gets.Misses, "a miss, not the cached old copy")

	_, err = s.PresignPut(ctxT(t), "k", 0, nil)
	require.ErrorIs(t, err, storage.ErrInvalidArgument, "the remote's refusal passes through")
	_, err = s.PresignPut(ctxT(t), "../k", time.Minute, nil)
	require.ErrorIs(t, err, storage.ErrInvalidKey)
}

// A key with an upload or a delete pending is refused with ErrPending
// (the pending work would replace the presigned upload later), and
// accepted once the remote has caught up. A remote that cannot presign
// uploads makes the store answer ErrUnsupported.
func TestPresignPutPending(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}, faults.OpPut, faults.OpDelete))
	remote := &putPresigning{Provider: fp}
	s := newTiered(t, remote, behind(clk))
	put(t, s, "k", "v")
	_, err := s.PresignPut(ctxT(t), "k", time.Minute, nil)
	require.ErrorIs(t, err, tiered.ErrPending)
	require.ErrorIs(t, err, storage.ErrUnsupported)
	require.Empty(t, remote.askedFor(), "the remote was not asked")
	require.Equal(t, "v", get(t, s, "k"), "the pending write is kept")

	drain(t, s, fp, clk)
	_, err = s.PresignPut(ctxT(t), "k", time.Minute, nil)
	require.NoError(t, err)

	fp.Set(faults.Fault{FailRate: 1}, faults.OpDelete)
	require.NoError(t, s.Delete(ctxT(t), "k"))
	_, err = s.PresignPut(ctxT(t), "k", time.Minute, nil)
	require.ErrorIs(t, err, tiered.ErrPending, "a pending delete would delete the upload")

	plain := newTiered(t, memory.New(), tiered.Options{})
	_, err = plain.PresignPut(ctxT(t), "k", time.Minute, nil)
	require.ErrorIs(t, err, storage.ErrUnsupported)
	require.NotErrorIs(t, err, tiered.ErrPending)
	_, err = storage.PresignPut(ctxT(t), plain, "k", time.Minute, nil)
	require.ErrorIs(t, err, storage.ErrUnsupported)
}
