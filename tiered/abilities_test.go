package tiered_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// presigning is a remote that presigns (URLs nobody fetches).
type presigning struct{ storage.Provider }

func (p presigning) PresignGet(ctx context.Context, key string, _ time.Duration) (string, error) {
	if _, err := p.Stat(ctx, key); err != nil {
		return "", err
	}
	return "https://remote.invalid/" + key, nil
}

// PresignGet gives a URL of the remote copy once the remote has it, a
// clear error while the upload is pending or the delete is, and
// ErrUnsupported over a remote that cannot presign.
func TestPresignPending(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}, faults.OpPut, faults.OpDelete))
	e := newEnv(t, presigning{fp}, behind(clk))
	put(t, e.s, "k", "v")
	_, err := e.s.PresignGet(ctxT(t), "k", time.Minute)
	require.ErrorIs(t, err, tiered.ErrNotUploaded)
	require.ErrorIs(t, err, storage.ErrUnsupported)

	drain(t, e.s, fp, clk)
	u, err := e.s.PresignGet(ctxT(t), "k", time.Minute)
	require.NoError(t, err)
	require.Equal(t, "https://remote.invalid/k", u)

	fp.Set(faults.Fault{FailRate: 1}, faults.OpDelete)
	require.NoError(t, e.s.Delete(ctxT(t), "k"))
	_, err = e.s.PresignGet(ctxT(t), "k", time.Minute)
	require.ErrorIs(t, err, storage.ErrNotFound, "the remote still has it, but it is deleted")

	plain := newEnv(t, memory.New(), tiered.Options{})
	put(t, plain.s, "k", "v")
	_, err = plain.s.PresignGet(ctxT(t), "k", time.Minute)
	require.ErrorIs(t, err, storage.ErrUnsupported)
	require.NotErrorIs(t, err, tiered.ErrNotUploaded)
}

// In write-through mode Copy is the remote's own copy: no bytes are
// uploaded; the cache gets the copy too.
func TestCopyWriteThroughIsRemote(t *testing.T) {
	t.Parallel()
	mem := memory.New()
	fp := faults.Wrap(mem)
	e := newEnv(t, fp, tiered.Options{})
	put(t, e.s, "dst", "old")
	put(t, e.s, "src", "content")
	puts := fp.Calls(faults.OpPut)
	info, err := e.s.Copy(ctxT(t), "dst", "src")
	require.NoError(t, err)
	require.Equal(t, "dst", info.Key)
	require.EqualValues(t, 1, fp.Calls(faults.OpCopy))
	require.Equal(t, puts, fp.Calls(faults.OpPut), "no upload")
	remoteHas(t, mem, "dst", "content")
	gets := fp.Calls(faults.OpGet)
	require.Equal(t, "content", get(t, e.s, "dst"))
	require.Equal(t, gets, fp.Calls(faults.OpGet), "served from the cache's copy")
}

// In write-behind mode Copy works through an outage and its result is
// uploaded like a Put's.
func TestCopyWriteBehindDuringOutage(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	mem := memory.New()
	fp := faults.Wrap(mem, faults.WithFault(faults.Fault{FailRate: 1}))
	e := newEnv(t, fp, behind(clk))
	_, err := e.s.Put(ctxT(t), "src", strings.NewReader("content"), &storage.PutOptions{ContentType: "image/png"})
	require.NoError(t, err)
	info, err := e.s.Copy(ctxT(t), "dst", "src")
	require.NoError(t, err)
	require.Equal(t, "dst", info.Key)
	require.Equal(t, "content", get(t, e.s, "dst"))
	drain(t, e.s, fp, clk)
	remoteHas(t, mem, "dst", "content")
	rinfo, err := mem.Stat(ctxT(t), "dst")
	require.NoError(t, err)
	require.Equal(t, "image/png", rinfo.ContentType)
}
