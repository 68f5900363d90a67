package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kindError is a sentinel error that also matches a standard library error,
// so that errors.Is(storage.ErrNotFound, fs.ErrNotExist) holds.
type kindError struct {
	msg string
	std error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() error { return e.std }

// The error values every provider wraps. Match them with errors.Is.
var (
	// ErrNotFound means no object is stored under the key. It is returned
	// only for a definite not-found (an S3 404 NoSuchKey, a missing file),
	// never guessed from a 403 or a timeout. It matches fs.ErrNotExist.
	ErrNotFound error = &kindError{"object not found", fs.ErrNotExist}
	// ErrExist means an object is already stored under the key and Put was
	// called with IfNotExists. It matches fs.ErrExist.
	ErrExist error = &kindError{"object already exists", fs.ErrExist}
	// ErrInvalidKey means the key breaks the rules of ValidKey.
	ErrInvalidKey error = &kindError{"invalid key", fs.ErrInvalid}
	// ErrInvalidArgument means an argument other than the key is not
	// acceptable: metadata that breaks ValidMetadata, a bad option, a
	// malformed URL.
	ErrInvalidArgument error = &kindError{"invalid argument", fs.ErrInvalid}
	// ErrInvalidRange means a byte range starts at or past the end of the
	// object.
	ErrInvalidRange error = &kindError{"invalid range", nil}
	// ErrSizeMismatch means the reader given to Put yielded a different
	// number of bytes than PutOptions.Size promised. Nothing is stored.
	ErrSizeMismatch error = &kindError{"size mismatch", nil}
	// ErrUnsupported means the provider does not offer the ability asked
	// for. It matches errors.ErrUnsupported.
	ErrUnsupported error = &kindError{"unsupported", errors.ErrUnsupported}
	// ErrClosed means the provider was closed. It matches fs.ErrClosed.
	ErrClosed error = &kindError{"provider closed", fs.ErrClosed}
	// ErrPermission means the store refused the operation (an S3 403 Access
	// Denied, a file the process may not read). It matches fs.ErrPermission.
	ErrPermission error = &kindError{"permission denied", fs.ErrPermission}
	// ErrUnavailable means the store could not be reached or answered with
	// a server error: an outage, never a not-found. Callers may retry.
	ErrUnavailable error = &kindError{"store unavailable", nil}
	// ErrCorrupt means stored content failed an integrity check (its
	// checksum does not match what was written).
	ErrCorrupt error = &kindError{"content corrupt", nil}
	// ErrTooLarge means an object, key or metadata is over a size limit.
	ErrTooLarge error = &kindError{"too large", nil}
	// ErrChanged means the object was replaced while it was being read in
	// several requests (an [ObjectReader] that seeks): the bytes already
	// read and those still to come belong to two different objects. Start
	// again from the beginning.
	ErrChanged error = &kindError{"object changed while it was read", nil}
)

// Error is the error type providers return. It names the operation, the
// provider and the key, and unwraps to both a sentinel (Kind) and the
// underlying cause, so errors.Is(err, storage.ErrNotFound) and
// errors.As(err, &someSDKError) both work.
//
// Error strings never contain credentials: providers put only keys, bucket
// names and the cause's message in them. An error string is always one line
// of printable text, whatever the key holds, so that a key from a user
// cannot forge log lines or send escape sequences to a terminal: the key is
// shown as a Go string literal (strconv.Quote, cut after 200 bytes), so
// are the paths of a cause that is an *fs.PathError or *os.LinkError, and
// any other character of the cause's message that is not printable (a
// newline, an ESC, a line separator, a byte of invalid UTF-8) is written as
// its Go escape sequence.
type Error struct {
	// Op is the operation that failed: "put", "get", "stat", "delete",
	// "list", "open", ...
	Op string
	// Provider names the provider, such as "local" or "s3".
	Provider string
	// Key is the object key, or "" when the error is not about one key.
	Key string
	// Kind is one of the sentinel errors of this package, or nil.
	Kind error
	// Err is the underlying cause, or nil.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.Op != "" {
		b.WriteString(" ")
		b.WriteString(e.Op)
	}
	if e.Key != "" {
		b.WriteString(" ")
		b.WriteString(quoteKey(e.Key))
	}
	b.WriteString(": ")
	switch {
	case e.Kind != nil && e.Err != nil:
		writePrintable(&b, e.Kind.Error())
		b.WriteString(": ")
		writeCause(&b, e.Err)
	case e.Kind != nil:
		writePrintable(&b, e.Kind.Error())
	case e.Err != nil:
		writeCause(&b, e.Err)
	default:
		b.WriteString("unknown error")
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// NewError returns an *Error for op on key by provider, of the given kind
// (a sentinel of this package, or nil) with cause. Context errors in cause
// stay matchable with errors.Is. When cause is nil and kind is nil, NewError
// returns nil.
func NewError(op, provider, key string, kind, cause error) error {
	if kind == nil && cause == nil {
		return nil
	}
	return &Error{Op: op, Provider: provider, Key: key, Kind: kind, Err: cause}
}

// IsContextError reports whether err is (or wraps) context.Canceled or
// context.DeadlineExceeded.
func IsContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// maxQuotedKey is how much of a key, in bytes, an error shows.
const maxQuotedKey = 200

// quoteKey returns key as error messages show it: a double-quoted Go string
// literal (as strconv.Quote makes it, so control characters, characters
// that are not printable and invalid UTF-8 are escaped), of at most the
// first 200 bytes of key, cut between two characters and followed by "..."
// when key is longer. A provider that writes a key into a message of its
// own uses %q, never the raw key.
func quoteKey(key string) string {
	if len(key) <= maxQuotedKey {
		return strconv.Quote(key)
	}
	cut := maxQuotedKey
	for cut > maxQuotedKey-utf8.UTFMax && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return strconv.Quote(key[:cut]) + "..."
}

// writeCause writes the message of err: that of an *fs.PathError or an
// *os.LinkError (what a provider on a file system gets, whose paths are
// keys) with its paths quoted as keys are, any other with its unprintable
// characters escaped.
func writeCause(b *strings.Builder, err error) {
	switch e := err.(type) {
	case *fs.PathError:
		writePrintable(b, e.Op)
		b.WriteString(" ")
		b.WriteString(quoteKey(e.Path))
		b.WriteString(": ")
		writeCause(b, e.Err)
	case *os.LinkError:
		writePrintable(b, e.Op)
		b.WriteString(" ")
		b.WriteString(quoteKey(e.Old))
		b.WriteString(" ")
		b.WriteString(quoteKey(e.New))
		b.WriteString(": ")
		writeCause(b, e.Err)
	default:
		writePrintable(b, err.Error())
	}
}

// writePrintable writes s to b with every character that is not printable
// (strconv.IsPrint: the ASCII space is the only space it admits) and every
// byte of invalid UTF-8 replaced by its Go escape sequence, as in a
// strconv.Quote literal. Quotes and backslashes stay as they are.
func writePrintable(b *strings.Builder, s string) {
	start := 0 // s[start:i] is printable and not yet written
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		invalid := r == utf8.RuneError && n == 1
		if !invalid && strconv.IsPrint(r) {
			i += n
			continue
		}
		b.WriteString(s[start:i])
		if invalid {
			fmt.Fprintf(b, `\x%02x`, s[i])
		} else {
			q := strconv.QuoteRune(r) // '\n', '\u2028'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
		start = i
	}
	b.WriteString(s[start:])
}
