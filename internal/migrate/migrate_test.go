package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// hooked wraps a Provider to count and alter calls.
type hooked struct {
	storage.Provider
	// noListSHA strips SHA256 from List results; noSHA from Stat and Get
	// too (a store that knows no checksums).
	noListSHA, noSHA bool
	// beforePut, when set, runs before each Put; an error fails the Put.
	beforePut func(ctx context.Context, key string) error
	// corrupt flips a byte of everything Put stores.
	corrupt bool
	// shuffleList yields the listing out of key order.
	shuffleList bool
	// seekableGet makes Get return a reader with ReadAt and Seek.
	seekableGet bool
	// readerAt records the keys whose Put got a reader with ReadAt.
	readerAt map[string]bool
	// putSHA, when set, replaces the SHA-256 the n-th successful Put
	// (from 1) reports; Stat reports the same from then on, as a store
	// that recorded it would.
	putSHA   func(n int, sha string) string
	recorded map[string]string

	mu       sync.Mutex
	puts     map[string]int
	stats    int
	inFlight int
	maxIn    int
}

func newHooked(p storage.Provider) *hooked {
	return &hooked{Provider: p, puts: map[string]int{}, readerAt: map[string]bool{}, recorded: map[string]string{}}
}

// seekableBody is a Get reader with ReadAt and Seek, as a file is.
type seekableBody struct{ *bytes.Reader }

func (seekableBody) Close() error { return nil }

func (h *hooked) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	h.mu.Lock()
	h.inFlight++
	h.maxIn = max(h.maxIn, h.inFlight)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.inFlight--
		h.mu.Unlock()
	}()
	h.mu.Lock()
	if _, ok := r.(io.ReaderAt); ok {
		h.readerAt[key] = true
	}
	h.mu.Unlock()
	if h.beforePut != nil {
		if err := h.beforePut(ctx, key); err != nil {
			return storage.Info{}, err
		}
	}
	if h.corrupt {
		data, err := io.ReadAll(r)
		if err != nil {
			return storage.Info{}, err
		}
		data[0] ^= 0xff
		r = bytes.NewReader(data)
	}
	info, err := h.Provider.Put(ctx, key, r, opts)
	if err == nil {
		h.mu.Lock()
		h.puts[key]++
		n := 0
		for _, c := range h.puts {
			n += c
		}
		h.mu.Unlock()
		if h.noSHA || h.corrupt {
			info.SHA256 = ""
		}
		if h.putSHA != nil {
			info.SHA256 = h.putSHA(n, info.SHA256)
			h.mu.Lock()
			h.recorded[key] = info.SHA256
			h.mu.Unlock()
		}
	}
	return info, err
}

func (h *hooked) Stat(ctx context.Context, key string) (storage.Info, error) {
	h.mu.Lock()
	h.stats++
	h.mu.Unlock()
	info, err := h.Provider.Stat(ctx, key)
	if h.noSHA || h.corrupt {
		info.SHA256 = ""
	}
	h.mu.Lock()
	if sha, ok := h.recorded[key]; ok && err == nil {
		info.SHA256 = sha
	}
	h.mu.Unlock()
	return info, err
}

func (h *hooked) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	rc, info, err := h.Provider.Get(ctx, key, opts)
	if h.noSHA || h.corrupt {
		info.SHA256 = ""
	}
	if err == nil && h.seekableGet {
		data, rerr := io.ReadAll(rc)
		rc.Close()
		if rerr != nil {
			return nil, info, rerr
		}
		rc = seekableBody{bytes.NewReader(data)}
	}
	return rc, info, err
}

func (h *hooked) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		var all []storage.Info
		for info, err := range h.Provider.List(ctx, opts) {
			if err != nil {
				yield(storage.Info{}, err)
				return
			}
			if h.noListSHA || h.noSHA || h.corrupt {
				info.SHA256 = ""
			}
			all = append(all, info)
		}
		if h.shuffleList && len(all) > 1 {
			all[0], all[1] = all[1], all[0]
		}
		for _, info := range all {
			if !yield(info, nil) {
				return
			}
		}
	}
}

func (h *hooked) putCounts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.puts)
}

// mediaTree fills p with a small Synapse-shaped media store and returns its
// contents by key.
func mediaTree(t *testing.T, p storage.Provider, n int) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for i := range n {
		id := fmt.Sprintf("%02x/%02x/media%04d", i%7, i%13, i)
		for _, key := range []string{
			"local_content/" + id,
			"local_thumbnails/" + id + "/32-32-image-jpeg",
			"remote_content/matrix.org/" + id,
		} {
			data := bytes.Repeat([]byte(key), 1+i%5)
			_, err := p.Put(t.Context(), key, bytes.NewReader(data), nil)
			require.NoError(t, err)
			want[key] = data
		}
	}
	return want
}

func contents(t *testing.T, p storage.Provider) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for info, err := range p.List(t.Context(), nil) {
		require.NoError(t, err)
		rc, _, err := p.Get(t.Context(), info.Key, nil)
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		got[info.Key] = data
	}
	return got
}

func TestMigrateCopiesEveryObjectWithKeysContentTypeAndMetadata(t *testing.T) {
	src, dst := memory.New(), memory.New()
	want := mediaTree(t, src, 20)
	_, err := src.Put(t.Context(), "with/meta", strings.NewReader("hello"),
		&storage.PutOptions{ContentType: "image/png", Metadata: map[string]string{"origin": "matrix.org"}})
	require.NoError(t, err)
	want["with/meta"] = []byte("hello")

	var events sync.Map
	sum, err := New(src, dst, &Options{Workers: 4, OnObject: func(e Event) { events.Store(e.Key, e) }}).Run(t.Context())
	require.NoError(t, err)

	assert.Equal(t, want, contents(t, dst))
	info, err := dst.Stat(t.Context(), "with/meta")
	require.NoError(t, err)
	assert.Equal(t, "image/png", info.ContentType)
	assert.Equal(t, map[string]string{"origin": "matrix.org"}, info.Metadata)

	var bytesTotal int64
	for _, d := range want {
		bytesTotal += int64(len(d))
	}
	assert.EqualValues(t, len(want), sum.Copied)
	assert.Equal(t, bytesTotal, sum.CopiedBytes)
	assert.Equal(t, bytesTotal, sum.Streamed)
	assert.Zero(t, sum.Skipped+sum.Failed+sum.Deleted)
	assert.False(t, sum.Stopped)
	assert.True(t, sum.TotalKnown)
	assert.EqualValues(t, len(want), sum.Total)
	assert.Equal(t, bytesTotal, sum.TotalBytes)
	e, ok := events.Load("with/meta")
	require.True(t, ok)
	assert.Equal(t, Copied, e.(Event).Action)
	assert.Equal(t, "missing at destination", e.(Event).Reason)
	// The source is untouched without Delete.
	assert.Equal(t, want, contents(t, src))
}

func TestMigrateRunAgainSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		srcSHA        bool // source listing carries SHA-256
		dstListSHA    bool // destination listing carries SHA-256
		wantDstStats  bool
		wantSrcHashed bool
	}{
		{name: "both listings know checksums", srcSHA: true, dstListSHA: true},
		{name: "destination listing has no checksums", srcSHA: true, wantDstStats: true},
		{name: "source has no stored checksums", dstListSHA: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rawSrc := memory.New()
			want := mediaTree(t, rawSrc, 10)
			src := newHooked(rawSrc)
			src.noSHA = !tc.srcSHA
			dst := newHooked(memory.New())
			dst.noListSHA = !tc.dstListSHA

			_, err := New(src, dst, &Options{Workers: 3}).Run(t.Context())
			require.NoError(t, err)
			dst.stats = 0
			sum, err := New(src, dst, &Options{Workers: 3}).Run(t.Context())
			require.NoError(t, err)

			assert.EqualValues(t, len(want), sum.Skipped)
			assert.Zero(t, sum.Copied)
			assert.Zero(t, sum.Streamed)
			for key, n := range dst.putCounts() {
				assert.Equal(t, 1, n, "puts of %s", key)
			}
			if tc.wantDstStats {
				assert.Equal(t, len(want), dst.stats, "one Stat per object already there")
			} else {
				assert.Zero(t, dst.stats, "no Stat when the listing has the checksum")
			}
		})
	}
}

func TestMigrateResendsChangedAndMissingObjects(t *testing.T) {
	src := newHooked(memory.New())
	src.noSHA = true // plain files: checksums are computed from content
	want := mediaTree(t, src, 5)
	dst := newHooked(memory.New())
	_, err := New(src, dst, nil).Run(t.Context())
	require.NoError(t, err)

	// Same size, other content; another size; a new object; one deleted at
	// the destination.
	keys := slices.Sorted(maps.Keys(want))
	same := bytes.ToUpper(want[keys[0]])
	require.NotEqual(t, same, want[keys[0]])
	_, err = src.Put(t.Context(), keys[0], bytes.NewReader(same), nil)
	require.NoError(t, err)
	_, err = src.Put(t.Context(), keys[1], strings.NewReader("longer content than before, surely"), nil)
	require.NoError(t, err)
	_, err = src.Put(t.Context(), "zz/new", strings.NewReader("new"), nil)
	require.NoError(t, err)
	require.NoError(t, dst.Delete(t.Context(), keys[2]))

	var mu sync.Mutex
	reasons := map[string]string{}
	sum, err := New(src, dst, &Options{OnObject: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Action == Copied {
			reasons[e.Key] = e.Reason
		}
	}}).Run(t.Context())
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		keys[0]:  "checksum differs",
		keys[1]:  "size differs",
		keys[2]:  "missing at destination",
		"zz/new": "missing at destination",
	}, reasons)
	assert.EqualValues(t, 4, sum.Copied)
	assert.EqualValues(t, len(want)-3, sum.Skipped)
	assert.Equal(t, contents(t, src), contents(t, dst))
}

func TestMigrateResendsWhenDestinationKnowsNoChecksum(t *testing.T) {
	src := memory.New()
	want := mediaTree(t, src, 3)
	dst := newHooked(memory.New())
	dst.noSHA = true
	_, err := New(src, dst, nil).Run(t.Context())
	require.NoError(t, err)
	sum, err := New(src, dst, nil).Run(t.Context())
	require.NoError(t, err)
	// Without a checksum at the destination, "same size" proves nothing.
	assert.EqualValues(t, len(want), sum.Copied)
}

func TestMigrateDeleteRemovesSourceOnlyAfterVerifiedCopy(t *testing.T) {
	src := memory.New()
	want := mediaTree(t, src, 10)
	keys := slices.Sorted(maps.Keys(want))
	failKey := keys[4]
	dst := newHooked(memory.New())
	dst.beforePut = func(ctx context.Context, key string) error {
		if key == failKey {
			return fmt.Errorf("injected: %w", storage.ErrUnavailable)
		}
		return nil
	}
	sum, err := New(src, dst, &Options{Delete: true, Workers: 4}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 1, sum.Failed)
	assert.EqualValues(t, len(want)-1, sum.Deleted)
	left := contents(t, src)
	assert.Equal(t, map[string][]byte{failKey: want[failKey]}, left)
	got := contents(t, dst)
	delete(want, failKey)
	assert.Equal(t, want, got)
}

func TestMigrateDeleteKeepsSourceWhenDestinationStoresOtherBytes(t *testing.T) {
	src := memory.New()
	want := mediaTree(t, src, 4)
	dst := newHooked(memory.New())
	dst.corrupt = true // and knows no checksum, so it is read back
	sum, err := New(src, dst, &Options{Delete: true}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, len(want), sum.Failed)
	assert.Zero(t, sum.Deleted)
	assert.Equal(t, want, contents(t, src))
}

func TestMigrateKnowsTheChecksumOfWhatItSent(t *testing.T) {
	// The destination reports the SHA-256 of what it stored for the first
	// objects, then no more: each sum is right either way.
	src := memory.New()
	want := mediaTree(t, src, 5)
	dst := newHooked(memory.New())
	dst.putSHA = func(n int, sha string) string {
		if n > 3 {
			return ""
		}
		return sha
	}
	var mu sync.Mutex
	sums := map[string]string{}
	sum, err := New(src, dst, &Options{Workers: 1, NoCount: true, OnObject: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		sums[e.Key] = e.SHA256
	}}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, len(want), sum.Copied)
	for key, data := range want {
		h := sha256.Sum256(data)
		assert.Equal(t, hex.EncodeToString(h[:]), sums[key], key)
	}
	assert.Positive(t, sum.HashedBytes, "objects the destination gave no sum for were hashed from the source")
	assert.Equal(t, want, contents(t, dst))
}

func TestMigrateDeleteChecksTheDestinationsChecksumWithItsOwn(t *testing.T) {
	// After two honest answers, the destination reports and records a
	// SHA-256 that is not that of what it was sent (a driver that hashes
	// wrong): with Delete, the Migrator's own hash catches it, and the
	// sources (which, as plain files, know no checksum) are kept.
	src := newHooked(memory.New())
	src.noSHA = true
	want := mediaTree(t, src, 4)
	dst := newHooked(memory.New())
	dst.putSHA = func(n int, sha string) string {
		if n > 2 {
			return strings.Repeat("0", 64)
		}
		return sha
	}
	sum, err := New(src, dst, &Options{Workers: 1, Delete: true, NoCount: true}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 2, sum.Deleted)
	assert.EqualValues(t, len(want)-2, sum.Failed)
	assert.Len(t, contents(t, src), len(want)-2)
}

func TestMigrateDeleteOfObjectsAlreadyThere(t *testing.T) {
	src := memory.New()
	want := mediaTree(t, src, 4)
	dst := newHooked(memory.New())
	_, err := New(src, dst, nil).Run(t.Context())
	require.NoError(t, err)
	sum, err := New(src, dst, &Options{Delete: true}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, len(want), sum.Skipped)
	assert.EqualValues(t, len(want), sum.Deleted)
	assert.Empty(t, contents(t, src))
	assert.Equal(t, want, contents(t, dst))
}

func TestMigrateDryRunChangesNothing(t *testing.T) {
	src, dst := memory.New(), memory.New()
	want := mediaTree(t, src, 5)
	keys := slices.Sorted(maps.Keys(want))
	_, err := dst.Put(t.Context(), keys[0], bytes.NewReader(want[keys[0]]), nil)
	require.NoError(t, err)
	before := contents(t, dst)

	var copied atomic.Int64
	sum, err := New(src, dst, &Options{DryRun: true, Delete: true, OnObject: func(e Event) {
		if e.Action == Copied && e.Deleted {
			copied.Add(1)
		}
	}}).Run(t.Context())
	require.NoError(t, err)
	assert.True(t, sum.DryRun)
	assert.EqualValues(t, len(want)-1, sum.Copied)
	assert.EqualValues(t, len(want)-1, copied.Load())
	assert.EqualValues(t, 1, sum.Skipped)
	assert.EqualValues(t, len(want), sum.Deleted, "would delete")
	assert.Equal(t, want, contents(t, src))
	assert.Equal(t, before, contents(t, dst))
}

func TestMigrateOlderThanPicksByModTime(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	clock := now.Add(-48 * time.Hour)
	src := memory.NewWithOptions(&memory.Options{Now: func() time.Time { return clock }})
	ctx := t.Context()
	_, err := src.Put(ctx, "old", strings.NewReader("old"), nil)
	require.NoError(t, err)
	clock = now.Add(-time.Hour)
	_, err = src.Put(ctx, "new", strings.NewReader("new"), nil)
	require.NoError(t, err)

	dst := memory.New()
	sum, err := New(src, dst, &Options{OlderThan: 24 * time.Hour, Now: func() time.Time { return now }}).Run(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 1, sum.Copied)
	assert.EqualValues(t, 1, sum.Excluded)
	assert.EqualValues(t, 1, sum.Total)
	assert.Equal(t, map[string][]byte{"old": []byte("old")}, contents(t, dst))
}

func TestMigratePrefix(t *testing.T) {
	src, dst := memory.New(), memory.New()
	want := mediaTree(t, src, 3)
	_, err := New(src, dst, &Options{Prefix: "local_thumbnails/"}).Run(t.Context())
	require.NoError(t, err)
	got := contents(t, dst)
	assert.Len(t, got, 3)
	for k, v := range got {
		assert.True(t, strings.HasPrefix(k, "local_thumbnails/"), k)
		assert.Equal(t, want[k], v)
	}
}

// blockingDst makes every Put wait until release is closed, and reports
// each Put that started.
func blockingDst(p storage.Provider) (h *hooked, started chan string, release chan struct{}) {
	h = newHooked(p)
	started = make(chan string, 100)
	release = make(chan struct{})
	h.beforePut = func(ctx context.Context, key string) error {
		started <- key
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return h, started, release
}

func TestMigrateStopFinishesObjectsInFlightAndTakesNoMore(t *testing.T) {
	src := memory.New()
	want := mediaTree(t, src, 10)
	dst, started, release := blockingDst(memory.New())
	m := New(src, dst, &Options{Workers: 2})
	done := make(chan Summary)
	go func() {
		sum, err := m.Run(context.Background())
		assert.NoError(t, err)
		done <- sum
	}()
	inFlight := []string{<-started, <-started}
	m.Stop()
	close(release)
	sum := <-done
	assert.True(t, sum.Stopped)
	assert.EqualValues(t, 2, sum.Copied, "the two objects in flight finish")
	assert.Zero(t, sum.Failed)
	got := contents(t, dst)
	assert.ElementsMatch(t, inFlight, slices.Collect(maps.Keys(got)))

	// Running again finishes the job without sending those two again.
	sum, err := New(src, dst, nil).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 2, sum.Skipped)
	assert.EqualValues(t, len(want)-2, sum.Copied)
	assert.Equal(t, want, contents(t, dst))
	for key, n := range dst.putCounts() {
		assert.Equal(t, 1, n, key)
	}
}

func TestMigrateCancelAbortsObjectsInFlight(t *testing.T) {
	src := memory.New()
	mediaTree(t, src, 10)
	dst, started, _ := blockingDst(memory.New())
	ctx, cancel := context.WithCancel(t.Context())
	m := New(src, dst, &Options{Workers: 2, Delete: true})
	done := make(chan error)
	var sum Summary
	go func() {
		var err error
		sum, err = m.Run(ctx)
		done <- err
	}()
	<-started
	<-started
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, sum.Stopped)
	assert.Zero(t, sum.Copied)
	assert.Zero(t, sum.Deleted)
	assert.Empty(t, contents(t, dst))
}

func TestMigrateFailsOnListingOutOfOrder(t *testing.T) {
	src := newHooked(memory.New())
	mediaTree(t, src, 2)
	src.shuffleList = true
	_, err := New(src, memory.New(), nil).Run(t.Context())
	require.ErrorContains(t, err, "not in key order")

	src.shuffleList = false
	dst := newHooked(memory.New())
	mediaTree(t, dst, 2)
	dst.shuffleList = true
	_, err = New(src, dst, nil).Run(t.Context())
	require.ErrorContains(t, err, "not in key order")
}

func TestMigrateListingErrorIsReturned(t *testing.T) {
	src := memory.New()
	mediaTree(t, src, 2)
	dst := memory.New()
	require.NoError(t, dst.Close())
	_, err := New(src, dst, nil).Run(t.Context())
	require.ErrorIs(t, err, storage.ErrClosed)
}

func TestMigrateBoundsLargeObjectsInFlight(t *testing.T) {
	src := memory.New()
	for i := range 2 {
		_, err := src.Put(t.Context(), fmt.Sprintf("big%d", i), bytes.NewReader(make([]byte, 1000)), nil)
		require.NoError(t, err)
	}
	for i := range 10 {
		_, err := src.Put(t.Context(), fmt.Sprintf("small%d", i), strings.NewReader("x"), nil)
		require.NoError(t, err)
	}
	dst := newHooked(memory.New())
	bigStarted := make(chan string, 2)
	release := make(chan struct{})
	dst.beforePut = func(ctx context.Context, key string) error {
		if strings.HasPrefix(key, "big") {
			bigStarted <- key
			<-release
		}
		return nil
	}
	smallDone := make(chan struct{}, 10)
	// Objects of the destination's part size count as large.
	m := New(src, wrapped{partsDst{dst, storage.Parts{Size: 1000}}}, &Options{Workers: 4, MaxLarge: 1, OnObject: func(e Event) {
		if strings.HasPrefix(e.Key, "small") {
			smallDone <- struct{}{}
		}
	}})
	done := make(chan Summary)
	go func() {
		sum, err := m.Run(t.Context())
		assert.NoError(t, err)
		done <- sum
	}()
	<-bigStarted
	for range 10 {
		<-smallDone
	}
	// Every small object went through the other workers while the first
	// large one was held: the second large one is still waiting its turn.
	assert.Empty(t, bigStarted)
	close(release)
	sum := <-done
	assert.EqualValues(t, 12, sum.Copied)
}

// Large files a destination reads in place hold no part buffers: by
// default two are sent at once (one is hashed while the other is sent),
// where a destination that buffers parts gets one at a time.
func TestMigrateSendsTwoLargeFilesReadInPlaceAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parts   storage.Parts
		seeking bool
		want    int
	}{
		{"read in place", storage.Parts{Size: 1000, ReaderAt: true}, true, 2},
		{"buffered by the destination", storage.Parts{Size: 1000}, true, 1},
		{"source not seekable", storage.Parts{Size: 1000, ReaderAt: true}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := newHooked(memory.New())
			src.seekableGet = tc.seeking
			for i := range 5 {
				_, err := src.Put(t.Context(), fmt.Sprintf("big%d", i), bytes.NewReader(make([]byte, 5000)), nil)
				require.NoError(t, err)
			}
			dst := newHooked(memory.New())
			var (
				mu            sync.Mutex
				now, most     int
				started, done = make(chan struct{}, 5), make(chan struct{})
			)
			dst.beforePut = func(ctx context.Context, key string) error {
				mu.Lock()
				now++
				most = max(most, now)
				mu.Unlock()
				started <- struct{}{}
				<-done
				mu.Lock()
				now--
				mu.Unlock()
				return nil
			}
			m := New(src, wrapped{partsDst{dst, tc.parts}}, &Options{Workers: 8})
			result := make(chan Summary)
			go func() {
				sum, err := m.Run(t.Context())
				assert.NoError(t, err)
				result <- sum
			}()
			for i := range tc.want {
				select {
				case <-started:
				case <-time.After(10 * time.Second):
					close(done)
					t.Fatalf("only %d large uploads at once, want %d", i, tc.want)
				}
			}
			// Give a third (or a second) upload the time to start, were it
			// let through.
			select {
			case <-started:
				t.Errorf("more than %d large uploads at once", tc.want)
			case <-time.After(200 * time.Millisecond):
			}
			close(done)
			sum := <-result
			assert.EqualValues(t, 5, sum.Copied)
			assert.Equal(t, tc.want, most, "large uploads at once")
		})
	}
}

func TestDefaultWorkers(t *testing.T) {
	n := DefaultWorkers()
	assert.GreaterOrEqual(t, n, 32)
	assert.LessOrEqual(t, n, 64)
}

func TestMigrateContentTypeFromName(t *testing.T) {
	src, dst := memory.New(), memory.New()
	for key, ct := range map[string]string{"2/ab/x/photo.PNG": "", "2/ab/y/notes.txt": "text/x-custom", "2/ab/z/noext": ""} {
		_, err := src.Put(t.Context(), key, strings.NewReader("x"), &storage.PutOptions{ContentType: ct})
		require.NoError(t, err)
	}
	_, err := New(src, dst, &Options{ContentTypeFromName: true}).Run(t.Context())
	require.NoError(t, err)
	for key, want := range map[string]string{"2/ab/x/photo.PNG": "image/png", "2/ab/y/notes.txt": "text/x-custom", "2/ab/z/noext": ""} {
		info, err := dst.Stat(t.Context(), key)
		require.NoError(t, err)
		assert.Equal(t, want, info.ContentType, key)
	}
}

// partsDst is a destination that tells how it uploads large objects.
type partsDst struct {
	*hooked
	parts storage.Parts
}

func (p partsDst) Parts() storage.Parts { return p.parts }

// wrapped wraps a provider and offers none of its abilities itself, as a
// decorator may; storage.As finds them through Unwrap.
type wrapped struct{ storage.Provider }

func (w wrapped) Unwrap() storage.Provider { return w.Provider }

// seekableSource returns a source whose Gets read like files, holding a
// large object "big" (10,000 bytes) and a small one.
func seekableSource(t *testing.T) (*hooked, []byte) {
	t.Helper()
	src := newHooked(memory.New())
	src.seekableGet = true
	big := bytes.Repeat([]byte("0123456789"), 1000)
	_, err := src.Put(t.Context(), "big", bytes.NewReader(big), nil)
	require.NoError(t, err)
	_, err = src.Put(t.Context(), "small", strings.NewReader("small"), nil)
	require.NoError(t, err)
	return src, big
}

// A destination that reads the parts of an upload from a seekable reader
// (found through a wrapper) gets a large file as it is.
func TestMigratePassesLargeSeekableSourcesThrough(t *testing.T) {
	for _, del := range []bool{false, true} {
		t.Run(fmt.Sprintf("delete=%v", del), func(t *testing.T) {
			src, big := seekableSource(t)
			dst := newHooked(memory.New())
			sum, err := New(src, wrapped{partsDst{dst, storage.Parts{Size: 1000, ReaderAt: true}}}, &Options{Delete: del}).Run(t.Context())
			require.NoError(t, err)
			assert.EqualValues(t, 2, sum.Copied)
			assert.Equal(t, map[string]bool{"big": true}, dst.readerAt, "only the large object goes as it is")
			assert.EqualValues(t, len(big)+5, sum.Streamed)
			if del {
				assert.EqualValues(t, len(big), sum.HashedBytes, "read again to check before deleting")
				assert.EqualValues(t, 2, sum.Deleted)
			} else {
				assert.Zero(t, sum.HashedBytes, "the destination's SHA-256 is used")
			}
			got := contents(t, dst)
			assert.Equal(t, big, got["big"])
		})
	}
}

// A large file is streamed to a destination that does not say it reads
// parts from a seekable reader, or that would send it in one request.
func TestMigrateStreamsLargeSourcesToDestinationsThatDoNotReadParts(t *testing.T) {
	for name, parts := range map[string]*storage.Parts{
		"no PartWriter":  nil,
		"parts buffered": {Size: 1000},
		"one part":       {Size: 20000, ReaderAt: true},
	} {
		t.Run(name, func(t *testing.T) {
			src, big := seekableSource(t)
			inner := newHooked(memory.New())
			var dst storage.Provider = inner
			if parts != nil {
				dst = partsDst{inner, *parts}
			}
			sum, err := New(src, wrapped{dst}, &Options{LargeObject: 1000}).Run(t.Context())
			require.NoError(t, err)
			assert.EqualValues(t, 2, sum.Copied)
			assert.Empty(t, inner.readerAt, "streamed")
			assert.Zero(t, sum.HashedBytes, "hashed as it streamed")
			assert.Equal(t, big, contents(t, inner)["big"])
		})
	}
}

// Options.LargeObject defaults to the part size the destination tells,
// through wrappers, and to 16 MiB for one that does not.
func TestMigrateLargeObjectIsThePartSizeOfTheDestination(t *testing.T) {
	src := memory.New()
	assert.EqualValues(t, 16<<20, New(src, memory.New(), nil).opts.LargeObject)
	assert.EqualValues(t, 5<<20, New(src, wrapped{partsDst{newHooked(memory.New()), storage.Parts{Size: 5 << 20}}}, nil).opts.LargeObject)
	assert.EqualValues(t, 7, New(src, partsDst{newHooked(memory.New()), storage.Parts{Size: 5 << 20}}, &Options{LargeObject: 7}).opts.LargeObject, "an explicit size wins")
	assert.EqualValues(t, 16<<20, New(src, partsDst{newHooked(memory.New()), storage.Parts{}}, nil).opts.LargeObject, "a part size of zero tells nothing")
}

func TestMigrateBoundsBytesOfSmallObjectsInFlight(t *testing.T) {
	src := memory.New()
	for _, key := range []string{"a1", "a2", "b"} {
		_, err := src.Put(t.Context(), key, bytes.NewReader(make([]byte, 600)), nil)
		require.NoError(t, err)
	}
	dst := newHooked(memory.New())
	started := make(chan string, 3)
	release := make(chan struct{})
	dst.beforePut = func(ctx context.Context, key string) error {
		started <- key
		<-release
		return nil
	}
	m := New(src, dst, &Options{Workers: 4, MemoryBudget: 1000})
	done := make(chan Summary)
	go func() {
		sum, err := m.Run(t.Context())
		assert.NoError(t, err)
		done <- sum
	}()
	first := <-started
	// 600 + 600 bytes do not fit in 1000: the other two objects wait for
	// the first, whichever it is.
	t.Logf("first: %s", first)
	deadline := time.Now().Add(time.Minute)
	for {
		m.small.mu.Lock()
		queued := len(m.small.waiters)
		m.small.mu.Unlock()
		if queued == 2 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the other objects never queued")
		runtime.Gosched()
	}
	assert.Empty(t, started)
	close(release)
	assert.EqualValues(t, 3, (<-done).Copied)
}

func TestBudget(t *testing.T) {
	b := newBudget(10)
	n1, err := b.acquire(t.Context(), 7)
	require.NoError(t, err)
	assert.EqualValues(t, 7, n1)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = b.acquire(cancelled, 5)
	require.ErrorIs(t, err, context.Canceled)

	got := make(chan int64)
	go func() {
		n, err := b.acquire(context.Background(), 50) // more than the size: all of it
		assert.NoError(t, err)
		got <- n
	}()
	b.release(n1)
	n2 := <-got
	assert.EqualValues(t, 10, n2)

	// First come, first served: a small request waits behind the whole.
	n3, err := b.acquire(cancelled, 0)
	require.ErrorIs(t, err, context.Canceled, "nothing left")
	assert.Zero(t, n3)
	b.release(n2)
	n3, err = b.acquire(t.Context(), 0)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n3, "at least one unit")
	b.release(n3)
	assert.Zero(t, b.used)
}

// staleJournal vouches for every key it holds, whatever the ETags: a
// journal that cannot see a change (a file rewritten with its size and
// modification time kept has the same ETag).
type staleJournal map[string]string

func (j staleJournal) Vouch(key string, size int64, srcETag, dstETag string) (string, bool) {
	sum, ok := j[key]
	return sum, ok
}

func (j staleJournal) Record(JournalEntry) error { return nil }

func TestMigrateDeleteReadsTheSourceWhateverTheJournalSays(t *testing.T) {
	for _, dstSHA := range []bool{true, false} {
		t.Run(fmt.Sprintf("destination knows checksums %v", dstSHA), func(t *testing.T) {
			ctx := t.Context()
			src := memory.New()
			want := mediaTree(t, src, 3)
			dst := newHooked(memory.New())
			dst.noSHA = !dstSHA
			_, err := New(src, dst, nil).Run(ctx)
			require.NoError(t, err)
			journal := staleJournal{}
			for key, data := range want {
				journal[key] = sha256Hex(data)
			}
			// One object changes at the source, keeping its size.
			keys := slices.Sorted(maps.Keys(want))
			changed := bytes.ToUpper(want[keys[1]])
			require.NotEqual(t, want[keys[1]], changed)
			_, err = src.Put(ctx, keys[1], bytes.NewReader(changed), nil)
			require.NoError(t, err)
			want[keys[1]] = changed

			var mu sync.Mutex
			reasons := map[string]string{}
			sum, err := New(src, dst, &Options{Delete: true, Journal: journal, OnObject: func(e Event) {
				mu.Lock()
				defer mu.Unlock()
				reasons[e.Key] = e.Reason
			}}).Run(ctx)
			require.NoError(t, err)
			assert.EqualValues(t, 1, sum.Copied, "the changed object is sent again")
			assert.Contains(t, reasons[keys[1]], "checksum differs")
			assert.EqualValues(t, len(want), sum.Deleted)
			assert.EqualValues(t, len(want), sum.JournalHits)
			assert.Positive(t, sum.HashedBytes, "the sources were read before they were deleted")
			assert.Empty(t, contents(t, src))
			assert.Equal(t, want, contents(t, dst))
		})
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestMigrateStopsWhenTheDestinationRefusesEveryWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		why  string
	}{
		{"permission", &storage.Error{Op: "put", Provider: "test", Kind: storage.ErrPermission, Err: syscall.EROFS}, "permission denied"},
		{"missing bucket", &storage.Error{Op: "put", Provider: "test", Kind: storage.ErrNotFound}, "no such bucket"},
		{"disk full", &storage.Error{Op: "put", Provider: "test", Kind: storage.ErrTooLarge, Err: syscall.ENOSPC}, "no space left"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := memory.New()
			want := mediaTree(t, src, 40)
			dst := newHooked(memory.New())
			var puts, copied atomic.Int64
			tenCopied := make(chan struct{})
			dst.beforePut = func(ctx context.Context, key string) error {
				// Ten objects go through, then every write is refused.
				if puts.Add(1) <= 10 {
					return nil
				}
				// A refusal is answered once the ten are reported: a
				// write that started after a refused one and succeeded
				// would end the run of refusals, and the first refusal
				// would be logged as one of no run (the order of the
				// calls here is not the order the writes started in).
				select {
				case <-tenCopied:
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Minute):
					// The ten were never reported: refuse anyway, for the
					// assertions below to fail rather than the test to hang.
				}
				return tc.err
			}
			onObject := func(ev Event) {
				if ev.Action == Copied && copied.Add(1) == 10 {
					close(tenCopied)
				}
			}
			var logs bytes.Buffer
			sum, err := New(src, dst, &Options{Workers: 3, Delete: true, OnObject: onObject, Logger: slog.New(slog.NewTextHandler(&logs, nil))}).Run(t.Context())
			var refused *RefusedError
			require.ErrorAs(t, err, &refused)
			assert.ErrorIs(t, err, tc.err)
			assert.Contains(t, err.Error(), tc.why)
			assert.True(t, sum.Stopped)
			assert.EqualValues(t, 10, sum.Copied)
			assert.EqualValues(t, 10, sum.Deleted)
			assert.GreaterOrEqual(t, sum.Failed, int64(refusalLimit))
			assert.LessOrEqual(t, sum.Failed, int64(refusalLimit+3), "no new object after the limit, only those in flight")
			assert.Equal(t, refusalLimit, strings.Count(logs.String(), "level=ERROR"), logs.String())
			assert.Len(t, contents(t, src), len(want)-10)
		})
	}
}

func TestMigrateKeepsGoingThroughTransientAndObjectErrors(t *testing.T) {
	src := memory.New()
	want := mediaTree(t, src, 20)
	keys := slices.Sorted(maps.Keys(want))
	dst := newHooked(memory.New())
	dst.beforePut = func(ctx context.Context, key string) error {
		i := slices.Index(keys, key)
		switch {
		case i%2 == 0:
			return &storage.Error{Op: "put", Provider: "test", Kind: storage.ErrUnavailable}
		case i%3 == 0:
			return &storage.Error{Op: "put", Provider: "test", Kind: storage.ErrExist}
		}
		return nil
	}
	sum, err := New(src, dst, &Options{Workers: 2}).Run(t.Context())
	require.NoError(t, err)
	assert.False(t, sum.Stopped)
	assert.EqualValues(t, len(want), sum.Done(), "every object was tried")
	assert.Positive(t, sum.Copied)

	// Refusals broken by successes do not stop a run either.
	var n atomic.Int64
	dst2 := newHooked(memory.New())
	dst2.beforePut = func(ctx context.Context, key string) error {
		if n.Add(1)%refusalLimit == 0 {
			return nil
		}
		return &storage.Error{Op: "put", Provider: "test", Kind: storage.ErrPermission}
	}
	sum, err = New(src, dst2, &Options{Workers: 1}).Run(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, len(want), sum.Done())
	assert.EqualValues(t, len(want)/refusalLimit, sum.Copied)
}

// A bucket shared by tiered stores with Options.Staleness holds their
// change log under tiered.ChangesPrefix. Migrating the bucket itself
// leaves those entries out: they are not objects, and their stores own
// them (a Delete run must not remove them either).
func TestMigrateLeavesOutTheChangeLog(t *testing.T) {
	src, dst := memory.New(), memory.New()
	want := mediaTree(t, src, 5)
	logKeys := []string{
		tiered.ChangesPrefix + "00000001764979200000000000-p1-1/local_content/ab/cd/x",
		tiered.ChangesPrefix + "00000001764979200000000001-p2-1/other",
	}
	for _, k := range logKeys {
		_, err := src.Put(t.Context(), k, strings.NewReader(""), nil)
		require.NoError(t, err)
	}
	sum, err := New(src, dst, &Options{Workers: 2, Delete: true}).Run(t.Context())
	require.NoError(t, err)
	assert.Equal(t, want, contents(t, dst), "only the objects are copied")
	assert.EqualValues(t, len(want), sum.Copied)
	assert.EqualValues(t, len(want), sum.Total, "the change log is not counted")
	assert.EqualValues(t, len(logKeys), sum.ChangeLog)
	assert.EqualValues(t, len(want), sum.Deleted)
	left := contents(t, src)
	assert.Len(t, left, len(logKeys), "the change log stays at the source")
	for _, k := range logKeys {
		assert.Contains(t, left, k)
	}
}
