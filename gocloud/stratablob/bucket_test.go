package stratablob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/strata-storage/strata/gocloud/stratablob"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// noFold is a provider that ignores ListOptions.Delimiter, as the
// contract lets a provider do: it yields every key.
type noFold struct{ storage.Provider }

func (p noFold) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	o := storage.ListOptions{}
	if opts != nil {
		o = *opts
	}
	o.Delimiter = ""
	return p.Provider.List(ctx, &o)
}

// listKeys are gocloud keys for the listing tests: ordinary ones, ones
// strata refuses and ones with segments longer than strata allows.
var listKeys = []string{
	"a/b/c", "a/b/d", "a/bc", "a/b.txt", "a-b", "a", "ab/x",
	"d//e", "d/", "d/.", "d/../x", "/lead", "back\\slash\\x",
	"l/" + strings.Repeat("x", 300) + "/1",
	"l/" + strings.Repeat("x", 300) + "/2/3",
	"l/" + strings.Repeat("x", 300),
	"l/" + strings.Repeat("x", 600) + "y",
	"l/" + strings.Repeat("x", 248) + "z",
	"l/" + strings.Repeat("\\", 100) + "/w",
	"l/m",
	"pct/100%", "pct/%41", "pct/%4-",
	"u/__0x41__", "u/a__0x-__/b", "u/__0x__", "u/_", "u/__0x", "u/x__0x2e__/y",
}

// want is the listing gocloud defines: the keys with prefix, those with
// delim after the prefix folded into one "directory" each.
func want(keys []string, prefix, delim string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				k = k[:len(prefix)+i+len(delim)] + " (dir)"
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func listAll(t *testing.T, b *blob.Bucket, prefix, delim string, pageSize int) []string {
	t.Helper()
	ctx := t.Context()
	opts := &blob.ListOptions{Prefix: prefix, Delimiter: delim}
	var got []string
	tok := blob.FirstPageToken
	for range 1000 {
		objs, next, err := b.ListPage(ctx, tok, pageSize, opts)
		if err != nil {
			t.Fatalf("ListPage(%q, %q, %d): %v", prefix, delim, pageSize, err)
		}
		if len(objs) > pageSize {
			t.Fatalf("ListPage gave %d objects, more than the page size %d", len(objs), pageSize)
		}
		for _, o := range objs {
			k := o.Key
			if o.IsDir {
				k += " (dir)"
			}
			got = append(got, k)
		}
		if next == nil {
			return got
		}
		tok = next
	}
	t.Fatal("listing does not end")
	return nil
}

// Listings by every delimiter, with and without a provider that folds by
// "/", at every page size, hold each entry gocloud defines exactly once,
// and every page size gives the same sequence.
func TestList(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	defer mem.Close()
	b := stratablob.OpenBucket(mem, nil)
	defer b.Close()
	for _, k := range listKeys {
		if err := b.WriteAll(ctx, k, []byte(k), nil); err != nil {
			t.Fatalf("WriteAll(%q): %v", k, err)
		}
	}
	for _, p := range []struct {
		name string
		b    *blob.Bucket
	}{{"folding", b}, {"not folding", stratablob.OpenBucket(noFold{mem}, nil)}} {
		for _, prefix := range []string{"", "a", "a/", "a/b", "d/", "d/.", "l/", "l/x", "l/" + strings.Repeat("x", 260), "pct/", "pct/%", "u/", "u/_", "u/__0", "u/a__0x-__"} {
			for _, delim := range []string{"", "/", "\\", "b"} {
				t.Run(fmt.Sprintf("%s/%q/%q", p.name, prefix, delim), func(t *testing.T) {
					w := want(listKeys, prefix, delim)
					var first []string
					for _, size := range []int{1, 2, 3, 1000} {
						got := listAll(t, p.b, prefix, delim, size)
						sorted := slices.Clone(got)
						slices.Sort(sorted)
						if !slices.Equal(sorted, w) {
							t.Fatalf("page size %d: got\n%q\nwant (in any order)\n%q", size, got, w)
						}
						if first == nil {
							first = got
						} else if !slices.Equal(got, first) {
							t.Fatalf("page size %d: got\n%q\npage size 1 gave\n%q", size, got, first)
						}
					}
				})
			}
		}
	}
}

// A "/" listing uses the provider's delimiter listing: it never reads the
// keys under a common prefix.
func TestListByDelimiterOnProvider(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	defer mem.Close()
	rec := &listRecorder{Provider: mem}
	b := stratablob.OpenBucket(rec, nil)
	defer b.Close()
	for i := range 50 {
		if err := b.WriteAll(ctx, fmt.Sprintf("dir/sub/%02d", i), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.WriteAll(ctx, "dir/file", nil, nil); err != nil {
		t.Fatal(err)
	}
	got := listAll(t, b, "dir/", "/", 1000)
	if !slices.Equal(got, []string{"dir/file", "dir/sub/ (dir)"}) {
		t.Fatalf("got %q", got)
	}
	if rec.yielded != 2 || !slices.Equal(rec.delims, []string{"/"}) {
		t.Errorf("the provider yielded %d entries to listings by %q, want 2 to one listing by \"/\"", rec.yielded, rec.delims)
	}
}

type listRecorder struct {
	storage.Provider
	delims  []string
	yielded int
}

func (r *listRecorder) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	r.delims = append(r.delims, opts.Delimiter)
	return func(yield func(storage.Info, error) bool) {
		for info, err := range r.Provider.List(ctx, opts) {
			r.yielded++
			if !yield(info, err) {
				return
			}
		}
	}
}

// Keys strata accepts are stored as they are, so strata programs and
// gocloud programs see the same objects; others are stored escaped.
func TestKeysSeenByStrata(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	defer mem.Close()
	b := stratablob.OpenBucket(mem, nil)
	defer b.Close()
	if _, err := mem.Put(ctx, "media/cat.jpg", strings.NewReader("meow"), &storage.PutOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadAll(ctx, "media/cat.jpg")
	if err != nil || string(got) != "meow" {
		t.Fatalf("ReadAll of an object strata wrote = %q, %v", got, err)
	}
	if err := b.WriteAll(ctx, `win\path//x`, []byte("w"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat(ctx, "win__0x5c__path/__0x__/x"); err != nil {
		t.Errorf("the escaped key of win\\path//x: %v", err)
	}
}

func TestMetadata(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	defer mem.Close()
	b := stratablob.OpenBucket(mem, nil)
	defer b.Close()
	md := map[string]string{"owner": "alice", "Camera_Model": "X-100 ☺"}
	if err := b.WriteAll(ctx, "k", nil, &blob.WriterOptions{Metadata: md}); err != nil {
		t.Fatal(err)
	}
	a, err := b.Attributes(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"owner": "alice", "camera_model": "X-100 ☺"}; !mapsEqual(a.Metadata, want) {
		t.Errorf("Metadata = %q, want %q", a.Metadata, want)
	}
	// Metadata strata can store is stored as it is.
	if err := b.WriteAll(ctx, "plain", nil, &blob.WriterOptions{Metadata: map[string]string{"owner": "alice"}}); err != nil {
		t.Fatal(err)
	}
	info, err := mem.Stat(ctx, "plain")
	if err != nil || !mapsEqual(info.Metadata, map[string]string{"owner": "alice"}) {
		t.Errorf("strata sees metadata %q, %v; want owner: alice", info.Metadata, err)
	}
	big := map[string]string{"big": strings.Repeat("☺", 1000)}
	if err := b.WriteAll(ctx, "big", nil, &blob.WriterOptions{Metadata: big}); gcerrors.Code(err) != gcerrors.InvalidArgument {
		t.Errorf("WriteAll with metadata too large for strata = %v, want InvalidArgument", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A write whose context ends before Close stores nothing, even when the
// provider has read every byte.
func TestCanceledWriteStoresNothing(t *testing.T) {
	mem := memory.New()
	defer mem.Close()
	b := stratablob.OpenBucket(mem, nil)
	defer b.Close()
	ctx, cancel := context.WithCancel(t.Context())
	w, err := b.NewWriter(ctx, "k", &blob.WriterOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Error("Close after cancel = nil, want an error")
	}
	if _, err := mem.Stat(t.Context(), "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the canceled write = %v, want ErrNotFound", err)
	}
}

// failAfter is a provider whose Put fails after reading n bytes.
type failAfter struct {
	storage.Provider
	n int64
}

var errBroken = errors.New("broken store")

func (p failAfter) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	if _, err := io.CopyN(io.Discard, r, p.n); err != nil {
		return storage.Info{}, err
	}
	return storage.Info{}, &storage.Error{Op: "put", Provider: "test", Key: key, Kind: storage.ErrUnavailable, Err: errBroken}
}

// A Put that fails while the caller is still writing makes Write return
// its error instead of blocking.
func TestWriteAfterPutFailed(t *testing.T) {
	b := stratablob.OpenBucket(failAfter{Provider: memory.New(), n: 10}, nil)
	defer b.Close()
	w, err := b.NewWriter(t.Context(), "k", &blob.WriterOptions{ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	for range 100 {
		if _, werr = w.Write(make([]byte, 1000)); werr != nil {
			break
		}
	}
	cerr := w.Close()
	if !errors.Is(werr, errBroken) || !errors.Is(cerr, errBroken) {
		t.Errorf("Write = %v, Close = %v; want both to be the Put's error", werr, cerr)
	}
}

func TestErrors(t *testing.T) {
	ctx := t.Context()
	mem := memory.New()
	defer mem.Close()
	b := stratablob.OpenBucket(mem, nil)
	defer b.Close()
	if err := b.Delete(ctx, "missing"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Delete of a missing key = %v, want NotFound", err)
	}
	if err := b.WriteAll(ctx, "k", []byte("x"), &blob.WriterOptions{IfNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAll(ctx, "k", []byte("y"), &blob.WriterOptions{IfNotExist: true}); gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Errorf("second WriteAll with IfNotExist = %v, want FailedPrecondition", err)
	}
	if got, _ := b.ReadAll(ctx, "k"); string(got) != "x" {
		t.Errorf("after the refused write, k holds %q, want x", got)
	}
	long := strings.Repeat("a/", storage.MaxKeyLen)
	if err := b.WriteAll(ctx, long, []byte("x"), nil); gcerrors.Code(err) != gcerrors.InvalidArgument {
		t.Errorf("WriteAll of a key too long for strata = %v, want InvalidArgument", err)
	}
	if _, err := b.SignedURL(ctx, "k", nil); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("SignedURL on memory = %v, want Unimplemented", err)
	}
	if _, err := b.SignedURL(ctx, "k", &blob.SignedURLOptions{Method: "PUT"}); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("SignedURL PUT = %v, want Unimplemented", err)
	}
	// Reading from the end of an object reads nothing, as from a file.
	r, err := b.NewRangeReader(ctx, "k", 1, -1, nil)
	if err != nil {
		t.Fatalf("NewRangeReader at the end: %v", err)
	}
	if got, err := io.ReadAll(r); err != nil || len(got) != 0 || r.Size() != 1 {
		t.Errorf("read at the end = %q, %v, size %d; want nothing from an object of 1 byte", got, err, r.Size())
	}
	r.Close()
	closed := memory.New()
	closed.Close()
	cb := stratablob.OpenBucket(closed, nil)
	defer cb.Close()
	if _, err := cb.Attributes(ctx, "k"); gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Errorf("Attributes on a closed provider = %v, want FailedPrecondition", err)
	}
}

func TestURLOpener(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b, err := blob.OpenBucket(ctx, "strata+file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAll(ctx, "x/y", []byte("hello"), nil); err != nil {
		t.Fatal(err)
	}
	var p storage.Provider
	if !b.As(&p) {
		t.Fatal("As(*storage.Provider) = false")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stat(ctx, "x/y"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Stat after the bucket's Close = %v, want ErrClosed: the bucket closes the provider it opened", err)
	}
	// The prefix parameter of gocloud works on top.
	b, err = blob.OpenBucket(ctx, "strata+file://"+filepath.ToSlash(dir)+"?prefix=x/")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.ReadAll(ctx, "y"); err != nil || string(got) != "hello" {
		t.Errorf("ReadAll(y) under prefix x/ = %q, %v", got, err)
	}

	m, err := blob.OpenBucket(ctx, "strata+mem://gocloudtest")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := blob.OpenBucket(ctx, "strata+s3://bucket?nonsense=1"); !errors.Is(err, storage.ErrInvalidArgument) {
		t.Errorf("OpenBucket with a bad s3 parameter = %v, want storage.ErrInvalidArgument", err)
	}
}

// providers are the local providers the checks below run on; between
// them, they return ETags both quoted and bare.
func providers(t *testing.T) map[string]storage.Provider {
	out := map[string]storage.Provider{}
	for name, h := range map[string]func(*testing.T) *harness{"memory": memoryHarness, "local": localHarness, "cache": cacheHarness} {
		hh := h(t)
		t.Cleanup(hh.Close)
		out[name] = hh.p
	}
	return out
}

// What gocloud's TestAttributes checks, but for the HTTP attributes strata
// does not store yet (see gaps).
func TestAttributes(t *testing.T) {
	ctx := t.Context()
	for name, p := range providers(t) {
		t.Run(name, func(t *testing.T) {
			b := stratablob.OpenBucket(p, nil)
			defer b.Close()
			if err := b.WriteAll(ctx, "dir/k", []byte("hello"), &blob.WriterOptions{ContentType: "text/plain"}); err != nil {
				t.Fatal(err)
			}
			a, err := b.Attributes(ctx, "dir/k")
			if err != nil {
				t.Fatal(err)
			}
			if a.ContentType != "text/plain" || a.Size != 5 || a.ModTime.IsZero() {
				t.Errorf("Attributes = type %q, size %d, mod time %v", a.ContentType, a.Size, a.ModTime)
			}
			if len(a.ETag) < 3 || a.ETag[0] != '"' || a.ETag[len(a.ETag)-1] != '"' {
				t.Errorf("ETag %q is not quoted", a.ETag)
			}
			for _, bad := range []string{"dir", "dir/", "missing"} {
				_, err := b.Attributes(ctx, bad)
				if gcerrors.Code(err) != gcerrors.NotFound || !strings.Contains(err.Error(), bad) {
					t.Errorf("Attributes(%q) = %v, want NotFound naming the key", bad, err)
				}
			}
			// No content type given, none sniffed: gocloud wants one.
			if err := b.WriteAll(ctx, "raw", []byte{0}, &blob.WriterOptions{DisableContentTypeDetection: true}); err != nil {
				t.Fatal(err)
			}
			if a, err := b.Attributes(ctx, "raw"); err != nil || a.ContentType != "application/octet-stream" {
				t.Errorf("Attributes of an object without a content type = %q, %v; want application/octet-stream", a.ContentType, err)
			}
		})
	}
}

// What gocloud's TestCopy/Works checks, but for the HTTP attributes strata
// does not store yet (see gaps).
func TestCopy(t *testing.T) {
	ctx := t.Context()
	for name, p := range providers(t) {
		t.Run(name, func(t *testing.T) {
			b := stratablob.OpenBucket(p, nil)
			defer b.Close()
			md := map[string]string{"foo": "bar", "not_strata": "☺"}
			if err := b.WriteAll(ctx, "src\\x", []byte("content"), &blob.WriterOptions{ContentType: "text/plain", Metadata: md}); err != nil {
				t.Fatal(err)
			}
			if err := b.WriteAll(ctx, "dst//y", []byte("clobber me"), nil); err != nil {
				t.Fatal(err)
			}
			if err := b.Copy(ctx, "dst//y", "src\\x", nil); err != nil {
				t.Fatal(err)
			}
			got, err := b.ReadAll(ctx, "dst//y")
			if err != nil || string(got) != "content" {
				t.Fatalf("ReadAll of the copy = %q, %v", got, err)
			}
			a, err := b.Attributes(ctx, "dst//y")
			if err != nil {
				t.Fatal(err)
			}
			if a.ContentType != "text/plain" || !mapsEqual(a.Metadata, md) {
				t.Errorf("the copy has type %q and metadata %q, want text/plain and %q", a.ContentType, a.Metadata, md)
			}
			if err := b.Copy(ctx, "x", "missing", nil); gcerrors.Code(err) != gcerrors.NotFound {
				t.Errorf("Copy of a missing key = %v, want NotFound", err)
			}
		})
	}
}

func TestAsTiered(t *testing.T) {
	h := tieredHarness(tiered.WriteBehind, func(*testing.T) storage.Provider { return memory.New() })(t)
	defer h.Close()
	b := stratablob.OpenBucket(h.p, nil)
	defer b.Close()
	var ts *tiered.Store
	if !b.As(&ts) || ts == nil {
		t.Error("As(**tiered.Store) = false on a bucket over a tiered store")
	}
	var pr storage.Presigner
	if !b.As(&pr) {
		t.Error("As(*storage.Presigner) = false on a bucket over a tiered store")
	}
	var n int
	if b.As(&n) || b.As(nil) || b.As(n) {
		t.Error("As of a type the provider is not, nil or a non-pointer = true")
	}
}
