package local_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// modes are the two ways of keeping metadata; most tests run in both.
var modes = []local.MetadataMode{local.MetadataXattr, local.MetadataSidecar}

func newStore(t *testing.T, dir string, mode local.MetadataMode) *local.Store {
	t.Helper()
	s, err := local.New(dir, &local.Options{Metadata: mode})
	skipWithoutXattr(t, err)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func forModes(t *testing.T, f func(t *testing.T, mode local.MetadataMode)) {
	for _, m := range modes {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			f(t, m)
		})
	}
}

func put(t *testing.T, s storage.Provider, key, body string, opts *storage.PutOptions) storage.Info {
	t.Helper()
	info, err := s.Put(t.Context(), key, strings.NewReader(body), opts)
	require.NoError(t, err, "Put %q", key)
	return info
}

func get(t *testing.T, s storage.Provider, key string) (string, storage.Info) {
	t.Helper()
	rc, info, err := s.Get(t.Context(), key, nil)
	require.NoError(t, err, "Get %q", key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b), info
}

func listKeys(t *testing.T, s storage.Provider, opts *storage.ListOptions) []string {
	t.Helper()
	keys := []string{}
	for info, err := range s.List(t.Context(), opts) {
		require.NoError(t, err)
		keys = append(keys, info.Key)
	}
	return keys
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// tree returns every path under dir with its mode and, for files, content,
// so a test can tell that nothing changed.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[p] = v
		return nil
	})
	require.NoError(t, err)
	return out
}

func TestRoundTrip(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		md := map[string]string{"author": "ann", "x-y": "a = b \"c\""}
		before := time.Now().Add(-time.Minute)
		pinfo := put(t, s, "media/ab/cd/file.jpg", "jpeg bytes", &storage.PutOptions{ContentType: "image/jpeg", Metadata: md, Size: 10})
		assert.Equal(t, "media/ab/cd/file.jpg", pinfo.Key)
		assert.Equal(t, int64(10), pinfo.Size)
		assert.Equal(t, sha("jpeg bytes"), pinfo.SHA256)

		body, ginfo := get(t, s, "media/ab/cd/file.jpg")
		assert.Equal(t, "jpeg bytes", body)
		sinfo, err := s.Stat(t.Context(), "media/ab/cd/file.jpg")
		require.NoError(t, err)
		for _, info := range []storage.Info{pinfo, ginfo, sinfo} {
			assert.Equal(t, "image/jpeg", info.ContentType)
			assert.Equal(t, md, info.Metadata)
			assert.Equal(t, sha("jpeg bytes"), info.SHA256)
			assert.NotEmpty(t, info.ETag)
			assert.True(t, info.ModTime.After(before), "mod time %v", info.ModTime)
		}
		assert.Equal(t, pinfo.ModTime.UnixNano(), sinfo.ModTime.UnixNano())
		assert.Equal(t, pinfo.ETag, sinfo.ETag)

		// The object is a plain file, at the key's path, with the bytes.
		b, err := os.ReadFile(filepath.Join(dir, "media", "ab", "cd", "file.jpg"))
		require.NoError(t, err)
		assert.Equal(t, "jpeg bytes", string(b))

		// List carries the same Info and nothing else: no metadata files.
		var listed []storage.Info
		for info, err := range s.List(t.Context(), nil) {
			require.NoError(t, err)
			listed = append(listed, info)
		}
		require.Len(t, listed, 1)
		assert.Equal(t, sinfo, listed[0])
	})
}

func TestMetadataDoesNotLeakIntoPlainFiles(t *testing.T) {
	// Without content type or metadata the record still keeps the SHA-256.
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		s := newStore(t, t.TempDir(), mode)
		put(t, s, "k", "v", nil)
		_, info := get(t, s, "k")
		assert.Equal(t, "", info.ContentType)
		assert.Nil(t, info.Metadata)
		assert.Equal(t, sha("v"), info.SHA256)
	})
}

// synapseTree writes a media_store as Synapse lays it out, with files
// strata never wrote, plus things a store must not list.
func synapseTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{
		"local_content/ab/cd/efghijklmnopqrstuvwx":                        "original",
		"local_content/ab/ce/zzzz":                                        "another",
		"local_thumbnails/ab/cd/efghijklmnopqrstuvwx/32-32-image-jpeg":    "thumb small",
		"local_thumbnails/ab/cd/efghijklmnopqrstuvwx/640-480-image-png":   "thumb large",
		"remote_content/matrix.org/xy/zw/abcdef":                          "remote",
		"remote_thumbnail/matrix.org/xy/zw/abcdef/96-96-image-webp-scale": "remote thumb",
		"url_cache/2024-01-01/qwerty":                                     "url",
	}
	for k, v := range files {
		p := filepath.Join(dir, filepath.FromSlash(k))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(v), 0o644))
	}
	// Not objects: an empty directory, a name that is no valid key, a
	// leftover temporary file, a FIFO and symbolic links.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "local_content", "empty"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local_content", "back\\slash"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local_content", "ctl\x01"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local_content", "bad\xffutf8"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "local_content", `.strata-tmp\0123456789abcdef`), []byte("half"), 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "local_content", "fifo"), 0o644))
	require.NoError(t, os.Symlink("ab/cd/efghijklmnopqrstuvwx", filepath.Join(dir, "local_content", "link")))
	require.NoError(t, os.Symlink("ab", filepath.Join(dir, "local_content", "linkdir")))
	return files
}

func TestPlainTreeIsAStore(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		files := synapseTree(t, dir)
		s := newStore(t, dir, mode)

		want := slices.Sorted(func(yield func(string) bool) {
			for k := range files {
				if !yield(k) {
					return
				}
			}
		})
		assert.Equal(t, want, listKeys(t, s, nil))
		assert.Equal(t, []string{
			"local_thumbnails/ab/cd/efghijklmnopqrstuvwx/32-32-image-jpeg",
			"local_thumbnails/ab/cd/efghijklmnopqrstuvwx/640-480-image-png",
		}, listKeys(t, s, &storage.ListOptions{Prefix: "local_thumbnails/ab/cd/efghijklmnopqrstuvwx/"}))

		for k, v := range files {
			body, info := get(t, s, k)
			assert.Equal(t, v, body)
			assert.Equal(t, k, info.Key)
			assert.Equal(t, int64(len(v)), info.Size)
			assert.Equal(t, "", info.SHA256, "a file strata never wrote has no known checksum")
			assert.Equal(t, "", info.ContentType)
			assert.Nil(t, info.Metadata)
			assert.NotEmpty(t, info.ETag)
		}

		// A directory, a FIFO and a half-written temporary file are no
		// objects.
		for _, k := range []string{"local_content", "local_content/ab", "local_content/empty", "local_content/fifo"} {
			_, err := s.Stat(t.Context(), k)
			assert.ErrorIs(t, err, storage.ErrNotFound, k)
			assert.ErrorIs(t, err, fs.ErrNotExist, k)
			_, _, err = s.Get(t.Context(), k, nil)
			assert.ErrorIs(t, err, storage.ErrNotFound, k)
		}
		// A symbolic link inside the root is followed by Get, not listed.
		body, _ := get(t, s, "local_content/link")
		assert.Equal(t, "original", body)

		// The ETag of a plain file changes when another program replaces it.
		k := "local_content/ab/ce/zzzz"
		before, err := s.Stat(t.Context(), k)
		require.NoError(t, err)
		p := filepath.Join(dir, filepath.FromSlash(k))
		require.NoError(t, os.WriteFile(p+".new", []byte("changed"), 0o644))
		require.NoError(t, os.Rename(p+".new", p))
		after, err := s.Stat(t.Context(), k)
		require.NoError(t, err)
		assert.NotEqual(t, before.ETag, after.ETag)

		// Overwriting a plain file through the store gives it a record.
		put(t, s, k, "from strata", &storage.PutOptions{ContentType: "text/plain"})
		_, info := get(t, s, k)
		assert.Equal(t, sha("from strata"), info.SHA256)
		assert.Equal(t, "text/plain", info.ContentType)
	})
}

func TestListOrder(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		s := newStore(t, t.TempDir(), mode)
		// "/" (0x2f) sorts after "-" and "." but before "0": a depth-first
		// walk of the directories would get these wrong.
		keys := []string{"a/b", "a.b", "a0", "a-b", "a/c/d", "a/b.x", "a/b0", "a/c.d", "a/c-d", "a/c0", "b", "a~", "a/\u00e9", "A"}
		for _, k := range keys {
			put(t, s, k, k, nil)
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		assert.Equal(t, want, listKeys(t, s, nil))
		assert.Equal(t, []string{"A", "a-b", "a.b", "a/b", "a/b.x", "a/b0", "a/c-d", "a/c.d", "a/c/d", "a/c0", "a/\u00e9", "a0", "a~", "b"}, want)
		for _, after := range append(slices.Clone(want), "", "a", "a/", "a/c", "a/c/", "a/b/zzz", "zzz", "a/c/d0") {
			for _, prefix := range []string{"", "a", "a/", "a/c", "a/c/", "a.", "b", "zz", "a/b"} {
				var exp []string
				for _, k := range want {
					if strings.HasPrefix(k, prefix) && k > after {
						exp = append(exp, k)
					}
				}
				got := listKeys(t, s, &storage.ListOptions{Prefix: prefix, StartAfter: after})
				assert.Equal(t, fmt.Sprint(exp), fmt.Sprint(got), "prefix %q after %q", prefix, after)
			}
		}
	})
}

// TestListRandomTrees checks List against a sort of the keys for random
// trees, prefixes and start points, with characters around "/".
func TestListRandomTrees(t *testing.T) {
	alphabet := []string{"a", "b", "-", ".", "0", "~", "é", "/"}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 6 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			s := newStore(t, t.TempDir(), modes[round%2])
			var keys []string
			isPrefixDir := func(a, b string) bool { return strings.HasPrefix(b, a+"/") }
			for len(keys) < 60 {
				var b strings.Builder
				n := 1 + rng.IntN(7)
				for range n {
					b.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				k := b.String()
				if storage.ValidKey(k) != nil || slices.Contains(keys, k) {
					continue
				}
				conflict := false
				for _, o := range keys {
					if isPrefixDir(o, k) || isPrefixDir(k, o) {
						conflict = true
					}
				}
				if conflict {
					continue
				}
				keys = append(keys, k)
				put(t, s, k, k, nil)
			}
			slices.Sort(keys)
			require.Equal(t, keys, listKeys(t, s, nil))
			for range 200 {
				prefix := keys[rng.IntN(len(keys))]
				prefix = prefix[:rng.IntN(len(prefix)+1)]
				after := ""
				if rng.IntN(2) == 0 {
					after = keys[rng.IntN(len(keys))]
					after = after[:rng.IntN(len(after)+1)]
				}
				var exp []string
				for _, k := range keys {
					if strings.HasPrefix(k, prefix) && k > after {
						exp = append(exp, k)
					}
				}
				got := listKeys(t, s, &storage.ListOptions{Prefix: prefix, StartAfter: after})
				require.Equal(t, fmt.Sprint(exp), fmt.Sprint(got), "prefix %q after %q", prefix, after)
			}
		})
	}
}

func TestLongKeys(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		seg := strings.Repeat("s", storage.MaxSegmentLen)
		keys := []string{
			seg, // the longest segment
			strings.Repeat("é", storage.MaxSegmentLen/2),         // multi-byte, as long
			strings.Repeat("🎉", storage.MaxSegmentLen/4) + "q/x", // 4-byte runes
			strings.Repeat(strings.Repeat("u", storage.MaxSegmentLen)+"/", 4) + strings.Repeat("t", storage.MaxKeyLen-4*(storage.MaxSegmentLen+1)), // 1024 bytes
			seg[:storage.MaxSegmentLen-1] + ".",
		}
		require.Len(t, keys[3], storage.MaxKeyLen)
		for _, k := range keys {
			require.NoError(t, storage.ValidKey(k), "%q", k)
			put(t, s, k, "v:"+k[len(k)-3:], &storage.PutOptions{ContentType: "t/x"})
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		assert.Equal(t, want, listKeys(t, s, nil))
		for _, k := range keys {
			body, info := get(t, s, k)
			assert.Equal(t, "v:"+k[len(k)-3:], body)
			assert.Equal(t, "t/x", info.ContentType)
		}
		for _, k := range []string{seg + "s", "a/" + seg + "s/b", strings.Repeat("é", storage.MaxSegmentLen/2) + "x"} {
			_, err := s.Put(t.Context(), k, strings.NewReader("x"), nil)
			assert.ErrorIs(t, err, storage.ErrInvalidKey, "segment of %d bytes", len(k))
		}
		for _, k := range keys {
			require.NoError(t, s.Delete(t.Context(), k))
		}
		assert.Empty(t, listKeys(t, s, nil))
		assertEmptyRoot(t, dir)
	})
}

// assertEmptyRoot checks that dir holds nothing but, in sidecar mode, the
// empty sidecar tree.
func assertEmptyRoot(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() == metaDir {
			sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
			require.NoError(t, err)
			assert.Empty(t, sub, "sidecar tree")
			continue
		}
		t.Errorf("left in root: %q", e.Name())
	}
}

func TestPermissions(t *testing.T) {
	// The umask is process wide: no t.Parallel here.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name       string
		opts       *local.Options
		file, dirm fs.FileMode
	}{
		{"default", nil, 0o640, 0o750},
		{"sidecar", &local.Options{Metadata: local.MetadataSidecar}, 0o640, 0o750},
		{"custom", &local.Options{FileMode: 0o604, DirMode: 0o755}, 0o604, 0o755},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "new", "root")
			s, err := local.New(dir, tc.opts)
			require.NoError(t, err)
			defer s.Close()
			fi, err := os.Stat(dir)
			require.NoError(t, err)
			assert.Equal(t, tc.dirm, fi.Mode().Perm(), "root created by New")
			put(t, s, "a/b/c", "x", &storage.PutOptions{ContentType: "t/x"})
			put(t, s, "a/b/c", "y", nil) // overwrite
			put(t, s, "d", "z", &storage.PutOptions{IfNotExists: true})
			_, err = s.Copy(t.Context(), "e/f", "d")
			require.NoError(t, err)
			err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				require.NoError(t, err)
				fi, err := d.Info()
				require.NoError(t, err)
				if d.IsDir() {
					assert.Equal(t, tc.dirm, fi.Mode().Perm(), p)
				} else {
					assert.Equal(t, tc.file, fi.Mode().Perm(), p)
				}
				return nil
			})
			require.NoError(t, err)
		})
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []*local.Options{
		{FileMode: 0o200},
		{FileMode: fs.ModeSetuid | 0o640},
		{DirMode: 0o640},
		{DirMode: 0o500},
		{Metadata: 7},
	} {
		_, err := local.New(t.TempDir(), o)
		assert.ErrorIs(t, err, storage.ErrInvalidArgument, "%+v", o)
	}
	_, err := local.New("", nil)
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	// The root must be a directory.
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	_, err = local.New(f, nil)
	assert.Error(t, err)
}

func TestSymlinkOutsideRoot(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		base := t.TempDir()
		outside := filepath.Join(base, "outside")
		require.NoError(t, os.MkdirAll(outside, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644))
		dir := filepath.Join(base, "root")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.Symlink(outside, filepath.Join(dir, "evil")))
		require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "evilfile")))
		require.NoError(t, os.Symlink("../outside/secret", filepath.Join(dir, "relevil")))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
		require.NoError(t, os.Symlink("../../outside", filepath.Join(dir, "sub", "up")))
		s := newStore(t, dir, mode)
		before := tree(t, outside)

		ctx := t.Context()
		for _, k := range []string{"evil/secret", "evilfile", "relevil", "sub/up/secret"} {
			_, _, err := s.Get(ctx, k, nil)
			assert.ErrorIs(t, err, storage.ErrPermission, "Get %q", k)
			var se *storage.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "local", se.Provider)
			_, err = s.Stat(ctx, k)
			assert.ErrorIs(t, err, storage.ErrPermission, "Stat %q", k)
			_, err = s.Copy(ctx, "copied", k)
			assert.ErrorIs(t, err, storage.ErrPermission, "Copy from %q", k)
		}
		for _, k := range []string{"evil/new", "evil/secret", "evil/deep/new", "sub/up/new", "sub/up/secret"} {
			_, err := s.Put(ctx, k, strings.NewReader("pwned"), nil)
			assert.ErrorIs(t, err, storage.ErrPermission, "Put %q", k)
			err = s.Delete(ctx, k)
			assert.ErrorIs(t, err, storage.ErrPermission, "Delete %q", k)
		}
		assert.Equal(t, before, tree(t, outside), "nothing outside the root changed")
		assert.Empty(t, listKeys(t, s, nil), "symbolic links are not listed")
		// Putting onto a symbolic link's own name replaces the link, not
		// its target.
		put(t, s, "evilfile", "mine", nil)
		assert.Equal(t, before, tree(t, outside))
		body, _ := get(t, s, "evilfile")
		assert.Equal(t, "mine", body)
	})
}

func TestInvalidKeysWriteNothing(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		base := t.TempDir()
		dir := filepath.Join(base, "root")
		s := newStore(t, dir, mode)
		before := tree(t, base)
		for _, k := range []string{"", "/", "/etc/passwd", "..", "../x", "a/../../x", "a//b", "a/", ".", `..\x`, "a\x00b", "a\nb", "a\xffb", strings.Repeat("k", 1025)} {
			_, err := s.Put(t.Context(), k, strings.NewReader("x"), nil)
			assert.ErrorIs(t, err, storage.ErrInvalidKey, "%q", k)
			_, err = s.Stat(t.Context(), k)
			assert.ErrorIs(t, err, storage.ErrInvalidKey, "%q", k)
			assert.ErrorIs(t, s.Delete(t.Context(), k), storage.ErrInvalidKey, "%q", k)
		}
		assert.Equal(t, before, tree(t, base))
	})
}

// blockingReader yields some bytes, then waits for release and fails or
// ends as told.
type blockingReader struct {
	first   []byte
	started chan struct{}
	release chan error
	sent    bool
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		close(r.started)
		return copy(p, r.first), nil
	}
	if err := <-r.release; err != nil {
		return 0, err
	}
	return 0, io.EOF
}

func newBlockingReader(first string) *blockingReader {
	return &blockingReader{first: []byte(first), started: make(chan struct{}), release: make(chan error, 1)}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), `.strata-tmp\`) {
			out = append(out, p)
		}
		return nil
	}))
	return out
}

func TestPutInProgressIsInvisible(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		for _, tc := range []struct {
			name   string
			finish func(r *blockingReader, cancel context.CancelFunc)
			ok     bool
		}{
			{"success", func(r *blockingReader, _ context.CancelFunc) { r.release <- nil }, true},
			{"reader-fails", func(r *blockingReader, _ context.CancelFunc) { r.release <- errors.New("network gone") }, false},
			{"cancelled", func(r *blockingReader, cancel context.CancelFunc) { cancel(); r.release <- nil }, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := t.TempDir()
				s := newStore(t, dir, mode)
				put(t, s, "dir/old", "old", &storage.PutOptions{ContentType: "old/type"})
				for _, key := range []string{"dir/new", "dir/old"} {
					r := newBlockingReader("partial content")
					ctx, cancel := context.WithCancel(t.Context())
					done := make(chan error, 1)
					go func() {
						_, err := s.Put(ctx, key, r, &storage.PutOptions{ContentType: "new/type"})
						done <- err
					}()
					<-r.started
					// The Put is mid-way: a temporary file exists, and no
					// reader sees it or half of the new content.
					require.Len(t, tempFiles(t, dir), 1)
					assert.Equal(t, []string{"dir/old"}, listKeys(t, s, nil))
					if key == "dir/new" {
						_, err := s.Stat(t.Context(), key)
						assert.ErrorIs(t, err, storage.ErrNotFound)
					} else {
						body, info := get(t, s, key)
						assert.Equal(t, "old", body)
						assert.Equal(t, "old/type", info.ContentType)
					}
					tc.finish(r, cancel)
					err := <-done
					cancel()
					assert.Empty(t, tempFiles(t, dir), "temporary file removed")
					assert.Empty(t, orphanSidecars(t, dir))
					if tc.ok {
						require.NoError(t, err)
						body, info := get(t, s, key)
						assert.Equal(t, "partial content", body)
						assert.Equal(t, "new/type", info.ContentType)
						put(t, s, key, "old", &storage.PutOptions{ContentType: "old/type"})
						if key == "dir/new" {
							require.NoError(t, s.Delete(t.Context(), key))
						}
						continue
					}
					require.Error(t, err)
					if tc.name == "cancelled" {
						assert.ErrorIs(t, err, context.Canceled)
					} else {
						assert.ErrorContains(t, err, "network gone")
					}
					assert.Equal(t, []string{"dir/old"}, listKeys(t, s, nil))
					body, info := get(t, s, "dir/old")
					assert.Equal(t, "old", body)
					assert.Equal(t, "old/type", info.ContentType)
				}
			})
		}
	})
}

func TestSizeMismatch(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		for _, size := range []int64{3, 5} {
			_, err := s.Put(t.Context(), "k", strings.NewReader("four"), &storage.PutOptions{Size: size})
			assert.ErrorIs(t, err, storage.ErrSizeMismatch)
			// One error of this call, not one of the layer's inside it.
			assert.True(t, strings.HasPrefix(err.Error(), `local put "k": size mismatch: `), "%v", err)
			// A failed Put also removes the directories it made.
			_, err = s.Put(t.Context(), "new/sub/k", strings.NewReader("four"), &storage.PutOptions{Size: size})
			assert.ErrorIs(t, err, storage.ErrSizeMismatch)
		}
		_, err := s.Stat(t.Context(), "k")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.Empty(t, tempFiles(t, dir))
		assertEmptyRoot(t, dir)

		// Directories that were there before stay, even empty.
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "old", "empty"), 0o750))
		_, err = s.Put(t.Context(), "old/empty/new/k", strings.NewReader("four"), &storage.PutOptions{Size: 1})
		assert.ErrorIs(t, err, storage.ErrSizeMismatch)
		assert.DirExists(t, filepath.Join(dir, "old", "empty"))
		assert.NoDirExists(t, filepath.Join(dir, "old", "empty", "new"))
	})
}

func TestStaleMetadataIsIgnored(t *testing.T) {
	t.Run("xattr", func(t *testing.T) {
		dir := t.TempDir()
		s := newStore(t, dir, local.MetadataXattr)
		put(t, s, "k", "strata wrote this", &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "b"}})
		// Another program rewrites the file in place: the attribute stays
		// on the inode but describes other content.
		p := filepath.Join(dir, "k")
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		require.NoError(t, err)
		_, err = f.WriteString("someone else wrote this")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		body, info := get(t, s, "k")
		assert.Equal(t, "someone else wrote this", body)
		assert.Equal(t, "", info.SHA256, "the old checksum must not be served")
		assert.Equal(t, "", info.ContentType)
		assert.Nil(t, info.Metadata)
	})
	t.Run("sidecar", func(t *testing.T) {
		dir := t.TempDir()
		s := newStore(t, dir, local.MetadataSidecar)
		put(t, s, "a/k", "strata wrote this", &storage.PutOptions{ContentType: "text/plain"})
		// A crash between writing a sidecar and renaming its data file
		// leaves a sidecar for an inode that is not the object's: it is
		// not served, and Sweep removes it.
		p := filepath.Join(dir, "a", "k")
		fi, err := os.Stat(p)
		require.NoError(t, err)
		ino := fi.Sys().(*syscall.Stat_t).Ino
		sideDir := filepath.Join(dir, metaDir, "a", "k")
		cur, err := os.ReadFile(filepath.Join(sideDir, fmt.Sprintf(`\%d`, ino)))
		require.NoError(t, err)
		require.Contains(t, string(cur), "content-type=text/plain")
		stale := filepath.Join(sideDir, fmt.Sprintf(`\%d`, ino+1000))
		require.NoError(t, os.WriteFile(stale, []byte(strings.ReplaceAll(string(cur), "text/plain", "evil/type")), 0o640))
		_, info := get(t, s, "a/k")
		assert.Equal(t, "text/plain", info.ContentType)

		// A sidecar whose size does not match the file is ignored.
		require.NoError(t, os.WriteFile(p, []byte("rewritten in place by hand"), 0o640))
		require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		_, info = get(t, s, "a/k")
		assert.Equal(t, "", info.ContentType)
		assert.Equal(t, "", info.SHA256)

		old := time.Now().Add(-2 * time.Hour)
		require.NoError(t, os.Chtimes(stale, old, old))
		n, err := s.Sweep(t.Context(), time.Now().Add(-time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		assert.NoFileExists(t, stale)
		assert.FileExists(t, filepath.Join(sideDir, fmt.Sprintf(`\%d`, ino)), "the current sidecar stays")
	})
}

func TestSweep(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		put(t, s, "keep/obj", "x", nil)
		// Leftovers of Puts a crash interrupted, and one in progress.
		old := time.Now().Add(-2 * time.Hour)
		crashed := []string{
			filepath.Join(dir, "keep", `.strata-tmp\00000000000000aa`),
			filepath.Join(dir, "gone", "deep", `.strata-tmp\00000000000000bb`),
			filepath.Join(dir, `.strata-tmp\00000000000000cc`),
		}
		for _, p := range crashed {
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
			require.NoError(t, os.WriteFile(p, []byte("half"), 0o640))
			require.NoError(t, os.Chtimes(p, old, old))
		}
		inProgress := filepath.Join(dir, "keep", `.strata-tmp\00000000000000dd`)
		require.NoError(t, os.WriteFile(inProgress, []byte("half"), 0o640))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "user-empty-dir"), 0o750))

		assert.Equal(t, []string{"keep/obj"}, listKeys(t, s, nil), "leftovers are never listed")
		n, err := s.Sweep(t.Context(), time.Now().Add(-time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		for _, p := range crashed {
			assert.NoFileExists(t, p)
		}
		assert.NoDirExists(t, filepath.Join(dir, "gone"), "directories emptied by Sweep are removed")
		assert.DirExists(t, filepath.Join(dir, "user-empty-dir"), "other empty directories stay")
		assert.FileExists(t, inProgress, "a recent temporary file may be a Put in progress")
		body, _ := get(t, s, "keep/obj")
		assert.Equal(t, "x", body)
	})
}

func TestDelete(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		ctx := t.Context()
		put(t, s, "a/b/c/d", "1", &storage.PutOptions{ContentType: "x/y"})
		put(t, s, "a/x", "2", nil)
		require.NoError(t, s.Delete(ctx, "a/b/c/d"))
		assert.NoDirExists(t, filepath.Join(dir, "a", "b"), "empty parents removed")
		assert.DirExists(t, filepath.Join(dir, "a"), "a non-empty parent stays")
		require.NoError(t, s.Delete(ctx, "a/x"))
		assertEmptyRoot(t, dir)
		assert.DirExists(t, dir, "the root stays")

		// Missing keys, and keys that name directories, delete fine and
		// remove nothing.
		require.NoError(t, s.Delete(ctx, "never/was"))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "plain", "dir"), 0o755))
		require.NoError(t, s.Delete(ctx, "plain/dir"))
		require.NoError(t, s.Delete(ctx, "plain"))
		assert.DirExists(t, filepath.Join(dir, "plain", "dir"))
		// A key under a file is missing too.
		put(t, s, "f", "x", nil)
		require.NoError(t, s.Delete(ctx, "f/g"))
		_, err := s.Stat(ctx, "f/g")
		assert.ErrorIs(t, err, storage.ErrNotFound)

		// Delete then Get fails at the call.
		require.NoError(t, s.Delete(ctx, "f"))
		rc, _, err := s.Get(ctx, "f", nil)
		assert.Nil(t, rc)
		assert.ErrorIs(t, err, storage.ErrNotFound)
		assert.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestPrefixConflicts(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		ctx := t.Context()
		put(t, s, "a", "file a", nil)
		put(t, s, "x/y", "file x/y", nil)
		for _, k := range []string{"a/b", "a/b/c", "x"} {
			for _, ine := range []bool{false, true} {
				_, err := s.Put(ctx, k, strings.NewReader("z"), &storage.PutOptions{IfNotExists: ine})
				require.ErrorIs(t, err, storage.ErrExist, "Put %q", k)
				assert.ErrorIs(t, err, fs.ErrExist)
				assert.ErrorContains(t, err, "cannot")
			}
		}
		_, err := s.Copy(ctx, "a/c", "x/y")
		assert.ErrorIs(t, err, storage.ErrExist)
		body, _ := get(t, s, "a")
		assert.Equal(t, "file a", body)
		body, _ = get(t, s, "x/y")
		assert.Equal(t, "file x/y", body)
		assert.Equal(t, []string{"a", "x/y"}, listKeys(t, s, nil))
		assert.Empty(t, tempFiles(t, dir))
		assert.Empty(t, orphanSidecars(t, dir))
	})
}

func TestIfNotExistsRace(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		for round := range 5 {
			key := fmt.Sprintf("race/%d", round)
			const n = 16
			var wg sync.WaitGroup
			errs := make([]error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					_, errs[i] = s.Put(t.Context(), key, strings.NewReader(fmt.Sprint("writer ", i)),
						&storage.PutOptions{IfNotExists: true, ContentType: fmt.Sprint("w/", i)})
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				if err == nil {
					require.Equal(t, -1, winner, "two writers won")
					winner = i
					continue
				}
				require.ErrorIs(t, err, storage.ErrExist)
			}
			require.NotEqual(t, -1, winner, "no writer won")
			body, info := get(t, s, key)
			assert.Equal(t, fmt.Sprint("writer ", winner), body)
			assert.Equal(t, fmt.Sprint("w/", winner), info.ContentType)
		}
		assert.Empty(t, tempFiles(t, dir))
		assert.Empty(t, orphanSidecars(t, dir))
	})
}

// TestConcurrentOverwrites checks that readers racing writers of one key
// always see one whole version with its own metadata.
func TestConcurrentOverwrites(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s, err := local.New(dir, &local.Options{Metadata: mode, NoSync: true})
		skipWithoutXattr(t, err)
		require.NoError(t, err)
		defer s.Close()
		ctx := t.Context()
		body := func(i int) string { return strings.Repeat(fmt.Sprintf("%04d", i), 2000+i) }
		put(t, s, "k", body(0), &storage.PutOptions{ContentType: "v/0"})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 1; i <= 25; i++ {
					v := w*100 + i
					_, err := s.Put(ctx, "k", strings.NewReader(body(v)), &storage.PutOptions{ContentType: fmt.Sprint("v/", v)})
					assert.NoError(t, err)
				}
			})
		}
		for range 4 {
			wg.Go(func() {
				for range 100 {
					rc, info, err := s.Get(ctx, "k", nil)
					if !assert.NoError(t, err) {
						return
					}
					b, err := io.ReadAll(rc)
					rc.Close()
					assert.NoError(t, err)
					var v int
					_, err = fmt.Sscanf(info.ContentType, "v/%d", &v)
					if assert.NoError(t, err, "content type %q", info.ContentType) {
						assert.Equal(t, body(v), string(b), "body matches its content type")
						assert.Equal(t, sha(string(b)), info.SHA256)
					}
				}
			})
		}
		wg.Wait()
		assert.Empty(t, tempFiles(t, dir))
		assert.Empty(t, orphanSidecars(t, dir))
	})
}

func TestRange(t *testing.T) {
	s := newStore(t, t.TempDir(), local.MetadataAuto)
	put(t, s, "r", "0123456789", nil)
	for _, tc := range []struct {
		r    storage.Range
		want string
	}{
		{storage.Range{Offset: 0, Length: 3}, "012"},
		{storage.Range{Offset: 4, Length: 2}, "45"},
		{storage.Range{Offset: 7}, "789"},
		{storage.Range{Offset: 8, Length: 100}, "89"},
	} {
		rc, info, err := s.Get(t.Context(), "r", &storage.GetOptions{Range: &tc.r})
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(b), "%+v", tc.r)
		assert.Equal(t, int64(10), info.Size, "Info describes the whole object")
	}
	for _, r := range []storage.Range{{Offset: 10}, {Offset: 11, Length: 1}, {Offset: -1}} {
		_, _, err := s.Get(t.Context(), "r", &storage.GetOptions{Range: &r})
		assert.ErrorIs(t, err, storage.ErrInvalidRange, "%+v", r)
	}
}

func TestGetReaderHonoursContext(t *testing.T) {
	s := newStore(t, t.TempDir(), local.MetadataAuto)
	put(t, s, "k", strings.Repeat("x", 1<<20), nil)
	ctx, cancel := context.WithCancel(t.Context())
	rc, _, err := s.Get(ctx, "k", nil)
	require.NoError(t, err)
	defer rc.Close()
	buf := make([]byte, 10)
	_, err = rc.Read(buf)
	require.NoError(t, err)
	cancel()
	_, err = rc.Read(buf)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Stat(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
	_, err = s.Put(ctx, "k2", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, context.Canceled)
	for _, err := range s.List(ctx, nil) {
		assert.ErrorIs(t, err, context.Canceled)
	}
}

func TestCopy(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		dir := t.TempDir()
		s := newStore(t, dir, mode)
		md := map[string]string{"k": "v"}
		put(t, s, "src", "content", &storage.PutOptions{ContentType: "c/t", Metadata: md})
		info, err := s.Copy(t.Context(), "dst/x", "src")
		require.NoError(t, err)
		assert.Equal(t, "dst/x", info.Key)
		body, ginfo := get(t, s, "dst/x")
		assert.Equal(t, "content", body)
		assert.Equal(t, "c/t", ginfo.ContentType)
		assert.Equal(t, md, ginfo.Metadata)
		assert.Equal(t, sha("content"), ginfo.SHA256)
		// Copy onto itself keeps the object.
		_, err = s.Copy(t.Context(), "src", "src")
		require.NoError(t, err)
		body, _ = get(t, s, "src")
		assert.Equal(t, "content", body)
		_, err = s.Copy(t.Context(), "dst/y", "missing")
		assert.ErrorIs(t, err, storage.ErrNotFound)
		_, err = s.Copy(t.Context(), "dst/y", "../x")
		assert.ErrorIs(t, err, storage.ErrInvalidKey)
		_, err = s.Copy(t.Context(), "../y", "src")
		assert.ErrorIs(t, err, storage.ErrInvalidKey)
		assert.Empty(t, tempFiles(t, dir))
	})
}

func TestClose(t *testing.T) {
	s, err := local.New(t.TempDir(), nil)
	require.NoError(t, err)
	put(t, s, "k", "v", nil)
	rc, _, err := s.Get(t.Context(), "k", nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "a reader opened before Close keeps working")
	assert.Equal(t, "v", string(b))
	rc.Close()

	ctx := t.Context()
	_, err = s.Put(ctx, "k", strings.NewReader("x"), nil)
	assert.ErrorIs(t, err, storage.ErrClosed)
	assert.ErrorIs(t, err, fs.ErrClosed)
	_, _, err = s.Get(ctx, "k", nil)
	assert.ErrorIs(t, err, storage.ErrClosed)
	_, err = s.Stat(ctx, "k")
	assert.ErrorIs(t, err, storage.ErrClosed)
	assert.ErrorIs(t, s.Delete(ctx, "k"), storage.ErrClosed)
	_, err = s.Copy(ctx, "a", "k")
	assert.ErrorIs(t, err, storage.ErrClosed)
	_, err = s.Sweep(ctx, time.Now())
	assert.ErrorIs(t, err, storage.ErrClosed)
	n := 0
	for _, err := range s.List(ctx, nil) {
		n++
		assert.ErrorIs(t, err, storage.ErrClosed)
	}
	assert.Equal(t, 1, n)
}

func TestCloseWaitsForPut(t *testing.T) {
	dir := t.TempDir()
	s, err := local.New(dir, nil)
	require.NoError(t, err)
	r := newBlockingReader("data")
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), "k", r, nil)
		done <- err
	}()
	<-r.started
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a Put was in progress")
	case err := <-done:
		t.Fatalf("Put returned early: %v", err)
	default:
	}
	r.release <- nil
	require.NoError(t, <-done)
	<-closed
	b, err := os.ReadFile(filepath.Join(dir, "k"))
	require.NoError(t, err)
	assert.Equal(t, "data", string(b))
}

func TestAutoMetadataMode(t *testing.T) {
	// A root that already holds a sidecar tree keeps using it.
	dir := t.TempDir()
	s, err := local.New(dir, &local.Options{Metadata: local.MetadataSidecar})
	require.NoError(t, err)
	put(t, s, "k", "v", &storage.PutOptions{ContentType: "a/b"})
	s.Close()
	s2 := newStore(t, dir, local.MetadataAuto)
	_, info := get(t, s2, "k")
	assert.Equal(t, "a/b", info.ContentType)

	// Elsewhere auto picks extended attributes when the file system has
	// them, and writes no sidecar tree.
	dir = t.TempDir()
	s3 := newStore(t, dir, local.MetadataAuto)
	put(t, s3, "k", "v", &storage.PutOptions{ContentType: "a/b"})
	if _, err := os.Stat(filepath.Join(dir, metaDir)); err == nil {
		t.Log("this file system has no user extended attributes; auto chose sidecars")
	} else {
		_, info := get(t, s3, "k")
		assert.Equal(t, "a/b", info.ContentType)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		assert.Len(t, entries, 1, "only the object's file")
	}
}

func TestErrorsNameProviderAndKey(t *testing.T) {
	s := newStore(t, t.TempDir(), local.MetadataAuto)
	_, err := s.Stat(t.Context(), "no/such")
	var se *storage.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "local", se.Provider)
	assert.Equal(t, "stat", se.Op)
	assert.Equal(t, "no/such", se.Key)
	var pe *fs.PathError
	assert.ErrorAs(t, err, &pe, "the cause stays in the chain")

	_, err = s.Put(t.Context(), "k", strings.NewReader("x"), &storage.PutOptions{Metadata: map[string]string{"Bad": "x"}})
	assert.ErrorIs(t, err, storage.ErrInvalidArgument)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "local", se.Provider)
}

func TestLargeStreamed(t *testing.T) {
	s := newStore(t, t.TempDir(), local.MetadataAuto)
	const size = 20 << 20
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{3, 4}), size), h)
	info, err := s.Put(t.Context(), "big", struct{ io.Reader }{src}, nil)
	require.NoError(t, err)
	want := hex.EncodeToString(h.Sum(nil))
	assert.Equal(t, want, info.SHA256)
	rc, _, err := s.Get(t.Context(), "big", nil)
	require.NoError(t, err)
	defer rc.Close()
	h2 := sha256.New()
	n, err := io.Copy(h2, rc)
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, want, hex.EncodeToString(h2.Sum(nil)))
}

func TestMutateDuringList(t *testing.T) {
	forModes(t, func(t *testing.T, mode local.MetadataMode) {
		s := newStore(t, t.TempDir(), mode)
		for i := range 20 {
			put(t, s, fmt.Sprintf("d%02d/k", i), "x", nil)
		}
		var seen []string
		for info, err := range s.List(t.Context(), nil) {
			require.NoError(t, err)
			seen = append(seen, info.Key)
			// Deleting what is listed and what is yet to come, and adding
			// behind and ahead, must not break the walk.
			require.NoError(t, s.Delete(t.Context(), info.Key))
			if info.Key == "d05/k" {
				require.NoError(t, s.Delete(t.Context(), "d06/k"))
				put(t, s, "d00/late", "x", nil)
				put(t, s, "d10/new", "x", nil)
			}
		}
		assert.NotContains(t, seen, "d06/k")
		assert.NotContains(t, seen, "d00/late")
		assert.Contains(t, seen, "d10/new")
		assert.True(t, slices.IsSorted(seen))
	})
}
