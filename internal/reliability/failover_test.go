package reliability

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
)

// threeNodes returns a Failover over three fault-injecting views of one
// memory store, as three servers of one cluster, and the views.
func threeNodes(t *testing.T) (*Failover, []*faults.Provider) {
	t.Helper()
	shared := memory.New()
	var nodes []storage.Provider
	var views []*faults.Provider
	for range 3 {
		v := faults.Wrap(nopClose{shared})
		views = append(views, v)
		nodes = append(nodes, v)
	}
	f := NewFailover(nodes...)
	t.Cleanup(func() { f.Close(); shared.Close() })
	return f, views
}

// nopClose keeps Failover.Close from closing the shared store once per
// node.
type nopClose struct{ storage.Provider }

func (nopClose) Close() error { return nil }

func TestFailoverMovesOnFromUnavailableNode(t *testing.T) {
	ctx := context.Background()
	f, views := threeNodes(t)
	views[0].Set(faults.Fault{FailRate: 1})
	views[1].Set(faults.Fault{FailRate: 1})

	for i := range 6 { // every starting node in turn
		key := "k/" + string(rune('a'+i))
		_, err := f.Put(ctx, key, bytes.NewReader([]byte("data")), nil)
		require.NoError(t, err, "a Put with a rewindable body reaches the healthy node")
		rc, _, err := f.Get(ctx, key, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.Equal(t, "data", string(b))
	}
	require.Positive(t, views[0].Injected(faults.OpPut), "the failing nodes were tried")

	// An unrewindable body is not sent twice: the error comes back.
	views[2].Set(faults.Fault{FailRate: 1})
	_, err := f.Put(ctx, "k/stream", io.MultiReader(strings.NewReader("x")), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
}

func TestFailoverDefiniteAnswerIsFinal(t *testing.T) {
	ctx := context.Background()
	f, views := threeNodes(t)
	views[0].Set(faults.Fault{FailRate: 1, Err: storage.ErrNotFound})
	views[1].Set(faults.Fault{FailRate: 1, Err: storage.ErrNotFound})
	views[2].Set(faults.Fault{FailRate: 1, Err: storage.ErrNotFound})
	_, err := f.Stat(ctx, "missing")
	require.ErrorIs(t, err, storage.ErrNotFound)
	var total int64
	for _, v := range views {
		total += v.Calls(faults.OpStat)
	}
	require.EqualValues(t, 1, total, "a not-found from one node is the cluster's answer")
}

func TestFailoverDrainAndAdmit(t *testing.T) {
	ctx := context.Background()
	f, views := threeNodes(t)
	// Node 1 lies: it answers every Stat with not-found, as a MinIO node
	// that has not yet rejoined its peers does.
	views[1].Set(faults.Fault{FailRate: 1, Err: storage.ErrNotFound}, faults.OpStat)
	_, err := f.Put(ctx, "photo.jpg", bytes.NewReader([]byte("jpeg")), nil)
	require.NoError(t, err)

	f.Drain(1)
	for range 9 {
		_, err := f.Stat(ctx, "photo.jpg")
		require.NoError(t, err, "a drained node gets no calls")
	}
	require.Zero(t, views[1].Calls(faults.OpStat))

	f.Admit(1)
	var notFound int
	for range 9 {
		if _, err := f.Stat(ctx, "photo.jpg"); errors.Is(err, storage.ErrNotFound) {
			notFound++
		}
	}
	require.Equal(t, 3, notFound, "an admitted node is back in the rotation")

	// With every node drained, calls still go somewhere.
	f.Drain(0)
	f.Drain(1)
	f.Drain(2)
	views[1].Clear()
	_, err = f.Stat(ctx, "photo.jpg")
	require.NoError(t, err)
}
