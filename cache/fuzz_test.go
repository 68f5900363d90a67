package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzObjectHeader(f *testing.F) {
	hd := header{size: 5, gen: 7, modTime: 123, key: "a/b", ct: "text/plain", meta: map[string]string{"x": "1", "yy": "22"}}
	good := hd.encode()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add((&header{key: "k"}).encode())
	v2 := hd
	v2.crc, v2.hasCRC = 0xdeadbeef, true
	f.Add(v2.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err != nil {
			return
		}
		h2, err := decodeHeader(h.encode())
		require.NoError(t, err)
		h.hdrLen, h2.hdrLen = 0, 0
		assert.Equal(t, h, h2)
	})
}

func FuzzRecord(f *testing.F) {
	e := entry{h: hashKey("k"), size: 3, gen: 9, access: 5, hdr: 90, flags: flagPinned}
	var sha [32]byte
	f.Add(appendEntryRec(nil, recEntry, &e, 1, &sha, "k"))
	f.Add(appendSmallRec(nil, recDelete, e.h, 9))
	f.Add(append(appendSmallRec(nil, recPin, e.h, 9), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		rr := newRecReader(bytes.NewReader(b), 4096)
		for {
			_, _, err := rr.next()
			if err != nil {
				return
			}
		}
	})
}

// fuzzBase is a cache directory to start each index fuzz case from: an
// unclean one (a copy taken while the cache was open, so that its journal
// holds records) with pinned and unpinned entries.
var fuzzBase struct {
	once   sync.Once
	dir    string
	pinned map[string][]byte
	all    map[string][]byte
	err    error
}

func fuzzBaseDir(t testing.TB) string {
	fuzzBase.once.Do(func() {
		src, err := os.MkdirTemp("", "strata-cache-fuzz-src-")
		if err != nil {
			fuzzBase.err = err
			return
		}
		defer os.RemoveAll(src)
		dst, err := os.MkdirTemp("", "strata-cache-fuzz-base-")
		if err != nil {
			fuzzBase.err = err
			return
		}
		fuzzBase.dir = dst
		c, err := Open(src, Options{MaxBytes: 1 << 20})
		if err != nil {
			fuzzBase.err = err
			return
		}
		fuzzBase.pinned = map[string][]byte{}
		fuzzBase.all = map[string][]byte{}
		ctx := context.Background()
		for i := range 12 {
			k := fmt.Sprintf("k%d", i)
			data := payload(uint64(i), 100+i*50)
			if i%3 == 0 {
				_, err = c.PutPinned(ctx, k, bytes.NewReader(data), nil)
				fuzzBase.pinned[k] = data
			} else {
				_, err = c.Put(ctx, k, bytes.NewReader(data), nil)
			}
			fuzzBase.all[k] = data
			if err == nil && i == 5 {
				err = c.compact() // some entries in the snapshot, some in the journal
			}
			if err != nil {
				fuzzBase.err = err
				return
			}
		}
		c.Delete(ctx, "k1")
		delete(fuzzBase.all, "k1")
		c.Unpin(ctx, "k3", "")
		delete(fuzzBase.pinned, "k3")
		fuzzBase.err = copyDir(src, dst)
		c.Close()
	})
	if fuzzBase.err != nil {
		t.Fatal(fuzzBase.err)
	}
	return fuzzBase.dir
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// FuzzIndexFiles replaces the snapshot or the journal with arbitrary bytes
// and checks that Open recovers: no panic, no error, every pinned entry
// there with its bytes, and an index that matches the files.
func FuzzIndexFiles(f *testing.F) {
	base := fuzzBaseDir(f)
	snap, err := os.ReadFile(filepath.Join(base, "index", "snapshot"))
	require.NoError(f, err)
	jname := ""
	ents, _ := os.ReadDir(filepath.Join(base, "index"))
	for _, e := range ents {
		if len(e.Name()) > 8 && e.Name()[:8] == "journal." {
			jname = e.Name()
		}
	}
	require.NotEmpty(f, jname)
	jrn, err := os.ReadFile(filepath.Join(base, "index", jname))
	require.NoError(f, err)
	require.Greater(f, len(jrn), 200)
	for _, file := range []struct {
		which uint8
		b     []byte
	}{{0, snap}, {1, jrn}} {
		f.Add(file.which, file.b)
		f.Add(file.which, []byte{})
		f.Add(file.which, file.b[:len(file.b)/2])
		f.Add(file.which, file.b[:len(file.b)-3])
		for _, at := range []int{3, 20, 40, len(file.b) / 3, len(file.b) - 20} {
			b := bytes.Clone(file.b)
			b[at] ^= 0x40
			f.Add(file.which, b)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		dir := t.TempDir()
		require.NoError(t, copyDir(base, dir))
		name := "snapshot"
		if which%2 == 1 {
			name = jname
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "index", name), data, 0o640))
		c, err := Open(dir, Options{MaxBytes: 1 << 20})
		require.NoError(t, err)
		defer c.Close()
		ctx := context.Background()
		for k, want := range fuzzBase.pinned {
			got, err := getBytes(c, k)
			require.NoError(t, err, "pinned %s lost", k)
			assert.Equal(t, want, got)
		}
		pinned := 0
		for info, err := range c.Pinned(ctx) {
			require.NoError(t, err)
			if _, ok := fuzzBase.pinned[info.Key]; !ok {
				// only a pin cut from the journal's tail may come back
				require.Equal(t, "k3", info.Key)
			}
			pinned++
		}
		assert.GreaterOrEqual(t, pinned, len(fuzzBase.pinned))
		for e := range c.Entries(ctx) {
			want, ok := fuzzBase.all[e.Key]
			if !ok {
				require.Equal(t, "k1", e.Key, "only a delete cut from the journal's tail may come back")
				continue
			}
			got, err := getBytes(c, e.Key)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
		checkConsistent(t, c)
	})
}
