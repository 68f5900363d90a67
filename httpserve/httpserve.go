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
// a storage.ObjectReader, which turns each range into a ranged Get on the
// provider: a range request never reads the whole object.
//
// # Cost of a request
//
// A plain GET opens the object once: one Get, of the whole object or of
// the one range its Range header asks for, whose Info gives the headers;
// the type of an object stored without one is sniffed from the first bytes
// of that same reader (or, for a range further in, from a Get of the first
// 512 bytes, once per version of the object: the handler remembers it by
// key and ETag). The body goes out through the reader's own WriteTo when
// it has one, so a local file reaches the socket with sendfile(2) and a
// tiered store's cache hit is still checked: a small one (under 128 KiB)
// read whole and checked before any byte goes out, a larger one as it
// streams (a damaged one is cut short and logged). A HEAD, a conditional GET (If-None-Match,
// If-Modified-Since, If-Match, If-Unmodified-Since, If-Range), a GET with
// a suffix range or several ranges, and a GET to be redirected ask Stat
// first, as they need the Info, or the size, before any bytes, and a 304
// then reads none; each range served after that is one Get of just that
// range (http.ServeContent reads several ranges one after the other). A
// range that starts past the end costs a refused Get before the Stat that
// answers it. On a tiered store, a range that starts past its
// RangeThreshold of an object it has not cached is one ranged read of the
// remote, not a fetch of the whole object first.
//
// sendfile(2) needs the server's http.ResponseWriter to keep its
// io.ReaderFrom: a middleware that wraps the writer (a request log, a
// status recorder) should give its wrapper a ReadFrom that calls the
// wrapped writer's, as the example media server's request log does.
// Without one the body is copied through a pooled buffer, which costs a
// local store a tenth or so of its requests per second on small files.
//
// # Safe headers
//
// The HTTP attributes stored with the object (storage.Info.CacheControl,
// ContentDisposition, ContentEncoding, ContentLanguage) are sent as the
// headers of the same names, as stored: a stored Cache-Control replaces
// Options.CacheControl, and the bytes are sent as stored (a gzip-encoded
// object goes out with Content-Encoding: gzip, its ranges ranges of the
// encoded bytes). A stored Content-Disposition is sent unless
// Options.Filename is set (which then decides, and sees the stored one in
// its Info), with its type made attachment when the content is not
// InlineSafe; the safety headers below are sent whatever is stored.
//
// Every response carries X-Content-Type-Options: nosniff and a
// Content-Security-Policy chosen by the type it is served as:
//
//   - Inert media (image/*, audio/* and video/*, except SVG and any +xml
//     type, which can hold script) get MediaContentSecurityPolicy
//     (Options.MediaContentSecurityPolicy, by default
//     DefaultMediaContentSecurityPolicy): no script, no sandbox, and shown
//     inline. No sandbox, because a browser that opens a video or image
//     URL directly builds a document of its own around it (a <video> or
//     <img> element pointing at the same URL); a sandbox would give that
//     document an opaque origin, its request for the media would be
//     cross-origin, and the video would stay black.
//   - Everything else, HTML, SVG, XML, scripts, documents and unknown
//     types, gets ContentSecurityPolicy (Options.ContentSecurityPolicy, by
//     default DefaultContentSecurityPolicy, which starts with sandbox), and
//     is sent with Content-Disposition: attachment unless it is one of the
//     few text types that cannot run (plain text, CSV, JSON), so an
//     uploaded HTML or SVG file cannot run script in the server's origin.
//
// The type is the stored one, or the sniffed one when none was stored
// (nosniff then keeps the browser from guessing differently). A Handler
// remembers the types it sniffed, by key and ETag, for a few thousand
// objects.
//
// # Redirects
//
// With Options.Redirect set, a GET is answered with a 302 to a presigned
// URL valid for Options.RedirectExpiry, with a Cache-Control lifetime of
// half that, so a browser may reuse the redirect while the URL is still
// valid and large files skip the server. The provider must be able to
// presign, as storage.PresignGet finds out: a provider that does not
// implement storage.Presigner, and a wrapper that has the method over
// something that cannot (a metrics wrapper over a local store, a tiered
// store over a remote without presigned URLs), answer a probe presign,
// made once at construction, with storage.ErrUnsupported. NewHandler
// refuses either with an error matching
// storage.ErrUnsupported, and New, which has no error to return, logs the
// refusal at construction and serves through the handler. A presigner that
// fails for one object (storage.ErrUnsupported for an object it cannot
// presign yet, or an outage) has that object served directly.
//
// # Errors
//
// Provider errors map to statuses: storage.ErrNotFound to 404,
// storage.ErrInvalidKey to 400, storage.ErrPermission to 403 (logged at
// Warn: the store refused, such as a local store asked for a symbolic link
// that leads out of its root), storage.ErrInvalidRange and unsatisfiable
// Range headers to 416, storage.ErrUnavailable, storage.ErrChanged (the
// object was replaced between two requests the answer needed, such as a
// Stat and a Get) and timeouts to 503 with Retry-After, anything else to
// 500. Response bodies hold only the status
// text; the details go to the Options.Logger.
package httpserve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/strata-storage/strata/internal/bounded"
	"github.com/strata-storage/strata/storage"
)

// DefaultContentSecurityPolicy is the Content-Security-Policy sent with
// everything that is not inert media (see InertMedia) when
// Options.ContentSecurityPolicy is empty. It sandboxes the document (an
// opaque origin, no script, no forms, no plugins) and lets it load nothing
// but inline styles and images of its own origin.
const DefaultContentSecurityPolicy = "sandbox; default-src 'none'; script-src 'none'; " +
	"style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; object-src 'none'"

// DefaultMediaContentSecurityPolicy is the Content-Security-Policy sent with
// inert media (see InertMedia) when Options.MediaContentSecurityPolicy is
// empty. It has no sandbox, so that the document a browser builds around a
// video or image opened directly keeps the server's origin and may load
// the media itself ('self'); it allows no script, no plugin, no frame and
// no other resource. The inline styles are the browser's own: Chromium's
// document for an image centres it with inline styles, and logs a policy
// violation for each without 'unsafe-inline' (its document for a video
// needs none).
const DefaultMediaContentSecurityPolicy = "default-src 'none'; media-src 'self'; img-src 'self'; " +
	"style-src 'unsafe-inline'; script-src 'none'; object-src 'none'"

// Options configure a Handler. The zero value is usable.
type Options struct {
	// Prefix is removed from the request path to get the key: with Prefix
	// "/media/", GET /media/a/b serves key "a/b". A path without the prefix
	// is a 404.
	Prefix string
	// ContentSecurityPolicy is sent with every object that is not inert
	// media (see InertMedia); empty means DefaultContentSecurityPolicy, "-"
	// sends none. Keep sandbox in it: these are the types that can run
	// script.
	ContentSecurityPolicy string
	// MediaContentSecurityPolicy is sent with inert media (see
	// InertMedia); empty means DefaultMediaContentSecurityPolicy, "-"
	// sends none. A sandbox here stops videos opened directly from
	// playing.
	MediaContentSecurityPolicy string
	// CacheControl is sent with every object stored without a
	// Cache-Control of its own, such as "public, max-age=31536000,
	// immutable" for media keys that are never overwritten. Empty sends
	// none.
	CacheControl string
	// Filename, when set, names the file for Content-Disposition: it returns
	// the file name and whether the response should download (attachment)
	// rather than show inline. Unsafe types are attachments whatever it says.
	// When set, it decides instead of the Content-Disposition stored with
	// the object (info.ContentDisposition).
	Filename func(r *http.Request, info storage.Info) (name string, attachment bool)
	// Redirect answers GETs with a redirect to a presigned URL. The
	// provider must be able to presign: NewHandler refuses one that
	// cannot, New logs that it cannot (see the package doc).
	Redirect bool
	// RedirectExpiry is how long a presigned URL is valid; default 1 hour.
	RedirectExpiry time.Duration
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
}

// Handler serves the objects of a provider. It is safe for concurrent use.
type Handler struct {
	p       storage.Provider
	opts    Options
	log     *slog.Logger
	sniffed sniffCache
}

// sniffCacheSize bounds how many sniffed types a Handler remembers.
const sniffCacheSize = 4096

// sniffCache remembers the types sniffed for objects stored without one,
// by key and ETag, so that the requests for ranges of a video stored
// without a type (every file of an existing tree on a local store) do not
// each read its first bytes again. An object without an ETag is sniffed
// every time. The zero sniffCache is ready for use.
type sniffCache struct {
	m bounded.Map[string, string]
}

func sniffCacheKey(key string, info storage.Info) string {
	return info.ETag + "\x00" + key
}

// get returns the type sniffed for this version of the object, or "".
func (c *sniffCache) get(key string, info storage.Info) string {
	if info.ETag == "" {
		return ""
	}
	ctype, _ := c.m.Get(sniffCacheKey(key, info))
	return ctype
}

// put remembers ctype as the type sniffed for this version of the
// object; when full, it forgets another entry first.
func (c *sniffCache) put(key string, info storage.Info, ctype string) {
	if info.ETag == "" {
		return
	}
	c.m.Put(sniffCacheKey(key, info), ctype, sniffCacheSize)
}

var _ http.Handler = (*Handler)(nil)

// ErrCannotRedirect is the error NewHandler returns when Options.Redirect
// is set for a provider that cannot presign URLs. It matches
// storage.ErrUnsupported.
var ErrCannotRedirect = fmt.Errorf("httpserve: Options.Redirect is set but the provider cannot presign URLs: %w", storage.ErrUnsupported)

// NewHandler returns a Handler serving the objects of p. opts may be nil.
// It fails with ErrCannotRedirect when opts.Redirect is set and p cannot
// presign URLs (storage.PresignGet answers storage.ErrUnsupported), rather
// than quietly serving every object through the handler.
func NewHandler(p storage.Provider, opts *Options) (*Handler, error) {
	h := newHandler(p, opts)
	if h.opts.Redirect {
		if err := canPresign(p); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// presignProbeKey is the key canPresign asks a presigner for. No object
// needs to exist under it: a URL is only signed, never fetched.
const presignProbeKey = "httpserve-presign-probe"

// canPresign returns ErrCannotRedirect, with the reason, when p cannot
// presign URLs: storage.PresignGet of a probe key answers
// storage.ErrUnsupported, because p is not a storage.Presigner or is a
// wrapper (metrics, a tiered store) over something that cannot. Any other
// failure of the probe (an outage, for a service whose presigning asks the
// server) is not a refusal: per-object failures are served directly.
func canPresign(p storage.Provider) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := storage.PresignGet(ctx, p, presignProbeKey, time.Minute); errors.Is(err, storage.ErrUnsupported) {
		return fmt.Errorf("%w (provider %T: %w)", ErrCannotRedirect, p, err)
	}
	return nil
}

// New returns a Handler serving the objects of p. opts may be nil. Prefer
// NewHandler, which returns an error for options it cannot honour: New,
// whose signature predates it, logs that error instead (at Error, through
// Options.Logger or, when that is nil, slog.Default), once, here, and
// serves every object through the handler.
func New(p storage.Provider, opts *Options) *Handler {
	h, err := NewHandler(p, opts)
	if err != nil {
		h = newHandler(p, opts)
		log := h.opts.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Error("httpserve: redirects are off: serving objects through the handler", "err", err)
		h.opts.Redirect = false
	}
	return h
}

func newHandler(p storage.Provider, opts *Options) *Handler {
	h := &Handler{p: p}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.ContentSecurityPolicy == "" {
		h.opts.ContentSecurityPolicy = DefaultContentSecurityPolicy
	}
	if h.opts.MediaContentSecurityPolicy == "" {
		h.opts.MediaContentSecurityPolicy = DefaultMediaContentSecurityPolicy
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
	var (
		obj    *storage.ObjectReader
		opened storage.Range // the range obj opened with its first Get, if it did
		info   storage.Info
		err    error
	)
	if h.openFirst(r) {
		obj, opened, err = h.open(ctx, key, r.Header.Get("Range"))
		if err != nil {
			h.fail(w, r, key, err)
			return
		}
	}
	var (
		planErr error // the Range header's, once parsed
		parsed  bool
	)
	openedFirst := obj != nil
	if obj != nil {
		info = obj.Info()
	} else {
		info, err = h.p.Stat(ctx, key)
		if err != nil {
			h.fail(w, r, key, err)
			return
		}
		if h.opts.Redirect && r.Method == http.MethodGet {
			if h.redirect(w, r, key) {
				return
			}
		}
		// The reader opens a Get of each range the Range header asks
		// for, as ServeContent reads it, and none before.
		var ranges []storage.Range
		if rh := r.Header.Get("Range"); rh != "" && r.Method == http.MethodGet {
			var plan []byteRange
			plan, planErr = parseRanges(rh, info.Size)
			parsed = true
			for _, br := range plan {
				ranges = append(ranges, storage.Range{Offset: br.start, Length: br.length})
			}
		}
		obj, err = storage.OpenReader(ctx, h.p, key, &storage.ReaderOptions{Info: &info, Ranges: ranges})
		if err != nil {
			h.fail(w, r, key, err)
			return
		}
	}
	defer obj.Close()
	ctype := info.ContentType
	if ctype == "" {
		ctype = h.sniffed.get(key, info)
	}
	if ctype == "" {
		if openedFirst && opened.Offset == 0 {
			ctype, err = sniffOpen(obj, opened.Length)
		} else {
			ctype, err = sniffAt(obj)
		}
		if err != nil {
			h.fail(w, r, key, err)
			return
		}
		h.sniffed.put(key, info, ctype)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	if tag := etag(info); tag != "" {
		hdr.Set("ETag", tag)
	}
	csp := h.opts.ContentSecurityPolicy
	if InertMedia(ctype) {
		csp = h.opts.MediaContentSecurityPolicy
	}
	if csp != "-" {
		hdr.Set("Content-Security-Policy", csp)
	}
	if cc := cmp.Or(info.CacheControl, h.opts.CacheControl); cc != "" {
		hdr.Set("Cache-Control", cc)
	}
	if info.ContentEncoding != "" {
		hdr.Set("Content-Encoding", info.ContentEncoding)
	}
	if info.ContentLanguage != "" {
		hdr.Set("Content-Language", info.ContentLanguage)
	}
	h.setDisposition(w, r, info, ctype)

	if rh := r.Header.Get("Range"); rh != "" && r.Method == http.MethodGet {
		if !parsed {
			_, planErr = parseRanges(rh, info.Size)
		}
		switch {
		case errors.Is(planErr, errNoOverlap) && r.Header.Get("If-Range") == "":
			// net/http would answer "bytes=-0" with a 206 of no bytes and an
			// impossible Content-Range; answer 416 as RFC 9110 says.
			w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			h.fail(w, r, key, storage.ErrInvalidRange)
			return
		case errors.Is(planErr, errMalformed):
			// RFC 9110 lets a server ignore a Range header it cannot parse;
			// net/http would answer some with 416 and accept others ("+0")
			// with impossible ranges, so strict parsing decides here.
			r.Header.Del("Range")
		}
	}
	rec := &statusRecorder{ResponseWriter: w, obj: obj}
	rec.onError = func() { h.logReadError(r, key, rec.err) }
	http.ServeContent(rec, r, "", info.ModTime, obj)
}

// conditionalHeaders are the request headers whose answer may not need
// the object's bytes (a 304 or a 412), or may need other bytes than the
// Range header says (If-Range).
var conditionalHeaders = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"}

// openFirst reports whether ServeHTTP opens the object with a Get before
// it knows its Info, rather than asking Stat first: for a GET that is
// neither conditional nor to be redirected. One open per request then
// serves it, where Stat and Get are two (two opens and two metadata reads
// on a local store). A HEAD needs no bytes, a redirect none of the
// handler's; a conditional request often needs none (a 304), so for it
// Stat comes first, and a revalidation on a tiered store's cache miss does
// not fetch the object.
func (h *Handler) openFirst(r *http.Request) bool {
	if r.Method != http.MethodGet || h.opts.Redirect {
		return false
	}
	for _, k := range conditionalHeaders {
		if _, ok := r.Header[k]; ok {
			return false
		}
	}
	return true
}

// open opens key with a storage.ObjectReader whose first Get, made here,
// is of what the request's Range header asks for (the whole object when
// it has none); that Get gives the object's Info too. It returns the
// reader and the range it opened. For a Range header that is not one
// range starting at a given offset (a suffix, several ranges, a malformed
// header), or one that starts past the end of the object, it returns no
// reader and no error: the object's size is needed first, and ServeHTTP
// asks Stat.
func (h *Handler) open(ctx context.Context, key, rh string) (*storage.ObjectReader, storage.Range, error) {
	var rng storage.Range // the whole object
	if rh != "" {
		off, length, ok := firstRange(rh)
		if !ok {
			return nil, rng, nil
		}
		rng = storage.Range{Offset: off, Length: length}
	}
	obj, err := storage.OpenReader(ctx, h.p, key, &storage.ReaderOptions{Ranges: []storage.Range{rng}})
	if err != nil {
		if rh != "" && errors.Is(err, storage.ErrInvalidRange) {
			return nil, rng, nil // ServeHTTP answers as for any unsatisfiable range
		}
		return nil, rng, err
	}
	return obj, rng, nil
}

// firstRange returns the range a Range header of one range with a first
// byte asks for ("bytes=100-199", or "bytes=100-" to the end, length 0),
// and whether the header is one; a suffix range ("bytes=-500") or several
// ranges are not.
func firstRange(rh string) (off, length int64, ok bool) {
	spec, ok := strings.CutPrefix(rh, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, ok := strings.Cut(spec, "-")
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if !ok || first == "" || first[0] == '+' || (last != "" && last[0] == '+') {
		return 0, 0, false
	}
	off, err := strconv.ParseInt(first, 10, 64)
	if err != nil || off < 0 {
		return 0, 0, false
	}
	if last == "" {
		return off, 0, true
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < off || end == math.MaxInt64 {
		return 0, 0, false
	}
	return off, end - off + 1, true
}

// redirect answers with a presigned URL and reports whether it did.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, key string) bool {
	u, err := storage.PresignGet(r.Context(), h.p, key, h.opts.RedirectExpiry)
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

// sniffLen is how many bytes http.DetectContentType looks at.
const sniffLen = 512

// sniffAt detects the content type from the first 512 bytes of the
// object, read with a Get of just those bytes.
func sniffAt(obj *storage.ObjectReader) (string, error) {
	n := min(obj.Size(), sniffLen)
	if n == 0 {
		return "application/octet-stream", nil
	}
	buf := make([]byte, n)
	k, err := obj.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return http.DetectContentType(buf[:k]), nil
}

// sniffOpen detects the content type from the first 512 bytes of the
// object, or of the length bytes the reader's open Get holds from the
// first byte on (0: to the end), read from that Get; the reader is then
// put back at the start, where it reads them again from what it kept.
func sniffOpen(obj *storage.ObjectReader, length int64) (string, error) {
	n := min(obj.Size(), sniffLen)
	if length > 0 {
		n = min(n, length)
	}
	if n == 0 {
		return "application/octet-stream", nil
	}
	buf := make([]byte, n)
	k, err := io.ReadFull(obj, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return http.DetectContentType(buf[:k]), nil
}

// inlineText are the types besides inert media that a browser may show
// inline from user uploads: text that cannot run script. They are served
// sandboxed all the same.
var inlineText = map[string]bool{"text/plain": true, "text/csv": true, "application/json": true}

// InertMedia reports whether content of type ctype is media a browser
// shows or plays without running anything from it: image/*, audio/* and
// video/*, except SVG and any +xml type (an SVG image is a document that
// can hold script). Inert media is served inline with
// MediaContentSecurityPolicy, without a sandbox.
func InertMedia(ctype string) bool {
	mt, ok := mediaType(ctype)
	return ok && inert(mt)
}

// inert is InertMedia of a parsed media type mt.
func inert(mt string) bool {
	top, sub, _ := strings.Cut(mt, "/")
	switch top {
	case "image", "audio", "video":
	default:
		return false
	}
	return sub != "" && !strings.Contains(sub, "svg") && !strings.Contains(sub, "xml")
}

// InlineSafe reports whether a response of content type ctype may be shown
// inline by a browser without risk of running script in the server's
// origin: inert media (see InertMedia), plain text, CSV and JSON.
func InlineSafe(ctype string) bool {
	mt, ok := mediaType(ctype)
	return ok && (inert(mt) || inlineText[mt])
}

// mediaType returns the media type of the Content-Type ctype, lower-case
// and without parameters, as mime.ParseMediaType does, and whether ctype
// parses. A plain lower-case type ("image/jpeg", what a store mostly
// holds) is its own media type, which saves every request the parse and
// its allocations.
func mediaType(ctype string) (string, bool) {
	if plainMediaType(ctype) {
		return ctype, true
	}
	mt, _, err := mime.ParseMediaType(ctype)
	return mt, err == nil
}

// plainMediaType reports whether s is type "/" subtype, both non-empty,
// of lower-case letters, digits and "-", "+", ".": a media type that
// mime.ParseMediaType returns unchanged.
func plainMediaType(s string) bool {
	slash := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '+', c == '.':
		case c == '/' && slash < 0:
			slash = i
		default:
			return false
		}
	}
	return slash > 0 && slash < len(s)-1
}

// setDisposition sets the Content-Disposition of the response: the one
// Options.Filename asks for, or else the stored one, made an attachment for
// a type that is not InlineSafe, or else attachment for such a type.
func (h *Handler) setDisposition(w http.ResponseWriter, r *http.Request, info storage.Info, ctype string) {
	if h.opts.Filename == nil && info.ContentDisposition != "" {
		disp := info.ContentDisposition
		if !InlineSafe(ctype) {
			disp = asAttachment(disp)
		}
		w.Header().Set("Content-Disposition", disp)
		return
	}
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

// asAttachment returns the Content-Disposition disp with its disposition
// type made "attachment", its parameters (the file name) kept.
func asAttachment(disp string) string {
	typ, params, ok := strings.Cut(disp, ";")
	if strings.EqualFold(strings.TrimSpace(typ), "attachment") {
		return disp
	}
	if !ok {
		return "attachment"
	}
	return "attachment;" + params
}

// etag returns the ETag header of info: its ETag, quoted as storage.Info
// says (a bare one, as a provider not built on storage/driver may give,
// is quoted here), or the quoted SHA-256 when it has none, or "" when
// there is neither or the ETag cannot be sent as a header.
func etag(info storage.Info) string {
	t := info.ETag
	if t == "" {
		t = info.SHA256
	}
	opaque := strings.TrimPrefix(t, "W/")
	if len(opaque) >= 2 && opaque[0] == '"' && opaque[len(opaque)-1] == '"' {
		opaque = opaque[1 : len(opaque)-1]
	} else if opaque != t {
		return "" // W/ without quotes
	} else {
		t = `"` + t + `"`
	}
	if opaque == "" || strings.ContainsAny(opaque, "\"\r\n") {
		return ""
	}
	return t
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
	case errors.Is(err, storage.ErrPermission):
		return http.StatusForbidden
	case errors.Is(err, storage.ErrInvalidRange):
		return http.StatusRequestedRangeNotSatisfiable
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, storage.ErrChanged), errors.Is(err, context.DeadlineExceeded):
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
	case code == http.StatusForbidden:
		// Not the client's mistake but no failure either: the store
		// refused (a file the process may not read, a symbolic link out
		// of a local root, an S3 403). The operator should hear of it.
		h.log.WarnContext(r.Context(), "httpserve: the store refused access to the object", "key", key, "status", code, "err", err)
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
	obj     *storage.ObjectReader // the body ServeContent reads
	err     error                 // the first error reading it
	onError func()
}

// WriteHeader gives the whole-object answer for an object stored with a
// Content-Encoding its Content-Length, which ServeContent leaves out then
// (against handlers that compress on the fly; this one sends the stored
// bytes as they are).
func (s *statusRecorder) WriteHeader(code int) {
	h := s.Header()
	if code == http.StatusOK && h.Get("Content-Encoding") != "" && h.Get("Content-Length") == "" {
		h.Set("Content-Length", strconv.FormatInt(s.obj.Size(), 10))
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	if err != nil {
		s.onError()
	}
	return n, err
}

// copyBufs are the buffers statusRecorder.ReadFrom copies through, so
// that a response does not allocate one.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom copies the body http.ServeContent hands over through io.CopyN:
// an io.LimitedReader of the object's reader, for a whole object or one
// range, which then copies exactly those bytes with its CopyN, from one
// Get of just them, through that Get's own reader's WriteTo when it has
// one (a local file then goes to the socket with sendfile(2), and a cache
// hit's whole object is still checked as it streams); or the pipe of a
// multipart answer, copied with a pooled buffer (io.CopyN would allocate
// one per response).
func (s *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	dst := &sink{w: s.ResponseWriter}
	var n int64
	var err error
	if lr, ok := src.(*io.LimitedReader); ok && lr.R == s.obj {
		n, err = s.obj.CopyN(dst, lr.N)
		lr.N -= n
	} else {
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		n, err = io.CopyBuffer(writerOnly{dst}, src, *bp)
	}
	if err != nil {
		if !dst.failed && s.err == nil {
			s.err = err
		}
		s.onError()
	}
	return n, err
}

// sink is the destination of statusRecorder.ReadFrom: the response, with
// its ReadFrom (to the socket, with sendfile(2) for a file), noting
// whether writing failed, to tell it from a failure to read.
type sink struct {
	w      http.ResponseWriter
	failed bool
}

// WriteHeader passes on to the response. Nothing here calls it: it makes
// the sink look like the response writer it stands for to a reader that
// hands its file only to destinations that copy it in the kernel (a
// cache hit's: see the cache package), as it does to net/http's.
func (d *sink) WriteHeader(code int) { d.w.WriteHeader(code) }

func (d *sink) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		d.failed = true
	}
	return n, err
}

func (d *sink) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := d.w.(io.ReaderFrom)
	if !ok {
		// A middleware's writer that hides the server's ReadFrom: copy
		// through a pooled buffer (io.Copy would allocate one per call).
		bp := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(bp)
		return io.CopyBuffer(writerOnly{d}, src, *bp)
	}
	n, err := rf.ReadFrom(src)
	if err != nil {
		// A copy in the kernel fails at either end; a file that can no
		// longer be read is rarer than a client that went away.
		d.failed = true
	}
	return n, err
}

// writerOnly hides all methods but Write, so io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
