package minio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

var (
	_ storage.Provider     = (*Store)(nil)
	_ storage.Presigner    = (*Store)(nil)
	_ storage.PutPresigner = (*Store)(nil)
	_ storage.Copier       = (*Store)(nil)
	_ storage.PartWriter   = (*Store)(nil)
)

// Defaults of Config. They are the s3 package's too.
const (
	// DefaultPartSize is the part size of multipart uploads when
	// Config.PartSize is zero. An object of at most this size whose length
	// is known (or turns out to be, after buffering) is sent in one PUT.
	DefaultPartSize = s3proto.DefaultPartSize
	// DefaultConcurrency is how many parts of one upload are sent at once
	// when Config.Concurrency is zero.
	DefaultConcurrency = s3proto.DefaultConcurrency
	// Deprecated: DefaultNumThreads is DefaultConcurrency.
	DefaultNumThreads = DefaultConcurrency
	// MinPartSize is the smallest part size S3 accepts for all parts but
	// the last.
	MinPartSize = s3proto.MinPartSize
	// maxParts is the most parts S3 accepts in one multipart upload.
	maxParts = s3proto.MaxParts
)

// metaSHA256 is the user metadata key (sent as x-amz-meta-strata-sha256)
// holding the lowercase hex SHA-256 of the content. It is hidden from
// Info.Metadata and surfaced as Info.SHA256. It is shared with the s3
// driver.
const metaSHA256 = s3proto.MetaSHA256

// PrefixCheck says whether Put and Copy refuse, with storage.ErrExist, to
// store an object under a key whose parent is an object ("a/b" when "a"
// exists) or that is a prefix of other keys ("d" when "d/e" exists). MinIO
// lays objects out as directories: it accepts both objects but then lists
// only one of them. AWS S3, R2 and B2 hold such keys side by side. It is
// the same type as s3.PrefixCheck.
type PrefixCheck = s3proto.PrefixCheck

const (
	// PrefixCheckAuto, the zero value, checks when the server is MinIO, as
	// the Server header of its first response says. Until a response has
	// been seen it checks; the check's own requests then tell.
	PrefixCheckAuto = s3proto.PrefixCheckAuto
	// PrefixCheckOn always checks.
	PrefixCheckOn = s3proto.PrefixCheckOn
	// PrefixCheckOff never checks.
	PrefixCheckOff = s3proto.PrefixCheckOff
)

// Config configures a Store. Only Endpoint and Bucket are required; the zero
// value of every other field is a sensible default, given with the field.
// PartSize, Concurrency, MaxAttempts, RecordLargeSHA256, PrefixCheck and
// SkipVerifyReads mean the same, with the same defaults, as in the s3
// package's Config.
//
// A Config may be printed and logged: its String, GoString, Format and
// LogValue methods hide SecretKey, SessionToken, SSECustomerKey and what
// Credentials and Transport hold, with every fmt verb and log/slog handler.
type Config struct {
	// Endpoint is the server as host:port (or host, for the scheme's
	// default port), without a scheme: "127.0.0.1:9000",
	// "s3.amazonaws.com", "<account>.r2.cloudflarestorage.com".
	Endpoint string
	// Secure selects HTTPS. Zero: plain HTTP.
	Secure bool
	// Region is the bucket's region, such as "us-east-1" (MinIO's
	// default). Zero: minio-go asks the server for the bucket's location
	// once, before the first request on the bucket.
	Region string
	// AccessKey and SecretKey are static credentials, with SessionToken
	// for temporary ones. Zero: credentials come from the environment
	// (MINIO_ROOT_USER/MINIO_ROOT_PASSWORD, MINIO_ACCESS_KEY/MINIO_SECRET_KEY,
	// then AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then
	// the shared file ~/.aws/credentials), looked up by minio-go's
	// credential chain; with none found, requests are anonymous.
	AccessKey, SecretKey, SessionToken string
	// Credentials, when not nil, replaces AccessKey, SecretKey and the
	// environment: any minio-go credential provider, such as IAM
	// (credentials.NewIAM) or STS.
	Credentials *credentials.Credentials
	// Bucket holds the objects. It must exist.
	Bucket string
	// StorageClass is sent with every upload, such as "STANDARD" or
	// "REDUCED_REDUNDANCY". Zero: the server's default.
	StorageClass string
	// SSECustomerKey, when not nil, is a 32-byte key for server-side
	// encryption with a customer-provided key (SSE-C). It is sent with
	// every Put, Get, ranged Get, Stat and Copy (as both the copy source's
	// and the destination's key). Servers accept SSE-C only over HTTPS.
	// Presigned URLs cannot carry it, so PresignGet fails with
	// ErrUnsupported. Zero: no SSE-C.
	SSECustomerKey []byte
	// PartSize is the size of each part of a multipart upload, at least
	// MinPartSize (5 MiB). It bounds memory: one upload of unknown length
	// holds at most (Concurrency+1) × PartSize bytes, and may be at most
	// 10,000 × PartSize bytes long. Uploads of known length larger than
	// that use larger parts. Zero: DefaultPartSize (16 MiB).
	PartSize int64
	// Concurrency is how many parts of one upload are sent at once. Zero:
	// DefaultConcurrency (4).
	Concurrency int
	// Deprecated: NumThreads is Concurrency, which wins when both are set.
	NumThreads int
	// Transport carries the HTTP requests, for custom TLS roots, proxies
	// or instrumentation. Zero: minio-go's DefaultTransport(Secure), tuned
	// for many requests in parallel (see tuneTransport), whose idle
	// connections Close releases.
	Transport http.RoundTripper
	// MaxAttempts is how many times a request is tried when it fails with
	// a network error or a retryable server error (1: no retries). Zero:
	// minio-go's default (10). Requests without a body are retried by
	// minio-go; uploads (PUT of an object or a part) are retried by the
	// Store, with minio-go's backoff, each attempt with a body of its own
	// (see the package documentation, Retries).
	MaxAttempts int
	// Deprecated: MaxRetries is MaxAttempts, which wins when both are set.
	MaxRetries int
	// RecordLargeSHA256 makes Put record the SHA-256 of objects too large
	// to be held in memory before they are sent (streams of more than
	// (Concurrency+1) × PartSize bytes) with a server-side copy of the
	// object onto itself after its upload, which about halves the
	// throughput of such uploads. Zero: such objects are stored without a
	// recorded SHA-256 (Put still returns it). Objects read from an
	// io.ReaderAt of known size (a file) are hashed before they are sent
	// and always get it.
	RecordLargeSHA256 bool
	// Deprecated: SkipMultipartSHA256 true is the default now; use
	// RecordLargeSHA256 to record the checksum of large objects.
	SkipMultipartSHA256 bool
	// PrefixCheck is the prefix-conflict check of Put and Copy (see
	// PrefixCheck). The zero value, PrefixCheckAuto, checks on MinIO only.
	// The check costs a HEAD per parent and a one-key LIST, sent at once,
	// before each Put; it is not atomic with the upload.
	PrefixCheck PrefixCheck
	// Deprecated: SkipPrefixCheck true is PrefixCheck PrefixCheckOff, and
	// applies only when PrefixCheck is PrefixCheckAuto.
	SkipPrefixCheck bool
	// SkipVerifyReads, when true, makes Get return the bytes of a whole
	// object unchecked. Zero: Get of a whole object (no range) whose
	// SHA-256 was recorded (Info.SHA256 is not empty) hashes the bytes as
	// they are read, and the Read that reaches the object's end fails with
	// an error matching storage.ErrCorrupt, instead of returning io.EOF,
	// when the bytes read differ from the recorded checksum or size. Ranged
	// Gets are never checked. See the package documentation.
	SkipVerifyReads bool
	// Logger receives warnings (a multipart upload that could not be
	// aborted, a checksum that could not be recorded) and debug messages.
	// Zero: logs are discarded.
	Logger *slog.Logger
}

// tuning returns the settings c shares with the s3 package, with the
// deprecated fields folded in.
func (c Config) tuning() s3proto.Tuning {
	t := s3proto.Tuning{
		PartSize: c.PartSize, Concurrency: c.Concurrency, MaxAttempts: c.MaxAttempts,
		RecordLargeSHA256: c.RecordLargeSHA256, PrefixCheck: c.PrefixCheck, SkipVerifyReads: c.SkipVerifyReads,
	}
	if t.Concurrency == 0 {
		t.Concurrency = c.NumThreads
	}
	if t.MaxAttempts == 0 {
		t.MaxAttempts = c.MaxRetries
	}
	if t.PrefixCheck == PrefixCheckAuto && c.SkipPrefixCheck {
		t.PrefixCheck = PrefixCheckOff
	}
	return t
}

// Store is a storage.Provider on a bucket of MinIO or any S3-compatible
// server, through minio-go. It also implements storage.Presigner,
// storage.Copier, storage.BucketCreator and storage.PartWriter. Make one
// with New; it is safe for concurrent use.
//
// A Store is a [driver.Provider] over this package's driver, which speaks
// S3 through minio-go: the checks every call starts with, the
// *storage.Error values, the size check and hashing of Put and the
// verification of whole-object reads come from package storage/driver.
type Store struct {
	*base
	d *drv
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// drv is the driver: the S3 protocol through minio-go.
type drv struct {
	core       miniogo.Core
	bodyCore   miniogo.Core // for requests with a body: no retries of minio-go's (sendBody)
	endpoint   string
	bucket     string
	sse        encrypt.ServerSide // nil without SSE-C
	class      string
	set        s3proto.Tuning // checked, defaults filled in
	tries      int            // attempts of a request with a body (sendBody)
	retryUnit  time.Duration  // backoff between them (minio-go's defaults)
	retryCap   time.Duration
	log        *slog.Logger
	ownedTrans *http.Transport // the transport New made, closed by Close
	server     s3proto.Server  // what the Server header says, for PrefixCheckAuto
	listPage   int             // MaxKeys of a listing page (0: the server's 1,000); tests lower it (s3proto.Knobs)
	// versioning tells whether delimiter listings confirm their common
	// prefixes (MinIO lists those of deleted directories in versioned
	// buckets).
	versioning s3proto.Versioning
	p          *driver.Provider
}

// New returns a Store for cfg. It validates cfg but sends no request, so it
// succeeds while the server is down; a missing bucket shows in the first
// call's error.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.NewError("open", providerName, "", nil, err)
	}
	bad := func(format string, args ...any) error {
		return openErr(fmt.Errorf(format, args...))
	}
	if cfg.Endpoint == "" {
		return nil, bad("Config.Endpoint is empty (want host:port, such as 127.0.0.1:9000)")
	}
	if strings.Contains(cfg.Endpoint, "://") || strings.ContainsAny(cfg.Endpoint, "/?#@") {
		return nil, bad("Config.Endpoint %q is not host:port (give no scheme or path; set Secure for HTTPS)", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, bad("Config.Bucket is empty")
	}
	if err := s3utils.CheckValidBucketName(cfg.Bucket); err != nil {
		return nil, bad("Config.Bucket %q: %v", cfg.Bucket, err)
	}
	set, err := cfg.tuning().Check()
	if err != nil {
		return nil, bad("%v", err)
	}
	s := &drv{
		endpoint:  cfg.Endpoint,
		bucket:    cfg.Bucket,
		class:     cfg.StorageClass,
		set:       set,
		tries:     set.MaxAttempts,
		retryUnit: miniogo.DefaultRetryUnit,
		retryCap:  miniogo.DefaultRetryCap,
		log:       cfg.Logger,
	}
	if s.tries <= 0 {
		s.tries = miniogo.MaxRetry // minio-go's default, as for other requests
	}
	knobs := s3proto.KnobsFrom(ctx) // strata's own tests lower these
	if knobs.ListPage > 0 {
		s.listPage = knobs.ListPage
	}
	if knobs.RetryUnit > 0 {
		s.retryUnit = knobs.RetryUnit
	}
	if knobs.RetryCap > 0 {
		s.retryCap = knobs.RetryCap
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.SSECustomerKey != nil {
		sse, err := encrypt.NewSSEC(cfg.SSECustomerKey)
		if err != nil {
			// The error names the key's length, never its bytes.
			return nil, bad("Config.SSECustomerKey: %v", err)
		}
		s.sse = sse
	}
	creds := cfg.Credentials
	switch {
	case creds != nil:
	case cfg.AccessKey != "" || cfg.SecretKey != "":
		if cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, bad("Config needs both AccessKey and SecretKey, or neither")
		}
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	default:
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvMinio{},
			&credentials.EnvAWS{},
			&credentials.FileAWSCredentials{},
		})
	}
	transport := cfg.Transport
	if transport == nil {
		t, err := miniogo.DefaultTransport(cfg.Secure)
		if err != nil {
			return nil, openErr(err)
		}
		s3proto.TuneTransport(t, 0)
		s.ownedTrans = t
		transport = t
	}
	mopts := &miniogo.Options{
		Creds:        creds,
		Secure:       cfg.Secure,
		Transport:    s.server.Transport(transport), // for PrefixCheckAuto
		Region:       cfg.Region,
		BucketLookup: miniogo.BucketLookupPath,
		MaxRetries:   set.MaxAttempts,
		// TrailingHeaders stays false: minio-go then adds no
		// x-amz-checksum-* headers or trailers (no automatic CRC32C),
		// which S3 clones reject. See the package documentation.
		TrailingHeaders: false,
	}
	client, err := miniogo.New(cfg.Endpoint, mopts)
	if err != nil {
		return nil, openErr(err)
	}
	s.core = miniogo.Core{Client: client}
	// Requests with a body are retried by sendBody, never by minio-go:
	// their client tries once. (minio-go before v7.3.0 takes the body of
	// Core.PutObject for one it can rewind, which it is not, and would send
	// what is left of it again.)
	once := *mopts
	once.MaxRetries = 1
	if s.bodyCore.Client, err = miniogo.New(cfg.Endpoint, &once); err != nil {
		return nil, openErr(err)
	}
	// List lists by delimiter on the server.
	opts := &driver.Options{Delimiter: !knobs.FoldDelimiter}
	if set.SkipVerifyReads {
		// The driver's readers then classify their own read errors
		// (s3proto.PlainReader), and nothing hashes them.
		opts.ReadsChecked = true
	}
	s.p = driver.New(providerName, s, opts)
	return &Store{base: s.p, d: s}, nil
}

// openErr is the error of New and of a bad minio:// URL.
func openErr(err error) error {
	return &storage.Error{Op: "open", Provider: providerName, Kind: storage.ErrInvalidArgument, Err: err}
}

// Client returns the minio-go client the Store uses, for what this package
// does not offer. Objects written through it directly have no strata
// checksum.
func (s *Store) Client() *miniogo.Client { return s.d.core.Client }

// Bucket returns the name of the Store's bucket.
func (s *Store) Bucket() string { return s.d.bucket }

// Parts implements storage.PartWriter: the part size of multipart uploads,
// and that a reader that is an io.ReaderAt and io.Seeker, of a known
// PutOptions.Size larger than one part, is uploaded in parts read at their
// offsets, Concurrency at a time, without buffering.
func (s *Store) Parts() storage.Parts { return storage.Parts{Size: s.d.set.PartSize, ReaderAt: true} }

// Close implements driver.Driver: it closes the idle connections of the
// transport New made (not of a Config.Transport). Calls in progress finish.
func (s *drv) Close() error {
	if s.ownedTrans != nil {
		s.ownedTrans.CloseIdleConnections()
	}
	return nil
}

// getOptions returns minio-go options for a GET or HEAD, with the SSE-C key.
func (s *drv) getOptions() miniogo.GetObjectOptions {
	return miniogo.GetObjectOptions{ServerSideEncryption: s.sse}
}

// Stat implements driver.Driver with one HEAD request.
func (s *drv) Stat(ctx context.Context, key string) (storage.Info, error) {
	const op = "stat"
	oi, err := s.core.StatObject(ctx, s.bucket, key, miniogo.StatObjectOptions(s.getOptions()))
	if err != nil {
		var resp miniogo.ErrorResponse
		if errors.As(err, &resp) && s3proto.Bare(op, resp.StatusCode, responseCode(resp)) {
			// A HEAD's 404 does not say whether the key or the bucket is
			// missing (minio-go guesses NoSuchKey): ask the bucket (see
			// the s3proto package).
			return storage.Info{}, s3proto.ConfirmMissing(err, s.headBucket(ctx, op))
		}
		return storage.Info{}, s.fail(ctx, op, err)
	}
	return infoFrom(key, oi.Size, oi), nil
}

// headBucket asks whether the Store's bucket exists, for a Stat whose HEAD
// answered 404. It returns nil when the bucket answered, an error matching
// storage.ErrNoBucket when it answered 404, and the request's error
// otherwise.
func (s *drv) headBucket(ctx context.Context, op string) error {
	ok, err := s.core.BucketExists(ctx, s.bucket)
	switch {
	case err == nil && ok:
		return nil
	case err == nil:
		return fmt.Errorf("bucket %q does not exist: %w", s.bucket, storage.ErrNoBucket)
	}
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) {
		return s3proto.WithKind(s3proto.BucketKind(resp.StatusCode, responseCode(resp)), err)
	}
	return s.fail(ctx, op, err)
}

// Get implements driver.Driver. It sends the GET at once (minio-go's
// Client.GetObject would wait for the first Read), so a missing key fails
// here, with one request and no separate Stat. The shared layer verifies a
// whole-object read against the recorded SHA-256.
func (s *drv) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	const op = "get"
	gopts := s.getOptions()
	if rng != nil {
		if rng.Length > 0 {
			gopts.Set("Range", "bytes="+strconv.FormatInt(rng.Offset, 10)+"-"+strconv.FormatInt(rng.Offset+rng.Length-1, 10))
		} else {
			gopts.Set("Range", "bytes="+strconv.FormatInt(rng.Offset, 10)+"-")
		}
	}
	body, oi, hdr, err := s.core.GetObject(ctx, s.bucket, key, gopts)
	if err != nil {
		if rng != nil && rng.Offset == 0 && errors.Is(s.Kind(op, err), storage.ErrInvalidRange) {
			// S3 answers 416 to any Range on an empty object, but strata
			// allows offset 0 there: read it whole if it is still empty.
			return s.getEmpty(ctx, key, err)
		}
		return nil, storage.Info{}, s.fail(ctx, op, err)
	}
	size := oi.Size
	if rng != nil {
		total, ok := totalFromContentRange(hdr.Get("Content-Range"))
		if !ok {
			body.Close()
			return nil, storage.Info{}, s3proto.WithKind(storage.ErrUnavailable,
				fmt.Errorf("ranged GET answered without a usable Content-Range (%q)", hdr.Get("Content-Range")))
		}
		size = total
	}
	return s.reader(ctx, key, body), infoFrom(key, size, oi), nil
}

// reader is the body of a Get as the driver hands it to the shared layer:
// as it is, or, with Config.SkipVerifyReads, as s3proto.PlainReader.
func (s *drv) reader(ctx context.Context, key string, body io.ReadCloser) io.ReadCloser {
	if !s.set.SkipVerifyReads {
		return body
	}
	return s3proto.PlainReader(ctx, body, func(err error) error { return s.p.Wrap("get", key, s.fail(ctx, "get", err)) })
}

// getEmpty finishes a Get of range offset 0 that the server refused: when
// the object is empty, it is read whole; otherwise rangeErr stands.
func (s *drv) getEmpty(ctx context.Context, key string, rangeErr error) (io.ReadCloser, storage.Info, error) {
	body, oi, _, err := s.core.GetObject(ctx, s.bucket, key, s.getOptions())
	if err != nil {
		return nil, storage.Info{}, s.fail(ctx, "get", err)
	}
	if oi.Size != 0 {
		body.Close()
		return nil, storage.Info{}, s.fail(ctx, "get", rangeErr)
	}
	return s.reader(ctx, key, body), infoFrom(key, 0, oi), nil
}

// totalFromContentRange parses the complete length from a Content-Range
// header such as "bytes 0-9/100".
func totalFromContentRange(v string) (int64, bool) {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v[i+1:]), 10, 64)
	return n, err == nil && n >= 0
}

// infoFrom builds an Info from minio-go's ObjectInfo, taking user metadata
// from the raw headers (keys lower-cased) and moving the strata checksum
// out of it.
func infoFrom(key string, size int64, oi miniogo.ObjectInfo) storage.Info {
	info := storage.Info{
		Key:         key,
		Size:        size,
		ModTime:     oi.LastModified,
		ETag:        oi.ETag,
		ContentType: oi.ContentType,
	}
	s3proto.HeaderAttrs(oi.Metadata).SetInfo(&info)
	const prefix = "x-amz-meta-"
	for k, vs := range oi.Metadata {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, prefix) || len(vs) == 0 {
			continue
		}
		name := lk[len(prefix):]
		if name == metaSHA256 {
			info.SHA256 = vs[0]
			continue
		}
		if info.Metadata == nil {
			info.Metadata = make(map[string]string)
		}
		info.Metadata[name] = vs[0] // minio-go decoded it (s3proto.DecodeMetaValue)
	}
	return info
}

// Delete implements driver.Driver. Deleting a missing key succeeds.
func (s *drv) Delete(ctx context.Context, key string) error {
	return s.fail(ctx, "delete", s.core.RemoveObject(ctx, s.bucket, key, miniogo.RemoveObjectOptions{}))
}

// List implements driver.Driver with ListObjectsV2 (recursive, without
// metadata), 1,000 keys a page, in the server's byte-wise order.
// Its Infos carry Key, Size, ModTime and ETag; Stat gives the rest. (The
// module requires minio-go v7.0.95, so as not to upgrade programs that use
// an older one; that version asks for the owners of the objects too, which
// only v7.3.0 and later can leave out. List does not use them.)
//
// With the Delimiter "/" (the Store sets driver.Options.Delimiter) the
// listing is not recursive: the server rolls the keys under each common
// prefix up, and a listing that resumes in or at a common prefix starts
// after it (s3proto.DelimitedStart), so what lies under it is never
// listed. minio-go hands out each page's objects, then its prefixes: List
// keeps one page, told from the next by the requests counted on its
// context (s3proto.CountRequests), and merges the two in key order. On
// MinIO, a versioned bucket's common prefixes are confirmed with one more
// request each (livePrefixes).
func (s *drv) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	if opts.Delimiter != "" {
		return s.listDelimited(ctx, opts)
	}
	return func(yield func(storage.Info, error) bool) {
		lo := miniogo.ListObjectsOptions{Prefix: opts.Prefix, StartAfter: opts.StartAfter, Recursive: true, MaxKeys: s.listPage}
		// The iterator runs in this goroutine, page by page; stopping the
		// loop stops it, with nothing left running.
		for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
			if oi.Err != nil {
				yield(storage.Info{}, s.fail(ctx, "list", oi.Err))
				return
			}
			if !yield(objectInfo(oi), nil) {
				return
			}
		}
		// minio-go ends the sequence quietly when ctx is done between pages.
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, err)
		}
	}
}

func objectInfo(oi miniogo.ObjectInfo) storage.Info {
	return storage.Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified, ETag: oi.ETag}
}

// listDelimited is List with the Delimiter "/".
func (s *drv) listDelimited(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	prefix, after := opts.Prefix, opts.StartAfter
	return func(yield func(storage.Info, error) bool) {
		lctx, requests := s3proto.CountRequests(ctx)
		lo := miniogo.ListObjectsOptions{Prefix: prefix, StartAfter: s3proto.DelimitedStart(prefix, after), MaxKeys: s.listPage}
		if lo.StartAfter < prefix {
			lo.StartAfter = ""
		}
		var objs, prefixes []storage.Info
		page := int64(0) // the request that fetched objs and prefixes
		flush := func() bool {
			defer func() { objs, prefixes = objs[:0], prefixes[:0] }()
			if len(prefixes) > 0 {
				var err error
				if prefixes, err = s.livePrefixes(ctx, prefixes); err != nil {
					yield(storage.Info{}, err)
					return false
				}
			}
			return s3proto.MergePage(objs, prefixes, func(info storage.Info) bool { return yield(info, nil) })
		}
		for oi := range s.core.ListObjectsIter(lctx, s.bucket, lo) {
			if n := requests.Load(); n != page {
				// The first entry of a new page: the one before is whole.
				if !flush() {
					return
				}
				page = n
			}
			if oi.Err != nil {
				yield(storage.Info{}, s.fail(ctx, "list", oi.Err))
				return
			}
			if oi.Key <= after {
				continue
			}
			// A key with a "/" after the prefix is a common prefix: the
			// server lists no such object with a delimiter.
			if strings.HasPrefix(oi.Key, prefix) && strings.Contains(oi.Key[len(prefix):], "/") {
				if s3proto.PrefixListable(oi.Key) {
					prefixes = append(prefixes, storage.Info{Key: oi.Key, IsPrefix: true})
				}
				continue
			}
			objs = append(objs, objectInfo(oi))
		}
		if !flush() {
			return
		}
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, err)
		}
	}
}

// PresignGet implements storage.Presigner: the URL GETs the object without
// credentials until expiry (1 second to 7 days) has passed. It fails with
// ErrUnsupported when the Store uses SSE-C, whose key a URL cannot carry.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	const op = "presign"
	if err := s.Check(ctx, op, key); err != nil {
		return "", err
	}
	d := s.d
	if d.sse != nil {
		return "", s.Wrap(op, key, fmt.Errorf("presigned URLs cannot carry an SSE-C key: %w", storage.ErrUnsupported))
	}
	if err := s3proto.CheckExpiry(expiry); err != nil {
		return "", s.Wrap(op, key, err)
	}
	u, err := d.core.PresignedGetObject(ctx, d.bucket, key, expiry, nil)
	if err != nil {
		return "", s.Wrap(op, key, d.fail(ctx, op, err))
	}
	return u.String(), nil
}

// Copy implements storage.Copier: a Stat of src, then one server-side
// CopyObject request (objects up to 5 GiB on AWS S3; MinIO has no such
// limit) conditional on src's ETag, so a src replaced in between is never
// copied with the old one's metadata. Content type, metadata, the strata
// checksum and the storage class are set on dst; with SSE-C the key is sent
// for both source and destination.
func (s *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := s.CheckKeys(ctx, op, dst, src); err != nil {
		return storage.Info{}, err
	}
	info, key, err := s.d.copy(ctx, dst, src)
	return s.Result(op, key, info, err)
}

// copy is Copy after the checks. On failure it returns the key the error
// is about: src when src could not be read, dst otherwise.
func (s *drv) copy(ctx context.Context, dst, src string) (storage.Info, string, error) {
	const op = "copy"
	if src != dst {
		if err := s.checkPrefixes(ctx, dst); err != nil {
			return storage.Info{}, dst, err
		}
	}
	const attempts = 3
	for i := 0; ; i++ {
		info, err := s.Stat(ctx, src)
		if err != nil {
			return storage.Info{}, src, err
		}
		if src == dst {
			// strata's Copy of a key onto itself changes nothing.
			return info, dst, nil
		}
		out, err := s.copyObject(ctx, dst, src, info)
		if err == nil {
			return out, dst, nil
		}
		var resp miniogo.ErrorResponse
		if i+1 < attempts && errors.As(err, &resp) && resp.Code == miniogo.PreconditionFailed {
			continue // src was replaced after the Stat: copy the new one
		}
		if resp.Code == miniogo.PreconditionFailed {
			// s3proto.Kind makes the 412 ErrUnavailable.
			err = fmt.Errorf("source %q kept changing during the copy: %w", src, err)
		}
		return storage.Info{}, dst, s.fail(ctx, op, err)
	}
}

// copyObject copies the object src, described by info, to dst with one
// CopyObject request that replaces dst's metadata with info's and holds
// only while src's ETag is info.ETag (its content type and HTTP attributes
// too). It returns dst's Info. It returns
// minio-go's error unmapped.
func (s *drv) copyObject(ctx context.Context, dst, src string, info storage.Info) (storage.Info, error) {
	meta := s.userMetadata(info.Metadata, info.SHA256, copyMetaPrefix)
	if s.class != "" {
		// Not metadata, but only sent along with it: without it AWS resets
		// the copy to STANDARD.
		meta["X-Amz-Storage-Class"] = s.class
	}
	ct := info.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	a := s3proto.InfoAttrs(info)
	res, err := s.core.Client.CopyObject(ctx,
		miniogo.CopyDestOptions{Bucket: s.bucket, Object: dst, Encryption: s.sse,
			ReplaceMetadata: true, UserMetadata: meta, ContentType: ct,
			CacheControl: a.CacheControl, ContentDisposition: a.ContentDisposition,
			ContentEncoding: a.ContentEncoding, ContentLanguage: a.ContentLanguage},
		miniogo.CopySrcOptions{Bucket: s.bucket, Object: src, Encryption: s.sse, MatchETag: info.ETag})
	if err != nil {
		return storage.Info{}, err
	}
	out := info
	out.Key = dst
	out.ETag = res.ETag
	if !res.LastModified.IsZero() {
		out.ModTime = res.LastModified
	}
	return out, nil
}

// Prefixes for user metadata keys given to minio-go. minio-go sends a key
// that looks like an x-amz-* or standard header as that header, so every
// key gets the x-amz-meta- prefix here and user metadata never becomes a
// header of its own. CopyDestOptions strips one x-amz-meta- before that
// check, hence the doubled prefix for copies.
const (
	putMetaPrefix  = "x-amz-meta-"
	copyMetaPrefix = "x-amz-meta-x-amz-meta-"
)

// userMetadata returns md, plus the checksum when sum is not empty, with
// each key behind prefix.
func (s *drv) userMetadata(md map[string]string, sum, prefix string) map[string]string {
	out := make(map[string]string, len(md)+2)
	for k, v := range md {
		out[prefix+k] = s3proto.EncodeMetaValue(v)
	}
	if sum != "" {
		out[prefix+metaSHA256] = sum
	}
	return out
}

// PresignPut implements storage.PutPresigner: it returns a PUT request
// that stores its body under key without credentials until expiry (one
// second to seven days) has passed, made with minio-go's PresignHeader,
// which signs the headers it is given. What opts gives is signed, so the
// upload fails when the client sends something else: the Content-Type,
// the Content-Length (opts.Size), and for opts.SHA256 both
// x-amz-checksum-sha256 (S3 and MinIO refuse a body of another digest)
// and strata's x-amz-meta-strata-sha256 (so the object reads back with
// Info.SHA256 and whole reads are verified); the Store's storage class
// too. Header lists every header the client must send, as it is;
// Content-Length is the one HTTP clients set themselves from the body.
//
// The upload does not pass through the Store: the prefix check
// (Config.PrefixCheck) and IfNotExists do not apply to it. With SSE-C
// the call fails with storage.ErrUnsupported, as the client would need
// the key. PresignPut sends no request when Config.Region is set.
func (s *Store) PresignPut(ctx context.Context, key string, expiry time.Duration, opts *storage.PresignPutOptions) (*storage.PresignedRequest, error) {
	const op = "presign-put"
	if err := s.Check(ctx, op, key); err != nil {
		return nil, err
	}
	d := s.d
	if d.sse != nil {
		return nil, s.Wrap(op, key, fmt.Errorf("presigned uploads cannot carry an SSE-C key: %w", storage.ErrUnsupported))
	}
	pp, err := s3proto.CheckPresignPut(expiry, opts)
	if err != nil {
		return nil, s.Wrap(op, key, err)
	}
	h := pp.Header(d.class)
	u, err := d.core.PresignHeader(ctx, http.MethodPut, d.bucket, key, expiry, nil, h)
	if err != nil {
		return nil, s.Wrap(op, key, d.fail(ctx, op, err))
	}
	return &storage.PresignedRequest{Method: http.MethodPut, URL: u.String(), Header: h}, nil
}
