package conformance

import (
	"bytes"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

var (
	errNotExist = fs.ErrNotExist
	errExist    = fs.ErrExist
)

// badKeys are keys every provider must refuse with ErrInvalidKey.
var badKeys = []struct{ name, key string }{
	{"empty", ""},
	{"slash", "/"},
	{"leading-slash", "/a"},
	{"trailing-slash", "a/"},
	{"double-slash", "a//b"},
	{"dot", "."},
	{"dotdot", ".."},
	{"dot-first", "./a"},
	{"dot-last", "a/."},
	{"dot-middle", "a/./b"},
	{"dotdot-first", "../a"},
	{"dotdot-last", "a/.."},
	{"dotdot-escape", "a/../../etc/passwd"},
	{"nul", "a\x00b"},
	{"newline", "a\nb"},
	{"carriage-return", "a\rb"},
	{"tab", "a\tb"},
	{"escape", "a\x1bb"},
	{"del", "a\x7fb"},
	{"c1-control", "a\u0085b"},
	{"backslash", `a\b`},
	{"backslash-dotdot", `..\a`},
	{"invalid-utf8", "a\xffb"},
	{"truncated-utf8", "a\xe6\x97"},
	{"too-long", strings.Repeat("k", storage.MaxKeyLen+1)},
	{"too-long-multibyte", strings.Repeat("é", storage.MaxKeyLen/2) + "x"},
}

// oddKeys are unusual keys every provider must store and return as they
// are.
var oddKeys = []struct{ name, key string }{
	{"unicode", "日本語/ファイル名.txt"},
	{"emoji-4-byte", "emoji/🎉𝄞.png"},
	{"right-to-left", "עברית/ملف"},
	{"nfc", "caf\u00e9"},
	{"nfd", "cafe\u0301"},
	{"space", "a b/c d.txt"},
	{"leading-trailing-space", " padded "},
	{"dots-in-name", "archive.tar.gz"},
	{"hidden", ".hidden"},
	{"hidden-nested", "dir/.hidden"},
	{"dotdot-inside", "a..b"},
	{"dots-around", "..a/b.."},
	{"three-dots", "x/.../y"},
	{"leading-dash", "-rf"},
	{"upper-case", "UPPER/Case.TXT"},
	{"percent", "100%.txt"},
	{"percent-encoded-slash", "a%2Fb"},
	{"percent-encoded-percent", "a%25b"},
	{"plus", "a+b"},
	{"question-mark", "what?x=1"},
	{"hash", "frag#ment"},
	{"ampersand-equals", "a&b=c"},
	{"ascii-punctuation", "p !\"#$%&'()*+,-.:;<=>?@[]^_`{|}~"},
	{"single-byte", "x"},
	{"deep", strings.Repeat("d/", 40) + "leaf"},
	{"long-segment-250", strings.Repeat("s", 250)}, // MinIO refuses segments over 251 bytes, ext4 over 255
	{"max-length-1024", longKey(storage.MaxKeyLen)},
	{"synapse-media", "local_content/ab/cd/efghijklmnopqrstuvwx"},
}

// longKey returns a valid key of exactly n bytes made of segments short
// enough for any file system (at most 100 bytes each).
func longKey(n int) string {
	var b strings.Builder
	for b.Len() < n {
		seg := min(100, n-b.Len())
		if b.Len() > 0 {
			b.WriteByte('/')
			seg = min(100, n-b.Len())
		}
		if seg == 0 { // a trailing slash would be invalid; lengthen the last segment
			s := b.String()
			return s[:len(s)-1] + "k"
		}
		b.WriteString(strings.Repeat("k", seg))
	}
	return b.String()
}

func (s *suite) testKeys(t *testing.T) {
	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range badKeys {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s.invalidKey(t, tc.key)
			})
		}
	})
	t.Run("Valid", func(t *testing.T) {
		for _, tc := range oddKeys {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s.oddKey(t, tc.key)
			})
		}
	})
	t.Run("CaseSensitive", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		putString(t, p, "File.txt", "upper")
		putString(t, p, "file.txt", "lower")
		requireContent(t, p, "File.txt", []byte("upper"))
		requireContent(t, p, "file.txt", []byte("lower"))
		require.Equal(t, []string{"File.txt", "file.txt"}, listKeys(t, p, nil))
	})
	t.Run("UnicodeFormsDistinct", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		nfc, nfd := "caf\u00e9", "cafe\u0301"
		putString(t, p, nfc, "nfc")
		putString(t, p, nfd, "nfd")
		requireContent(t, p, nfc, []byte("nfc"))
		requireContent(t, p, nfd, []byte("nfd"))
		require.Equal(t, []string{nfd, nfc}, listKeys(t, p, nil), "keys are bytes: no Unicode normalisation")
	})
	t.Run("ObjectAndPrefix", func(t *testing.T) {
		t.Parallel()
		s.objectAndPrefix(t)
	})
}

// invalidKey checks that every method refuses key with ErrInvalidKey and
// that nothing is written.
func (s *suite) invalidKey(t *testing.T, key string) {
	p := s.provider(t)
	c := ctx(t)
	_, err := p.Put(c, key, strings.NewReader("data"), nil)
	requireErrorIs(t, err, storage.ErrInvalidKey, "Put %q", key)
	_, err = p.Put(c, key, strings.NewReader("data"), &storage.PutOptions{IfNotExists: true})
	requireErrorIs(t, err, storage.ErrInvalidKey, "Put %q with IfNotExists", key)
	rc, _, err := p.Get(c, key, nil)
	if rc != nil {
		rc.Close()
	}
	requireErrorIs(t, err, storage.ErrInvalidKey, "Get %q", key)
	_, err = p.Stat(c, key)
	requireErrorIs(t, err, storage.ErrInvalidKey, "Stat %q", key)
	err = p.Delete(c, key)
	requireErrorIs(t, err, storage.ErrInvalidKey, "Delete %q", key)
	if cp, ok := p.(storage.Copier); ok && s.h.Copy {
		putString(t, p, "valid", "v")
		_, err = cp.Copy(c, key, "valid")
		requireErrorIs(t, err, storage.ErrInvalidKey, "Copy to %q", key)
		_, err = cp.Copy(c, "valid2", key)
		requireErrorIs(t, err, storage.ErrInvalidKey, "Copy from %q", key)
		requireMissing(t, p, "valid2")
		require.NoError(t, p.Delete(c, "valid"))
	}
	if ps, ok := p.(storage.Presigner); ok && s.h.Presign {
		_, err = ps.PresignGet(c, key, presignExpiry)
		requireErrorIs(t, err, storage.ErrInvalidKey, "PresignGet %q", key)
	}
	require.Empty(t, listKeys(t, p, nil), "List after refused writes of %q", key)
}

// oddKey checks that an unusual but valid key round-trips through every
// method.
func (s *suite) oddKey(t *testing.T, key string) {
	require.NoError(t, storage.ValidKey(key), "the suite's own key %q", key)
	p := s.provider(t)
	c := ctx(t)
	data := []byte("content of " + key)
	put(t, p, key, data, &storage.PutOptions{ContentType: "text/plain"})
	info := requireContent(t, p, key, data)
	require.Equal(t, key, info.Key)
	require.Equal(t, "text/plain", info.ContentType)
	require.Equal(t, []string{key}, listKeys(t, p, nil), "List all")
	require.Equal(t, []string{key}, listKeys(t, p, &storage.ListOptions{Prefix: key}), "List with the key as prefix")

	if ps, ok := p.(storage.Presigner); ok && s.h.Presign {
		u, err := ps.PresignGet(c, key, presignExpiry)
		require.NoError(t, err, "PresignGet %q", key)
		status, body := s.fetch(t, u)
		require.Equal(t, 200, status, "GET of the presigned URL of %q", key)
		require.Equal(t, data, body, "GET of the presigned URL of %q", key)
	}
	if cp, ok := p.(storage.Copier); ok && s.h.Copy {
		_, err := cp.Copy(c, "copy", key)
		require.NoError(t, err, "Copy from %q", key)
		requireContent(t, p, "copy", data)
		require.NoError(t, p.Delete(c, key))
		_, err = cp.Copy(c, key, "copy")
		require.NoError(t, err, "Copy to %q", key)
		requireContent(t, p, key, data)
		require.NoError(t, p.Delete(c, "copy"))
	}

	require.NoError(t, p.Delete(c, key), "Delete %q", key)
	requireMissing(t, p, key)
	require.Empty(t, listKeys(t, p, nil), "List after Delete %q", key)
}

// objectAndPrefix stores "a" and "a/b": S3 and B2 hold both; a store laid
// out as directories (Harness.PrefixConflicts) must refuse the second with
// ErrExist and keep the first.
func (s *suite) objectAndPrefix(t *testing.T) {
	p := s.provider(t)
	c := ctx(t)
	if !s.h.PrefixConflicts {
		putString(t, p, "a", "file a")
		putString(t, p, "a/b", "file a/b")
		putString(t, p, "a/b/c", "file a/b/c")
		requireContent(t, p, "a", []byte("file a"))
		requireContent(t, p, "a/b", []byte("file a/b"))
		requireContent(t, p, "a/b/c", []byte("file a/b/c"))
		require.Equal(t, []string{"a", "a/b", "a/b/c"}, listKeys(t, p, nil))
		require.Equal(t, []string{"a/b", "a/b/c"}, listKeys(t, p, &storage.ListOptions{Prefix: "a/"}))
		require.NoError(t, p.Delete(c, "a/b"))
		require.Equal(t, []string{"a", "a/b/c"}, listKeys(t, p, nil))
		for _, k := range []string{"a", "a/b/c"} {
			require.NoError(t, p.Delete(c, k))
		}
		return
	}
	// An object where a "directory" is needed, and a "directory" where an
	// object is needed.
	putString(t, p, "a", "file a")
	_, err := p.Put(c, "a/b", strings.NewReader("x"), nil)
	requireErrorIs(t, err, storage.ErrExist, `Put "a/b" over the object "a" (Harness.PrefixConflicts)`)
	_, err = p.Put(c, "a/b/c", strings.NewReader("x"), &storage.PutOptions{IfNotExists: true})
	requireErrorIs(t, err, storage.ErrExist, `Put "a/b/c" with IfNotExists over the object "a" (Harness.PrefixConflicts)`)
	requireContent(t, p, "a", []byte("file a"))
	putString(t, p, "d/e", "file d/e")
	_, err = p.Put(c, "d", strings.NewReader("x"), nil)
	requireErrorIs(t, err, storage.ErrExist, `Put "d" over the prefix "d/" (Harness.PrefixConflicts)`)
	requireContent(t, p, "d/e", []byte("file d/e"))
	if cp, ok := p.(storage.Copier); ok && s.h.Copy {
		_, err = cp.Copy(c, "a/c", "d/e")
		requireErrorIs(t, err, storage.ErrExist, `Copy to "a/c" under the object "a" (Harness.PrefixConflicts)`)
		_, err = cp.Copy(c, "d", "a")
		requireErrorIs(t, err, storage.ErrExist, `Copy to "d" over the prefix "d/" (Harness.PrefixConflicts)`)
	}
	require.Equal(t, []string{"a", "d/e"}, listKeys(t, p, nil))
}

// readAll reads rc to the end and closes it.
func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := io.Copy(&buf, rc)
	require.NoError(t, err, "reading")
	require.NoError(t, rc.Close(), "closing the reader")
	return buf.Bytes()
}
