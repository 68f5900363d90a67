// Package httpserve serves objects from any storage.Provider over HTTP: the
// part of a media server that answers GET /media/....
//
// A Handler answers GET and HEAD with the object's bytes, honouring single
// and multiple byte ranges (so videos seek), conditional requests
// (If-None-Match, If-Match, If-Modified-Since, If-Unmodified-Since,
// If-Range), and sets ETag, Last-Modified, Content-Type (the stored type,
// sniffed from the first 512 bytes when none was stored) and, for types a
// browser would run or render as a page, Content-Disposition: attachment.
// Conditional and range logic is net/http's own (http.ServeContent), fed by
// a reader that turns each range into a ranged Get on the provider: a range
// request never reads the whole object.
//
// # Safe headers
//
// Every response carries X-Content-Type-Options: nosniff and a
// Content-Security-Policy (Options.ContentSecurityPolicy, by default one that
// sandboxes the response and forbids scripts), so an uploaded HTML or SVG
// file cannot run script in the server's origin. Types outside a small list
// of inline-safe media types (images, audio, video, plain text) are sent as
// attachments.
//
// # Redirects
//
// With Options.Redirect set and a provider that implements
// storage.Presigner, a GET is answered with a 302 to a presigned URL valid
// for Options.RedirectExpiry, with a Cache-Control lifetime of half that, so
// a browser may reuse the redirect while the URL is still valid and large
// files skip the server.
//
// # Errors
//
// Provider errors map to statuses: storage.ErrNotFound to 404,
// storage.ErrInvalidKey to 400, storage.ErrInvalidRange and unsatisfiable
// Range headers to 416, storage.ErrUnavailable and timeouts to 503 with
// Retry-After, anything else to 500. Response bodies hold only the status
// text; the details go to the Options.Logger.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/storage"
)

// DefaultContentSecurityPolicy is the Content-Security-Policy sent when
// Options.ContentSecurityPolicy is empty. It lets media play and images show
// but runs no script and sandboxes any document.
const DefaultContentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; " +
	"style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; object-src 'none'"

// Options configure a Handler. The zero value is usable.
type Options struct {
	// Prefix is removed from the request path to get the key: with Prefix
	// "/media/", GET /media/a/b serves key "a/b". A path without the prefix
	// is a 404.
	Prefix string
	// ContentSecurityPolicy is sent with every object; empty means
	// DefaultContentSecurityPolicy, "-" sends none.
	ContentSecurityPolicy string
	// CacheControl is sent with every object, such as
	// "public, max-age=31536000, immutable" for media keys that are never
	// overwritten. Empty sends none.
	CacheControl string
	// Filename, when set, names the file for Content-Disposition: it returns
	// the file name and whether the response should download (attachment)
	// rather than show inline. Unsafe types are attachments whatever it says.
	Filename func(r *http.Request, info storage.Info) (name string, attachment bool)
	// Redirect answers GETs with a redirect to a presigned URL when the
	// provider implements storage.Presigner.
	Redirect bool
	// RedirectExpiry is how long a presigned URL is valid; default 1 hour.
	RedirectExpiry time.Duration
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Handler serves the objects of a provider. It is safe for concurrent use.
type Handler struct {
	p    storage.Provider
	opts Options
	log  *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler serving the objects of p. opts may be nil.
func New(p storage.Provider, opts *Options) *Handler {
	h := &Handler{p: p}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.ContentSecurityPolicy == "" {
		h.opts.ContentSecurityPolicy = DefaultContentSecurityPolicy
	}
	if h.opts.RedirectExpiry <= 0 {
		h.opts.RedirectExpiry = time.Hour
	}
	h.log = h.opts.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	key, ok := strings.CutPrefix(r.URL.Path, h.opts.Prefix)
	if !ok {
		h.fail(w, r, "", storage.ErrNotFound)
		return
	}
	if err := storage.ValidKey(key); err != nil {
		h.fail(w, r, key, err)
		return
	}
	ctx := r.Context()
	info, err := h.p.Stat(ctx, key)
	if err != nil {
		h.fail(w, r, key, err)
		return
	}
	if h.opts.Redirect && r.Method == http.MethodGet {
		if h.redirect(w, r, key) {
			return
		}
	}
	ctype := info.ContentType
	if ctype == "" {
		ctype, err = h.sniff(ctx, key, info.Size)
		if err != nil {
			h.fail(w, r, key, err)
			return
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	if tag := etag(info); tag != "" {
		hdr.Set("ETag", tag)
	}
	if h.opts.ContentSecurityPolicy != "-" {
		hdr.Set("Content-Security-Policy", h.opts.ContentSecurityPolicy)
	}
	if h.opts.CacheControl != "" {
		hdr.Set("Cache-Control", h.opts.CacheControl)
	}
	h.setDisposition(w, r, info, ctype)

	obj := &rangeReader{ctx: ctx, p: h.p, key: key, size: info.Size}
	defer obj.Close()
	if rh := r.Header.Get("Range"); rh != "" && r.Method == http.MethodGet {
		plan, err := parseRanges(rh, info.Size)
		switch {
		case errors.Is(err, errNoOverlap) && r.Header.Get("If-Range") == "":
			// net/http would answer "bytes=-0" with a 206 of no bytes and an
			// impossible Content-Range; answer 416 as RFC 9110 says.
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			h.fail(w, r, key, storage.ErrInvalidRange)
			return
		case errors.Is(err, errMalformed):
			// RFC 9110 lets a server ignore a Range header it cannot parse;
			// net/http would answer some with 416 and accept others ("+0")
			// with impossible ranges, so strict parsing decides here.
			r.Header.Del("Range")
		case err == nil:
			obj.plan = plan
		}
	}
	http.ServeContent(&statusRecorder{ResponseWriter: w, onError: func() { h.logReadError(r, key, obj.err) }}, r, "", info.ModTime, obj)
}

// redirect answers with a presigned URL and reports whether it did.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, key string) bool {
	ps, ok := h.p.(storage.Presigner)
	if !ok {
		return false
	}
	u, err := ps.PresignGet(r.Context(), key, h.opts.RedirectExpiry)
	if err != nil {
		if !errors.Is(err, storage.ErrUnsupported) {
			h.log.WarnContext(r.Context(), "httpserve: presign failed; serving directly", "key", key, "err", err)
		}
		return false
	}
	maxAge := int(h.opts.RedirectExpiry.Seconds() / 2)
	w.Header().Set("Cache-Control", "private, max-age="+strconv.Itoa(maxAge))
	http.Redirect(w, r, u, http.StatusFound)
	return true
}

// sniff detects the content type from the first 512 bytes, read with a
// ranged Get.
func (h *Handler) sniff(ctx context.Context, key string, size int64) (string, error) {
	if size == 0 {
		return "application/octet-stream", nil
	}
	rc, _, err := h.p.Get(ctx, key, &storage.GetOptions{Range: &storage.Range{Offset: 0, Length: 512}})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	buf := make([]byte, 512)
	n, err := io.ReadFull(rc, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	return http.DetectContentType(buf[:n]), nil
}

// inlineTypes are the media types a browser may show inline from user
// uploads: they cannot run script in the page's origin.
var inlineTypes = map[string]bool{
	"text/plain": true, "text/csv": true, "application/json": true,
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/apng": true,
	"image/webp": true, "image/avif": true, "image/bmp": true,
	"video/mp4": true, "video/webm": true, "video/ogg": true, "video/quicktime": true,
	"audio/mp4": true, "audio/webm": true, "audio/aac": true, "audio/mpeg": true,
	"audio/ogg": true, "audio/wav": true, "audio/wave": true, "audio/x-wav": true,
	"audio/flac": true, "audio/x-flac": true, "application/octet-stream": false,
}

// InlineSafe reports whether a response of content type ctype may be shown
// inline by a browser without risk of running script in the server's origin.
func InlineSafe(ctype string) bool {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return false
	}
	return inlineTypes[mt]
}

func (h *Handler) setDisposition(w http.ResponseWriter, r *http.Request, info storage.Info, ctype string) {
	name, attachment := "", false
	if h.opts.Filename != nil {
		name, attachment = h.opts.Filename(r, info)
	}
	if !InlineSafe(ctype) {
		attachment = true
	}
	if name == "" && !attachment {
		return
	}
	disp := "inline"
	if attachment {
		disp = "attachment"
	}
	if name != "" {
		if v := mime.FormatMediaType(disp, map[string]string{"filename": name}); v != "" {
			w.Header().Set("Content-Disposition", v)
			return
		}
	}
	w.Header().Set("Content-Disposition", disp)
}

// etag returns the strong ETag of info, quoted, or "".
func etag(info storage.Info) string {
	t := strings.Trim(info.ETag, `"`)
	if t == "" {
		t = info.SHA256
	}
	if t == "" || strings.ContainsAny(t, "\"\r\n") {
		return ""
	}
	return `"` + t + `"`
}

// Status returns the HTTP status for a provider error.
func Status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, storage.ErrInvalidKey):
		return http.StatusBadRequest
	case errors.Is(err, storage.ErrInvalidRange):
		return http.StatusRequestedRangeNotSatisfiable
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		// The client went away; the status is never seen.
		return 499
	default:
		return http.StatusInternalServerError
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, key string, err error) {
	code := Status(err)
	switch {
	case code == 499:
		return
	case code >= 500:
		h.log.ErrorContext(r.Context(), "httpserve: serving object failed", "key", key, "status", code, "err", err)
	default:
		h.log.DebugContext(r.Context(), "httpserve: request refused", "key", key, "status", code, "err", err)
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	http.Error(w, http.StatusText(code), code)
}

func (h *Handler) logReadError(r *http.Request, key string, err error) {
	if err != nil && !storage.IsContextError(err) {
		h.log.ErrorContext(r.Context(), "httpserve: reading object failed mid-response", "key", key, "err", err)
	}
}

// statusRecorder notices when ServeContent fails to read the body after
// writing headers, so the error is logged.
type statusRecorder struct {
	http.ResponseWriter
	onError func()
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	if err != nil {
		s.onError()
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// rangeReader is the io.ReadSeeker that http.ServeContent reads. Seeking is
// free; the first Read after a Seek opens a ranged Get at the current
// offset, with the length of the planned range that starts there (from the
// request's Range header), or to the end of the object.
type rangeReader struct {
	ctx  context.Context
	p    storage.Provider
	key  string
	size int64
	plan []byteRange

	pos   int64 // offset of the next Read
	rc    io.ReadCloser
	rcPos int64 // offset of the next byte rc yields
	rcEnd int64 // offset where rc's range ends
	err   error
}

func (o *rangeReader) Read(p []byte) (int, error) {
	for {
		if o.pos >= o.size {
			return 0, io.EOF
		}
		if o.rc == nil || o.rcPos != o.pos {
			if err := o.open(); err != nil {
				return 0, err
			}
		}
		n, err := o.rc.Read(p)
		o.pos += int64(n)
		o.rcPos += int64(n)
		if errors.Is(err, io.EOF) {
			o.rc.Close()
			o.rc = nil
			if o.rcPos < o.rcEnd {
				o.err = fmt.Errorf("object ended at %d of %d bytes: %w", o.rcPos, o.rcEnd, io.ErrUnexpectedEOF)
				return n, o.err
			}
			if n == 0 {
				continue // the planned range is done; open the next one
			}
			err = nil
		}
		if err != nil {
			o.err = err
		}
		return n, err
	}
}

// open starts a ranged Get at o.pos, as long as the planned range starting
// there, or to the end of the object.
func (o *rangeReader) open() error {
	if o.rc != nil {
		o.rc.Close()
		o.rc = nil
	}
	length := int64(0)
	for _, r := range o.plan {
		if r.start == o.pos {
			length = r.length
			break
		}
	}
	rc, _, err := o.p.Get(o.ctx, o.key, &storage.GetOptions{Range: &storage.Range{Offset: o.pos, Length: length}})
	if err != nil {
		o.err = err
		return err
	}
	o.rc, o.rcPos, o.rcEnd = rc, o.pos, o.size
	if length > 0 {
		o.rcEnd = min(o.pos+length, o.size)
	}
	return nil
}

func (o *rangeReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return 0, errors.New("httpserve: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("httpserve: negative position")
	}
	o.pos = abs
	return abs, nil
}

func (o *rangeReader) Close() error {
	if o.rc != nil {
		err := o.rc.Close()
		o.rc = nil
		return err
	}
	return nil
}
