package tieredminio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// outageFor is how long MinIO stays paused.
const outageFor = 30 * time.Second

// latencies collects durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "no samples"
	}
	d := slices.Clone(l.d)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[int(p*float64(len(d)-1))] }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", len(d), q(.5), q(.9), q(.99), d[len(d)-1])
}

// TestOutage pauses MinIO (docker pause: connections hang, as with a
// server that stopped answering) for 30 s under sustained write-behind
// Puts and Gets. Puts and Gets of cached objects must keep succeeding, Gets
// of objects only the remote holds must fail with ErrUnavailable (not
// ErrNotFound, not a hang), and once MinIO is back the queue must drain
// with every acknowledged Put on the remote.
func TestOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("pauses a MinIO container for 30 s")
	}
	t.Parallel()
	srv := miniotest.StartFresh(t, nil)
	bucket := srv.NewBucket(t)
	newRemote := func() *minio.Store {
		m, err := minio.New(t.Context(), minio.Config{
			Endpoint: srv.Endpoint, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
			Bucket: bucket, MaxAttempts: 1, // the tiered store does the retrying
			PrefixCheck: minio.PrefixCheckOff, // the keys never conflict
		})
		require.NoError(t, err)
		return m
	}
	remote := newRemote()
	for i := range 5 {
		put(t, remote, fmt.Sprintf("remote-only/%d", i), "on the remote only")
	}
	c, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 1 << 30})
	require.NoError(t, err)
	const timeout = 2 * time.Second
	s, err := tiered.New(c, remote, tiered.Options{
		Mode: tiered.WriteBehind, Timeout: timeout, MinBackoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second,
		Uploaders: 8,
	})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()

	var (
		mu    sync.Mutex
		acked = map[string]string{} // key -> SHA-256
		seq   int
	)
	// work runs 4 writers (each one Put every 250 ms at most) and 4
	// readers of cached keys (one Get every 5 ms at most) until stop,
	// failing the test on any error.
	work := func(stop <-chan struct{}, putLat, getLat *latencies) {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				tick := time.NewTicker(250 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					mu.Lock()
					seq++
					n := seq
					mu.Unlock()
					key := fmt.Sprintf("w%d/%06d", w, n)
					data := conformance.RandomBytes(uint64(n), 4<<10+n%(28<<10))
					t0 := time.Now()
					if _, err := s.Put(ctx, key, bytes.NewReader(data), nil); err != nil {
						t.Errorf("Put %q: %v", key, err)
						return
					}
					putLat.add(time.Since(t0))
					mu.Lock()
					acked[key] = sha(data)
					mu.Unlock()
				}
			})
			wg.Go(func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					mu.Lock()
					var key, want string
					for k, v := range acked { // any acknowledged key
						key, want = k, v
						break
					}
					mu.Unlock()
					if key == "" {
						continue
					}
					t0 := time.Now()
					rc, _, err := s.Get(ctx, key, nil)
					if err != nil {
						t.Errorf("Get %q: %v", key, err)
						return
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || sha(b) != want {
						t.Errorf("Get %q: %v (or wrong bytes)", key, err)
						return
					}
					getLat.add(time.Since(t0))
				}
			})
		}
		wg.Wait()
	}

	var beforePut, beforeGet, duringPut, duringGet latencies
	stop := make(chan struct{})
	time.AfterFunc(5*time.Second, func() { close(stop) })
	work(stop, &beforePut, &beforeGet)
	require.NoError(t, s.Flush(ctx))
	require.False(t, t.Failed())

	srv.Pause(t)
	paused := time.Now()
	stop = make(chan struct{})
	var remoteOnly latencies
	var wg sync.WaitGroup
	wg.Go(func() { work(stop, &duringPut, &duringGet) })
	wg.Go(func() { // Gets of objects only the remote has fail fast
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			rc, _, err := s.Get(ctx, fmt.Sprintf("remote-only/%d", i%5), nil)
			remoteOnly.add(time.Since(t0))
			if rc != nil {
				rc.Close()
			}
			if !errors.Is(err, storage.ErrUnavailable) || errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Get of a remote-only object during the outage: %v; want ErrUnavailable", err)
				return
			}
			if i == 0 {
				t.Logf("a Get of a remote-only object during the outage: %v", err)
			}
		}
	})
	time.AfterFunc(outageFor, func() { close(stop) })
	wg.Wait()
	st := s.Status()
	require.NotZero(t, st.PendingUploads, "uploads pile up during the outage")
	require.ErrorIs(t, st.LastError, storage.ErrUnavailable)
	srv.Unpause(t)
	t.Logf("MinIO paused for %v; %d uploads pending, oldest %v old; last error: %v",
		time.Since(paused).Round(time.Second), st.PendingUploads, st.OldestPendingAge.Round(time.Second), st.LastError)

	drained := time.Now()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	require.NoError(t, s.Flush(fctx))
	t.Logf("queue drained in %v after MinIO came back", time.Since(drained).Round(time.Millisecond))
	require.Zero(t, s.Status().PendingUploads)

	// Every acknowledged Put is on the remote, read with a new client.
	check := newRemote()
	defer check.Close()
	for key, want := range acked {
		rc, _, err := check.Get(ctx, key, nil)
		require.NoError(t, err, "acknowledged %q is not on the remote", key)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.Equal(t, want, sha(b), "remote copy of %q", key)
	}
	t.Logf("Put latency before the outage: %v", &beforePut)
	t.Logf("Put latency during the outage: %v", &duringPut)
	t.Logf("cached Get latency before: %v; during: %v", &beforeGet, &duringGet)
	t.Logf("remote-only Get during the outage, until it failed: %v", &remoteOnly)
	t.Logf("%d acknowledged Puts, all on the remote after the outage: none lost", len(acked))
}
