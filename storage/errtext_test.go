package storage_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// requirePrintableLine fails unless s is one line of valid UTF-8 made of
// printable characters (strconv.IsPrint, which admits the ASCII space and
// no other space or control character).
func requirePrintableLine(t *testing.T, s string) {
	t.Helper()
	require.True(t, utf8.ValidString(s), "not valid UTF-8: %q", s)
	for i, r := range s {
		if !strconv.IsPrint(r) {
			require.Failf(t, "unprintable character in an error", "%U at byte %d of %q", r, i, s)
		}
	}
}

// TestErrorTextIsOneLine: whatever a key holds, the error that names it is
// one line of printable text, so it cannot forge log lines or drive a
// terminal, and the key shows as a Go string literal.
func TestErrorTextIsOneLine(t *testing.T) {
	keys := []string{
		"a\nlevel=ERROR msg=forged",
		"a\r\nb",
		"a\x00b",
		"\x1b[31mred\x1b[0m",
		"\x1b]0;title\x07",
		"a\x7fb\u0085c\u009b2J",
		"a\xffb\xe6\x97",
		"rtl\u202eevil/line\u2028sep\u2029",
		"tab\tkey",
	}
	for _, key := range keys {
		err := storage.ValidKey(key)
		if err != nil {
			assert.ErrorIs(t, err, storage.ErrInvalidKey)
		} else { // valid, with characters that are not printable
			err = storage.NewError("stat", "test", key, storage.ErrNotFound, nil)
		}
		requirePrintableLine(t, err.Error())
		assert.Contains(t, err.Error(), strconv.Quote(key), "the key, quoted")
	}
}

// TestErrorTextCause: a cause whose message repeats the key raw (a
// PathError, a server's message) or spans lines (errors.Join) is escaped
// too; printable text, quotes and backslashes in it are left as they are.
func TestErrorTextCause(t *testing.T) {
	key := "a\u2028\u202e" // valid, but a line separator and a bidi override
	cause := errors.Join(
		&fs.PathError{Op: "open", Path: "/srv/a\u2028\u202e\nx\x1b[2J", Err: fs.ErrNotExist},
		fmt.Errorf("server said %s", "\"quoted\" back\\slash é 日本 \xff\ufffd"))
	err := storage.NewError("get", "test", key, storage.ErrNotFound, cause)
	msg := err.Error()
	requirePrintableLine(t, msg)
	assert.Equal(t, `test get "a\u2028\u202e": object not found: `+
		`open /srv/a\u2028\u202e\nx\x1b[2J: file does not exist\nserver said "quoted" back\slash é 日本 \xff`+"\ufffd", msg)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/srv/a\u2028\u202e\nx\x1b[2J", pe.Path, "the cause itself is untouched")

	// a key too long to show whole is cut on a character boundary
	long := strings.Repeat("é", 150) + "\n"
	msg = storage.NewError("put", "test", long, storage.ErrInvalidKey, nil).Error()
	requirePrintableLine(t, msg)
	assert.Contains(t, msg, `"`+strings.Repeat("é", 100)+`"...`)
	assert.NotContains(t, msg, "\\n")
}

// TestErrorTextPathCause: the paths of a file system error, which are keys
// for a provider on disk, are quoted as the key is.
func TestErrorTextPathCause(t *testing.T) {
	err := storage.NewError("stat", "local", "a b: c", storage.ErrNotFound,
		&fs.PathError{Op: "openat", Path: "a b: c", Err: fs.ErrNotExist})
	assert.Equal(t, `local stat "a b: c": object not found: openat "a b: c": file does not exist`, err.Error())
	err = storage.NewError("put", "local", "new\u2028", nil,
		&os.LinkError{Op: "renameat2", Old: ".tmp-1", New: "new\u2028", Err: fs.ErrExist})
	assert.Equal(t, `local put "new\u2028": renameat2 ".tmp-1" "new\u2028": file already exists`, err.Error())
}
