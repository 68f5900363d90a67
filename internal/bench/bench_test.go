package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

func small() Config {
	return Config{LargeSize: 1 << 20, LargeCount: 2, LargeConcurrency: []int{1, 2}, SmallSize: 64, SmallCount: 20, Concurrency: []int{1, 4}}
}

func TestRunMeasuresEveryPhaseAndLeavesNothingBehind(t *testing.T) {
	p := memory.New()
	_, err := p.Put(t.Context(), "keep/me", io.LimitReader(zeros{}, 3), nil)
	require.NoError(t, err)
	var phases []string
	cfg := small()
	cfg.OnPhase = func(op string, size int64, conc, n int) { phases = append(phases, op) }
	res, err := Run(t.Context(), p, cfg)
	require.NoError(t, err)

	var rows []string
	for _, r := range res {
		rows = append(rows, r.Op)
		assert.Positive(t, r.Elapsed)
		assert.Positive(t, r.P50)
		assert.LessOrEqual(t, r.P50, r.P90)
		assert.LessOrEqual(t, r.P90, r.P99)
	}
	assert.Equal(t, []string{"PUT", "GET", "PUT", "GET", "PUT", "GET", "DELETE", "PUT", "GET", "DELETE"}, rows)
	assert.Equal(t, rows, phases)
	assert.Equal(t, 2, res[0].Ops)
	assert.EqualValues(t, 1<<20, res[0].Size)
	assert.Equal(t, 20, res[4].Ops)
	assert.Equal(t, 4, res[7].Concurrency)

	var left []string
	for info, err := range p.List(t.Context(), nil) {
		require.NoError(t, err)
		left = append(left, info.Key)
	}
	assert.Equal(t, []string{"keep/me"}, left)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// failing fails every Put after the first n.
type failing struct {
	storage.Provider
	mu sync.Mutex
	n  int
}

func (f *failing) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	f.mu.Lock()
	f.n--
	n := f.n
	f.mu.Unlock()
	if n < 0 {
		return storage.Info{}, &storage.Error{Op: "put", Provider: "test", Key: key, Kind: storage.ErrUnavailable}
	}
	return f.Provider.Put(ctx, key, r, opts)
}

func TestRunCleansUpAfterAnError(t *testing.T) {
	mem := memory.New()
	p := &failing{Provider: mem, n: 3}
	res, err := Run(t.Context(), p, small())
	require.ErrorIs(t, err, storage.ErrUnavailable)
	// The large PUTs one at a time and their GETs were measured; the
	// PUTs two at a time failed at the second and give no row.
	var rows []string
	for _, r := range res {
		rows = append(rows, fmt.Sprintf("%s c%d", r.Op, r.Concurrency))
	}
	assert.Equal(t, []string{"PUT c1", "GET c1"}, rows)
	for _, err := range mem.List(t.Context(), nil) {
		require.NoError(t, err)
		t.Fatal("objects left behind")
	}
}

func TestRunCleansUpWhenCancelled(t *testing.T) {
	mem := memory.New()
	ctx, cancel := context.WithCancel(t.Context())
	cfg := small()
	cfg.OnPhase = func(op string, size int64, conc, n int) {
		if op == "GET" {
			cancel() // after the first PUTs
		}
	}
	res, err := Run(ctx, mem, cfg)
	require.True(t, errors.Is(err, context.Canceled), "err = %v", err)
	require.Len(t, res, 1, "the PUTs before the cancel, not the GETs it stopped")
	assert.Equal(t, "PUT", res[0].Op)
	for _, err := range mem.List(t.Context(), nil) {
		require.NoError(t, err)
		t.Fatal("objects left behind")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	assert.Equal(t, time.Duration(50), percentile(d, 50))
	assert.Equal(t, time.Duration(90), percentile(d, 90))
	assert.Equal(t, time.Duration(99), percentile(d, 99))
	assert.Equal(t, time.Duration(3), percentile([]time.Duration{1, 2, 3}, 99))
	assert.Equal(t, time.Duration(2), percentile([]time.Duration{1, 2, 3}, 50))
	assert.Zero(t, percentile(nil, 50))
}

func TestConfigRejectsBadValues(t *testing.T) {
	for _, c := range []Config{{Concurrency: []int{0}}, {SmallSize: 3}, {Prefix: "/abs"}} {
		_, err := Run(t.Context(), memory.New(), c)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	}
}

func TestRunSkipsWhatItIsToldTo(t *testing.T) {
	cfg := small()
	cfg.SkipSmall = true
	res, err := Run(t.Context(), memory.New(), cfg)
	require.NoError(t, err)
	require.Len(t, res, 4)
	for _, r := range res {
		assert.EqualValues(t, 1<<20, r.Size)
	}
	cfg = small()
	cfg.SkipLarge, cfg.Concurrency = true, []int{3}
	res, err = Run(t.Context(), memory.New(), cfg)
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.Equal(t, []int{20, 20, 20}, []int{res[0].Ops, res[1].Ops, res[2].Ops})
}
