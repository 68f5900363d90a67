package storage

import (
	"context"
	"errors"
	"io/fs"
	"strings"
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
)

// Error is the error type providers return. It names the operation, the
// provider and the key, and unwraps to both a sentinel (Kind) and the
// underlying cause, so errors.Is(err, storage.ErrNotFound) and
// errors.As(err, &someSDKError) both work.
//
// Error strings never contain credentials: providers put only keys, bucket
// names and the cause's message in them.
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
		b.WriteString(e.Kind.Error())
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
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

func quoteKey(k string) string {
	const max = 200
	if len(k) > max {
		k = k[:max] + "..."
	}
	return "\"" + strings.ToValidUTF8(k, "\uFFFD") + "\""
}
