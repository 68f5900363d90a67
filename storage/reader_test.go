package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// gets records the Gets made through it.
type gets struct {
	storage.Provider
	mu     sync.Mutex
	ranges []storage.Range // {0, 0} for a whole Get
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
			r, err := storage.OpenReader(ctx, p, "v")
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
	r, err := storage.OpenReader(ctx, g, "video")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
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
	want := []storage.Range{{}, {Offset: off}}
	if len(g.ranges) != len(want) || g.ranges[0] != want[0] || g.ranges[1] != want[1] {
		t.Fatalf("Gets made: %v, want %v (the open, then one ranged Get at the seek)", g.ranges, want)
	}
}

func TestObjectReaderRefusesToMixTwoObjects(t *testing.T) {
	ctx := context.Background()
	p := memory.New()
	if _, err := p.Put(ctx, "k", strings.NewReader(strings.Repeat("a", 1<<20)), nil); err != nil {
		t.Fatal(err)
	}
	r, err := storage.OpenReader(ctx, p, "k")
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
	r, err := storage.OpenReader(ctx, p, "k")
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
