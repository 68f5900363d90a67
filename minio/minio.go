package minio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

var (
	_ storage.Provider  = (*Store)(nil)
	_ storage.Presigner = (*Store)(nil)
	_ storage.Copier    = (*Store)(nil)
)

// Defaults of Config.
const (
	// DefaultPartSize is the part size of multipart uploads when
	// Config.PartSize is zero. An object of at most this size whose length
	// is known (or turns out to be, after buffering) is sent in one PUT.
	DefaultPartSize = 16 << 20
	// DefaultNumThreads is how many parts of one upload are sent at once
	// when Config.NumThreads is zero.
	DefaultNumThreads = 4
	// MinPartSize is the smallest part size S3 accepts for all parts but
	// the last.
	MinPartSize = 5 << 20
	// maxParts is the most parts S3 accepts in one multipart upload.
	maxParts = 10000
	// maxPartSize is the largest part S3 accepts.
	maxPartSize = 5 << 30
)

// metaSHA256 is the user metadata key (sent as x-amz-meta-strata-sha256)
// holding the lowercase hex SHA-256 of the content. It is hidden from
// Info.Metadata and surfaced as Info.SHA256. It is shared with the s3
// driver.
const metaSHA256 = s3proto.MetaSHA256

// Config configures a Store. Only Endpoint and Bucket are required; the zero
// value of every other field is a sensible default, given with the field.
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
	// holds at most (NumThreads+1) × PartSize bytes, and may be at most
	// 10,000 × PartSize bytes long. Uploads of known length larger than
	// that use larger parts. Zero: DefaultPartSize (16 MiB).
	PartSize int64
	// NumThreads is how many parts of one upload are sent at once. Zero:
	// DefaultNumThreads (4).
	NumThreads int
	// Transport carries the HTTP requests, for custom TLS roots, proxies
	// or instrumentation. Zero: minio-go's DefaultTransport(Secure), tuned
	// for many requests in parallel (see tuneTransport), whose idle
	// connections Close releases.
	Transport http.RoundTripper
	// MaxRetries is how many times a request is tried when it fails with
	// a network error or a retryable server error. Zero: minio-go's
	// default (10); 1 disables retries. Requests without a body are
	// retried by minio-go; uploads (PUT of an object or a part) are
	// retried by the Store, with minio-go's backoff, each attempt with a
	// body of its own (see the package documentation, Retries).
	MaxRetries int
	// SkipMultipartSHA256, when true, leaves Info.SHA256 empty for objects
	// uploaded in several parts instead of recording it afterwards with a
	// server-side copy of the object onto itself (see the package
	// documentation). Zero: record it.
	SkipMultipartSHA256 bool
	// SkipPrefixCheck, when true, lets Put and Copy store an object without
	// first checking that no object exists under one of its parent
	// "directories" and no object exists under it as a prefix. MinIO
	// cannot hold both "a" and "a/b": it accepts the second but lists only
	// one of them. The check costs a HEAD per parent and a one-key LIST,
	// sent at once, before each Put; skip it for a server without that
	// limit (AWS S3, R2, B2) or keys that never conflict. Zero: check, and
	// fail the Put with ErrExist on a conflict.
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

// Store is a storage.Provider on a bucket of MinIO or any S3-compatible
// server, through minio-go. It also implements storage.Presigner and
// storage.Copier. Make one with New; it is safe for concurrent use.
type Store struct {
	core       miniogo.Core
	endpoint   string
	bucket     string
	sse        encrypt.ServerSide // nil without SSE-C
	class      string
	partSize   int64
	threads    int
	skipSHA    bool
	skipPrefix bool
	skipVerify bool
	tries      int           // attempts of a request with a body (sendBody)
	retryUnit  time.Duration // backoff between them (minio-go's defaults)
	retryCap   time.Duration
	log        *slog.Logger
	ownedTrans *http.Transport // the transport New made, closed by Close
	closed     atomic.Bool
}

// New returns a Store for cfg. It validates cfg but sends no request, so it
// succeeds while the server is down; a missing bucket shows in the first
// call's error.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.NewError("open", providerName, "", nil, err)
	}
	bad := func(format string, args ...any) error {
		return &storage.Error{Op: "open", Provider: providerName, Kind: storage.ErrInvalidArgument, Err: fmt.Errorf(format, args...)}
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
	s := &Store{
		endpoint:   cfg.Endpoint,
		bucket:     cfg.Bucket,
		class:      cfg.StorageClass,
		partSize:   cfg.PartSize,
		threads:    cfg.NumThreads,
		skipSHA:    cfg.SkipMultipartSHA256,
		skipPrefix: cfg.SkipPrefixCheck,
		skipVerify: cfg.SkipVerifyReads,
		tries:      cfg.MaxRetries,
		retryUnit:  miniogo.DefaultRetryUnit,
		retryCap:   miniogo.DefaultRetryCap,
		log:        cfg.Logger,
	}
	if s.tries <= 0 {
		s.tries = miniogo.MaxRetry // minio-go's default, as for other requests
	}
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	if s.partSize < MinPartSize || s.partSize > maxPartSize {
		return nil, bad("Config.PartSize %d is outside [%d, %d]", cfg.PartSize, MinPartSize, maxPartSize)
	}
	if s.threads == 0 {
		s.threads = DefaultNumThreads
	}
	if s.threads < 0 {
		return nil, bad("Config.NumThreads %d is negative", cfg.NumThreads)
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
			return nil, mapErr(ctx, "open", "", err)
		}
		tuneTransport(t)
		s.ownedTrans = t
		transport = t
	}
	client, err := miniogo.New(cfg.Endpoint, &miniogo.Options{
		Creds:        creds,
		Secure:       cfg.Secure,
		Transport:    transport,
		Region:       cfg.Region,
		BucketLookup: miniogo.BucketLookupPath,
		MaxRetries:   cfg.MaxRetries,
		// TrailingHeaders stays false: minio-go then adds no
		// x-amz-checksum-* headers or trailers (no automatic CRC32C),
		// which S3 clones reject. See the package documentation.
		TrailingHeaders: false,
	})
	if err != nil {
		return nil, &storage.Error{Op: "open", Provider: providerName, Kind: storage.ErrInvalidArgument, Err: err}
	}
	s.core = miniogo.Core{Client: client}
	return s, nil
}

// Client returns the minio-go client the Store uses, for what this package
// does not offer. Objects written through it directly have no strata
// checksum.
func (s *Store) Client() *miniogo.Client { return s.core.Client }

// Bucket returns the name of the Store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// Close marks the Store closed: later calls fail with ErrClosed. It closes
// the idle connections of the transport New made (not of a
// Config.Transport). Calls in progress finish.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownedTrans != nil {
		s.ownedTrans.CloseIdleConnections()
	}
	return nil
}

// check returns the error a call must fail with before doing anything:
// ErrClosed after Close, the context's error, or ErrInvalidKey.
func (s *Store) check(ctx context.Context, op, key string) error {
	if err := s.live(ctx, op, key); err != nil {
		return err
	}
	if err := storage.ValidKey(key); err != nil {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrInvalidKey, Err: err}
	}
	return nil
}

// live returns ErrClosed after Close, or the context's error: check
// without the key rule, for calls about the bucket rather than a key.
func (s *Store) live(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrClosed}
	}
	if err := ctx.Err(); err != nil {
		return storage.NewError(op, providerName, key, nil, err)
	}
	return nil
}

// getOptions returns minio-go options for a GET or HEAD, with the SSE-C key.
func (s *Store) getOptions() miniogo.GetObjectOptions {
	return miniogo.GetObjectOptions{ServerSideEncryption: s.sse}
}

// Stat implements storage.Provider with one HEAD request.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	const op = "stat"
	if err := s.check(ctx, op, key); err != nil {
		return storage.Info{}, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, key, miniogo.StatObjectOptions(s.getOptions()))
	if err != nil {
		mapped := mapErr(ctx, op, key, err)
		var resp miniogo.ErrorResponse
		if errors.As(err, &resp) && s3proto.Bare(op, resp.StatusCode, responseCode(resp)) && errors.Is(mapped, storage.ErrNotFound) {
			// A HEAD's 404 does not say whether the key or the bucket is
			// missing (minio-go guesses NoSuchKey): ask the bucket (see
			// the s3proto package).
			mapped = s3proto.ConfirmMissing(mapped, s.headBucket(ctx, op, key))
		}
		return storage.Info{}, mapped
	}
	return infoFrom(key, oi.Size, oi), nil
}

// headBucket asks whether the Store's bucket exists, for a Stat whose HEAD
// answered 404. It returns nil when the bucket answered, an error matching
// storage.ErrNoBucket when it answered 404, and the mapped error
// otherwise.
func (s *Store) headBucket(ctx context.Context, op, key string) error {
	ok, err := s.core.BucketExists(ctx, s.bucket)
	switch {
	case err == nil && ok:
		return nil
	case err == nil:
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrNoBucket,
			Err: fmt.Errorf("bucket %q does not exist", s.bucket)}
	}
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: s3proto.BucketKind(resp.StatusCode, responseCode(resp)), Err: err}
	}
	return mapErr(ctx, op, key, err)
}

// Get implements storage.Provider. It sends the GET at once (minio-go's
// Client.GetObject would wait for the first Read), so a missing key fails
// here, with one request and no separate Stat.
func (s *Store) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	const op = "get"
	if err := s.check(ctx, op, key); err != nil {
		return nil, storage.Info{}, err
	}
	var rng *storage.Range
	if opts != nil {
		rng = opts.Range
	}
	if rng != nil && rng.Offset < 0 {
		return nil, storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrInvalidRange,
			Err: fmt.Errorf("negative offset %d", rng.Offset)}
	}
	if rng != nil && rng.Offset == 0 && rng.Length <= 0 {
		rng = nil // the whole object: no Range header, which also suits an empty one
	}
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
		err = mapErr(ctx, op, key, err)
		if rng != nil && rng.Offset == 0 && errors.Is(err, storage.ErrInvalidRange) {
			// S3 answers 416 to any Range on an empty object, but strata
			// allows offset 0 there: read it whole if it is still empty.
			return s.getEmpty(ctx, key, err)
		}
		return nil, storage.Info{}, err
	}
	size := oi.Size
	if rng != nil {
		total, ok := totalFromContentRange(hdr.Get("Content-Range"))
		if !ok {
			body.Close()
			return nil, storage.Info{}, &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrUnavailable,
				Err: fmt.Errorf("ranged GET answered without a usable Content-Range (%q)", hdr.Get("Content-Range"))}
		}
		size = total
	}
	info := infoFrom(key, size, oi)
	r := &reader{ctx: ctx, rc: body, op: op, key: key}
	if rng == nil && !s.skipVerify {
		r.verify(info)
	}
	return r, info, nil
}

// getEmpty finishes a Get of range offset 0 that the server refused: when
// the object is empty, it is read whole; otherwise rangeErr stands.
func (s *Store) getEmpty(ctx context.Context, key string, rangeErr error) (io.ReadCloser, storage.Info, error) {
	body, oi, _, err := s.core.GetObject(ctx, s.bucket, key, s.getOptions())
	if err != nil {
		return nil, storage.Info{}, mapErr(ctx, "get", key, err)
	}
	if oi.Size != 0 {
		body.Close()
		return nil, storage.Info{}, rangeErr
	}
	// A range was asked for: not verified, as any ranged Get.
	return &reader{ctx: ctx, rc: body, op: "get", key: key}, infoFrom(key, 0, oi), nil
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

// reader is the body of a Get. It maps read errors other than io.EOF (a
// connection reset mid-body, say) to storage errors and, for a whole
// object with a recorded checksum, checks the bytes against it.
type reader struct {
	ctx context.Context
	rc  io.ReadCloser
	op  string
	key string

	// Set by verify: the checksum and size the bytes must have.
	mu   sync.Mutex // guards h against a Close during a Read
	h    summer     // nil when not verifying, or done; guarded by mu
	want []byte     // the recorded SHA-256
	size int64      // the object's size
	n    int64      // bytes read so far
	err  error      // the ErrCorrupt already returned, returned again
}

// verify makes r check the bytes it reads against info's SHA-256 and size.
// An object without a well-formed recorded SHA-256 (written by another
// client, or a multipart upload with Config.SkipMultipartSHA256) is not
// checked.
func (r *reader) verify(info storage.Info) {
	want, err := hex.DecodeString(info.SHA256)
	if err != nil || len(want) != sha256.Size {
		return
	}
	r.want, r.size = want, info.Size
	if info.Size >= hashAheadMin {
		r.h = newHashAhead()
	} else {
		r.h = inlineSum{sha256.New()}
	}
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	// The transport may still hold buffered bytes after ctx ends; a read
	// after cancellation fails all the same.
	if err := r.ctx.Err(); err != nil {
		return 0, storage.NewError(r.op, providerName, r.key, nil, err)
	}
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = mapErr(r.ctx, r.op, r.key, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		r.h.Write(p[:n])
		r.n += int64(n)
		if err == io.EOF {
			if cerr := r.check(); cerr != nil {
				return n, cerr
			}
		}
	}
	return n, err
}

// check compares the size and checksum of what was read, at its end, with
// the object's. It returns ErrCorrupt, which later Reads return again, on a
// mismatch. r.mu must be held.
func (r *reader) check() error {
	var why string
	if r.n != r.size {
		why = fmt.Sprintf("read %d bytes, the object has %d", r.n, r.size)
	} else if got := r.h.Sum(); !bytes.Equal(got, r.want) {
		why = fmt.Sprintf("the %d bytes read have SHA-256 %x, not the recorded %x", r.n, got, r.want)
	}
	r.h.stop()
	r.h = nil // checked once
	if why == "" {
		return nil
	}
	r.err = &storage.Error{Op: r.op, Provider: providerName, Key: r.key, Kind: storage.ErrCorrupt, Err: errors.New(why)}
	return r.err
}

// Close closes the body (which ends a Read in progress) and stops the
// hashing.
func (r *reader) Close() error {
	err := r.rc.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		r.h.stop()
		r.h = nil
	}
	return err
}

// summer computes the SHA-256 of the bytes written to it. stop releases
// what it holds; Sum and Write must not be called after it.
type summer interface {
	Write(p []byte)
	Sum() []byte
	stop()
}

// inlineSum hashes on the reading goroutine.
type inlineSum struct{ h hash.Hash }

func (s inlineSum) Write(p []byte) { s.h.Write(p) }
func (s inlineSum) Sum() []byte    { return s.h.Sum(nil) }
func (s inlineSum) stop()          {}

// Objects of at least hashAheadMin bytes are hashed on a goroutine of their
// own (hashAhead), in chunks of hashChunk bytes, at most hashChunks of them
// waiting: the hashing of one chunk overlaps the network reads and the
// caller's handling of the next, on another core, instead of adding to them.
// Each such Get holds at most (hashChunks+2) × hashChunk bytes (384 KiB).
const (
	hashAheadMin = 1 << 20
	hashChunk    = 64 << 10
	hashChunks   = 4
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, hashChunk); return &b }}

// hashAhead hashes chunks of the bytes written to it on a goroutine that
// Sum or stop ends.
type hashAhead struct {
	ch   chan *[]byte  // chunks to hash
	done chan struct{} // closed when the goroutine has hashed them all
	h    hash.Hash     // owned by the goroutine until done
	cur  *[]byte       // the chunk being filled, or nil
}

func newHashAhead() *hashAhead {
	a := &hashAhead{ch: make(chan *[]byte, hashChunks), done: make(chan struct{}), h: sha256.New()}
	go func() {
		defer close(a.done)
		for b := range a.ch {
			a.h.Write(*b)
			*b = (*b)[:0]
			chunkPool.Put(b)
		}
	}()
	return a
}

// Write copies p into chunks, and hands each full one to the goroutine.
func (a *hashAhead) Write(p []byte) {
	for len(p) > 0 {
		if a.cur == nil {
			a.cur = chunkPool.Get().(*[]byte)
		}
		c := *a.cur
		n := copy(c[len(c):cap(c)], p)
		*a.cur, p = c[:len(c)+n], p[n:]
		if len(*a.cur) == cap(*a.cur) {
			a.ch <- a.cur
			a.cur = nil
		}
	}
}

// Sum hands over the last chunk, waits for the goroutine to hash
// everything and end, and returns the SHA-256.
func (a *hashAhead) Sum() []byte {
	if a.cur != nil {
		a.ch <- a.cur
		a.cur = nil
	}
	a.stop()
	return a.h.Sum(nil)
}

// stop ends the goroutine and waits for it. It may be called more than
// once, and after Sum.
func (a *hashAhead) stop() {
	select {
	case <-a.done:
		return
	default:
	}
	if a.cur != nil {
		*a.cur = (*a.cur)[:0]
		chunkPool.Put(a.cur)
		a.cur = nil
	}
	close(a.ch)
	<-a.done
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

// Delete implements storage.Provider. Deleting a missing key succeeds.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := s.check(ctx, op, key); err != nil {
		return err
	}
	return mapErr(ctx, op, key, s.core.RemoveObject(ctx, s.bucket, key, miniogo.RemoveObjectOptions{}))
}

// List implements storage.Provider with ListObjectsV2 (recursive, without
// metadata or owners), 1,000 keys a page, in the server's byte-wise order.
// Its Infos carry Key, Size, ModTime and ETag; Stat gives the rest.
func (s *Store) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		const op = "list"
		if s.closed.Load() {
			yield(storage.Info{}, &storage.Error{Op: op, Provider: providerName, Kind: storage.ErrClosed})
			return
		}
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, storage.NewError(op, providerName, "", nil, err))
			return
		}
		var lo miniogo.ListObjectsOptions
		if opts != nil {
			lo.Prefix = opts.Prefix
			lo.StartAfter = opts.StartAfter
		}
		lo.Recursive = true
		noOwner := false
		lo.FetchOwner = &noOwner
		// The iterator runs in this goroutine, page by page; stopping the
		// loop stops it, with nothing left running.
		for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
			if oi.Err != nil {
				yield(storage.Info{}, mapErr(ctx, op, "", oi.Err))
				return
			}
			if !yield(storage.Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified, ETag: oi.ETag}, nil) {
				return
			}
		}
		// minio-go ends the sequence quietly when ctx is done between pages.
		if err := ctx.Err(); err != nil {
			yield(storage.Info{}, storage.NewError(op, providerName, "", nil, err))
		}
	}
}

// PresignGet implements storage.Presigner: the URL GETs the object without
// credentials until expiry (1 second to 7 days) has passed. It fails with
// ErrUnsupported when the Store uses SSE-C, whose key a URL cannot carry.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	const op = "presign"
	if err := s.check(ctx, op, key); err != nil {
		return "", err
	}
	if s.sse != nil {
		return "", &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrUnsupported,
			Err: errors.New("presigned URLs cannot carry an SSE-C key")}
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("expiry %v is outside 1s to 7 days", expiry)}
	}
	u, err := s.core.PresignedGetObject(ctx, s.bucket, key, expiry, nil)
	if err != nil {
		return "", mapErr(ctx, op, key, err)
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
	if err := s.check(ctx, op, src); err != nil {
		return storage.Info{}, err
	}
	if err := s.check(ctx, op, dst); err != nil {
		return storage.Info{}, err
	}
	if src != dst && !s.skipPrefix {
		if err := s.checkPrefixes(ctx, op, dst); err != nil {
			return storage.Info{}, err
		}
	}
	const attempts = 3
	for i := 0; ; i++ {
		info, err := s.Stat(ctx, src)
		if err != nil {
			return storage.Info{}, relabel(err, op)
		}
		if src == dst {
			// strata's Copy of a key onto itself changes nothing.
			return info, nil
		}
		out, err := s.copyObject(ctx, dst, src, info)
		if err == nil {
			return out, nil
		}
		var resp miniogo.ErrorResponse
		if i+1 < attempts && errors.As(err, &resp) && resp.Code == miniogo.PreconditionFailed {
			continue // src was replaced after the Stat: copy the new one
		}
		return storage.Info{}, mapErr(ctx, op, src, err)
	}
}

// relabel returns err with its Op set to op, when it is a *storage.Error.
func relabel(err error, op string) error {
	var se *storage.Error
	if errors.As(err, &se) {
		c := *se
		c.Op = op
		return &c
	}
	return err
}

// copyObject copies the object src, described by info, to dst with one
// CopyObject request that replaces dst's metadata with info's and holds
// only while src's ETag is info.ETag. It returns dst's Info. It returns
// minio-go's error unmapped.
func (s *Store) copyObject(ctx context.Context, dst, src string, info storage.Info) (storage.Info, error) {
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
	res, err := s.core.Client.CopyObject(ctx,
		miniogo.CopyDestOptions{Bucket: s.bucket, Object: dst, Encryption: s.sse,
			ReplaceMetadata: true, UserMetadata: meta, ContentType: ct},
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
func (s *Store) userMetadata(md map[string]string, sum, prefix string) map[string]string {
	out := make(map[string]string, len(md)+2)
	for k, v := range md {
		out[prefix+k] = s3proto.EncodeMetaValue(v)
	}
	if sum != "" {
		out[prefix+metaSHA256] = sum
	}
	return out
}

// maxIdlePerHost is how many idle connections to the server the transport
// New makes keeps for reuse. minio-go's default, 16, is fewer than the
// requests that callers such as strata migrate send at once: every request
// beyond the 16th then closes its connection when done and the next one
// dials a new one, which costs both sides far more CPU than the request
// itself for small objects.
const maxIdlePerHost = 256

// tuneTransport adjusts minio-go's default transport for parallel use.
func tuneTransport(t *http.Transport) {
	t.MaxIdleConns = max(t.MaxIdleConns, maxIdlePerHost)
	t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, maxIdlePerHost)
	if dial := t.DialContext; dial != nil {
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &copyConn{Conn: c}, nil
		}
	}
}

// copyConn is a connection whose ReadFrom copies through a pooled buffer.
// net/http sends a request body with ReadFrom on the connection, and a
// TCP connection's ReadFrom, for a body that is neither a file nor a
// socket (minio-go wraps every body), allocates a fresh 32 KiB buffer
// for each request: for small objects, as much garbage as the objects
// themselves.
type copyConn struct {
	net.Conn
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom implements io.ReaderFrom.
func (c *copyConn) ReadFrom(r io.Reader) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *buf)
}
