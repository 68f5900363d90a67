package faults_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
)

// With no fault set, the wrapper keeps the whole contract.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		New:  func(t *testing.T) storage.Provider { return faults.Wrap(memory.New()) },
		Copy: true, // memory.Store is a Copier; it is not a Presigner
	})
}

func putString(t *testing.T, p storage.Provider, key, data string) {
	t.Helper()
	_, err := p.Put(t.Context(), key, strings.NewReader(data), nil)
	require.NoError(t, err)
}

func getString(t *testing.T, p storage.Provider, key string) string {
	t.Helper()
	rc, _, err := p.Get(t.Context(), key, nil)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}

// recorder is a sleep function that records the delays asked for.
type recorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func TestLatencyTargetsOps(t *testing.T) {
	var rec recorder
	fp := faults.Wrap(memory.New(), faults.WithSleep(rec.sleep))
	fp.Set(faults.Fault{Latency: 250 * time.Millisecond}, faults.OpGet, faults.OpStat)
	putString(t, fp, "k", "v")
	require.Empty(t, rec.delays, "Put has no latency set")
	require.Equal(t, "v", getString(t, fp, "k"))
	_, err := fp.Stat(t.Context(), "k")
	require.NoError(t, err)
	require.Equal(t, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}, rec.delays)

	fp.Set(faults.Fault{Latency: time.Second, Jitter: time.Second}, faults.OpDelete)
	for range 20 {
		require.NoError(t, fp.Delete(t.Context(), "missing"))
	}
	distinct := map[time.Duration]bool{}
	for _, d := range rec.delays[2:] {
		require.GreaterOrEqual(t, d, time.Second)
		require.Less(t, d, 2*time.Second)
		distinct[d] = true
	}
	require.Greater(t, len(distinct), 1, "jitter varies the delay")
}

func TestLatencyHonoursContext(t *testing.T) {
	fp := faults.Wrap(memory.New(), faults.WithFault(faults.Fault{Latency: time.Hour}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := fp.Put(ctx, "k", strings.NewReader("v"), nil)
		done <- err
	}()
	waitFor(t, func() bool { return fp.Calls(faults.OpPut) == 1 })
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	fp.Clear()
	_, err = fp.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrNotFound, "a Put cancelled during its latency stores nothing")
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFailAll(t *testing.T) {
	inner := memory.New()
	fp := faults.Wrap(inner, faults.WithFault(faults.Fault{FailRate: 1}))
	_, err := fp.Put(t.Context(), "k", strings.NewReader("v"), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, err, faults.ErrInjected)
	var se *storage.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, "faults", se.Provider)
	require.Equal(t, "k", se.Key)
	_, err = inner.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrNotFound, "a failed call never reaches the wrapped provider")

	_, _, err = fp.Get(t.Context(), "k", nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.NotErrorIs(t, err, storage.ErrNotFound, "an outage is not a not-found")
	_, err = fp.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, fp.Delete(t.Context(), "k"), storage.ErrUnavailable)
	_, err = fp.Copy(t.Context(), "a", "b")
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, fp.Flush(t.Context()), storage.ErrUnavailable)
	var listErrs int
	for _, err := range fp.List(t.Context(), nil) {
		require.ErrorIs(t, err, storage.ErrUnavailable)
		listErrs++
	}
	require.Equal(t, 1, listErrs, "a failed List yields one error")
	for _, op := range []faults.Op{faults.OpPut, faults.OpGet, faults.OpStat, faults.OpDelete, faults.OpCopy, faults.OpFlush, faults.OpList} {
		require.Equal(t, int64(1), fp.Calls(op), op)
		require.Equal(t, int64(1), fp.Injected(op), op)
	}

	fp.Clear()
	putString(t, fp, "k", "v")
	require.Equal(t, "v", getString(t, fp, "k"), "the store heals when the fault is cleared")
}

func TestCustomError(t *testing.T) {
	fp := faults.Wrap(memory.New(), faults.WithFault(faults.Fault{FailRate: 1, Err: storage.ErrPermission}, faults.OpStat))
	_, err := fp.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrPermission)
	require.ErrorIs(t, err, faults.ErrInjected)
	require.NotErrorIs(t, err, storage.ErrUnavailable)
}

// failures returns which of n Stats failed.
func failures(fp *faults.Provider, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		_, err := fp.Stat(context.Background(), "k")
		out[i] = errors.Is(err, faults.ErrInjected)
	}
	return out
}

func TestFailRateIsSeededAndRoughlyRight(t *testing.T) {
	f := faults.Fault{FailRate: 0.3}
	a := failures(faults.Wrap(memory.New(), faults.WithSeed(7), faults.WithFault(f)), 2000)
	b := failures(faults.Wrap(memory.New(), faults.WithSeed(7), faults.WithFault(f)), 2000)
	c := failures(faults.Wrap(memory.New(), faults.WithSeed(8), faults.WithFault(f)), 2000)
	require.Equal(t, a, b, "the same seed gives the same failures")
	require.NotEqual(t, a, c, "another seed gives other failures")
	n := 0
	for _, failed := range a {
		if failed {
			n++
		}
	}
	// 2000 draws at p=0.3: mean 600, sd about 20.5; 450..750 is over 7 sd.
	require.InDelta(t, 600, n, 150)
}

func TestLostReply(t *testing.T) {
	inner := memory.New()
	fp := faults.Wrap(inner, faults.WithFault(faults.Fault{LostReplyRate: 1}, faults.OpPut, faults.OpDelete))
	_, err := fp.Put(t.Context(), "k", strings.NewReader("v"), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Equal(t, "v", getString(t, inner, "k"), "the Put took effect though its reply was lost")
	require.ErrorIs(t, fp.Delete(t.Context(), "k"), storage.ErrUnavailable)
	_, err = inner.Stat(t.Context(), "k")
	require.ErrorIs(t, err, storage.ErrNotFound, "the Delete took effect though its reply was lost")
	require.Equal(t, int64(1), fp.Injected(faults.OpPut))
}

func TestHang(t *testing.T) {
	fp := faults.Wrap(memory.New())
	putString(t, fp, "k", "v")
	fp.Set(faults.Fault{Hang: true}, faults.OpGet)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, _, err := fp.Get(ctx, "k", nil)
		done <- err
	}()
	waitFor(t, func() bool { return fp.Injected(faults.OpGet) == 1 })
	select {
	case err := <-done:
		t.Fatalf("Get returned before its context ended: %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	_, err := fp.Stat(t.Context(), "k")
	require.NoError(t, err, "only Get hangs")
}

func TestCutGet(t *testing.T) {
	fp := faults.Wrap(memory.New())
	data := bytes.Repeat([]byte("0123456789"), 100)
	_, err := fp.Put(t.Context(), "k", bytes.NewReader(data), nil)
	require.NoError(t, err)
	fp.Set(faults.Fault{Cut: true, CutAfter: 123}, faults.OpGet)
	rc, info, err := fp.Get(t.Context(), "k", nil)
	require.NoError(t, err, "a cut body fails when read, not at the call")
	require.Equal(t, int64(1000), info.Size)
	got, err := io.ReadAll(rc)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.ErrorIs(t, err, faults.ErrInjected)
	require.Equal(t, data[:123], got)
	require.NoError(t, rc.Close())
	require.Equal(t, int64(1), fp.Injected(faults.OpGet))

	// A body shorter than the cut is whole.
	putString(t, fp, "short", "abc")
	require.Equal(t, "abc", getString(t, fp, "short"))
}

func TestCutPut(t *testing.T) {
	inner := memory.New()
	fp := faults.Wrap(inner)
	putString(t, fp, "k", "old")
	fp.Set(faults.Fault{Cut: true, CutAfter: 10}, faults.OpPut)
	_, err := fp.Put(t.Context(), "k", strings.NewReader(strings.Repeat("new", 100)), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, "old", getString(t, inner, "k"), "the wrapped store saw a failed upload and kept the old object")
	_, err = fp.Put(t.Context(), "new", strings.NewReader(strings.Repeat("x", 11)), nil)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	_, err = inner.Stat(t.Context(), "new")
	require.ErrorIs(t, err, storage.ErrNotFound)
	// Up to the cut, uploads go through.
	putString(t, fp, "small", "0123456789")
	require.Equal(t, "0123456789", getString(t, inner, "small"))
}

func TestDropGetHalfWay(t *testing.T) {
	fp := faults.Wrap(memory.New())
	data := bytes.Repeat([]byte("x"), 1000)
	_, err := fp.Put(t.Context(), "k", bytes.NewReader(data), nil)
	require.NoError(t, err)
	fp.Set(faults.Fault{Drop: true}, faults.OpGet)
	rc, _, err := fp.Get(t.Context(), "k", nil)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Len(t, got, 500)
	rc.Close()

	// Half of a range, not of the object.
	rc, _, err = fp.Get(t.Context(), "k", &storage.GetOptions{Range: &storage.Range{Offset: 100, Length: 200}})
	require.NoError(t, err)
	got, err = io.ReadAll(rc)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Len(t, got, 100)
	rc.Close()
}

func TestDropPut(t *testing.T) {
	inner := memory.New()
	fp := faults.Wrap(inner, faults.WithFault(faults.Fault{Drop: true}, faults.OpPut))
	for _, size := range []int64{1000, 0} { // with and without PutOptions.Size
		_, err := fp.Put(t.Context(), "k", strings.NewReader(strings.Repeat("y", 1000)), &storage.PutOptions{Size: size})
		require.ErrorIs(t, err, storage.ErrUnavailable, "size %d", size)
		_, err = inner.Stat(t.Context(), "k")
		require.ErrorIs(t, err, storage.ErrNotFound, "size %d", size)
	}
}

func TestStallGet(t *testing.T) {
	fp := faults.Wrap(memory.New())
	putString(t, fp, "k", strings.Repeat("z", 100))
	fp.Set(faults.Fault{Stall: true, Cut: true, CutAfter: 40}, faults.OpGet)
	ctx, cancel := context.WithCancel(t.Context())
	rc, _, err := fp.Get(ctx, "k", nil)
	require.NoError(t, err)
	buf := make([]byte, 40)
	_, err = io.ReadFull(rc, buf)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := rc.Read(make([]byte, 10))
		done <- err
	}()
	waitFor(t, func() bool { return fp.Injected(faults.OpGet) == 1 })
	select {
	case err := <-done:
		t.Fatalf("a stalled read returned before its context ended: %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	rc.Close()
}

func TestListFaults(t *testing.T) {
	fp := faults.Wrap(memory.New())
	for _, k := range []string{"a", "b", "c", "d"} {
		putString(t, fp, k, k)
	}
	fp.Set(faults.Fault{Cut: true, CutAfter: 2}, faults.OpList)
	var keys []string
	var errs []error
	for info, err := range fp.List(t.Context(), nil) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, info.Key)
	}
	require.Equal(t, []string{"a", "b"}, keys)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], storage.ErrUnavailable)
}

func TestCountsExactCalls(t *testing.T) {
	fp := faults.Wrap(memory.New())
	putString(t, fp, "k", "v")
	getString(t, fp, "k")
	require.Equal(t, int64(1), fp.Calls(faults.OpPut))
	require.Equal(t, int64(1), fp.Calls(faults.OpGet))
	require.Equal(t, int64(0), fp.Calls(faults.OpStat))
	fp.ResetCounts()
	require.Equal(t, int64(0), fp.Calls(faults.OpGet))
	getString(t, fp, "k")
	require.Equal(t, int64(1), fp.Calls(faults.OpGet))
}

func TestAbilitiesFollowWrapped(t *testing.T) {
	fp := faults.Wrap(memory.New())
	putString(t, fp, "src", "v")
	_, err := fp.Copy(t.Context(), "dst", "src")
	require.NoError(t, err, "memory is a Copier, so the wrapper copies")
	require.Equal(t, "v", getString(t, fp, "dst"))
	_, err = fp.PresignGet(t.Context(), "src", time.Minute)
	require.ErrorIs(t, err, storage.ErrUnsupported, "memory is not a Presigner")
	require.NoError(t, fp.Flush(t.Context()), "nothing to flush")

	bare := faults.Wrap(struct{ storage.Provider }{memory.New()}) // hides Copy
	_, err = bare.Copy(t.Context(), "dst", "src")
	require.ErrorIs(t, err, storage.ErrUnsupported)
	require.Same(t, fp.Unwrap(), fp.Unwrap())
}

// Faults change while calls run; the race detector checks the locking.
func TestChangeWhileRunning(t *testing.T) {
	fp := faults.Wrap(memory.New(), faults.WithSleep(func(ctx context.Context, d time.Duration) error { return ctx.Err() }))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := string(rune('a' + g))
				_, err := fp.Put(t.Context(), key, strings.NewReader("v"), nil)
				if err != nil && !errors.Is(err, faults.ErrInjected) {
					t.Errorf("Put: %v", err)
					return
				}
				rc, _, err := fp.Get(t.Context(), key, nil)
				if err == nil {
					_, _ = io.Copy(io.Discard, rc)
					rc.Close()
				}
			}
		})
	}
	for i := range 200 {
		switch i % 3 {
		case 0:
			fp.Set(faults.Fault{FailRate: 0.5, Latency: time.Millisecond})
		case 1:
			fp.Set(faults.Fault{Drop: true}, faults.OpGet)
		default:
			fp.Clear()
		}
		fp.ResetCounts()
	}
	close(stop)
	wg.Wait()
}

// plain is a provider with none of the optional abilities, over another.
type plain struct{ storage.Provider }

func (p plain) Unwrap() storage.Provider { return p.Provider }

// Over a provider without abilities, the wrapper keeps the contract: its
// Copy, PresignGet and CreateBucket answer storage.ErrUnsupported.
func TestConformanceNoAbilities(t *testing.T) {
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) storage.Provider { return faults.Wrap(plain{memory.New()}) },
	})
}

// The standard abilities pass through, answer storage.ErrUnsupported
// where the wrapped provider lacks them, and the storage helpers fall back
// through the wrapper, where its faults apply; other abilities are reached
// with storage.As.
func TestAbilitiesThroughWrapper(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	fp := faults.Wrap(plain{mem})
	putString(t, fp, "src", "hello")

	_, err := fp.Copy(ctx, "dst", "src")
	require.ErrorIs(t, err, storage.ErrUnsupported)
	require.ErrorIs(t, fp.CreateBucket(ctx), storage.ErrUnsupported)
	_, err = storage.PresignGet(ctx, fp, "src", time.Minute)
	require.ErrorIs(t, err, storage.ErrUnsupported)

	fp.Set(faults.Fault{FailRate: 1}, faults.OpGet)
	_, err = storage.Copy(ctx, fp, "dst", "src")
	require.ErrorIs(t, err, faults.ErrInjected, "the fallback's Get goes through the wrapper")
	fp.Clear()
	_, err = storage.Copy(ctx, fp, "dst", "src")
	require.NoError(t, err)
	require.Equal(t, "hello", getString(t, fp, "dst"))

	var got *memory.Store
	require.True(t, storage.As(fp, &got), "storage.As reaches the store under the wrapper")
	require.Same(t, mem, got)

	// Over memory, which can copy and create its bucket, the calls pass
	// through, and faults apply to them.
	fm := faults.Wrap(memory.New())
	putString(t, fm, "src", "hello")
	_, err = fm.Copy(ctx, "dst", "src")
	require.NoError(t, err)
	require.ErrorIs(t, fm.CreateBucket(ctx), storage.ErrExist)
	fm.Set(faults.Fault{FailRate: 1}, faults.OpCreateBucket)
	require.ErrorIs(t, storage.CreateBucket(ctx, fm), storage.ErrUnavailable)
	require.EqualValues(t, 2, fm.Calls(faults.OpCreateBucket))
}

// Keys limits a fault to some keys; After spares the first calls after
// the fault is set.
func TestKeysAndAfter(t *testing.T) {
	ctx := t.Context()
	fp := faults.Wrap(memory.New())
	fp.Set(faults.Fault{FailRate: 1, Keys: func(k string) bool { return strings.HasPrefix(k, "thumb/") }})
	putString(t, fp, "photo/1", "x")
	_, err := fp.Put(ctx, "thumb/1", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, faults.ErrInjected)
	var listErr error
	for _, err := range fp.List(ctx, &storage.ListOptions{Prefix: "thumb/"}) {
		listErr = err
	}
	require.ErrorIs(t, listErr, faults.ErrInjected, "a List is keyed by its prefix")
	for _, err := range fp.List(ctx, nil) {
		require.NoError(t, err)
	}

	fp.Set(faults.Fault{FailRate: 1, After: 2}, faults.OpPut)
	putString(t, fp, "a", "x")
	putString(t, fp, "b", "x")
	_, err = fp.Put(ctx, "c", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, faults.ErrInjected, "the third Put after Set fails")
	_, err = fp.Put(ctx, "d", strings.NewReader("x"), nil)
	require.ErrorIs(t, err, faults.ErrInjected)
	require.EqualValues(t, 3, fp.Injected(faults.OpPut), "the Put of thumb/1, then c and d")

	fp.Set(faults.Fault{FailRate: 1, After: 1}, faults.OpPut)
	putString(t, fp, "e", "x") // setting the fault again starts its count again
}

// An observer sees each call start and end, with its key and error.
func TestObserver(t *testing.T) {
	ctx := t.Context()
	var mu sync.Mutex
	var calls []faults.Call
	fp := faults.Wrap(memory.New(), faults.WithObserver(func(c faults.Call) {
		mu.Lock()
		calls = append(calls, c)
		mu.Unlock()
	}))
	fp.Set(faults.Fault{FailRate: 1}, faults.OpStat)
	putString(t, fp, "k", "v")
	_, err := fp.Stat(ctx, "k")
	require.Error(t, err)
	for range fp.List(ctx, &storage.ListOptions{Prefix: "k"}) {
	}
	require.Len(t, calls, 6)
	require.Equal(t, faults.Call{Op: faults.OpPut, Key: "k"}, calls[0])
	require.Equal(t, faults.Call{Op: faults.OpPut, Key: "k", Done: true}, calls[1])
	require.Equal(t, faults.Call{Op: faults.OpStat, Key: "k"}, calls[2])
	require.True(t, calls[3].Done)
	require.ErrorIs(t, calls[3].Err, faults.ErrInjected)
	require.Equal(t, faults.Call{Op: faults.OpList, Key: "k", Done: true}, calls[5])
}
