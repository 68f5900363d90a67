package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// gets records the Gets made through it.
type gets struct {
	storage.Provider
	mu     sync.Mutex
	ranges []storage.Range // {0, 0} for a whole Get
	stats  int
}

func (g *gets) Stat(ctx context.Context, key string) (storage.Info, error) {
	g.mu.Lock()
	g.stats++
	g.mu.Unlock()
	return g.Provider.Stat(ctx, key)
}

func (g *gets) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	g.mu.Lock()
	r := storage.Range{}
	if opts != nil && opts.Range != nil {
		r = *opts.Range
	}
	g.ranges = append(g.ranges, r)
	g.mu.Unlock()
	return g.Provider.Get(ctx, key, opts)
}

func content(n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestObjectReaderBehavesAsAReadSeekerAndReaderAt(t *testing.T) {
	ctx := context.Background()
	data := content(300 << 10)
	for name, p := range map[string]storage.Provider{
		"memory": memory.New(),
		"local":  newLocal(t),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.Put(ctx, "v", bytes.NewReader(data), nil); err != nil {
				t.Fatal(err)
			}
			r, err := storage.OpenReader(ctx, p, "v", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := iotest.TestReader(r, data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func newLocal(t *testing.T) storage.Provider {
	p, err := local.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestObjectReaderSeekCostsOneRangedGet(t *testing.T) {
	ctx := context.Background()
	data := content(4 << 20)
	g := &gets{Provider: memory.New()}
	if _, err := g.Put(ctx, "video", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	r, err := storage.OpenReader(ctx, g, "video", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if g.stats != 1 || len(g.ranges) != 0 {
		t.Fatalf("OpenReader made %d Stats and the Gets %v, want one Stat and no Get", g.stats, g.ranges)
	}
	const off = 3 << 20
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 100)
	if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, data[off:off+100]) {
		t.Fatalf("read after seek: %v", err)
	}
	// A small seek forward reads on in the same body.
	if _, err := r.Seek(1000, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, data[off+1100:off+1200]) {
		t.Fatalf("read after a short seek: %v", err)
	}
	want := []storage.Range{{Offset: off}}
	if !slices.Equal(g.ranges, want) {
		t.Fatalf("Gets made: %v, want %v (one ranged Get at the seek)", g.ranges, want)
	}
}

// A reader that reads from the start makes one whole-object Get, which
// the provider verifies: damaged bytes end it with ErrCorrupt.
func TestObjectReaderReadsTheWholeObjectWithOneVerifiedGet(t *testing.T) {
	ctx := context.Background()
	data := content(200 << 10)
	g := &gets{Provider: memory.New()}
	if _, err := g.Put(ctx, "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func(r *storage.ObjectReader) ([]byte, error){
		"Read": func(r *storage.ObjectReader) ([]byte, error) { return io.ReadAll(r) },
		"WriteTo": func(r *storage.ObjectReader) ([]byte, error) {
			var b bytes.Buffer
			_, err := r.WriteTo(&b)
			return b.Bytes(), err
		},
		"ReadAt": func(r *storage.ObjectReader) ([]byte, error) {
			b := make([]byte, r.Size())
			n, err := r.ReadAt(b, 0)
			return b[:n], err
		},
	} {
		t.Run(name, func(t *testing.T) {
			g.ranges = nil
			r, err := storage.OpenReader(ctx, g, "k", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := read(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes: %v", len(got), err)
			}
			if want := []storage.Range{{}}; !slices.Equal(g.ranges, want) {
				t.Fatalf("Gets made: %v, want one whole Get", g.ranges)
			}
		})
		t.Run(name+"/damaged", func(t *testing.T) {
			p := driver.New("flipped", &flipped{data: data}, nil)
			r, err := storage.OpenReader(ctx, p, "k", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := read(r); !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("read of damaged bytes: %v, want ErrCorrupt", err)
			}
		})
	}
}

// flipped is a driver holding one object, "k", whose recorded SHA-256 is
// that of data but which serves data with a byte changed.
type flipped struct{ data []byte }

func (f *flipped) info() storage.Info {
	sum := sha256.Sum256(f.data)
	return storage.Info{Key: "k", Size: int64(len(f.data)), ETag: "e", SHA256: hex.EncodeToString(sum[:])}
}

func (f *flipped) Put(context.Context, string, *driver.Body, *storage.PutOptions) (storage.Info, error) {
	return storage.Info{}, storage.ErrPermission
}

func (f *flipped) Get(_ context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	if key != "k" {
		return nil, storage.Info{}, storage.ErrNotFound
	}
	b := bytes.Clone(f.data)
	b[len(b)/2] ^= 1
	off, n, err := storage.CheckRange(rng, int64(len(b)))
	if err != nil {
		return nil, storage.Info{}, err
	}
	return io.NopCloser(bytes.NewReader(b[off : off+n])), f.info(), nil
}

func (f *flipped) Stat(_ context.Context, key string) (storage.Info, error) {
	if key != "k" {
		return storage.Info{}, storage.ErrNotFound
	}
	return f.info(), nil
}

func (f *flipped) Delete(context.Context, string) error { return storage.ErrPermission }

func (f *flipped) List(context.Context, storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(func(storage.Info, error) bool) {}
}

func (f *flipped) Close() error { return nil }

func (f *flipped) Kind(string, error) error { return nil }

// With the ranges it will read given, a reader makes one Get per range,
// of just that range, and none other: with no Info, the first Get is made
// by OpenReader in place of a Stat.
func TestObjectReaderPlannedRanges(t *testing.T) {
	ctx := context.Background()
	data := content(1 << 20)
	g := &gets{Provider: memory.New()}
	if _, err := g.Put(ctx, "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	plan := []storage.Range{{Offset: 1000, Length: 100}, {Offset: 500_000, Length: 2000}, {Offset: 1<<20 - 10}}
	r, err := storage.OpenReader(ctx, g, "k", &storage.ReaderOptions{Ranges: plan})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if g.stats != 0 || !slices.Equal(g.ranges, plan[:1]) {
		t.Fatalf("OpenReader made %d Stats and the Gets %v, want only a Get of the first range", g.stats, g.ranges)
	}
	if r.Size() != int64(len(data)) {
		t.Fatalf("Size %d, want %d", r.Size(), len(data))
	}
	for _, rg := range plan {
		if _, err := r.Seek(rg.Offset, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		n := rg.Length
		if n == 0 {
			n = int64(len(data)) - rg.Offset
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil || !bytes.Equal(b, data[rg.Offset:rg.Offset+n]) {
			t.Fatalf("range %v: %v", rg, err)
		}
	}
	if g.stats != 0 || !slices.Equal(g.ranges, plan) {
		t.Fatalf("Gets made: %v, want %v", g.ranges, plan)
	}
	// A range that starts past the end fails at OpenReader.
	if _, err := storage.OpenReader(ctx, g, "k", &storage.ReaderOptions{Ranges: []storage.Range{{Offset: 1 << 20}}}); !errors.Is(err, storage.ErrInvalidRange) {
		t.Fatalf("OpenReader of a range past the end: %v, want ErrInvalidRange", err)
	}
}

// With its Info given, OpenReader makes no request; a missing key fails
// at OpenReader otherwise.
func TestObjectReaderOpen(t *testing.T) {
	ctx := context.Background()
	data := content(10 << 10)
	g := &gets{Provider: memory.New()}
	info, err := g.Put(ctx, "k", bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := storage.OpenReader(ctx, g, "k", &storage.ReaderOptions{Info: &info})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if g.stats != 0 || len(g.ranges) != 0 {
		t.Fatalf("OpenReader with an Info made %d Stats and the Gets %v", g.stats, g.ranges)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll: %v", err)
	}
	if _, err := storage.OpenReader(ctx, g, "other", &storage.ReaderOptions{Info: &info}); !errors.Is(err, storage.ErrInvalidArgument) {
		t.Fatalf("OpenReader with the Info of another key: %v, want ErrInvalidArgument", err)
	}
	if _, err := storage.OpenReader(ctx, g, "missing", nil); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("OpenReader of a missing key: %v, want ErrNotFound", err)
	}
}

// ReadAt makes one Get of exactly the bytes asked for.
func TestObjectReaderReadAtGetsExactlyTheRange(t *testing.T) {
	data := content(1 << 20)
	g, r := openCounted(t, memory.New(), data)
	b := make([]byte, 4096)
	if n, err := r.ReadAt(b, 700_000); err != nil || n != len(b) || !bytes.Equal(b, data[700_000:704_096]) {
		t.Fatalf("ReadAt: %d, %v", n, err)
	}
	// Past the end: the bytes there, and io.EOF.
	if n, err := r.ReadAt(b, 1<<20-10); err != io.EOF || n != 10 || !bytes.Equal(b[:10], data[1<<20-10:]) {
		t.Fatalf("ReadAt at the end: %d, %v", n, err)
	}
	want := []storage.Range{{Offset: 700_000, Length: 4096}, {Offset: 1<<20 - 10, Length: 10}}
	if !slices.Equal(g.ranges, want) {
		t.Fatalf("Gets made: %v, want %v", g.ranges, want)
	}
}

// Reading the first bytes and seeking back to the start (as
// http.ServeContent does to sniff a type) reads them again from the same
// Get.
func TestObjectReaderSeekBackOverTheFirstBytes(t *testing.T) {
	data := content(100 << 10)
	g, r := openCounted(t, memory.New(), data)
	sniff := make([]byte, 512)
	if _, err := io.ReadFull(r, sniff); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if n, err := r.CopyN(&b, int64(len(data))); err != nil || n != int64(len(data)) || !bytes.Equal(b.Bytes(), data) {
		t.Fatalf("CopyN after the seek back: %d, %v", n, err)
	}
	if want := []storage.Range{{}}; !slices.Equal(g.ranges, want) {
		t.Fatalf("Gets made: %v, want one whole Get", g.ranges)
	}
}

// CopyN opens one Get of exactly the bytes it copies, and hands its
// reader to the writer as a whole.
func TestObjectReaderCopyN(t *testing.T) {
	data := content(1 << 20)
	g, r := openCounted(t, memory.New(), data)
	if _, err := r.Seek(300_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if n, err := r.CopyN(&b, 5000); err != nil || n != 5000 || !bytes.Equal(b.Bytes(), data[300_000:305_000]) {
		t.Fatalf("CopyN: %d, %v", n, err)
	}
	if pos, _ := r.Seek(0, io.SeekCurrent); pos != 305_000 {
		t.Fatalf("offset after CopyN: %d", pos)
	}
	b.Reset()
	if _, err := r.Seek(-100, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if n, err := r.CopyN(&b, 1000); err != io.EOF || n != 100 || !bytes.Equal(b.Bytes(), data[1<<20-100:]) {
		t.Fatalf("CopyN past the end: %d, %v, want 100 bytes and io.EOF", n, err)
	}
	want := []storage.Range{{Offset: 300_000, Length: 5000}, {Offset: 1<<20 - 100, Length: 100}}
	if !slices.Equal(g.ranges, want) {
		t.Fatalf("Gets made: %v, want %v", g.ranges, want)
	}
}

// A local file read from its start is used as it is: seeks and reads at
// offsets after that make no request.
func TestObjectReaderUsesASeekableReaderAsItIs(t *testing.T) {
	data := content(300 << 10)
	g, r := openCounted(t, newLocal(t), data)
	b := make([]byte, 100)
	if _, err := io.ReadFull(r, b); err != nil || !bytes.Equal(b, data[:100]) {
		t.Fatal(err)
	}
	if _, err := r.Seek(200_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, b); err != nil || !bytes.Equal(b, data[200_000:200_100]) {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(b, 5); err != nil || !bytes.Equal(b, data[5:105]) {
		t.Fatal(err)
	}
	if want := []storage.Range{{}}; !slices.Equal(g.ranges, want) {
		t.Fatalf("Gets made: %v, want one whole Get", g.ranges)
	}
}

// A tiered store gives one object two ETags, its cache's and its
// remote's: the same size and SHA-256 are the same object.
func TestObjectReaderSameSHA256IsTheSameObject(t *testing.T) {
	ctx := context.Background()
	data := content(300 << 10)
	m := memory.New()
	if _, err := m.Put(ctx, "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	p := &retag{Provider: m}
	r, err := storage.OpenReader(ctx, p, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Seek(100_000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, data[100_000:]) {
		t.Fatalf("read: %v", err)
	}
}

// retag answers each call with another ETag.
type retag struct {
	storage.Provider
	n atomic.Int64
}

func (p *retag) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := p.Provider.Stat(ctx, key)
	info.ETag = fmt.Sprintf(`"%d"`, p.n.Add(1))
	return info, err
}

func (p *retag) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	rc, info, err := p.Provider.Get(ctx, key, opts)
	info.ETag = fmt.Sprintf(`"%d"`, p.n.Add(1))
	return rc, info, err
}

func TestObjectReaderRefusesToMixTwoObjects(t *testing.T) {
	ctx := context.Background()
	p := memory.New()
	if _, err := p.Put(ctx, "k", strings.NewReader(strings.Repeat("a", 1<<20)), nil); err != nil {
		t.Fatal(err)
	}
	r, err := storage.OpenReader(ctx, p, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := p.Put(ctx, "k", strings.NewReader(strings.Repeat("b", 1<<20)), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(512<<10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, storage.ErrChanged) {
		t.Fatalf("Read after the object was replaced: %v, want ErrChanged", err)
	}
	if _, err := r.ReadAt(make([]byte, 10), 5); !errors.Is(err, storage.ErrChanged) {
		t.Fatalf("ReadAt after the object was replaced: %v, want ErrChanged", err)
	}
}

func TestObjectReaderConcurrentReadAt(t *testing.T) {
	ctx := context.Background()
	data := content(1 << 20)
	p := memory.New()
	if _, err := p.Put(ctx, "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	r, err := storage.OpenReader(ctx, p, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			off := int64(i) * 100_000
			b := make([]byte, 4096)
			if _, err := r.ReadAt(b, off); err != nil || !bytes.Equal(b, data[off:off+4096]) {
				t.Errorf("ReadAt %d: %v", off, err)
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

// Close from another goroutine stops a Read blocked on the body.
func TestObjectReaderCloseStopsARead(t *testing.T) {
	ctx := context.Background()
	m := memory.New()
	if _, err := m.Put(ctx, "k", bytes.NewReader(content(1<<20)), nil); err != nil {
		t.Fatal(err)
	}
	p := &blocking{Provider: m, entered: make(chan struct{})}
	r, err := storage.OpenReader(ctx, p, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Seek(1000, io.SeekStart)
		if err == nil {
			_, err = r.Read(make([]byte, 10))
		}
		done <- err
	}()
	<-p.entered
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a Read stopped by Close succeeded")
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Read after Close: %v, want ErrClosed", err)
	}
}

// blocking hands out bodies whose Read blocks until they are closed.
type blocking struct {
	storage.Provider
	entered chan struct{}
}

func (p *blocking) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	rc, info, err := p.Provider.Get(ctx, key, opts)
	if err != nil {
		return nil, info, err
	}
	return &blockingBody{rc: rc, entered: p.entered, closed: make(chan struct{})}, info, nil
}

type blockingBody struct {
	rc      io.ReadCloser
	entered chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func (b *blockingBody) Read([]byte) (int, error) {
	close(b.entered)
	<-b.closed
	return 0, errors.New("closed")
}

func (b *blockingBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.rc.Close()
}

// openCounted puts data under "k" in p, wrapped to record its Gets, and
// opens it with OpenReader (closed when the test ends).
func openCounted(t *testing.T, p storage.Provider, data []byte) (*gets, *storage.ObjectReader) {
	t.Helper()
	g := &gets{Provider: p}
	if _, err := g.Put(t.Context(), "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	r, err := storage.OpenReader(t.Context(), g, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return g, r
}
