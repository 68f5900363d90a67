// Package stratablob provides a gocloud.dev/blob bucket over any strata
// storage.Provider: a local directory, memory, S3, MinIO, B2, the cache or
// a tiered store.
//
//	store, err := tiered.New(cache, remote, tiered.Options{Mode: tiered.WriteBehind})
//	...
//	bucket := stratablob.OpenBucket(store, nil)
//	defer bucket.Close()
//	err = bucket.WriteAll(ctx, "photos/cat.jpg", data, nil)
//
// # URLs
//
// Importing the package registers the URL schemes "strata+file",
// "strata+mem", "strata+s3", "strata+minio" and "strata+b2" with
// blob.DefaultURLMux: blob.OpenBucket(ctx, "strata+file:///srv/media")
// opens the provider storage.Open("file:///srv/media") returns, so the
// URL's query parameters are those of the strata driver. Import the
// driver's package for its side effect, as storage.Open needs:
//
//	import (
//		_ "github.com/strata-storage/strata/gocloud/stratablob"
//		_ "github.com/strata-storage/strata/local"
//	)
//
// A bucket opened by URL closes its provider when it is closed; one from
// OpenBucket leaves that to the caller unless Options.CloseProvider is set.
//
// # Keys
//
// gocloud.dev/blob takes any UTF-8 key; strata refuses some (see
// storage.ValidKey): backslashes, control characters, empty, "." and ".."
// segments (so a leading, trailing or doubled "/"), and segments longer
// than storage.MaxSegmentLen bytes. The bucket stores those under an
// escaped key, reversibly, with the escapes gocloud's own drivers use:
// every "/" stays a "/" (so "/"-delimited listings are done by the
// provider), a character strata refuses is written "__0x<hex>__" (a
// backslash is "__0x5c__"), an empty segment "__0x__", "." and ".."
// "__0x2e__" and "__0x2e____0x2e__", the first "_" of a "__0x" in the key
// "__0x5f__", and a long segment is cut into pieces joined by "__0x-__/".
// Every valid strata key without "__0x" is stored as it is, so the objects
// a strata program wrote are seen under their own keys. What escaping
// cannot fix is the length of the whole key (storage.MaxKeyLen): such a
// key is refused with gcerrors.InvalidArgument. Listings come in the
// order of the strata keys, which is gocloud's order but around escaped
// characters.
//
// # Metadata
//
// Metadata that strata can store as it is (storage.ValidMetadata) is
// stored as it is. Any other is packed, escaped, into entries named
// "gocloud-md-0", "gocloud-md-1", ..., within strata's limits on metadata
// size (about 2 KiB in all); more fails with gcerrors.InvalidArgument.
//
// # What is not supported (yet)
//
//   - SignedURL for DELETE, and for a PUT with EnforceAbsentContentType
//     (gcerrors.Unimplemented). GET and PUT work where the provider
//     presigns them (s3, minio, b2, a tiered store over one), a PUT's
//     ContentType signed.
//   - MD5 is never reported (strata keeps SHA-256: see As).
//
// # As
//
// Bucket.As reaches the provider and every provider it wraps, as
// storage.As does: a *storage.Provider, a *storage.Presigner, a
// **tiered.Store, ... Attributes, Reader and ListObject As take a
// *storage.Info. BeforeWrite's As takes a **storage.PutOptions,
// BeforeRead's a **storage.GetOptions, BeforeList's a
// **storage.ListOptions; the others take nothing. ErrorAs is errors.As:
// a *(*storage.Error) gets the provider's error.
package stratablob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"

	"github.com/strata-storage/strata/storage"
)

// Options are the optional arguments of OpenBucket. A nil *Options means
// all defaults.
type Options struct {
	// CloseProvider makes Close of the bucket close the provider too. By
	// default the caller keeps the provider and closes it.
	CloseProvider bool
}

// OpenBucket returns a *blob.Bucket that stores its blobs in p. opts may be
// nil.
func OpenBucket(p storage.Provider, opts *Options) *blob.Bucket {
	return blob.NewBucket(newBucket(p, opts))
}

// bucket implements driver.Bucket over a storage.Provider.
type bucket struct {
	p    storage.Provider
	opts Options
}

var _ driver.Bucket = (*bucket)(nil)

func newBucket(p storage.Provider, opts *Options) *bucket {
	b := &bucket{p: p}
	if opts != nil {
		b.opts = *opts
	}
	return b
}

// ErrorCode implements driver.Bucket.
func (b *bucket) ErrorCode(err error) gcerrors.ErrorCode {
	return errorCode(err)
}

// errorCode maps strata's sentinel errors onto gocloud's codes.
func errorCode(err error) gcerrors.ErrorCode {
	switch {
	case err == nil:
		return gcerrors.OK
	case errors.Is(err, context.Canceled):
		return gcerrors.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return gcerrors.DeadlineExceeded
	// ErrNoBucket also matches ErrInvalidArgument: test it first, so that
	// Bucket.IsAccessible reports a missing bucket as false.
	case errors.Is(err, storage.ErrNoBucket), errors.Is(err, storage.ErrNotFound):
		return gcerrors.NotFound
	case errors.Is(err, storage.ErrExist):
		return gcerrors.FailedPrecondition
	case errors.Is(err, storage.ErrInvalidKey), errors.Is(err, storage.ErrInvalidArgument),
		errors.Is(err, storage.ErrInvalidRange), errors.Is(err, storage.ErrSizeMismatch),
		errors.Is(err, storage.ErrTooLarge):
		return gcerrors.InvalidArgument
	case errors.Is(err, storage.ErrUnsupported):
		return gcerrors.Unimplemented
	case errors.Is(err, storage.ErrPermission):
		return gcerrors.PermissionDenied
	case errors.Is(err, storage.ErrClosed), errors.Is(err, storage.ErrChanged):
		return gcerrors.FailedPrecondition
	case errors.Is(err, storage.ErrCorrupt), errors.Is(err, storage.ErrUnavailable):
		return gcerrors.Internal
	}
	return gcerrors.Unknown
}

// As implements driver.Bucket: it finds what i points to in the chain of
// the provider and the providers it wraps (storage.As).
func (b *bucket) As(i any) bool {
	if i == nil {
		return false
	}
	v := reflect.ValueOf(i)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return false
	}
	return storage.As(b.p, i)
}

// ErrorAs implements driver.Bucket.
func (b *bucket) ErrorAs(err error, i any) bool {
	return errors.As(err, i)
}

// infoAs returns an As function that fills a *storage.Info with info.
func infoAs(info storage.Info) func(any) bool {
	return func(i any) bool {
		p, ok := i.(*storage.Info)
		if !ok || p == nil {
			return false
		}
		*p = cloneInfo(info)
		return true
	}
}

func cloneInfo(info storage.Info) storage.Info {
	if info.Metadata != nil {
		md := make(map[string]string, len(info.Metadata))
		for k, v := range info.Metadata {
			md[k] = v
		}
		info.Metadata = md
	}
	return info
}

// noAs is the As function of the callbacks that expose nothing.
func noAs(any) bool { return false }

// contentType returns what gocloud shows as the content type of info.
func contentType(info storage.Info) string {
	if info.ContentType == "" {
		return "application/octet-stream"
	}
	return info.ContentType
}

// etag returns info's ETag as HTTP writes one: quoted.
func etag(info storage.Info) string {
	e := info.ETag
	if e == "" || strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + e + `"`
}

// Attributes implements driver.Bucket.
func (b *bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	nk, err := escapeKey(key)
	if err != nil {
		return nil, err
	}
	info, err := b.p.Stat(ctx, nk)
	if err != nil {
		return nil, err
	}
	return &driver.Attributes{
		CacheControl:       info.CacheControl,
		ContentDisposition: info.ContentDisposition,
		ContentEncoding:    info.ContentEncoding,
		ContentLanguage:    info.ContentLanguage,
		ContentType:        contentType(info),
		Metadata:           decodeMetadata(info.Metadata),
		ModTime:            info.ModTime,
		Size:               info.Size,
		ETag:               etag(info),
		AsFunc:             infoAs(info),
	}, nil
}

// NewRangeReader implements driver.Bucket.
func (b *bucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	nk, err := escapeKey(key)
	if err != nil {
		return nil, err
	}
	gopts := &storage.GetOptions{}
	if offset > 0 || length >= 0 {
		gopts.Range = &storage.Range{Offset: offset, Length: max(length, 0)}
	}
	if opts.BeforeRead != nil {
		err := opts.BeforeRead(func(i any) bool {
			p, ok := i.(**storage.GetOptions)
			if ok && p != nil {
				*p = gopts
			}
			return ok && p != nil
		})
		if err != nil {
			return nil, err
		}
	}
	if length == 0 {
		// strata reads a Range of Length 0 to the end: ask only for the
		// object's Info.
		info, err := b.p.Stat(ctx, nk)
		if err != nil {
			return nil, err
		}
		return &reader{rc: io.NopCloser(strings.NewReader("")), info: info}, nil
	}
	rc, info, err := b.p.Get(ctx, nk, gopts)
	if err != nil {
		if offset > 0 && errors.Is(err, storage.ErrInvalidRange) {
			// gocloud reads nothing from an offset at or past the end,
			// as a file does.
			info, serr := b.p.Stat(ctx, nk)
			if serr == nil && offset >= info.Size {
				return &reader{rc: io.NopCloser(strings.NewReader("")), info: info}, nil
			}
		}
		return nil, err
	}
	return &reader{rc: rc, info: info}, nil
}

// reader implements driver.Reader.
type reader struct {
	rc   io.ReadCloser
	info storage.Info
}

func (r *reader) Read(p []byte) (int, error) { return r.rc.Read(p) }
func (r *reader) Close() error               { return r.rc.Close() }

func (r *reader) Attributes() *driver.ReaderAttributes {
	return &driver.ReaderAttributes{ContentType: contentType(r.info), ModTime: r.info.ModTime, Size: r.info.Size}
}

// As implements driver.Reader: a *storage.Info gets the object's Info.
func (r *reader) As(i any) bool { return infoAs(r.info)(i) }

// NewTypedWriter implements driver.Bucket. The writer streams into the
// provider's Put: nothing is stored until Close returns nil, and a write
// whose context ends, or whose Close finds it ended, stores nothing.
func (b *bucket) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	nk, err := escapeKey(key)
	if err != nil {
		return nil, err
	}
	md, err := encodeMetadata(opts.Metadata)
	if err != nil {
		return nil, err
	}
	popts := &storage.PutOptions{ContentType: contentType, Metadata: md, IfNotExists: opts.IfNotExist,
		CacheControl: opts.CacheControl, ContentDisposition: opts.ContentDisposition,
		ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage}
	if err := storage.CheckPut(nk, popts); err != nil {
		return nil, err
	}
	if opts.BeforeWrite != nil {
		err := opts.BeforeWrite(func(i any) bool {
			p, ok := i.(**storage.PutOptions)
			if ok && p != nil {
				*p = popts
			}
			return ok && p != nil
		})
		if err != nil {
			return nil, err
		}
	}
	return &writer{ctx: ctx, p: b.p, key: nk, opts: popts}, nil
}

// writer implements driver.Writer and driver.Uploader.
type writer struct {
	ctx  context.Context
	p    storage.Provider
	key  string
	opts *storage.PutOptions

	started bool
	pw      *io.PipeWriter
	done    chan error
	stop    func() bool // stops the context watch
}

var _ driver.Uploader = (*writer)(nil)

// start runs the Put, reading from a pipe that Write feeds.
func (w *writer) start() {
	w.started = true
	pr, pw := io.Pipe()
	w.pw = pw
	w.done = make(chan error, 1)
	// A Write blocked on the pipe returns when the context ends.
	w.stop = context.AfterFunc(w.ctx, func() { pw.CloseWithError(w.ctx.Err()) })
	go func() {
		_, err := w.p.Put(w.ctx, w.key, pr, w.opts)
		// A Put that stops reading early (a failure) unblocks Write.
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		w.done <- err
	}()
}

// Write implements io.Writer.
func (w *writer) Write(p []byte) (int, error) {
	if !w.started {
		w.start()
	}
	return w.pw.Write(p)
}

// Upload implements driver.Uploader: it hands r to Put directly.
func (w *writer) Upload(r io.Reader) error {
	if w.started {
		return errors.New("stratablob: Upload after Write")
	}
	w.started = true
	if s, ok := r.(interface{ Size() int64 }); ok && w.opts.Size == 0 {
		// A *bytes.Reader or *strings.Reader that nothing has read yet.
		if l, ok := r.(interface{ Len() int }); ok && int64(l.Len()) == s.Size() {
			w.opts.Size = s.Size()
		}
	}
	_, err := w.p.Put(w.ctx, w.key, r, w.opts)
	return err
}

// Close implements io.Closer: it ends the stream and returns the Put's
// result.
func (w *writer) Close() error {
	if !w.started {
		// Nothing written: an empty object.
		w.started = true
		_, err := w.p.Put(w.ctx, w.key, strings.NewReader(""), w.opts)
		return err
	}
	if w.pw == nil { // Upload
		return nil
	}
	defer w.stop()
	if err := w.ctx.Err(); err != nil {
		// A cancelled write must not be stored, however far Put got.
		w.pw.CloseWithError(err)
	} else {
		w.pw.Close()
	}
	return <-w.done
}

// Copy implements driver.Bucket with storage.Copy: server-side where the
// provider copies.
func (b *bucket) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	ndst, err := escapeKey(dstKey)
	if err != nil {
		return err
	}
	nsrc, err := escapeKey(srcKey)
	if err != nil {
		return err
	}
	if opts.BeforeCopy != nil {
		if err := opts.BeforeCopy(noAs); err != nil {
			return err
		}
	}
	_, err = storage.Copy(ctx, b.p, ndst, nsrc)
	return err
}

// Delete implements driver.Bucket. strata deletes a missing key without
// error; gocloud wants NotFound, so Delete asks first.
func (b *bucket) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	nk, err := escapeKey(key)
	if err != nil {
		return err
	}
	if _, err := b.p.Stat(ctx, nk); err != nil {
		return err
	}
	if opts.BeforeDelete != nil {
		if err := opts.BeforeDelete(noAs); err != nil {
			return err
		}
	}
	return b.p.Delete(ctx, nk)
}

// SignedURL implements driver.Bucket: GET URLs where the provider presigns
// them (storage.PresignGet), PUT URLs where it presigns uploads
// (storage.PresignPut; a ContentType given is signed, so an upload with
// another one is refused). A URL is all gocloud hands out, so a PUT whose
// provider would make the client send other signed headers (a storage
// class, say), EnforceAbsentContentType and DELETE are
// gcerrors.Unimplemented.
func (b *bucket) SignedURL(ctx context.Context, key string, opts *driver.SignedURLOptions) (string, error) {
	nk, err := escapeKey(key)
	if err != nil {
		return "", err
	}
	unsupported := func(why string) error {
		return &storage.Error{Op: "presign", Provider: "stratablob", Key: key, Kind: storage.ErrUnsupported,
			Err: reasonError(why)}
	}
	switch opts.Method {
	case "", http.MethodGet, http.MethodPut:
	default:
		return "", unsupported("strata presigns GET and PUT URLs only")
	}
	if opts.Method == http.MethodPut && opts.EnforceAbsentContentType {
		return "", unsupported("a presigned PUT cannot refuse a Content-Type")
	}
	if opts.BeforeSign != nil {
		if err := opts.BeforeSign(noAs); err != nil {
			return "", err
		}
	}
	if opts.Method != http.MethodPut {
		return storage.PresignGet(ctx, b.p, nk, opts.Expiry)
	}
	req, err := storage.PresignPut(ctx, b.p, nk, opts.Expiry, &storage.PresignPutOptions{ContentType: opts.ContentType})
	if err != nil {
		return "", err
	}
	for h := range req.Header {
		if !strings.EqualFold(h, "Content-Type") {
			return "", unsupported(fmt.Sprintf("the provider's presigned upload needs header %q, which a URL cannot carry", h))
		}
	}
	if req.Method != http.MethodPut {
		return "", unsupported(fmt.Sprintf("the provider's presigned upload is a %s, not a PUT", req.Method))
	}
	return req.URL, nil
}

// Close implements driver.Bucket: it closes the provider when
// Options.CloseProvider is set.
func (b *bucket) Close() error {
	if b.opts.CloseProvider {
		return b.p.Close()
	}
	return nil
}
