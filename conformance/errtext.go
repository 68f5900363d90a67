package conformance

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// hostileKeys are invalid keys made to forge a log line or drive a
// terminal when an error message repeats them raw.
var hostileKeys = []struct{ name, key string }{
	{"newline", "a\nlevel=ERROR msg=\"forged entry\""},
	{"crlf", "a\r\nb"},
	{"nul", "a\x00b"},
	{"ansi-colour", "\x1b[31mred\x1b[0m"},
	{"ansi-clear-screen", "x\x1b[2J\x1b[H"},
	{"osc-title", "\x1b]0;owned\x07"},
	{"c1-csi", "a\u009b2Jb"},
	{"del-backspace", "a\x7f\x08b"},
	{"invalid-utf8", "a\xff\xfeb"},
}

// unusualKeys are valid keys beyond ASCII: printable ones, and ones with
// characters that are valid in a key but not printable (a bidi override,
// a line separator, a no-break and a zero-width space).
var unusualKeys = []struct{ name, key string }{
	{"printable-unicode", "ünï/çødé 日本語 🎬 ℌ∑"},
	{"unprintable-unicode", "rtl\u202eevil/line\u2028sep/nb\u00a0sp\u200bzw"},
}

// testErrorText checks that every error is one line of printable text,
// whatever the key holds, and that a key shows in it as a quoted Go string
// literal (strconv.Quote), never raw.
func (s *suite) testErrorText(t *testing.T) {
	t.Run("InvalidKey", func(t *testing.T) {
		for _, tc := range hostileKeys {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s.hostileKeyErrors(t, tc.key)
			})
		}
	})
	t.Run("ValidKey", func(t *testing.T) {
		for _, tc := range unusualKeys {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				s.unusualKeyErrors(t, tc.key)
			})
		}
	})
}

// requireErrorLine fails unless err's message is one line of valid UTF-8
// made of printable characters (strconv.IsPrint: the ASCII space is the
// only space, and no control character).
func requireErrorLine(t *testing.T, err error, what string) {
	t.Helper()
	msg := err.Error()
	if !utf8.ValidString(msg) {
		require.Failf(t, "error is not valid UTF-8", "%s: %q", what, msg)
	}
	for i, r := range msg {
		if !strconv.IsPrint(r) {
			require.Failf(t, "error is not one line of printable text",
				"%s: %U at byte %d; keys and causes must be quoted or escaped (strconv.Quote, %%q): %q", what, r, i, msg)
		}
	}
}

// requireKeyQuoted fails unless err's message names key as strconv.Quote
// does, and holds it nowhere unquoted.
func requireKeyQuoted(t *testing.T, err error, key, what string) {
	t.Helper()
	msg, q := err.Error(), strconv.Quote(key)
	require.Contains(t, msg, q, "%s: the error must name the key as a quoted Go string literal", what)
	if q == `"`+key+`"` && strings.Count(msg, key) != strings.Count(msg, q) {
		require.Failf(t, "key unquoted in an error", "%s: the key shows without quotes in %q", what, msg)
	}
}

// keyCalls are the calls of hostileKeyErrors: each returns the error of
// one operation on key (nil when the provider lacks the ability).
var keyCalls = []struct {
	name  string
	named bool // the error must name the key
	call  func(c context.Context, p storage.Provider, key string) error
}{
	{"Put", true, func(c context.Context, p storage.Provider, key string) error {
		_, err := p.Put(c, key, strings.NewReader("data"), nil)
		return err
	}},
	{"PutIfNotExists", true, func(c context.Context, p storage.Provider, key string) error {
		_, err := p.Put(c, key, strings.NewReader("data"), &storage.PutOptions{IfNotExists: true})
		return err
	}},
	{"Get", true, func(c context.Context, p storage.Provider, key string) error {
		rc, _, err := p.Get(c, key, nil)
		if rc != nil {
			rc.Close()
		}
		return err
	}},
	{"GetRange", true, func(c context.Context, p storage.Provider, key string) error {
		rc, _, err := p.Get(c, key, &storage.GetOptions{Range: &storage.Range{Offset: 1, Length: 1}})
		if rc != nil {
			rc.Close()
		}
		return err
	}},
	{"Stat", true, func(c context.Context, p storage.Provider, key string) error {
		_, err := p.Stat(c, key)
		return err
	}},
	{"Delete", true, func(c context.Context, p storage.Provider, key string) error { return p.Delete(c, key) }},
	{"ListPrefix", false, func(c context.Context, p storage.Provider, key string) error {
		return listError(c, p, &storage.ListOptions{Prefix: key})
	}},
	{"ListStartAfter", false, func(c context.Context, p storage.Provider, key string) error {
		return listError(c, p, &storage.ListOptions{StartAfter: key})
	}},
	{"CopyTo", false, func(c context.Context, p storage.Provider, key string) error {
		cp, ok := p.(storage.Copier)
		if !ok {
			return nil
		}
		_, err := cp.Copy(c, key, "valid")
		return err
	}},
	{"CopyFrom", false, func(c context.Context, p storage.Provider, key string) error {
		cp, ok := p.(storage.Copier)
		if !ok {
			return nil
		}
		_, err := cp.Copy(c, "valid-copy", key)
		return err
	}},
	{"PresignGet", false, func(c context.Context, p storage.Provider, key string) error {
		ps, ok := p.(storage.Presigner)
		if !ok {
			return nil
		}
		_, err := ps.PresignGet(c, key, time.Minute)
		return err
	}},
}

// listError ranges over a listing and returns its error, if any.
func listError(c context.Context, p storage.Provider, opts *storage.ListOptions) error {
	for _, err := range p.List(c, opts) {
		if err != nil {
			return err
		}
	}
	return nil
}

// hostileKeyErrors passes an invalid key full of control bytes to every
// operation, before and after Close: every error is one line of printable
// text, and those of Put, Get, Stat and Delete name the key quoted.
func (s *suite) hostileKeyErrors(t *testing.T, key string) {
	require.Error(t, storage.ValidKey(key), "the suite's own key %q", key)
	p := s.provider(t)
	c := ctx(t)
	putString(t, p, "valid", "v")
	check := func(t *testing.T) {
		for _, kc := range keyCalls {
			err := kc.call(c, p, key)
			if err == nil {
				continue // List of an odd prefix may find nothing; an ability may be missing
			}
			what := kc.name + " " + strconv.Quote(key)
			requireErrorLine(t, err, what)
			if kc.named {
				requireKeyQuoted(t, err, key, what)
			}
		}
	}
	check(t)
	require.Equal(t, []string{"valid"}, listKeys(t, p, nil), "List after refused writes of %q", key)
	require.NoError(t, p.Close())
	check(t)
}

// unusualKeyErrors makes errors about a valid key of unusual characters
// (missing, already there, missing copy source): each is one line of
// printable text and names the key quoted.
func (s *suite) unusualKeyErrors(t *testing.T, key string) {
	require.NoError(t, storage.ValidKey(key), "the suite's own key %q", key)
	p := s.provider(t)
	c := ctx(t)
	errs := map[string]error{}
	_, errs["Stat missing"] = p.Stat(c, key)
	rc, _, err := p.Get(c, key, nil)
	if rc != nil {
		rc.Close()
	}
	errs["Get missing"] = err
	if cp, ok := p.(storage.Copier); ok && s.h.Copy {
		_, errs["Copy from missing"] = cp.Copy(c, "dst", key)
	}
	putString(t, p, key, "data")
	_, errs["Put with IfNotExists over it"] = p.Put(c, key, strings.NewReader("x"), &storage.PutOptions{IfNotExists: true})
	rc, _, errs["Get past its end"] = p.Get(c, key, &storage.GetOptions{Range: &storage.Range{Offset: 100}})
	if rc != nil {
		rc.Close()
	}
	_, err = p.Put(c, key, &failingReader{r: RandomReader(1, 100), n: 10, err: errReader}, nil)
	require.Error(t, err, "Put %q with a failing reader", key)
	requireErrorLine(t, err, "Put "+strconv.Quote(key)+" with a failing reader") // it may be the reader's error alone
	require.NoError(t, p.Delete(c, key))
	for what, err := range errs {
		what += " " + strconv.Quote(key)
		require.Error(t, err, what)
		requireErrorLine(t, err, what)
		requireKeyQuoted(t, err, key, what)
	}
}
