// Package storage defines the small interface every strata storage provider
// implements, the rules every provider keeps, and a registry that opens a
// provider from a URL.
//
// A Provider stores blobs ("objects") under string keys. The packages local,
// memory, s3, minio, b2, cache and tiered implement it; the conformance
// package checks that an implementation keeps the contract below.
//
// # Contract
//
//   - Keys follow [ValidKey]; a bad key fails with an error that matches
//     [ErrInvalidKey] and nothing is written.
//   - Put streams from an io.Reader of unknown length and is atomic: readers
//     see the old object or the whole new one, never a part. A Put whose reader
//     fails or whose context ends leaves no object behind.
//   - Get returns a stream and the object's [Info]; a missing key fails at the
//     call (not at the first Read) with [ErrNotFound], which also matches
//     [io/fs.ErrNotExist].
//   - Delete of a missing key succeeds.
//   - List walks a prefix in byte-wise lexical key order and can resume after
//     a key.
//   - Every method takes a context first and honours cancellation; providers
//     are safe for concurrent use.
//
// # Errors
//
// Errors returned by providers wrap one of the sentinel values below
// ([ErrNotFound], [ErrExist], [ErrInvalidKey], ...) together with the
// underlying cause, usually as an [*Error]. Match them with errors.Is and
// errors.As only. Context errors (context.Canceled,
// context.DeadlineExceeded) are returned as they are or wrapped, so
// errors.Is(err, context.Canceled) always works.
//
// # URLs
//
// [Open] picks a driver by URL scheme: file:///srv/media, mem://name,
// s3://bucket?region=..., minio://host/bucket, b2://bucket. A driver package
// registers its scheme in its init function, so import it for its side
// effect:
//
//	import _ "github.com/strata-storage/strata/local"
package storage

import (
	"context"
	"io"
	"iter"
	"net/http"
	"time"
)

// Provider is a store of objects under keys. Implementations are safe for
// concurrent use.
type Provider interface {
	// Put stores the bytes read from r under key, replacing any object
	// already there unless opts.IfNotExists is set. r may be of unknown
	// length; the provider does not hold the whole object in memory. The
	// object becomes visible only when Put returns nil. opts may be nil.
	Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) (Info, error)

	// Get opens the object under key for reading, or the byte range
	// opts.Range of it. The returned Info describes the whole object. The
	// caller must close the reader. opts may be nil.
	Get(ctx context.Context, key string, opts *GetOptions) (io.ReadCloser, Info, error)

	// Stat returns the Info of the object under key.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes the object under key. Deleting a missing key succeeds.
	Delete(ctx context.Context, key string) error

	// List yields the objects whose keys start with opts.Prefix and sort
	// after opts.StartAfter, in byte-wise lexical key order. An error ends
	// the sequence: it is yielded once with a zero Info. opts may be nil.
	List(ctx context.Context, opts *ListOptions) iter.Seq2[Info, error]

	// Close releases what the provider holds. Calls after Close fail with
	// ErrClosed.
	Close() error
}

// Info describes a stored object.
type Info struct {
	// Key is the object's key.
	Key string
	// Size is the length of the whole object in bytes.
	Size int64
	// ModTime is when the object was last written.
	ModTime time.Time
	// ETag is an opaque string that changes when the content changes. It is
	// not necessarily a content hash (S3 multipart and SSE-C ETags are not).
	// It has the quoted form of an HTTP entity tag, `"..."` (or `W/"..."`
	// for a weak one), on every provider, so that it can be sent as an
	// ETag header as it is; providers built on package storage/driver get
	// it quoted there. Values saved by older versions may be bare: compare
	// an old value after quoting it (driver.QuoteETag).
	ETag string
	// SHA256 is the lowercase hex SHA-256 of the content when the provider
	// knows it, or "" when it does not (for example a file strata never
	// wrote). Use it, not ETag, to compare content across providers.
	SHA256 string
	// ContentType is the media type given to Put, or "" when none was given.
	ContentType string
	// Metadata is the user metadata given to Put. Keys are lower case. It is
	// nil when there is none.
	Metadata map[string]string
	// CacheControl, ContentDisposition, ContentEncoding and
	// ContentLanguage are the HTTP attributes given to Put, stored with the
	// object and returned by Get and Stat (not by List, whose entries may
	// leave them empty); httpserve sends them as the response headers of
	// the same names. "" means none.
	CacheControl       string
	ContentDisposition string
	ContentEncoding    string
	ContentLanguage    string
	// IsPrefix marks an entry of a List with a Delimiter that is a common
	// prefix (a "directory", such as "media/thumbs/"), not an object. Only
	// Key is set.
	IsPrefix bool
}

// PutOptions are the optional arguments of Provider.Put. A nil *PutOptions
// means all defaults.
type PutOptions struct {
	// ContentType is stored with the object and returned by Get and Stat.
	ContentType string
	// Metadata is stored with the object and returned by Get and Stat. It
	// must pass ValidMetadata.
	Metadata map[string]string
	// CacheControl, ContentDisposition, ContentEncoding and
	// ContentLanguage are stored with the object as its HTTP attributes and
	// returned by Get and Stat. Each must pass ValidHTTPAttribute.
	CacheControl       string
	ContentDisposition string
	ContentEncoding    string
	ContentLanguage    string
	// IfNotExists makes Put fail with ErrExist when an object is already
	// stored under the key. Of several racing Puts with IfNotExists, exactly
	// one succeeds. A write-behind tiered store answers before the remote
	// sees the object, so it may accept a Put whose key another process
	// creates first; it then keeps both objects (see package tiered).
	IfNotExists bool
	// Size, when greater than zero, is the exact number of bytes r yields.
	// Providers use it to pick an upload strategy and fail the Put with
	// ErrSizeMismatch when r yields a different count. Zero means unknown.
	Size int64
}

// GetOptions are the optional arguments of Provider.Get. A nil *GetOptions
// reads the whole object.
type GetOptions struct {
	// Range, when not nil, selects part of the object.
	Range *Range
}

// Range is a byte range of an object: Length bytes from Offset. A Length of
// zero or less reads to the end of the object; a Length reaching past the
// end is cut at the end. An Offset at or past the end of a non-empty object, or a
// positive Offset on an empty one, fails with ErrInvalidRange.
type Range struct {
	Offset int64
	Length int64
}

// ListOptions are the optional arguments of Provider.List. A nil
// *ListOptions lists every object.
type ListOptions struct {
	// Prefix restricts the listing to keys that start with it. It is a plain
	// string prefix, not a directory: "a/b" matches "a/b/c" and "a/bc".
	Prefix string
	// StartAfter restricts the listing to keys that sort strictly after it,
	// so a listing can resume from the last key it yielded.
	StartAfter string
	// Delimiter, when "/", lists one level of a directory tree, as S3's
	// delimiter listings do: a key with a "/" after Prefix is not yielded
	// itself; instead its common prefix (Prefix, the rest of the key up to
	// and including that "/") is yielded once, as an Info with IsPrefix set
	// and only Key filled in, in its place in the key order. A common
	// prefix is yielded only when it sorts after StartAfter, so a listing
	// resumes from the last entry it yielded, a prefix or a key. Providers
	// that can, skip what lies under a common prefix without reading it
	// (S3 and B2 list by delimiter on the server; a local store reads one
	// directory). "" lists every key; any other value is ErrInvalidArgument.
	Delimiter string
}

// Presigner is an optional ability: a provider that can hand out URLs that
// download an object without credentials.
type Presigner interface {
	// PresignGet returns a URL that GETs the object under key until expiry
	// has passed.
	PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// PutPresigner is an optional ability: a provider that hands out requests
// with which a client that holds no credentials (a browser) uploads one
// object, straight to the store.
//
// An object uploaded that way did not go through Put: its SHA-256 is
// recorded only when PresignPutOptions.SHA256 was given (and, where the
// service checks it, the upload is refused when the bytes differ), and the
// key's prefix rules of the store are not checked.
type PutPresigner interface {
	// PresignPut returns a request that stores the body sent with it
	// under key, until expiry has passed. opts may be nil.
	PresignPut(ctx context.Context, key string, expiry time.Duration, opts *PresignPutOptions) (*PresignedRequest, error)
}

// PresignPutOptions are the optional arguments of PresignPut. A field that
// is set becomes part of the signature where the service allows it, so
// that the upload fails when the client sends something else.
type PresignPutOptions struct {
	// ContentType is the media type the upload must be sent with, and is
	// stored.
	ContentType string
	// Size, when greater than zero, is the exact length of the upload.
	Size int64
	// SHA256 is the lowercase hex SHA-256 of the upload: the service
	// verifies the body against it where it can, and it is recorded as
	// the object's Info.SHA256.
	SHA256 string
}

// PresignedRequest is an HTTP request a client sends, with a body, to
// upload an object.
type PresignedRequest struct {
	// Method is the HTTP method, such as "PUT".
	Method string
	// URL carries the signature; treat it as a secret until it expires.
	URL string
	// Header holds the headers the client must send as they are (they are
	// signed).
	Header http.Header
}

// Copier is an optional ability: a provider that copies an object to another
// key without sending its bytes through the client.
type Copier interface {
	// Copy copies the object under src to dst, with its content type and
	// metadata, and returns the new object's Info.
	Copy(ctx context.Context, dst, src string) (Info, error)
}

// Flusher is an optional ability: a provider that buffers writes (such as a
// write-behind tiered store) and can wait until they are all stored.
type Flusher interface {
	// Flush returns when every write acknowledged before the call is stored
	// in its final place, or when ctx ends.
	Flush(ctx context.Context) error
}

// PartWriter is an optional ability: a provider that uploads a large
// object in parts. Callers that send many objects (strata migrate) use it
// to size their buffers and to decide how to hand a large file to Put,
// instead of guessing from which driver they hold.
type PartWriter interface {
	// Parts describes how the provider uploads a large object.
	Parts() Parts
}

// Parts describes how a provider uploads a large object.
type Parts struct {
	// Size is the size of one part: an object of at most this size with a
	// known length is sent in one request; a larger one is sent in parts,
	// and the provider may hold a few parts in memory while it does.
	Size int64
	// ReaderAt reports that when the reader given to Put is an io.ReaderAt
	// and io.Seeker and PutOptions.Size is set, the provider reads the parts
	// at their offsets (in parallel) instead of buffering them.
	ReaderAt bool
}

// BucketCreator is an optional ability: a provider that can create the
// bucket (or, for a local store, the root directory) it was opened on, so
// that a first-time user needs no other tool before the first write.
// strata's command line offers it as "strata mb URL".
//
// A provider that has it fails with an error matching [ErrNoBucket] when
// its bucket is missing, which is how a caller knows to offer it.
type BucketCreator interface {
	// CreateBucket creates the provider's bucket. When the bucket already
	// exists and is the caller's, it fails with an error matching
	// ErrExist (a caller that wants "mkdir -p" treats that as success).
	// A name taken by another account is ErrPermission.
	CreateBucket(ctx context.Context) error
}

// ErrNoBucket means the bucket (or the root directory) a provider was
// opened on does not exist. It is a configuration error: it matches
// ErrInvalidArgument, and never ErrNotFound, which is about one key. A
// provider that is also a BucketCreator can create the bucket.
var ErrNoBucket error = &kindError{"bucket does not exist", ErrInvalidArgument}
