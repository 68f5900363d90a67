package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/metrics"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"

	// Drivers for -remote URLs.
	_ "github.com/strata-storage/strata/b2"
	"github.com/strata-storage/strata/local"
	_ "github.com/strata-storage/strata/memory"
	_ "github.com/strata-storage/strata/minio"
	_ "github.com/strata-storage/strata/s3"
)

type server struct {
	cfg config
	log *slog.Logger
	// store is what requests use: the local store or, with -remote, the
	// tiered store, wrapped for metrics. storage.As reaches the tiered
	// store's Status through the wrapper.
	store storage.Provider
	probe *remoteHealth // with -remote, else nil
	close func() error  // closes the stores
	reg   *prometheus.Registry
	mux   *http.ServeMux
	ready chan string // receives the listening address
}

func newServer(ctx context.Context, cfg config, log *slog.Logger) (*server, error) {
	if err := checkDataDir(cfg.dataDir, cfg.remote); err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, log: log, reg: prometheus.NewRegistry(), ready: make(chan string, 1)}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(s.reg)

	var base storage.Provider
	if cfg.remote == "" {
		st, err := local.New(cfg.dataDir, &local.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", cfg.dataDir, err)
		}
		base, s.close = st, st.Close
	} else {
		remote, err := storage.Open(ctx, cfg.remote)
		if err != nil {
			return nil, err
		}
		c, err := cache.Open(cfg.dataDir, cache.Options{MaxBytes: cfg.maxBytes, MaxIdle: cfg.maxIdle, Logger: log})
		if err != nil {
			remote.Close()
			return nil, err
		}
		mode := tiered.WriteThrough
		if cfg.writeMode == "behind" {
			mode = tiered.WriteBehind
		}
		ts, err := tiered.New(c, m.Wrap(remote, "remote"), tiered.Options{Mode: mode, Staleness: cfg.staleness, Logger: log})
		if err != nil {
			c.Close()
			remote.Close()
			return nil, err
		}
		s.reg.MustRegister(metrics.CacheCollector("media", c))
		s.reg.MustRegister(metrics.TieredCollector("media", ts))
		base, s.close = ts, ts.Close
		s.probe = &remoteHealth{remote: ts.Remote(), now: time.Now}
		s.warnIfRemoteDown(ctx, mode)
	}
	s.store = m.Wrap(base, "media")

	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.HandleFunc("POST /upload", s.handleUpload)
	media, err := httpserve.NewHandler(s.store, &httpserve.Options{
		Prefix: "/media/",
		Logger: log,
		// Keys are never reused for other media. A replacement (PUT, an
		// admin's) changes a key's bytes, and a browser that already holds
		// them keeps its copy, as it keeps a deleted object's: "private"
		// keeps shared caches out, so no proxy serves the old bytes.
		CacheControl: "private, max-age=31536000, immutable",
	})
	if err != nil {
		s.close()
		return nil, err
	}
	s.mux.Handle("GET /media/", media)
	s.mux.Handle("HEAD /media/", media)
	s.mux.HandleFunc("PUT /media/{key...}", s.handleReplace)
	s.mux.HandleFunc("DELETE /media/{key...}", s.handleDelete)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	return s, nil
}

// serve listens until ctx ends, then shuts down: it stops accepting,
// finishes requests in progress, flushes pending uploads and closes the
// stores.
func (s *server) serve(ctx context.Context, stdout io.Writer) error {
	ln, err := net.Listen("tcp", s.cfg.addr)
	if err != nil {
		s.close()
		return err
	}
	hs := &http.Server{
		Handler:           s.logRequests(s.mux),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	addr := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "mediaserver: listening on %s (data in %s", addr, s.cfg.dataDir)
	if s.cfg.remote != "" {
		fmt.Fprintf(stdout, ", remote %s, write-%s", storage.RedactString(s.cfg.remote), s.cfg.writeMode)
	}
	fmt.Fprintln(stdout, ")")
	s.ready <- addr

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.close()
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "mediaserver: shutting down: finishing requests in progress")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	flushCtx, cancel := context.WithTimeout(context.Background(), s.cfg.flushTimeout)
	if ferr := storage.Flush(flushCtx, s.store); ferr != nil {
		fmt.Fprintf(stdout, "mediaserver: pending uploads not all sent (%v); they are kept on disk and resume at the next start\n", ferr)
	}
	cancel()
	if cerr := s.close(); err == nil {
		err = cerr
	}
	fmt.Fprintln(stdout, "mediaserver: stopped")
	return err
}

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newKey returns a new unguessable key under today's date: 128 random bits.
func newKey(now time.Time) string {
	var b [16]byte
	rand.Read(b[:])
	return now.UTC().Format("2006/01/02/") + strings.ToLower(keyEncoding.EncodeToString(b[:]))
}

type uploadResult struct {
	Key         string `json:"key"`
	URL         string `json:"url"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256,omitempty"`
	ContentType string `json:"content_type,omitempty"`
}

var errTooLarge = errors.New("upload is over the size limit")

// limitedReader reads the upload from the request: it fails with
// errTooLarge as soon as more than n bytes come, and marks every other
// error of the request's body as a bodyError, the client's doing. It keeps
// the first error in err: when the client breaks off, the request's
// context ends too, and the store may report that rather than the error
// it was given.
type limitedReader struct {
	r   io.Reader
	n   int64
	err error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	switch {
	case l.n < 0:
		l.err = errTooLarge
		return 0, l.err
	case err != nil && err != io.EOF:
		l.err = &bodyError{err}
		return n, l.err
	}
	return n, err
}

// bodyError is a failure to read the request's body: a body shorter than
// its Content-Length, a broken multipart form, a client gone away.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading the request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// handleUpload stores the body (or the "file" field of a multipart form)
// under a new key: 201 with JSON and a Location.
func (s *server) handleUpload(w http.ResponseWriter, r *http.Request) {
	res, ok := s.putBody(w, r, newKey(time.Now()), "")
	if !ok {
		return
	}
	w.Header().Set("Location", res.URL)
	writeJSON(w, http.StatusCreated, res)
}

// handleReplace replaces the bytes of an existing object with the body (or
// the "file" field of a multipart form), as a moderator does who swaps an
// image for a redacted one, strips its location data or re-encodes a video
// that does not play: the media id stays, so the messages that link to it
// show the new bytes. It needs the admin bearer token, like a delete, and
// answers 200 with JSON. A key no object has is a 404: new objects get
// new keys from POST /upload. The type and the file name follow the new
// body (the old name is kept when the body brings none). Other servers on
// the same remote stop serving the old bytes within -staleness.
//
// The check that the object exists and the write are two steps: a delete
// of the key between them is overwritten by the replacement.
func (s *server) handleReplace(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	key := r.PathValue("key")
	if err := storage.ValidKey(key); err != nil {
		http.Error(w, fmt.Sprintf("bad media key %q: %v", key, err), http.StatusBadRequest)
		return
	}
	old, err := s.store.Stat(r.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		http.Error(w, fmt.Sprintf("no media %q to replace: PUT replaces an existing object; POST /upload stores a new one under a new key", key), http.StatusNotFound)
		return
	}
	if err != nil {
		s.storeFailed(w, r, "replace failed: reading the object", key, err)
		return
	}
	res, ok := s.putBody(w, r, key, dispositionName(old.ContentDisposition))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// putBody stores the request's body (or the "file" field of a multipart
// form) under key, named filename unless the form names the file itself.
// The size limit is checked while streaming: an upload over it fails with
// 413 and nothing is stored. When it fails, it has answered the request.
func (s *server) putBody(w http.ResponseWriter, r *http.Request, key, filename string) (uploadResult, bool) {
	// The multipart envelope may add a little to the file itself.
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.maxUpload+64<<10)
	var body io.Reader = r.Body
	ctype := r.Header.Get("Content-Type")
	size := int64(0)
	if mt, _, _ := mime.ParseMediaType(ctype); mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, "bad multipart form", http.StatusBadRequest)
			return uploadResult{}, false
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				http.Error(w, `the form has no "file" field`, http.StatusBadRequest)
				return uploadResult{}, false
			}
			if part.FormName() == "file" {
				body, ctype = part, part.Header.Get("Content-Type")
				if name := part.FileName(); name != "" {
					filename = name
				}
				break
			}
		}
	} else if r.ContentLength > 0 {
		size = r.ContentLength
	}
	if size > s.cfg.maxUpload {
		http.Error(w, errTooLarge.Error(), http.StatusRequestEntityTooLarge)
		return uploadResult{}, false
	}
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || storage.ValidContentType(ctype) != nil {
		ctype = ""
	} else if mt == "application/x-www-form-urlencoded" {
		ctype = ""
	}
	lr := &limitedReader{r: body, n: s.cfg.maxUpload}
	head, body := peek(lr, sniffLen)
	ctype = uploadType(ctype, filename, head)
	// No IfNotExists for a new key: it is new by construction (128 random
	// bits, see newKey), so a conditional create could only succeed, and
	// over a write-behind tiered store it would cost a remote request per
	// upload (up to the remote timeout while the remote hangs): the
	// dependency on the remote that write-behind exists to remove.
	// The file name goes with the object as its Content-Disposition,
	// which httpserve sends as stored: "Save as" offers the name the file
	// was uploaded under.
	info, err := s.store.Put(r.Context(), key, body,
		&storage.PutOptions{ContentType: ctype, Size: size, ContentDisposition: contentDisposition(filename, ctype)})
	if err != nil && lr.err != nil {
		err = lr.err // the request's failure, not what it caused
	}
	var maxErr *http.MaxBytesError
	var bodyErr *bodyError
	switch {
	case errors.Is(err, errTooLarge) || errors.As(err, &maxErr):
		http.Error(w, errTooLarge.Error(), http.StatusRequestEntityTooLarge)
		return uploadResult{}, false
	case errors.Is(err, storage.ErrSizeMismatch) || errors.As(err, &bodyErr):
		// The client's doing (or its going): nothing for the error log.
		s.log.InfoContext(r.Context(), "upload refused: the request body ended early", "key", key, "err", err)
		http.Error(w, "the request body ended before its Content-Length, or was malformed", http.StatusBadRequest)
		return uploadResult{}, false
	case err != nil:
		s.storeFailed(w, r, "upload failed", key, err)
		return uploadResult{}, false
	}
	return uploadResult{Key: key, URL: "/media/" + key, Size: info.Size, SHA256: info.SHA256, ContentType: ctype}, true
}

// storeFailed answers a request whose store call failed other than by the
// client's doing: 503 with Retry-After when the cache is full, else the
// status of the error, at least 500 (a 404 found on a write is the
// server's trouble, not the client's). Errors other than a client gone
// away are logged.
func (s *server) storeFailed(w http.ResponseWriter, r *http.Request, msg, key string, err error) {
	if errors.Is(err, cache.ErrFull) {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "storage is full; try again later", http.StatusServiceUnavailable)
		return
	}
	if !storage.IsContextError(err) {
		s.log.ErrorContext(r.Context(), msg, "key", key, "err", err)
	}
	code := httpserve.Status(err)
	if code < 500 || code == 499 {
		code = http.StatusInternalServerError
	}
	http.Error(w, http.StatusText(code), code)
}

// authorized reports whether the request carries the admin bearer token,
// and answers 401 when it does not.
func (s *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.cfg.adminToken == "" || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.adminToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mediaserver"`)
		http.Error(w, "admin token required", http.StatusUnauthorized)
		return false
	}
	return true
}

// handleDelete removes an object; it needs the admin bearer token.
func (s *server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	key := r.PathValue("key")
	if err := s.store.Delete(r.Context(), key); err != nil {
		code := httpserve.Status(err)
		if code == 499 {
			return
		}
		if code >= 500 {
			s.log.ErrorContext(r.Context(), "delete failed", "key", key, "err", err)
		}
		http.Error(w, http.StatusText(code), code)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom keeps the ResponseWriter's own ReadFrom, through which
// httpserve sends a local file to the socket with sendfile(2); without it
// every body would be copied through a buffer.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
}

// logRequests logs each request at Info: method, path, status, duration,
// Range, and which conditional headers it carried (a 304 answers one).
// Authorization headers are never logged.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelInfo) {
			next.ServeHTTP(w, r) // without -v: nothing to log, nothing to record
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.code, "duration", time.Since(start)}
		if rg := r.Header.Get("Range"); rg != "" {
			attrs = append(attrs, "range", rg)
		}
		var cond []string
		for _, h := range []string{"If-None-Match", "If-Modified-Since", "If-Range", "If-Match", "If-Unmodified-Since"} {
			if r.Header.Get(h) != "" {
				cond = append(cond, h)
			}
		}
		if len(cond) > 0 {
			attrs = append(attrs, "conditional", strings.Join(cond, ","))
		}
		s.log.InfoContext(r.Context(), "request", attrs...)
	})
}
