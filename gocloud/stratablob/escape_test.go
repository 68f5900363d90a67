package stratablob

import (
	"strings"
	"testing"
	"unicode/utf8"

	"gocloud.dev/gcerrors"

	"github.com/strata-storage/strata/storage"
)

// weirdKeys are keys strata refuses, or that look like escapes.
var weirdKeys = []string{
	"foo//bar///baz",
	"../foo/../bar/../../baz../",
	"..\\foo\\\\bar\\\\\\baz",
	"/leading",
	"trailing/",
	"/",
	"//",
	".",
	"..",
	"a/./b",
	"ctl\x00\x01\x1f\x7f\u0080\u009f",
	"__0x",
	"__0x__",
	"__0x5c__",
	"__0x5c",
	"___0x41__",
	"a__0x-__/b",
	"__0x-__",
	"__0x2e__",
	"_/__/___",
	"__0x0__0x1",
	"__0xZZ__",
	"a\\__0x",
	strings.Repeat("x", 251),
	strings.Repeat("x", 243) + "__0x-__",
	strings.Repeat("x", 242) + "\\",
	strings.Repeat("_", 300),
	strings.Repeat("__0x", 40),
	strings.Repeat("\\", 100),
	strings.Repeat("y", 600) + "/z/" + strings.Repeat("__0x41__", 20),
	strings.Repeat("☺", 100),
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, k := range weirdKeys {
		nk, err := escapeKey(k)
		if err != nil {
			t.Errorf("escapeKey(%q): %v", k, err)
			continue
		}
		if err := storage.ValidKey(nk); err != nil {
			t.Errorf("escapeKey(%q) = %q, not a valid strata key: %v", k, nk, err)
		}
		if got := unescapeKey(nk); got != k {
			t.Errorf("unescapeKey(escapeKey(%q) = %q) = %q", k, nk, got)
		}
		if strings.Count(nk, "/") < strings.Count(k, "/") {
			t.Errorf("escapeKey(%q) = %q lost a /", k, nk)
		}
	}
}

// Valid strata keys are stored under their own name, so that a bucket sees
// what strata programs wrote.
func TestEscapeIdentityOnValidKeys(t *testing.T) {
	for _, k := range []string{
		"a", "media/2024/cat.jpg", "a b/c d", "☺/☺", "50% off", "100%.jpg", "report%20final.pdf", "%41%2E%5C",
		"snake_case/__init__.py", "0x1f", "_0x41_", "__0", "..a/b..", "...",
		strings.Repeat("x", storage.MaxSegmentLen) + "/y",
	} {
		if err := storage.ValidKey(k); err != nil {
			t.Fatalf("test key %q: %v", k, err)
		}
		nk, err := escapeKey(k)
		if err != nil || nk != k {
			t.Errorf("escapeKey(%q) = %q, %v; want it unchanged", k, nk, err)
		}
	}
}

func TestEscapeRefuses(t *testing.T) {
	for _, k := range []string{"", "bad\xff", strings.Repeat("a/", storage.MaxKeyLen/2+1)} {
		if _, err := escapeKey(k); err == nil || errorCode(err) != gcerrors.InvalidArgument {
			t.Errorf("escapeKey(%q) = %v, want an InvalidArgument error", k, err)
		}
	}
}

// Every key that escapes a key with prefix p starts with escapePrefix(p):
// listings by prefix find them all.
func TestEscapePrefix(t *testing.T) {
	keys := append([]string{}, weirdKeys...)
	keys = append(keys, "a/b/c", "a/bc", "a/b/", "a/.", "a/..", "a/.x", "a__0x41", "a_", "a__0", "a__0x")
	for _, k := range keys {
		nk, err := escapeKey(k)
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(k) + 1 {
			if !utf8.ValidString(k[:i]) {
				continue
			}
			if np := escapePrefix(k[:i]); !strings.HasPrefix(nk, np) {
				t.Errorf("escapeKey(%q) = %q does not start with escapePrefix(%q) = %q", k, nk, k[:i], np)
			}
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, k := range weirdKeys {
		f.Add(k, 3)
	}
	f.Fuzz(func(t *testing.T, k string, cut int) {
		nk, err := escapeKey(k)
		if err != nil {
			return
		}
		if err := storage.ValidKey(nk); err != nil {
			t.Fatalf("escapeKey(%q) = %q: %v", k, nk, err)
		}
		if got := unescapeKey(nk); got != k {
			t.Fatalf("unescapeKey(escapeKey(%q) = %q) = %q", k, nk, got)
		}
		if cut < 0 || cut > len(k) || !utf8.ValidString(k[:cut]) {
			return
		}
		if np := escapePrefix(k[:cut]); !strings.HasPrefix(nk, np) {
			t.Fatalf("escapeKey(%q) = %q does not start with escapePrefix(%q) = %q", k, nk, k[:cut], np)
		}
	})
}

func TestMetadataRoundTrip(t *testing.T) {
	for _, md := range []map[string]string{
		{"foo": "bar"},
		{"key_a": "value-a", "Upper": "x"},
		{"gocloud-md-0": "looks packed"},
		{"a=b&c": "%41 ☺\x00", "": "empty key"},
		{"k1": "1", "k2": "2", "k3": "3", "k4": "4", "k5": "5", "k6": "6", "k7": "7", "k8": "8", "k9": "9", "k10": "10"},
		{"long": strings.Repeat("v", 1500)},
	} {
		enc, err := encodeMetadata(md)
		if err != nil {
			t.Errorf("encodeMetadata(%q): %v", md, err)
			continue
		}
		if err := storage.ValidMetadata(enc); err != nil {
			t.Errorf("encodeMetadata(%q) = %q: %v", md, enc, err)
		}
		got := decodeMetadata(enc)
		if len(got) != len(md) {
			t.Errorf("decodeMetadata(%q) = %q, want %q", enc, got, md)
		}
		for k, v := range md {
			if got[k] != v {
				t.Errorf("decodeMetadata(%q)[%q] = %q, want %q", enc, k, got[k], v)
			}
		}
	}
	// Metadata strata can store is stored as it is.
	if enc, _ := encodeMetadata(map[string]string{"foo": "bar"}); len(enc) != 1 || enc["foo"] != "bar" {
		t.Errorf("encodeMetadata(foo: bar) = %q, want it as it is", enc)
	}
	if _, err := encodeMetadata(map[string]string{"big": strings.Repeat("v", 3000)}); err == nil {
		t.Error("encodeMetadata of 3000 bytes succeeded, want an error")
	}
	if _, err := encodeMetadata(map[string]string{"k": "\xff"}); err == nil {
		t.Error("encodeMetadata of invalid UTF-8 succeeded, want an error")
	}
}
