package conformance

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// ranges are read from a 1000-byte object of RandomBytes(rangeSeed, 1000).
var ranges = []struct {
	name         string
	rng          storage.Range
	wantOff, len int64 // expected bytes; len < 0 means ErrInvalidRange
}{
	{"Start", storage.Range{Offset: 0, Length: 10}, 0, 10},
	{"Middle", storage.Range{Offset: 400, Length: 123}, 400, 123},
	{"End", storage.Range{Offset: 990, Length: 10}, 990, 10},
	{"LastByte", storage.Range{Offset: 999, Length: 1}, 999, 1},
	{"ToEnd", storage.Range{Offset: 600, Length: 0}, 600, 400},
	{"NegativeLengthToEnd", storage.Range{Offset: 600, Length: -1}, 600, 400},
	{"LengthPastEndIsCut", storage.Range{Offset: 995, Length: 100}, 995, 5},
	{"WholeObject", storage.Range{Offset: 0, Length: 0}, 0, 1000},
	{"WholeObjectExactLength", storage.Range{Offset: 0, Length: 1000}, 0, 1000},
	{"OffsetAtEnd", storage.Range{Offset: 1000, Length: 1}, 0, -1},
	{"OffsetPastEnd", storage.Range{Offset: 5000, Length: 0}, 0, -1},
	{"NegativeOffset", storage.Range{Offset: -10, Length: 5}, 0, -1},
}

const rangeSeed = 1000

func (s *suite) testRange(t *testing.T) {
	data := RandomBytes(rangeSeed, 1000)
	for _, tc := range ranges {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			put(t, p, "r", data, &storage.PutOptions{ContentType: "text/plain"})
			rng := tc.rng
			rc, info, err := p.Get(ctx(t), "r", &storage.GetOptions{Range: &rng})
			if tc.len < 0 {
				if rc != nil {
					rc.Close()
				}
				requireErrorIs(t, err, storage.ErrInvalidRange, "Get with range %+v of a 1000-byte object", tc.rng)
				require.Nil(t, rc)
				return
			}
			require.NoError(t, err, "Get with range %+v", tc.rng)
			got := readAll(t, rc)
			require.Equal(t, data[tc.wantOff:tc.wantOff+tc.len], got, "range %+v", tc.rng)
			require.Equal(t, "r", info.Key)
			require.Equal(t, int64(1000), info.Size, "Info.Size of a ranged Get is the whole object's")
			require.Equal(t, "text/plain", info.ContentType)
			checkInfo(t, info, data)
		})
	}
	t.Run("EmptyObject", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "e", nil, nil)
		for _, r := range []storage.Range{{Offset: 0, Length: 0}, {Offset: 0, Length: 10}} {
			rc, info, err := p.Get(ctx(t), "e", &storage.GetOptions{Range: &r})
			require.NoError(t, err, "range %+v of an empty object", r)
			require.Empty(t, readAll(t, rc), "range %+v of an empty object", r)
			require.Equal(t, int64(0), info.Size)
		}
		rc, _, err := p.Get(ctx(t), "e", &storage.GetOptions{Range: &storage.Range{Offset: 1}})
		if rc != nil {
			rc.Close()
		}
		requireErrorIs(t, err, storage.ErrInvalidRange, "range at offset 1 of an empty object")
	})
	t.Run("MissingKey", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		rc, _, err := p.Get(ctx(t), "missing", &storage.GetOptions{Range: &storage.Range{Offset: 10, Length: 10}})
		if rc != nil {
			rc.Close()
		}
		requireErrorIs(t, err, storage.ErrNotFound, "ranged Get of a missing key")
	})
}

func (s *suite) testOverwrite(t *testing.T) {
	t.Run("Content", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "first version")
		putString(t, p, "k", "second")
		requireContent(t, p, "k", []byte("second"))
		require.Equal(t, []string{"k"}, listKeys(t, p, nil))
	})
	t.Run("ShorterLeavesNoTail", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", RandomBytes(1, 64<<10), nil)
		putString(t, p, "k", "short")
		requireContent(t, p, "k", []byte("short"))
	})
	t.Run("WithEmpty", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "something")
		put(t, p, "k", nil, nil)
		requireContent(t, p, "k", []byte{})
	})
	t.Run("MetadataReplaced", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", []byte("v1"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1", "b": "2"}})
		put(t, p, "k", []byte("v2"), &storage.PutOptions{Metadata: map[string]string{"c": "3"}})
		info := requireContent(t, p, "k", []byte("v2"))
		require.Equal(t, map[string]string{"c": "3"}, info.Metadata, "metadata is replaced, not merged")
		requireNoContentType(t, info.ContentType, "content type after an overwrite without one")
		put(t, p, "k", []byte("v3"), nil)
		info = requireContent(t, p, "k", []byte("v3"))
		require.Empty(t, info.Metadata, "metadata after an overwrite without any")
	})
	t.Run("ETagChanges", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "version one")
		a, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		putString(t, p, "k", "version two")
		b, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		if a.ETag != "" || b.ETag != "" {
			require.NotEqual(t, a.ETag, b.ETag, "ETag did not change with the content")
		}
		if a.SHA256 != "" && b.SHA256 != "" {
			require.NotEqual(t, a.SHA256, b.SHA256)
		}
		require.False(t, b.ModTime.Before(a.ModTime), "ModTime went back: %v then %v", a.ModTime, b.ModTime)
	})
}

func (s *suite) testIfNotExists(t *testing.T) {
	t.Run("NewKey", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", []byte("v"), &storage.PutOptions{IfNotExists: true})
		requireContent(t, p, "k", []byte("v"))
	})
	t.Run("ExistingKey", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", []byte("old"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"v": "1"}})
		before, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		_, err = p.Put(ctx(t), "k", strings.NewReader("new"), &storage.PutOptions{IfNotExists: true, ContentType: "text/html", Metadata: map[string]string{"v": "2"}})
		requireErrorIs(t, err, storage.ErrExist, "Put with IfNotExists over an existing key")
		requireErrorIs(t, err, errExist, "ErrExist must also match fs.ErrExist")
		after := requireContent(t, p, "k", []byte("old"))
		requireSameInfo(t, before, after, "the object after a refused Put")
	})
	t.Run("ExistingEmpty", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", nil, nil)
		_, err := p.Put(ctx(t), "k", strings.NewReader("new"), &storage.PutOptions{IfNotExists: true})
		requireErrorIs(t, err, storage.ErrExist, "Put with IfNotExists over an empty object")
		requireContent(t, p, "k", []byte{})
	})
	t.Run("AfterDelete", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "old")
		require.NoError(t, p.Delete(ctx(t), "k"))
		put(t, p, "k", []byte("new"), &storage.PutOptions{IfNotExists: true})
		requireContent(t, p, "k", []byte("new"))
	})
	t.Run("Race", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		const writers, keys = 16, 3
		for k := range keys {
			key := fmt.Sprintf("race/%d", k)
			type result struct {
				i   int
				err error
			}
			results := make([]result, writers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					<-start
					_, err := p.Put(ctx(t), key, strings.NewReader(racePayload(key, i)), &storage.PutOptions{IfNotExists: true})
					results[i] = result{i, err}
				})
			}
			close(start)
			within(t, "racing Puts", wg.Wait)
			winner := -1
			for _, r := range results {
				switch {
				case r.err == nil:
					require.Equal(t, -1, winner, "%s: writers %d and %d both succeeded with IfNotExists", key, winner, r.i)
					winner = r.i
				case errors.Is(r.err, storage.ErrExist):
				default:
					require.Failf(t, "unexpected error", "%s: writer %d: %v (want nil or ErrExist)", key, r.i, r.err)
				}
			}
			require.NotEqual(t, -1, winner, "%s: no writer succeeded", key)
			requireContent(t, p, key, []byte(racePayload(key, winner)))
		}
	})
}

func racePayload(key string, writer int) string {
	return fmt.Sprintf("%s written by writer %02d", key, writer)
}

// failingReader yields n bytes of RandomReader(seed, ...) and then fails
// with err.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

var errReader = errors.New("conformance: the reader failed half way (as intended)")

func (s *suite) testPut(t *testing.T) {
	t.Run("ReaderFails", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		r := &failingReader{r: RandomReader(3, 1<<20), n: 1 << 20, err: errReader}
		_, err := p.Put(ctx(t), "k", r, nil)
		requireErrorIs(t, err, errReader, "Put whose reader fails must return an error wrapping the reader's")
		requireMissing(t, p, "k")
		require.Empty(t, listKeys(t, p, nil))
	})
	t.Run("ReaderFailsAtOnce", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		_, err := p.Put(ctx(t), "k", &failingReader{err: errReader}, nil)
		requireErrorIs(t, err, errReader, "Put whose reader fails at once")
		requireMissing(t, p, "k")
	})
	t.Run("ReaderFailsKeepsOld", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", []byte("old"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"v": "1"}})
		before, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		r := &failingReader{r: RandomReader(3, 1<<20), n: 1 << 20, err: errReader}
		_, err = p.Put(ctx(t), "k", r, &storage.PutOptions{ContentType: "text/html", Metadata: map[string]string{"v": "2"}})
		requireErrorIs(t, err, errReader, "overwriting Put whose reader fails")
		after := requireContent(t, p, "k", []byte("old"))
		requireSameInfo(t, before, after, "the object after a failed overwrite")
	})
	t.Run("ReaderFailsLarge", func(t *testing.T) {
		// Past the point where S3 clients switch to multipart uploads: the
		// upload must be aborted (see Harness.Leftovers).
		if s.h.SkipLarge {
			t.Skip("Harness.SkipLarge is set")
		}
		t.Parallel()
		p := s.provider(t)
		const n = 12 << 20
		r := &failingReader{r: RandomReader(4, n), n: n, err: errReader}
		_, err := p.Put(ctx(t), "k", r, nil)
		requireErrorIs(t, err, errReader, "large Put whose reader fails")
		requireMissing(t, p, "k")
	})
	for _, tc := range []struct {
		name       string
		size, give int64
	}{
		{"SizeMismatch/Short", 100, 50},
		{"SizeMismatch/Long", 50, 100},
		{"SizeMismatch/Empty", 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := s.provider(t)
			_, err := p.Put(ctx(t), "k", RandomReader(9, tc.give), &storage.PutOptions{Size: tc.size})
			requireErrorIs(t, err, storage.ErrSizeMismatch, "Put of %d bytes with Size %d", tc.give, tc.size)
			requireMissing(t, p, "k")
			putString(t, p, "k", "old")
			_, err = p.Put(ctx(t), "k", RandomReader(9, tc.give), &storage.PutOptions{Size: tc.size})
			requireErrorIs(t, err, storage.ErrSizeMismatch, "overwriting Put of %d bytes with Size %d", tc.give, tc.size)
			requireContent(t, p, "k", []byte("old"))
		})
	}
	t.Run("SizeExact", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		data := RandomBytes(10, 4321)
		put(t, p, "k", data, &storage.PutOptions{Size: int64(len(data))})
		requireContent(t, p, "k", data)
	})
	t.Run("NegativeSize", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		_, err := p.Put(ctx(t), "k", strings.NewReader("x"), &storage.PutOptions{Size: -1})
		requireErrorIs(t, err, storage.ErrInvalidArgument, "Put with Size -1")
		requireMissing(t, p, "k")
	})
}

func (s *suite) testMissing(t *testing.T) {
	t.Run("Get", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		rc, _, err := p.Get(ctx(t), "missing", nil)
		if rc != nil {
			rc.Close()
		}
		requireErrorIs(t, err, storage.ErrNotFound, "Get of a missing key must fail at the call")
		requireErrorIs(t, err, errNotExist, "ErrNotFound must also match fs.ErrNotExist")
		require.Nil(t, rc, "Get of a missing key returned a reader")
	})
	t.Run("Stat", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		_, err := p.Stat(ctx(t), "missing")
		requireErrorIs(t, err, storage.ErrNotFound, "Stat of a missing key")
		requireErrorIs(t, err, errNotExist, "ErrNotFound must also match fs.ErrNotExist")
	})
	t.Run("ErrorNamesKey", func(t *testing.T) {
		// Errors carry the key, so a log line says which object.
		t.Parallel()
		p := s.provider(t)
		_, err := p.Stat(ctx(t), "missing/key")
		require.Error(t, err)
		require.Contains(t, err.Error(), "missing/key", "the error should name the key")
	})
	t.Run("Prefix", func(t *testing.T) {
		// A "directory" is not an object.
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "dir/file", "x")
		requireMissing(t, p, "dir")
		require.NoError(t, p.Delete(ctx(t), "dir"), "Delete of a prefix that is not an object")
		requireContent(t, p, "dir/file", []byte("x"))
	})
	t.Run("Sibling", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "a/b", "x")
		requireMissing(t, p, "a/bc")
		requireMissing(t, p, "a/b/c")
		requireMissing(t, p, "a/B")
	})
}

func (s *suite) testDelete(t *testing.T) {
	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		require.NoError(t, p.Delete(ctx(t), "never/written"), "Delete of a missing key must succeed")
		require.Empty(t, listKeys(t, p, nil))
	})
	t.Run("ThenGet", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "v")
		require.NoError(t, p.Delete(ctx(t), "k"))
		requireMissing(t, p, "k")
		require.Empty(t, listKeys(t, p, nil))
	})
	t.Run("Twice", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "k", "v")
		require.NoError(t, p.Delete(ctx(t), "k"))
		require.NoError(t, p.Delete(ctx(t), "k"), "second Delete")
		requireMissing(t, p, "k")
	})
	t.Run("LeavesOthers", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		for _, k := range []string{"d/a", "d/b", "d/x/y", "d", "da"} {
			if s.h.PrefixConflicts && k == "d" {
				continue
			}
			putString(t, p, k, k)
		}
		require.NoError(t, p.Delete(ctx(t), "d/a"))
		require.NoError(t, p.Delete(ctx(t), "d/x/y"))
		want := []string{"d", "d/b", "da"}
		if s.h.PrefixConflicts {
			want = want[1:]
		}
		require.Equal(t, want, listKeys(t, p, nil))
		requireContent(t, p, "d/b", []byte("d/b"))
		// The emptied "directory" d/x can take an object again, and so can
		// a key where it was.
		putString(t, p, "d/x/z", "z")
		requireContent(t, p, "d/x/z", []byte("z"))
	})
	t.Run("EmptyDirectoryReusable", func(t *testing.T) {
		// After its only object is deleted, "a/b" names nothing: a key "a"
		// may be stored again even on a store with PrefixConflicts.
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "a/b", "x")
		require.NoError(t, p.Delete(ctx(t), "a/b"))
		putString(t, p, "a", "now a file")
		requireContent(t, p, "a", []byte("now a file"))
		require.Equal(t, []string{"a"}, listKeys(t, p, nil))
	})
}
