package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// allBytes holds every byte value, twice, in a scrambled order.
var allBytes = func() []byte {
	b := make([]byte, 512)
	for i := range b {
		b[i] = byte(i*167 + i/256)
	}
	return b
}()

func (s *suite) testRoundTrip(t *testing.T) {
	t.Run("Bytes", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "bin/all-bytes", allBytes, nil)
		info := requireContent(t, p, "bin/all-bytes", allBytes)
		requireNoContentType(t, info.ContentType, "Stat")
		require.Empty(t, info.Metadata, "no metadata was given")
	})
	t.Run("ContentTypeAndMetadata", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		opts := &storage.PutOptions{
			ContentType: "image/png",
			Metadata:    map[string]string{"owner": "alice", "x-upload-id": "0042", "note": "a b ~ !"},
		}
		put(t, p, "img.png", []byte("not really a png"), opts)
		info := requireContent(t, p, "img.png", []byte("not really a png"))
		require.Equal(t, "image/png", info.ContentType, "Stat ContentType")
		require.Equal(t, opts.Metadata, info.Metadata, "Stat Metadata")
		_, ginfo := get(t, p, "img.png")
		require.Equal(t, "image/png", ginfo.ContentType, "Get ContentType")
		require.Equal(t, opts.Metadata, ginfo.Metadata, "Get Metadata")
	})
	t.Run("ContentTypeWithParameters", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		ct := `text/plain; charset="utf-8"`
		put(t, p, "doc.txt", []byte("hi"), &storage.PutOptions{ContentType: ct})
		info := requireContent(t, p, "doc.txt", []byte("hi"))
		require.Equal(t, ct, info.ContentType)
	})
	t.Run("PutInfo", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		data := []byte("put info")
		pinfo := put(t, p, "k", data, nil)
		st := requireContent(t, p, "k", data)
		if pinfo.ETag != "" {
			require.Equal(t, st.ETag, pinfo.ETag, "ETag from Put and from Stat")
		}
		if pinfo.SHA256 != "" {
			require.Equal(t, st.SHA256, pinfo.SHA256, "SHA256 from Put and from Stat")
		}
	})
	t.Run("SHA256", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		data := RandomBytes(7, 100_000)
		pinfo := put(t, p, "h", data, nil)
		_, ginfo := get(t, p, "h")
		st, err := p.Stat(ctx(t), "h")
		require.NoError(t, err)
		infos := list(t, p, nil)
		require.Len(t, infos, 1)
		for what, sum := range map[string]string{"Put": pinfo.SHA256, "Get": ginfo.SHA256, "Stat": st.SHA256, "List": infos[0].SHA256} {
			if sum != "" {
				require.Equal(t, hashOf(data), sum, "Info.SHA256 from %s", what)
			}
		}
	})
	t.Run("StableInfo", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "k", []byte("stable"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1"}})
		a, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		b, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		requireSameInfo(t, a, b, "two Stats")
		require.True(t, a.ModTime.Equal(b.ModTime), "ModTime changed between two Stats: %v, %v", a.ModTime, b.ModTime)
	})
	t.Run("ListInfo", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "x/one", []byte("1"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1"}})
		put(t, p, "x/three", []byte("333"), nil)
		infos := list(t, p, &storage.ListOptions{Prefix: "x/"})
		require.Len(t, infos, 2)
		for i, want := range []struct {
			key  string
			data string
		}{{"x/one", "1"}, {"x/three", "333"}} {
			li := infos[i]
			require.Equal(t, want.key, li.Key)
			require.Equal(t, int64(len(want.data)), li.Size, "List Size of %q", li.Key)
			require.False(t, li.ModTime.IsZero(), "List ModTime of %q", li.Key)
			if li.SHA256 != "" {
				require.Equal(t, hashOf([]byte(want.data)), li.SHA256, "List SHA256 of %q", li.Key)
			}
			st, err := p.Stat(ctx(t), li.Key)
			require.NoError(t, err)
			requireCloseTimes(t, st.ModTime, li.ModTime, "Stat and List ModTime of "+li.Key)
		}
	})
	t.Run("CallerOwnsMaps", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		md := map[string]string{"a": "1"}
		put(t, p, "k", []byte("v"), &storage.PutOptions{Metadata: md})
		md["a"] = "changed after Put"
		md["b"] = "added after Put"
		st, err := p.Stat(ctx(t), "k")
		require.NoError(t, err)
		require.Equal(t, map[string]string{"a": "1"}, st.Metadata, "changing the map given to Put changed the object")
		st.Metadata["a"] = "changed by the caller"
		_, gi := get(t, p, "k")
		require.Equal(t, map[string]string{"a": "1"}, gi.Metadata, "changing the map Stat returned changed the object")
	})
	t.Run("CallerOwnsBuffer", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		buf := []byte("original content")
		_, err := p.Put(ctx(t), "k", bytes.NewReader(buf), nil)
		require.NoError(t, err)
		copy(buf, "XXXXXXXXXXXXXXXX")
		requireContent(t, p, "k", []byte("original content"))
	})
	t.Run("ZeroLength", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		info, err := p.Put(ctx(t), "empty", onlyReader{strings.NewReader("")}, nil)
		require.NoError(t, err)
		require.Equal(t, int64(0), info.Size)
		st := requireContent(t, p, "empty", []byte{})
		require.Equal(t, int64(0), st.Size)
		if st.SHA256 != "" {
			require.Equal(t, hashOf(nil), st.SHA256)
		}
		infos := list(t, p, nil)
		require.Len(t, infos, 1)
		require.Equal(t, "empty", infos[0].Key)
		require.Equal(t, int64(0), infos[0].Size)
	})
	t.Run("ZeroLengthWithSize", func(t *testing.T) {
		// PutOptions.Size zero means unknown, so an empty object with
		// Size 0 must be accepted.
		t.Parallel()
		p := s.provider(t)
		put(t, p, "empty", nil, &storage.PutOptions{Size: 0, ContentType: "text/plain"})
		st := requireContent(t, p, "empty", []byte{})
		require.Equal(t, "text/plain", st.ContentType)
	})
	t.Run("OneByte", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		put(t, p, "one", []byte{0}, nil)
		requireContent(t, p, "one", []byte{0})
	})
	t.Run("SmallReads", func(t *testing.T) {
		// A reader that yields one byte per Read, as a slow network does.
		t.Parallel()
		p := s.provider(t)
		data := RandomBytes(11, 3000)
		_, err := p.Put(ctx(t), "trickle", &trickleReader{data: data}, nil)
		require.NoError(t, err)
		requireContent(t, p, "trickle", data)
	})
	t.Run("NilOptions", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		_, err := p.Put(ctx(t), "k", strings.NewReader("v"), nil)
		require.NoError(t, err)
		rc, _, err := p.Get(ctx(t), "k", nil)
		require.NoError(t, err)
		require.Equal(t, "v", string(readAll(t, rc)))
		require.Len(t, list(t, p, nil), 1)
	})
	t.Run("EmptyOptions", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		_, err := p.Put(ctx(t), "k", strings.NewReader("v"), &storage.PutOptions{Metadata: map[string]string{}})
		require.NoError(t, err)
		rc, _, err := p.Get(ctx(t), "k", &storage.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, "v", string(readAll(t, rc)))
		require.Len(t, list(t, p, &storage.ListOptions{}), 1)
	})
}

// trickleReader yields its data one byte per Read.
type trickleReader struct{ data []byte }

func (r *trickleReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

// badMetadata is metadata every provider must refuse with
// ErrInvalidArgument.
var badMetadata = []struct {
	name string
	md   map[string]string
	ct   string
}{
	{name: "upper-case-key", md: map[string]string{"Owner": "x"}},
	{name: "underscore-key", md: map[string]string{"x_y": "x"}},
	{name: "space-key", md: map[string]string{"x y": "x"}},
	{name: "empty-key", md: map[string]string{"": "x"}},
	{name: "digit-first-key", md: map[string]string{"1a": "x"}},
	{name: "reserved-prefix", md: map[string]string{storage.ReservedMetadataPrefix + "sha256": "x"}},
	{name: "long-key", md: map[string]string{strings.Repeat("k", storage.MaxMetadataKeyLen+1): "x"}},
	{name: "non-ascii-value", md: map[string]string{"a": "café"}},
	{name: "newline-value", md: map[string]string{"a": "x\ny"}},
	{name: "long-value", md: map[string]string{"a": strings.Repeat("v", storage.MaxMetadataValueLen+1)}},
	{name: "too-many-entries", md: manyEntries(storage.MaxMetadataEntries + 1)},
	{name: "too-many-bytes", md: map[string]string{"a": strings.Repeat("v", 1000), "b": strings.Repeat("v", 1000), "c": strings.Repeat("v", 100)}},
	{name: "content-type-newline", ct: "text/plain\r\nx-evil: 1"},
	{name: "content-type-non-ascii", ct: "text/plâin"},
}

func manyEntries(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m["k"+string(rune('a'+i))] = "v"
	}
	return m
}

func (s *suite) testMetadata(t *testing.T) {
	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range badMetadata {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				p := s.provider(t)
				opts := &storage.PutOptions{Metadata: tc.md, ContentType: tc.ct}
				_, err := p.Put(ctx(t), "k", strings.NewReader("data"), opts)
				requireErrorIs(t, err, storage.ErrInvalidArgument, "Put with bad metadata %q / content type %q", tc.md, tc.ct)
				requireMissing(t, p, "k")
				// And an existing object is left alone.
				putString(t, p, "k", "old")
				_, err = p.Put(ctx(t), "k", strings.NewReader("new"), opts)
				requireErrorIs(t, err, storage.ErrInvalidArgument, "overwriting Put with bad metadata")
				requireContent(t, p, "k", []byte("old"))
			})
		}
	})
	t.Run("Limits", func(t *testing.T) {
		// Metadata right at every limit is accepted and kept exactly.
		t.Parallel()
		p := s.provider(t)
		md := manyEntries(storage.MaxMetadataEntries)
		md["ka"] = strings.Repeat("v", storage.MaxMetadataValueLen)
		md["kb"] = "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"
		long := "z" + strings.Repeat("-", storage.MaxMetadataKeyLen-1)
		delete(md, "kc")
		md[long] = "long key"
		require.NoError(t, storage.ValidMetadata(md), "the suite's own metadata")
		put(t, p, "k", []byte("v"), &storage.PutOptions{Metadata: md})
		info := requireContent(t, p, "k", []byte("v"))
		require.Equal(t, md, info.Metadata)
	})
	t.Run("EdgeValues", func(t *testing.T) {
		// ValidMetadata accepts empty values and values with spaces at
		// either end, so they must come back as they were, even through
		// HTTP headers, which trim spaces.
		t.Parallel()
		p := s.provider(t)
		md := map[string]string{"empty": "", "padded": "  two spaces  ", "inner": "a  b"}
		require.NoError(t, storage.ValidMetadata(md), "the suite's own metadata")
		put(t, p, "k", []byte("v"), &storage.PutOptions{Metadata: md})
		info := requireContent(t, p, "k", []byte("v"))
		require.Equal(t, md, info.Metadata)
	})
}

// largeObjects are streamed from a reader that does not tell its size.
var largeObjects = []struct {
	name     string
	size     int64
	seed     uint64
	giveSize bool
}{
	{"Over16MiB", 17<<20 + 3, 16, false},
	{"KnownSize5MiB", 5<<20 + 1, 5, true},
}

func (s *suite) testLarge(t *testing.T) {
	for _, tc := range largeObjects {
		t.Run(tc.name, func(t *testing.T) {
			if s.h.SkipLarge {
				t.Skip("Harness.SkipLarge is set")
			}
			t.Parallel()
			p := s.provider(t)
			want := RandomSHA256(tc.seed, tc.size)
			opts := &storage.PutOptions{ContentType: "application/x-large"}
			if tc.giveSize {
				opts.Size = tc.size
			}
			info, err := p.Put(ctx(t), "large/object", RandomReader(tc.seed, tc.size), opts)
			require.NoError(t, err, "Put of %d bytes", tc.size)
			require.Equal(t, tc.size, info.Size)
			if info.SHA256 != "" {
				require.Equal(t, want, info.SHA256, "Put Info.SHA256")
			}

			rc, ginfo, err := p.Get(ctx(t), "large/object", nil)
			require.NoError(t, err)
			h := sha256.New()
			n, err := io.Copy(h, rc)
			require.NoError(t, err, "reading the large object")
			require.NoError(t, rc.Close())
			require.Equal(t, tc.size, n, "bytes read back")
			require.Equal(t, want, hex.EncodeToString(h.Sum(nil)), "content read back")
			require.Equal(t, tc.size, ginfo.Size)
			require.Equal(t, "application/x-large", ginfo.ContentType)
			checkInfo(t, ginfo, nil)
			if ginfo.SHA256 != "" {
				require.Equal(t, want, ginfo.SHA256, "Get Info.SHA256")
			}

			// A range across the 16 MiB mark, or the 4 MiB mark: where
			// multipart uploads cut their parts.
			off := int64(16<<20 - 100)
			if off >= tc.size {
				off = 4<<20 - 100
			}
			rc, _, err = p.Get(ctx(t), "large/object", &storage.GetOptions{Range: &storage.Range{Offset: off, Length: 200}})
			require.NoError(t, err)
			got := readAll(t, rc)
			full := RandomReader(tc.seed, off+200)
			_, _ = io.CopyN(io.Discard, full, off)
			wantRange, _ := io.ReadAll(full)
			require.Equal(t, wantRange, got, "200 bytes at offset %d", off)

			infos := list(t, p, nil)
			require.Len(t, infos, 1)
			require.Equal(t, tc.size, infos[0].Size, "List Size")
		})
	}
}
