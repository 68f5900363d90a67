package storage_test

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/strata-storage/strata/storage"
)

// referenceValidKey is the key rule written out the plain way, one rune at
// a time, to check storage.ValidKey against.
func referenceValidKey(key string) bool {
	if len(key) == 0 || len(key) > storage.MaxKeyLen {
		return false
	}
	segment := ""
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		if r == utf8.RuneError && size <= 1 {
			return false // invalid UTF-8
		}
		i += size
		switch {
		case r <= 0x1f, r >= 0x7f && r <= 0x9f:
			return false // control character
		case r == '\\':
			return false
		case r == '/':
			if segment == "" || segment == "." || segment == ".." || len(segment) > storage.MaxSegmentLen {
				return false // leading slash, empty, "." or ".." segment, or too long
			}
			segment = ""
		default:
			segment += string(r)
		}
	}
	return segment != "" && segment != "." && segment != ".." && len(segment) <= storage.MaxSegmentLen
}

// FuzzValidKey checks that storage.ValidKey never panics, that every key
// it accepts keeps each rule of the contract (each checked on its own,
// with other code than ValidKey's), that every key it rejects gets an
// error matching storage.ErrInvalidKey, and that it agrees with
// referenceValidKey.
func FuzzValidKey(f *testing.F) {
	for _, k := range []string{
		"a", "a/b", "local_content/ab/cd/efgh", ".hidden", "a/.b", "a..b", "...", "x/.../y", " ", "é",
		"日本語/ファイル", "emoji/🎉", "%2F", "a+b?c#d", strings.Repeat("k", storage.MaxKeyLen),
		"", "/", "/a", "a/", "a//b", ".", "..", "./a", "a/.", "a/./b", "../a", "a/..", `a\b`, `..\a`,
		"a\x00b", "a\nb", "a\x1fb", "a\x7fb", "a\u0085b", "a\u009fb", "a\u00a0b", "a\xffb", "a\xe6\x97",
		"\xed\xa0\x80", "\xef\xbf\xbd", strings.Repeat("k", storage.MaxKeyLen+1), strings.Repeat("é", 512),
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := storage.ValidKey(key)
		if again := storage.ValidKey(key); (again == nil) != (err == nil) {
			t.Fatalf("ValidKey(%q) is not deterministic", key)
		}
		if ref := referenceValidKey(key); ref != (err == nil) {
			t.Fatalf("ValidKey(%q) = %v, reference says valid=%v", key, err, ref)
		}
		if err != nil {
			if !errors.Is(err, storage.ErrInvalidKey) || !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("ValidKey(%q) = %v, which does not match ErrInvalidKey", key, err)
			}
			var se *storage.Error
			if !errors.As(err, &se) || se.Key != key || se.Err == nil {
				t.Fatalf("ValidKey(%q) = %#v, want a *storage.Error naming the key and the reason", key, err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("ValidKey(%q) error text is not valid UTF-8: %q", key, err.Error())
			}
			return
		}
		// Every rule, checked on its own.
		if len(key) < 1 || len(key) > storage.MaxKeyLen {
			t.Fatalf("accepted %q of %d bytes", key, len(key))
		}
		if !utf8.ValidString(key) {
			t.Fatalf("accepted invalid UTF-8 %q", key)
		}
		if strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "//") {
			t.Fatalf("accepted %q with a leading, trailing or double slash", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || len(seg) > storage.MaxSegmentLen {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		if strings.ContainsFunc(key, unicode.IsControl) {
			t.Fatalf("accepted %q with a control character", key)
		}
		if strings.ContainsRune(key, '\\') || strings.ContainsRune(key, 0) {
			t.Fatalf("accepted %q with a backslash or NUL", key)
		}
		// Consequences a provider relies on: the key is a clean, relative
		// slash path that cannot climb out of a directory.
		if path.Clean(key) != key || path.IsAbs(key) || !fs.ValidPath(key) {
			t.Fatalf("accepted %q, which is not a clean relative path", key)
		}
		if joined := path.Join("root", key); !strings.HasPrefix(joined, "root/") {
			t.Fatalf("accepted %q, which leaves its directory: %q", key, joined)
		}
	})
}
