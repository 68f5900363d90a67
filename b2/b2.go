package b2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	b2base "github.com/Backblaze/blazer/base"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

const (
	provider  = "b2"
	userAgent = "strata-b2"
)

// Store is a storage.Provider on one B2 bucket. It is safe for concurrent
// use. Make one with New.
//
// Store is a [driver.Provider] over this package's driver, which speaks
// B2's native API; the checks of every call, the errors, the SHA-256 of
// Put and the verification of whole reads come from package driver.
type Store struct {
	*base
	c *client
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// client is the driver: one bucket through B2's native API.
type client struct {
	p         *driver.Provider // for Closed
	cfg       Config
	log       *slog.Logger
	authOpts  []b2base.AuthOption
	transport *http.Transport // ours to close, or nil
	rt        http.RoundTripper
	redactor  *strings.Replacer

	cur    atomic.Pointer[session]
	authMu sync.Mutex // serialises re-authorization

	urls chan *b2base.URL // idle upload URLs; each is used by one upload at a time
	// maxCopySize and copyPartSize are constants, fields so that tests can
	// reach the part-by-part copy with small files.
	maxCopySize, copyPartSize int64
	// listPage is how many names List asks of each b2_list_file_names
	// call: 1000, a field so that tests reach page boundaries with few
	// files.
	listPage int
	// testPartBuffers, when set by a test, is told how many part buffers a
	// large upload used.
	testPartBuffers func(n int)
}

var (
	_ storage.Provider  = (*Store)(nil)
	_ storage.Presigner = (*Store)(nil)
	_ storage.Copier    = (*Store)(nil)
	_ driver.Driver     = (*client)(nil)
)

// session is one authorization: the account token and the bucket handle
// made with it. It is immutable; re-authorization replaces it as a whole.
type session struct {
	api    *b2base.B2
	bucket *b2base.Bucket
	// token and apiURL serve the calls blazer does not wrap (b2_copy_file,
	// b2_copy_part). blazer keeps them private, so authorize reads them off
	// the b2_list_buckets request it makes.
	token  string
	apiURL string
}

// New authorizes with B2, finds cfg.Bucket and returns a Store on it.
//
// New makes two calls: b2_authorize_account, and b2_list_buckets filtered by
// the bucket's name (blazer has no other way to turn a name into a bucket,
// and B2 lets a key restricted to a bucket make that call). It never lists
// all buckets. Errors match storage.ErrInvalidArgument for a bad Config,
// storage.ErrPermission for a key B2 refuses or one restricted to another
// bucket, storage.ErrNoBucket for a bucket that does not exist (the error
// then holds a storage.BucketCreator that makes it: see CreateBucket), and
// storage.ErrUnavailable when B2 cannot be reached within the retry limits.
func New(ctx context.Context, cfg Config) (*Store, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &client{
		cfg:      cfg,
		log:      cfg.Logger.With(slog.String("provider", provider), slog.String("bucket", cfg.Bucket)),
		urls:     make(chan *b2base.URL, 2*cfg.Concurrency+8),
		redactor: strings.NewReplacer(cfg.ApplicationKey, "[redacted]"),

		maxCopySize:  maxCopySize,
		copyPartSize: copyPartSize,
		listPage:     1000,
	}
	// List passes a delimiter to b2_list_file_names, which folds the
	// names under a common prefix into one "folder" entry on the server.
	c.p = driver.New(provider, c, &driver.Options{Delimiter: true})
	var rt http.RoundTripper
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		rt = cfg.HTTPClient.Transport
	} else {
		c.transport = http.DefaultTransport.(*http.Transport).Clone()
		// Downloads cannot take a deadline for the whole attempt (the body
		// is read later); bound the wait for B2's answer instead.
		c.transport.ResponseHeaderTimeout = cfg.AttemptTimeout
		rt = c.transport
	}
	c.rt = rt
	c.authOpts = []b2base.AuthOption{b2base.Transport(captureTransport{next: rt}), b2base.UserAgent(userAgent)}
	if cfg.APIBase != "" {
		c.authOpts = append(c.authOpts, b2base.SetAPIBase(strings.TrimSuffix(cfg.APIBase, "/")))
	}
	var s *session
	err = c.call(ctx, "b2_authorize_account", func(ctx context.Context, _ *session) error {
		var err error
		s, err = c.authorize(ctx)
		return err
	})
	if err != nil {
		c.closeTransport()
		return nil, c.p.Wrap("open", "", err)
	}
	c.cur.Store(s)
	return &Store{base: c.p, c: c}, nil
}

// authorize calls b2_authorize_account and finds the bucket.
func (c *client) authorize(ctx context.Context) (*session, error) {
	api, err := b2base.AuthorizeAccount(ctx, c.cfg.KeyID, c.cfg.ApplicationKey, c.authOpts...)
	if err != nil {
		err = c.normalize(err)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			ae.final = true // a refused key does not get better by asking again
		}
		return nil, err
	}
	var capt captured
	buckets, err := api.ListBuckets(context.WithValue(ctx, captureKey{}, &capt), c.cfg.Bucket)
	if err != nil {
		err = c.normalize(err)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			ae.final = true
		}
		return nil, err
	}
	for _, b := range buckets {
		if b.Name == c.cfg.Bucket {
			apiURL, _, _ := strings.Cut(capt.reqURL, "/b2api/")
			return &session{api: api, bucket: b, token: capt.reqAuth, apiURL: apiURL}, nil
		}
	}
	return nil, &missingBucket{c: c, api: api}
}

// reauth replaces the session old with a new authorization, unless another
// goroutine already did.
func (c *client) reauth(ctx context.Context, old *session) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if cur := c.cur.Load(); cur != old && cur != nil {
		return nil
	}
	s, err := c.authorize(ctx)
	if err != nil {
		return err
	}
	c.cur.Store(s)
	c.log.LogAttrs(ctx, slog.LevelInfo, "b2: re-authorized after an expired token")
	return nil
}

// Close implements driver.Driver: it releases the idle connections and
// upload URLs. The Store's Close calls it once; calls after it fail with
// storage.ErrClosed.
func (c *client) Close() error {
	c.forgetURLs()
	c.closeTransport()
	return nil
}

func (c *client) closeTransport() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// String describes the store without credentials.
func (st *Store) String() string { return "b2://" + st.c.cfg.Bucket }

// Format implements fmt.Formatter: every verb prints String (quoted for
// %q), never the Store's fields, its Config and tokens among them.
func (st *Store) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", st.String())
		return
	}
	fmt.Fprint(f, st.String())
}

// captureKey is the context key under which a call asks captureTransport
// for the response headers blazer does not hand back.
type captureKey struct{}

type captured struct {
	reqURL  string
	reqAuth string
	header  http.Header
	status  int
}

// captureTransport records the request's URL and Authorization, and the
// response's status and headers, for the caller that put a *captured in the
// request's context. Downloads need Content-Range (the size of the whole
// object) and X-Bz-Upload-Timestamp; authorize needs the token and API URL.
type captureTransport struct{ next http.RoundTripper }

func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, ok := req.Context().Value(captureKey{}).(*captured)
	if ok {
		c.reqURL, c.reqAuth = req.URL.String(), req.Header.Get("Authorization")
	}
	if req.Header.Get("Accept-Encoding") == "" {
		// Ask for the bytes as stored: left alone, http.Transport asks
		// for gzip and decompresses an object stored with
		// Content-Encoding gzip (b2-content-encoding) on the way.
		req = req.Clone(req.Context())
		req.Header.Set("Accept-Encoding", "identity")
	}
	resp, err := t.next.RoundTrip(req)
	if ok && resp != nil {
		c.header, c.status = resp.Header, resp.StatusCode
	}
	return resp, err
}

// ---- errors and retries ----

// APIError is an error B2 answered with. Errors from Store methods wrap it
// (match with errors.As) when B2 gave one.
type APIError struct {
	// Status is the HTTP status, such as 404 or 503.
	Status int
	// Code is B2's error code, such as "not_found" or "expired_auth_token".
	Code string
	// Message is B2's message, with anything that looks like a token
	// removed.
	Message string

	upload     bool          // blazer says a new upload URL is needed
	retryAfter time.Duration // from a Retry-After header
	final      bool          // never retry, whatever the status
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("b2 answered %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// netError is a transport failure (no answer from B2).
type netError struct{ msg string }

func (e *netError) Error() string { return "b2 unreachable: " + e.msg }

// tokenRE matches B2 authorization tokens ("4_0021a..." for accounts, "2_"
// for uploads, "3_" for downloads), which a message must never carry.
var tokenRE = regexp.MustCompile(`\b[0-9]_[A-Za-z0-9_=+/.-]{16,}`)

// normalize turns an error from blazer's base package into an *APIError or
// a *netError, scrubbed of credentials. Other errors pass unchanged.
func (c *client) normalize(err error) error {
	if err == nil {
		return nil
	}
	code, msgCode, msg := b2base.MsgCode(err)
	if code != 0 {
		return &APIError{
			Status: code, Code: msgCode, Message: c.scrub(msg),
			upload:     b2base.Action(err) == b2base.AttemptNewUpload,
			retryAfter: b2base.Backoff(err),
		}
	}
	if b2base.Action(err) == b2base.Retry { // blazer's mark of a transport error
		return &netError{msg: c.scrub(err.Error())}
	}
	return err
}

func (c *client) scrub(s string) string {
	return tokenRE.ReplaceAllString(c.redactor.Replace(s), "[redacted]")
}

// action is what to do after a failed attempt.
type action int

const (
	actFail      action = iota // give up: it will not get better
	actRetry                   // wait and try again
	actReauth                  // authorize again, then retry at once
	actNewUpload               // retry at once with a new upload URL
)

func classify(err error) action {
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.final:
			return actFail
		case ae.upload:
			return actNewUpload
		case ae.Status == http.StatusUnauthorized && (ae.Code == "expired_auth_token" || ae.Code == "bad_auth_token" || ae.Code == ""):
			return actReauth
		case ae.Status == http.StatusRequestTimeout, ae.Status == http.StatusTooManyRequests, ae.Status >= 500:
			return actRetry
		}
		return actFail
	}
	var ne *netError
	if errors.As(err, &ne) {
		return actRetry
	}
	return actFail
}

// exhaustedError is returned when the retries of a call ran out.
type exhaustedError struct {
	call     string
	attempts int
	elapsed  time.Duration
	err      error
}

func (e *exhaustedError) Error() string {
	return fmt.Sprintf("%s: gave up after %d attempts in %v: %v", e.call, e.attempts, e.elapsed.Round(time.Millisecond), e.err)
}

func (e *exhaustedError) Unwrap() error { return e.err }

// ctxError is returned when the caller's context ends while a call was
// being retried: it matches the context error, keeps B2's last answer, and
// matches the kind of that answer too (storage.ErrUnavailable for a B2 that
// kept failing), since the Store's errors are classified by Kind, which is
// not asked about context errors.
type ctxError struct {
	ctxErr, last, kind error
}

func (e *ctxError) Error() string { return fmt.Sprintf("%v (last failure: %v)", e.ctxErr, e.last) }

func (e *ctxError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.ctxErr, e.last}
	}
	return []error{e.ctxErr, e.last, e.kind}
}

// attempt is one try of a call with the current session.
type attempt func(ctx context.Context, s *session) error

// call runs f until it succeeds, fails for good, runs out of retries
// (Config.MaxRetries, Config.RetryTimeout) or ctx ends. Expired tokens are
// renewed and retried at once; a busy upload URL is replaced and retried at
// once the first time; other transient failures wait with exponential
// backoff. name is the B2 call, for errors and logs.
func (c *client) call(ctx context.Context, name string, f attempt) error {
	start := time.Now()
	deadline := start.Add(c.cfg.RetryTimeout)
	delay := c.cfg.MinBackoff
	newUploads := 0
	var last error
	var fresh *session // the session this call authorized, if any
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return contextFailure(err, last)
		}
		s := c.cur.Load()
		err := c.normalize(c.try(ctx, name, s, f))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return contextFailure(ctx.Err(), last)
		}
		act := classify(err)
		if act == actReauth && s != nil && s == fresh {
			// A token this call just obtained is refused: not an expiry.
			act = actFail
		}
		if act == actFail {
			return err
		}
		last = err
		if n > c.cfg.MaxRetries || !time.Now().Before(deadline) {
			return &exhaustedError{call: name, attempts: n, elapsed: time.Since(start), err: err}
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "b2: retrying", slog.String("call", name),
			slog.Int("attempt", n), slog.String("error", err.Error()))
		switch act {
		case actReauth:
			rerr := c.reauth(ctx, s)
			if rerr == nil {
				fresh = c.cur.Load()
				continue
			}
			rerr = c.normalize(rerr)
			if ctx.Err() != nil {
				return contextFailure(ctx.Err(), last)
			}
			if classify(rerr) == actFail {
				return rerr
			}
			last = rerr
		case actNewUpload:
			newUploads++
			if newUploads == 1 {
				continue
			}
		}
		wait := delay
		var ae *APIError
		if errors.As(last, &ae) && ae.retryAfter > 0 {
			wait = ae.retryAfter
		}
		wait = min(wait, c.cfg.MaxBackoff, time.Until(deadline))
		if err := sleep(ctx, wait); err != nil {
			return contextFailure(err, last)
		}
		delay = min(2*delay, c.cfg.MaxBackoff)
	}
}

// try runs f once, within Config.AttemptTimeout. A download's body
// outlives the attempt, so downloads get no deadline here; the transport's
// ResponseHeaderTimeout bounds them instead.
func (c *client) try(ctx context.Context, name string, s *session, f attempt) error {
	if name == "b2_download_file_by_name" {
		return f(ctx, s)
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	err := f(actx, s)
	if err != nil && ctx.Err() == nil && actx.Err() != nil {
		return &netError{msg: fmt.Sprintf("%s: no answer within %v", name, c.cfg.AttemptTimeout)}
	}
	return err
}

func contextFailure(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return &ctxError{ctxErr: ctxErr, last: last, kind: kindOf(last)}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kind implements driver.Driver. This is the one place B2's answers are
// mapped to the sentinels of package storage:
//
//   - 404 (not_found), file_not_present, no_such_file: storage.ErrNotFound
//   - 416 range_not_satisfiable: storage.ErrInvalidRange
//   - 401 and 403 that re-authorizing does not cure: storage.ErrPermission
//   - network errors, 408, 429 and 5xx after the retries: storage.ErrUnavailable
//   - other 400s: storage.ErrInvalidArgument
//
// Context errors keep matching context.Canceled and DeadlineExceeded (and
// storage.ErrUnavailable too when B2 had been failing: see ctxError).
func (c *client) Kind(_ string, err error) error { return kindOf(err) }

func kindOf(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusNotFound, ae.Code == "not_found", ae.Code == "file_not_present", ae.Code == "no_such_file":
			return storage.ErrNotFound
		case ae.Status == http.StatusRequestedRangeNotSatisfiable:
			return storage.ErrInvalidRange
		case ae.Status == http.StatusUnauthorized, ae.Status == http.StatusForbidden:
			return storage.ErrPermission
		case ae.Status == http.StatusRequestTimeout, ae.Status == http.StatusTooManyRequests, ae.Status >= 500:
			return storage.ErrUnavailable
		case ae.Status == http.StatusBadRequest:
			return storage.ErrInvalidArgument
		}
		return nil
	}
	var ne *netError
	if errors.As(err, &ne) {
		return storage.ErrUnavailable
	}
	return nil
}
