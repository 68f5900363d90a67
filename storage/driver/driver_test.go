package driver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// stub is a Driver whose answers a test sets.
type stub struct {
	body   []byte
	info   storage.Info
	err    error
	keys   []string
	kinds  int // calls of Kind
	closes int
	put    func(b *driver.Body) error
}

func (s *stub) Put(ctx context.Context, key string, b *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	if s.put != nil {
		return storage.Info{}, s.put(b)
	}
	_, err := io.Copy(io.Discard, b)
	return storage.Info{Size: b.N()}, err
}

func (s *stub) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	if s.err != nil {
		return nil, storage.Info{}, s.err
	}
	return io.NopCloser(bytes.NewReader(s.body)), s.info, nil
}

func (s *stub) Stat(ctx context.Context, key string) (storage.Info, error) { return s.info, s.err }
func (s *stub) Delete(ctx context.Context, key string) error               { return s.err }
func (s *stub) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		for _, k := range s.keys {
			if !yield(storage.Info{Key: k}, nil) {
				return
			}
		}
	}
}
func (s *stub) Close() error { s.closes++; return nil }
func (s *stub) Kind(op string, err error) error {
	s.kinds++
	if strings.Contains(err.Error(), "gone") {
		return storage.ErrUnavailable
	}
	return nil
}

const sum = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // SHA-256 of "hello"

func TestPutSizeMismatchStoresNothing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		r    io.Reader
	}{
		{"Short", strings.NewReader("hel")},
		{"Long", strings.NewReader("hello, world")},
		{"LongInOneByteReads", iotest.OneByteReader(strings.NewReader("hello!"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := memory.New()
			_, err := m.Put(ctx, "k", tc.r, &storage.PutOptions{Size: 5})
			if !errors.Is(err, storage.ErrSizeMismatch) {
				t.Fatalf("Put: got %v, want ErrSizeMismatch", err)
			}
			if _, err := m.Stat(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("Stat after a refused Put: got %v, want ErrNotFound", err)
			}
		})
	}
	m := memory.New()
	info, err := m.Put(ctx, "k", strings.NewReader("hello"), &storage.PutOptions{Size: 5})
	if err != nil || info.SHA256 != sum || info.Size != 5 {
		t.Fatalf("Put of the promised size: %+v, %v", info, err)
	}
}

func TestBodyReaderAtAndSum(t *testing.T) {
	b := driver.NewBody(bytes.NewReader([]byte("hello")), 5)
	ra, ok := b.ReaderAt()
	if !ok {
		t.Fatal("a *bytes.Reader with a known size must be offered as an io.ReaderAt")
	}
	p := make([]byte, 3)
	if n, _ := ra.ReadAt(p, 2); n != 3 || string(p) != "llo" {
		t.Fatalf("ReadAt: %q", p[:n])
	}
	got, err := b.Sum()
	if err != nil || got != sum {
		t.Fatalf("Sum: %q, %v", got, err)
	}
	long := driver.NewBody(bytes.NewReader([]byte("hello!")), 5)
	if _, err := long.Sum(); !errors.Is(err, storage.ErrSizeMismatch) {
		t.Fatalf("Sum of a longer reader: %v, want ErrSizeMismatch", err)
	}
	if _, ok := driver.NewBody(strings.NewReader("hello"), 0).ReaderAt(); ok {
		t.Fatal("no io.ReaderAt without a known size")
	}
}

func TestBodyPartSums(t *testing.T) {
	ctx := context.Background()
	hexsum := func(p []byte) string { h := sha256.Sum256(p); return hex.EncodeToString(h[:]) }
	crcsum := func(p []byte) string {
		return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.Checksum(p, crc32.MakeTable(crc32.Castagnoli))))
	}
	// More than sumBuffer (1 MiB), so that parts end inside and at the
	// edges of its reads.
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	for _, c := range []struct {
		partSize int64
		kind     driver.PartHash
	}{
		{0, driver.PartSHA256}, {1 << 20, driver.PartSHA256}, {1<<20 + 1, driver.PartSHA256}, {5 << 20, driver.PartSHA256},
		{int64(len(data)), driver.PartSHA256}, {1<<20 - 7, driver.PartSHA256},
		{0, driver.PartCRC32C}, {int64(len(data)), driver.PartCRC32C}, {1 << 20, driver.PartCRC32C}, {1<<20 - 7, driver.PartCRC32C}, {5 << 20, driver.PartCRC32C},
	} {
		partSize := c.partSize
		partSum := hexsum
		if c.kind == driver.PartCRC32C {
			partSum = crcsum
		}
		// A reader at an offset: the Body is what follows it.
		r := bytes.NewReader(append([]byte("skip"), data...))
		if _, err := r.Seek(4, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		b := driver.NewBody(r, int64(len(data)))
		sum, parts, err := b.PartSums(ctx, partSize, c.kind)
		if err != nil {
			t.Fatalf("part size %d: %v", partSize, err)
		}
		if sum != hexsum(data) {
			t.Fatalf("part size %d: whole sum %s, want %s", partSize, sum, hexsum(data))
		}
		var want []string
		for off := int64(0); partSize > 0 && off < int64(len(data)); off += partSize {
			want = append(want, partSum(data[off:min(off+partSize, int64(len(data)))]))
		}
		if !slices.Equal(parts, want) {
			t.Fatalf("part size %d: %d part sums, want %d, or they differ", partSize, len(parts), len(want))
		}
		if b.N() != 0 || b.Done() {
			t.Fatalf("part size %d: PartSums read the Body itself (N %d)", partSize, b.N())
		}
	}

	for name, r := range map[string]*bytes.Reader{"Longer": bytes.NewReader(append(data, 'x')), "Shorter": bytes.NewReader(data[:len(data)-1])} {
		if _, _, err := driver.NewBody(r, int64(len(data))).PartSums(ctx, 1<<20, driver.PartSHA256); !errors.Is(err, storage.ErrSizeMismatch) {
			t.Errorf("%s reader: %v, want ErrSizeMismatch", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := driver.NewBody(bytes.NewReader(data), int64(len(data))).PartSums(cancelled, 1<<20, driver.PartSHA256); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if _, _, err := driver.NewBody(io.MultiReader(strings.NewReader("hello")), 5).PartSums(ctx, 0, driver.PartSHA256); err == nil {
		t.Error("PartSums of a reader that is no io.ReaderAt succeeded")
	}
}

// gatedReader is a bytes.Reader whose first ReadAt reports on started and
// then waits for release.
type gatedReader struct {
	*bytes.Reader
	once             sync.Once
	started, release chan struct{}
}

func (g *gatedReader) ReadAt(p []byte, off int64) (int, error) {
	g.once.Do(func() {
		close(g.started)
		<-g.release
	})
	return g.Reader.ReadAt(p, off)
}

// Hashing passes that would run at once beyond the bound wait their turn:
// of two uploads that start together, the second is hashed after the
// first, while the first is sent.
func TestPartSumsTakeTurns(t *testing.T) {
	defer driver.SetSumPasses(1)()
	data := []byte("0123456789")
	newGated := func() *gatedReader {
		return &gatedReader{Reader: bytes.NewReader(data), started: make(chan struct{}), release: make(chan struct{})}
	}
	first, second := newGated(), newGated()
	done := make(chan error, 2)
	for _, g := range []*gatedReader{first, second} {
		go func() {
			_, _, err := driver.NewBody(g, int64(len(data))).PartSums(t.Context(), 4, driver.PartSHA256)
			done <- err
		}()
	}
	// One of them is hashing; the other must not start until it is done.
	var running, waiting *gatedReader
	select {
	case <-first.started:
		running, waiting = first, second
	case <-second.started:
		running, waiting = second, first
	case <-time.After(10 * time.Second):
		t.Fatal("no pass started")
	}
	select {
	case <-waiting.started:
		t.Fatal("a second pass ran while the first held the only turn")
	case <-time.After(200 * time.Millisecond):
	}
	close(running.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-waiting.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the second pass never got its turn")
	}
	close(waiting.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A pass waiting for its turn gives up when its context ends.
	blocker := newGated()
	go func() {
		_, _, err := driver.NewBody(blocker, int64(len(data))).PartSums(t.Context(), 0, driver.PartSHA256)
		done <- err
	}()
	<-blocker.started
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, err := driver.NewBody(bytes.NewReader(data), int64(len(data))).PartSums(ctx, 0, driver.PartSHA256)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a pass waiting past its context's end: %v, want DeadlineExceeded", err)
	}
	close(blocker.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestGetVerifiesWholeReads(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		body string
		info storage.Info
		rng  *storage.Range
		want error // nil: the read succeeds
	}{
		{"Intact", "hello", storage.Info{Size: 5, SHA256: sum}, nil, nil},
		{"NoRecordedSum", "hellO", storage.Info{Size: 5}, nil, nil},
		{"Changed", "hellO", storage.Info{Size: 5, SHA256: sum}, nil, storage.ErrCorrupt},
		{"Longer", "hello!", storage.Info{Size: 5}, nil, storage.ErrCorrupt},
		{"CutShort", "hel", storage.Info{Size: 5, SHA256: sum}, nil, storage.ErrUnavailable},
		{"RangeIntact", "ell", storage.Info{Size: 5, SHA256: sum}, &storage.Range{Offset: 1, Length: 3}, nil},
		{"RangeCutShort", "el", storage.Info{Size: 5, SHA256: sum}, &storage.Range{Offset: 1, Length: 3}, storage.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := driver.New("stub", &stub{body: []byte(tc.body), info: tc.info}, nil)
			rc, _, err := p.Get(ctx, "k", &storage.GetOptions{Range: tc.rng})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			_, err = io.ReadAll(rc)
			if tc.want == nil && err != nil {
				t.Fatalf("read: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("read: got %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				if _, again := rc.Read(make([]byte, 1)); !errors.Is(again, tc.want) {
					t.Fatalf("a Read after the failure: %v, want the same error", again)
				}
			}
		})
	}
}

func TestReadsCheckedAreHandedOutAsTheyAre(t *testing.T) {
	p := driver.New("stub", &stub{body: []byte("hellO"), info: storage.Info{Size: 5, SHA256: sum}}, &driver.Options{ReadsChecked: true})
	rc, _, err := p.Get(context.Background(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatalf("a driver that checks its own reads is not checked again: %v", err)
	}
}

func TestErrorsNameOperationProviderAndKind(t *testing.T) {
	ctx := context.Background()
	s := &stub{err: errors.New("server gone")}
	p := driver.New("stub", s, nil)
	_, err := p.Stat(ctx, "a/b")
	var se *storage.Error
	if !errors.As(err, &se) || se.Op != "stat" || se.Provider != "stub" || se.Key != "a/b" || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Stat: %#v", err)
	}
	if s.kinds != 1 {
		t.Fatalf("Kind called %d times, want 1", s.kinds)
	}
	// An error that already matches a sentinel, or a context error, is not
	// classified again.
	s.err = errors.Join(errors.New("no such file"), storage.ErrNotFound)
	if _, err := p.Stat(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat: %v", err)
	}
	s.err = context.DeadlineExceeded
	if err := p.Delete(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Delete: %v", err)
	}
	if s.kinds != 1 {
		t.Fatalf("Kind called %d times, want 1", s.kinds)
	}
	// Bad keys and ended contexts never reach the driver.
	if _, err := p.Stat(ctx, "../x"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatalf("Stat of a bad key: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Put(done, "k", strings.NewReader("x"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with an ended context: %v", err)
	}
}

func TestListKeepsTheContract(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		keys []string
		opts *storage.ListOptions
		ok   int // entries yielded before the error, or all when -1
	}{
		{"InOrder", []string{"a", "b", "c"}, nil, -1},
		{"OutOfOrder", []string{"a", "c", "b"}, nil, 2},
		{"Repeated", []string{"a", "a"}, nil, 1},
		{"OutsidePrefix", []string{"p/a", "q"}, &storage.ListOptions{Prefix: "p/"}, 1},
		{"NotAfterStart", []string{"b", "c"}, &storage.ListOptions{StartAfter: "b"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := driver.New("stub", &stub{keys: tc.keys}, nil)
			n := 0
			var lastErr error
			for _, err := range p.List(ctx, tc.opts) {
				if err != nil {
					lastErr = err
					break
				}
				n++
			}
			if tc.ok < 0 {
				if lastErr != nil || n != len(tc.keys) {
					t.Fatalf("yielded %d, err %v", n, lastErr)
				}
				return
			}
			if n != tc.ok || !errors.Is(lastErr, storage.ErrUnavailable) {
				t.Fatalf("yielded %d then %v; want %d then ErrUnavailable", n, lastErr, tc.ok)
			}
		})
	}
}

func TestClose(t *testing.T) {
	s := &stub{}
	p := driver.New("stub", s, nil)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if s.closes != 1 {
		t.Fatalf("driver closed %d times", s.closes)
	}
	if _, err := p.Stat(context.Background(), "k"); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Stat after Close: %v", err)
	}
	for _, err := range p.List(context.Background(), nil) {
		if !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("List after Close: %v", err)
		}
	}
}

// broken is a body that fails after a few bytes.
type broken struct{ n int }

func (b *broken) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, errors.New("connection reset by peer")
	}
	b.n--
	p[0] = 'x'
	return 1, nil
}
func (b *broken) Close() error { return nil }

type brokenDriver struct{ stub }

func (d *brokenDriver) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	return &broken{n: 2}, storage.Info{Size: 5}, nil
}

func TestABodyThatBreaksOffIsUnavailable(t *testing.T) {
	p := driver.New("stub", &brokenDriver{}, nil)
	rc, _, err := p.Get(context.Background(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("read: %v, want ErrUnavailable", err)
	}
}

func TestDelimiterFoldsCommonPrefixes(t *testing.T) {
	ctx := context.Background()
	p := memory.New()
	for _, k := range []string{"a.txt", "a/b", "a/c/d", "a/e", "a0", "b/x"} {
		if _, err := p.Put(ctx, k, strings.NewReader(k), nil); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for info, err := range p.List(ctx, &storage.ListOptions{Delimiter: "/"}) {
		if err != nil {
			t.Fatal(err)
		}
		if info.IsPrefix {
			got = append(got, info.Key+"(dir)")
		} else {
			got = append(got, info.Key)
		}
	}
	want := "a.txt a/(dir) a0 b/(dir)"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
}
