package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// metaSHA256 is the user metadata key (x-amz-meta-strata-sha256) that holds
// the lowercase hex SHA-256 of an object's content, shared with the minio
// driver.
const metaSHA256 = s3proto.MetaSHA256

var (
	_ storage.Provider     = (*Store)(nil)
	_ storage.Presigner    = (*Store)(nil)
	_ storage.PutPresigner = (*Store)(nil)
	_ storage.Copier       = (*Store)(nil)
	_ storage.PartWriter   = (*Store)(nil)
)

// Store is a storage.Provider backed by one S3 bucket. Make one with New or
// storage.Open; it is safe for concurrent use.
//
// A Store is a [driver.Provider] over this package's driver, which speaks
// S3 through aws-sdk-go-v2: the checks every call starts with, the
// *storage.Error values, the size check and hashing of Put and the
// verification of whole-object reads come from package storage/driver.
type Store struct {
	*base
	d *drv
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// drv is the driver: the S3 protocol through aws-sdk-go-v2.
type drv struct {
	set       *settings
	client    *s3.Client
	presign   *s3.PresignClient
	transport *http.Transport // ours to close; nil when Config.HTTPClient was given
	server    s3proto.Server  // what the Server header says, for PrefixCheckAuto and part sums
	// versioning tells whether delimiter listings confirm their common
	// prefixes (MinIO lists those of deleted directories in versioned
	// buckets).
	versioning s3proto.Versioning
	p          *driver.Provider
	// fast sends the PutObjects of small objects (fastput.go); tests turn
	// it off (s3proto.Knobs.SDKPut).
	fast *fastPut

	// copyThreshold is the size above which Copy and the SHA-256 rewrite
	// after a multipart upload use UploadPartCopy; tests lower it
	// (s3proto.Knobs).
	copyThreshold int64
	// listPage is the MaxKeys of ListObjectsV2 (S3 caps it at 1000); tests
	// lower it to exercise paging with fewer keys (s3proto.Knobs).
	listPage int32
}

// New returns a Store for cfg.Bucket. It does not contact the server:
// credentials are resolved and the bucket is checked by the first request.
// Errors match storage.ErrInvalidArgument for a bad Config.
func New(ctx context.Context, cfg Config) (*Store, error) {
	set, err := cfg.check()
	if err != nil {
		return nil, openErr(storage.ErrInvalidArgument, err)
	}
	s := &drv{set: set, copyThreshold: maxCopySize, listPage: 1000}
	knobs := s3proto.KnobsFrom(ctx) // strata's own tests lower these limits
	if knobs.CopyThreshold > 0 {
		s.copyThreshold = knobs.CopyThreshold
	}
	if knobs.ListPage > 0 {
		s.listPage = int32(min(knobs.ListPage, 1000))
	}

	// The SDK's own log lines (such as its warning when the instance
	// metadata service refuses IMDSv2) would go to stderr: errors say it.
	loadOpts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	compatible := set.compatibleEndpoint()
	if compatible {
		// An instance role is AWS's: never ask the EC2 instance metadata
		// service (a link-local address that answers slowly, or not at
		// all, off EC2) for credentials to another server.
		loadOpts = append(loadOpts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if cfg.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, openErr(storage.ErrInvalidArgument, fmt.Errorf("loading AWS configuration: %w", err))
	}
	var hc s3.HTTPClient = cfg.HTTPClient
	if cfg.HTTPClient == nil {
		// The SDK's transport, with what the configuration added to it
		// (AWS_CA_BUNDLE), in a client of our own so that Close can close
		// its idle connections.
		var tr *http.Transport
		if bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
			tr = bc.GetTransport()
		} else {
			tr = awshttp.NewBuildableClient().GetTransport()
		}
		// Keep an idle connection for every request callers send at once
		// (strata migrate sends 32): the SDK's default, 10, makes every
		// request beyond the 10th close its connection when done and the
		// next one dial (and handshake) again.
		s3proto.TuneTransport(tr, 2*set.Concurrency)
		// A write buffer that holds a small PutObject's head and body,
		// so that the fast path sends it in one write (see oneWrite).
		tr.WriteBufferSize = max(tr.WriteBufferSize, oneWriteBuffer)
		s.transport = tr
		hc = &http.Client{
			Transport: tr,
			// S3 answers a wrong region with a redirect; the SDK reports it
			// rather than following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	if awsCfg.Credentials != nil {
		instanceRole := cfg.AccessKeyID == "" && onlyInstanceRole(awsCfg.Credentials)
		if instanceRole && compatible {
			// Nothing configured, and the last resort is not open to an
			// S3-compatible server: say so now, with nothing sent.
			return nil, openErr(storage.ErrPermission, errNoCredentials)
		}
		// Mark the chain's failures, so that no credentials at all is
		// ErrPermission with a message that says what to set.
		awsCfg.Credentials = &credentialsProvider{p: awsCfg.Credentials, instanceRole: instanceRole}
	}
	maxAttempts := set.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = awsCfg.RetryMaxAttempts
	}
	retryer := retry.NewStandard(func(so *retry.StandardOptions) {
		if maxAttempts > 0 {
			so.MaxAttempts = maxAttempts
		}
		// AWS answers 409 ConditionalRequestConflict to a conditional
		// write that raced another one; it asks the client to retry.
		// MinIO answers 499 ClientDisconnected when it lost a request's
		// body; while our context lives, the request can be sent again.
		// A plain-HTTP server at an https endpoint is never retried.
		so.Retryables = append([]retry.IsErrorRetryable{noRetrySchemeMismatch}, so.Retryables...)
		so.Retryables = append(so.Retryables, retry.RetryableErrorCode{
			Codes: map[string]struct{}{"ConditionalRequestConflict": {}, "ClientDisconnected": {}},
		}, retry.RetryableHTTPStatusCode{
			Codes: map[int]struct{}{499: {}},
		})
	})
	s.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.HTTPClient = hc
		// The endpoint rules are evaluated once per distinct parameters,
		// not twice per request (endpointCache).
		o.EndpointResolverV2 = newEndpointCache(o.EndpointResolverV2)
		if set.endpoint != nil {
			o.BaseEndpoint = aws.String(set.endpoint.String())
		} else if o.BaseEndpoint != nil {
			// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL named an endpoint.
			if u, err := url.Parse(*o.BaseEndpoint); err == nil && u.Host != "" {
				set.endpoint = u
				set.awsHost = isAWSHost(u.Hostname())
			}
		}
		o.UsePathStyle = set.pathStyle()
		if !set.awsHost {
			// Since January 2025 the SDK sends CRC checksums on every upload
			// and validates them on download by default. MinIO, R2, B2 and
			// other S3-compatible servers refuse the
			// x-amz-checksum-algorithm header (HTTP 501) or answer
			// XAmzContentSHA256Mismatch, so only send checksums where the
			// API requires them. AWS_REQUEST_CHECKSUM_CALCULATION and
			// AWS_RESPONSE_CHECKSUM_VALIDATION, when set, win.
			if os.Getenv("AWS_REQUEST_CHECKSUM_CALCULATION") == "" {
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			}
			if os.Getenv("AWS_RESPONSE_CHECKSUM_VALIDATION") == "" {
				o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			}
		}
		o.Retryer = retryer
		o.RetryMaxAttempts = 0
		o.APIOptions = append(o.APIOptions, s.observeServer)
		// Never log requests or responses: they carry signatures. And keep
		// the SDK's own notices (such as skipped checksum validation) off
		// stderr.
		o.ClientLogMode = 0
		o.Logger = logging.Nop{}
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	if !knobs.SDKPut {
		// The fast path of small PutObjects shares the client's retryer
		// (and its retry quota), credentials cache and HTTP client.
		s.fast = newFastPut(s, retryer, hc, s.client.Options().Credentials)
	}
	s.presign = s3.NewPresignClient(s.client)
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

// observeServer adds to a request's middleware stack a step that shows
// the Server header of the raw response, error or not, to s.server, for
// PrefixCheckAuto. Once the server is known it costs one atomic load.
func (s *drv) observeServer(stack *smithymiddleware.Stack) error {
	return stack.Deserialize.Add(smithymiddleware.DeserializeMiddlewareFunc("StrataServerHeader",
		func(ctx context.Context, in smithymiddleware.DeserializeInput, next smithymiddleware.DeserializeHandler) (
			smithymiddleware.DeserializeOutput, smithymiddleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp != nil && resp.Response != nil {
				s.server.Observe(resp.Header)
			}
			return out, md, err
		}), smithymiddleware.After)
}

// openErr is the error of New or ConfigFromURL.
func openErr(kind, err error) error {
	return &storage.Error{Op: "open", Provider: providerName, Kind: kind, Err: err}
}

// Client returns the SDK client the Store uses, for operations strata does
// not offer (bucket configuration, tagging, versions). Requests made with it
// bypass the Store's checks.
func (s *Store) Client() *s3.Client { return s.d.client }

// Bucket returns the name of the Store's bucket.
func (s *Store) Bucket() string { return s.d.set.Bucket }

// Parts implements storage.PartWriter: the part size of multipart
// uploads, and that Put reads the parts of a large object from an
// io.ReaderAt (a file) at their offsets rather than buffering them.
func (s *Store) Parts() storage.Parts { return storage.Parts{Size: s.d.set.PartSize, ReaderAt: true} }

// Close implements driver.Driver: it closes idle connections. A Get's
// reader that is still open keeps working until it is closed.
func (s *drv) Close() error {
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	return nil
}

// Get implements driver.Driver. A missing key fails here, before any body
// is read. A Range is sent as an HTTP Range header; the returned Info
// describes the whole object (its size comes from Content-Range). The
// shared layer verifies a whole-object read against the recorded SHA-256.
func (s *drv) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	const op = "get"
	in := &s3.GetObjectInput{Bucket: &s.set.Bucket, Key: &key}
	s.sseCGet(in)
	if rng != nil {
		in.Range = aws.String(rangeHeader(rng))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil && rng != nil && rng.Offset == 0 && errors.Is(s.Kind(op, err), storage.ErrInvalidRange) {
		// S3 answers 416 to any range of an empty object, but the contract
		// lets offset 0 read an empty object: read it whole. (If the
		// object grew meanwhile, the reader is limited to the range.)
		in.Range = nil
		out, err = s.client.GetObject(ctx, in)
	}
	if err != nil {
		return nil, storage.Info{}, s.fail(ctx, op, err)
	}
	info, err := infoFromGet(key, out)
	if err != nil {
		out.Body.Close()
		return nil, storage.Info{}, s3proto.WithKind(storage.ErrUnavailable, err)
	}
	var body io.Reader = out.Body
	if rng != nil {
		if out.ContentRange == nil && rng.Offset > 0 {
			// The server ignored the range: skip here (and limit below).
			if rng.Offset >= info.Size {
				out.Body.Close()
				return nil, storage.Info{}, fmt.Errorf("offset %d of a %d-byte object: %w", rng.Offset, info.Size, storage.ErrInvalidRange)
			}
			if _, err := io.CopyN(io.Discard, out.Body, rng.Offset); err != nil {
				out.Body.Close()
				return nil, storage.Info{}, s.fail(ctx, op, err)
			}
		}
		if rng.Length > 0 {
			body = io.LimitReader(body, rng.Length)
		}
	}
	var rc io.ReadCloser = readCloser{body, out.Body}
	if s.set.SkipVerifyReads {
		rc = s3proto.PlainReader(ctx, rc, func(err error) error { return s.p.Wrap(op, key, s.fail(ctx, op, err)) })
	}
	return rc, info, nil
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// rangeHeader returns the HTTP Range header value for r.
func rangeHeader(r *storage.Range) string {
	if r.Length > 0 {
		return fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1)
	}
	return fmt.Sprintf("bytes=%d-", r.Offset)
}

// Stat implements driver.Driver with a HeadObject request.
func (s *drv) Stat(ctx context.Context, key string) (storage.Info, error) {
	const op = "stat"
	in := &s3.HeadObjectInput{Bucket: &s.set.Bucket, Key: &key}
	s.sseCHead(in)
	out, err := s.client.HeadObject(ctx, in)
	if err != nil {
		if status, code, _, ok := response(err); ok && s3proto.Bare(op, status, code) {
			// A HEAD's 404 does not say whether the key or the bucket is
			// missing: ask the bucket (see the s3proto package).
			return storage.Info{}, s3proto.ConfirmMissing(err, s.headBucket(ctx, op))
		}
		return storage.Info{}, s.fail(ctx, op, err)
	}
	info := storage.Info{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    aws.ToString(out.ETag),
	}
	setMeta(&info, aws.ToString(out.ContentType), out.Metadata)
	attrsOf(out.CacheControl, out.ContentDisposition, out.ContentEncoding, out.ContentLanguage).SetInfo(&info)
	return info, nil
}

// headBucket asks whether the Store's bucket exists, with a HeadBucket
// request, for a Stat whose HEAD answered 404. It returns nil when the
// bucket answered, an error matching storage.ErrNoBucket when it answered
// 404, and the request's error otherwise.
func (s *drv) headBucket(ctx context.Context, op string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.set.Bucket})
	if err == nil {
		return nil
	}
	if status, code, _, ok := response(err); ok {
		return s3proto.WithKind(s3proto.BucketKind(status, code), scrub(err))
	}
	return s.fail(ctx, op, err)
}

// infoFromGet builds the Info of the whole object from a GetObject
// response, ranged or not.
func infoFromGet(key string, out *s3.GetObjectOutput) (storage.Info, error) {
	info := storage.Info{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    aws.ToString(out.ETag),
	}
	if cr := aws.ToString(out.ContentRange); cr != "" {
		// "bytes 0-9/100"
		i := strings.LastIndexByte(cr, '/')
		total, err := strconv.ParseInt(cr[i+1:], 10, 64)
		if i < 0 || err != nil {
			return storage.Info{}, fmt.Errorf("cannot read object size from Content-Range %q", cr)
		}
		info.Size = total
	}
	setMeta(&info, aws.ToString(out.ContentType), out.Metadata)
	attrsOf(out.CacheControl, out.ContentDisposition, out.ContentEncoding, out.ContentLanguage).SetInfo(&info)
	return info, nil
}

// setMeta fills info's ContentType, SHA256 and Metadata from what S3
// returned, hiding strata's reserved entries.
func setMeta(info *storage.Info, contentType string, md map[string]string) {
	info.ContentType = contentType
	info.SHA256 = md[metaSHA256]
	for k, v := range md {
		if strings.HasPrefix(k, storage.ReservedMetadataPrefix) {
			continue
		}
		if info.Metadata == nil {
			info.Metadata = make(map[string]string, len(md))
		}
		info.Metadata[k] = s3proto.DecodeMetaValue(v)
	}
}

// attrsOf returns the HTTP attributes of an object from the optional
// fields of a GetObject or HeadObject response.
func attrsOf(cacheControl, disposition, encoding, language *string) s3proto.Attrs {
	return s3proto.Attrs{
		CacheControl:       aws.ToString(cacheControl),
		ContentDisposition: aws.ToString(disposition),
		ContentEncoding:    aws.ToString(encoding),
		ContentLanguage:    aws.ToString(language),
	}
}

// putMeta returns the metadata to store with an object: the user's and
// the content SHA-256 when known.
func putMeta(opts *storage.PutOptions, sha string) map[string]string {
	md := make(map[string]string, len(opts.Metadata)+1)
	for k, v := range opts.Metadata {
		md[k] = s3proto.EncodeMetaValue(v)
	}
	if sha != "" {
		md[metaSHA256] = sha
	}
	return md
}

// Delete implements driver.Driver. Deleting a missing key succeeds, as on
// S3.
func (s *drv) Delete(ctx context.Context, key string) error {
	const op = "delete"
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.set.Bucket, Key: &key})
	if err != nil && errors.Is(s.Kind(op, err), storage.ErrNotFound) {
		// Some S3-compatible servers answer 404 rather than 204.
		return nil
	}
	return s.fail(ctx, op, err)
}

// List implements driver.Driver with ListObjectsV2, a page of up to 1000
// keys per request. S3 lists keys in byte-wise (UTF-8 binary) order, which
// is the order the contract asks for. Keys that strata could not have
// written (such as "dir/" markers made by consoles) are skipped. With the
// Delimiter "/" the server rolls the keys under each common prefix up
// (the Store sets driver.Options.Delimiter): a page's CommonPrefixes are
// merged with its Contents in key order, and a listing that resumes in or
// at a common prefix starts after it (s3proto.DelimitedStart), so what lies
// under it is never listed. On MinIO, a versioned bucket's common prefixes
// are confirmed with one more request each (livePrefixes).
func (s *drv) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	const op = "list"
	prefix, after, delim := opts.Prefix, opts.StartAfter, opts.Delimiter
	return func(yield func(storage.Info, error) bool) {
		in := &s3.ListObjectsV2Input{Bucket: &s.set.Bucket, MaxKeys: aws.Int32(s.listPage)}
		if prefix != "" {
			in.Prefix = aws.String(prefix)
		}
		start := after
		if delim != "" {
			in.Delimiter = aws.String(delim)
			start = s3proto.DelimitedStart(prefix, after)
		}
		if start != "" && start >= prefix {
			in.StartAfter = aws.String(start)
		}
		var objs, prefixes []storage.Info
		for {
			if err := ctx.Err(); err != nil {
				yield(storage.Info{}, err)
				return
			}
			out, err := s.client.ListObjectsV2(ctx, in)
			if err != nil {
				yield(storage.Info{}, s.fail(ctx, op, err))
				return
			}
			objs, prefixes = objs[:0], prefixes[:0]
			for _, o := range out.Contents {
				k := aws.ToString(o.Key)
				if storage.ValidKey(k) != nil || k <= after {
					continue
				}
				objs = append(objs, storage.Info{
					Key:     k,
					Size:    aws.ToInt64(o.Size),
					ModTime: aws.ToTime(o.LastModified),
					ETag:    aws.ToString(o.ETag),
				})
			}
			for _, cp := range out.CommonPrefixes {
				k := aws.ToString(cp.Prefix)
				if k <= after || !s3proto.PrefixListable(k) {
					continue
				}
				prefixes = append(prefixes, storage.Info{Key: k, IsPrefix: true})
			}
			if len(prefixes) > 0 {
				if prefixes, err = s.livePrefixes(ctx, prefixes); err != nil {
					yield(storage.Info{}, err)
					return
				}
			}
			if !s3proto.MergePage(objs, prefixes, func(info storage.Info) bool { return yield(info, nil) }) {
				return
			}
			if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
				return
			}
			in.ContinuationToken = out.NextContinuationToken
		}
	}
}

// PresignGet implements storage.Presigner: it returns a URL that GETs the
// object under key without credentials until expiry has passed. expiry must
// be between one second and seven days (SigV4's limit). The URL carries a
// signature: treat it as a secret and do not log it. With SSE-C the call
// fails with storage.ErrUnsupported, since a plain GET cannot send the key.
// PresignGet does not check that the object exists.
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	const op = "presign"
	if err := s.Check(ctx, op, key); err != nil {
		return "", err
	}
	d := s.d
	if d.set.sseC != nil {
		return "", s.Wrap(op, key, fmt.Errorf("presigned URLs cannot carry an SSE-C key: %w", storage.ErrUnsupported))
	}
	if err := s3proto.CheckExpiry(expiry); err != nil {
		return "", s.Wrap(op, key, err)
	}
	req, err := d.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &d.set.Bucket, Key: &key}, s3.WithPresignExpires(expiry))
	if err != nil {
		return "", s.Wrap(op, key, d.fail(ctx, op, err))
	}
	return req.URL, nil
}

// storageClass returns the configured storage class for an input field.
func (s *drv) storageClass() types.StorageClass {
	return types.StorageClass(s.set.StorageClass)
}

// PresignPut implements storage.PutPresigner: it returns a PUT request
// that stores its body under key without credentials until expiry (one
// second to seven days) has passed. What opts gives is signed, so the
// upload fails when the client sends something else: the Content-Type,
// the Content-Length (opts.Size), and for opts.SHA256 both
// x-amz-checksum-sha256 (S3 and MinIO refuse a body of another digest)
// and strata's x-amz-meta-strata-sha256 (so the object reads back with
// Info.SHA256 and whole reads are verified). The storage class and the
// SSE-S3 or SSE-KMS settings of the Store are signed too. Header lists
// every header the client must send, as it is; Content-Length is the
// one HTTP clients set themselves from the body.
//
// The upload does not pass through the Store: the prefix check
// (Config.PrefixCheck) and IfNotExists do not apply to it. With SSE-C
// the call fails with storage.ErrUnsupported, as the client would need
// the key. PresignPut sends no request.
func (s *Store) PresignPut(ctx context.Context, key string, expiry time.Duration, opts *storage.PresignPutOptions) (*storage.PresignedRequest, error) {
	const op = "presign-put"
	if err := s.Check(ctx, op, key); err != nil {
		return nil, err
	}
	d := s.d
	if d.set.sseC != nil {
		return nil, s.Wrap(op, key, fmt.Errorf("presigned uploads cannot carry an SSE-C key: %w", storage.ErrUnsupported))
	}
	pp, err := s3proto.CheckPresignPut(expiry, opts)
	if err != nil {
		return nil, s.Wrap(op, key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:       &d.set.Bucket,
		Key:          &key,
		ContentType:  optional(pp.ContentType),
		StorageClass: d.storageClass(),
	}
	if pp.Size > 0 {
		in.ContentLength = aws.Int64(pp.Size)
	}
	if pp.SHA256 != "" {
		in.ChecksumSHA256 = aws.String(pp.ChecksumSHA256)
		in.Metadata = map[string]string{metaSHA256: pp.SHA256}
	}
	d.ssePut(in)
	req, err := d.presign.PresignPutObject(ctx, in, s3.WithPresignExpires(expiry))
	if err != nil {
		return nil, s.Wrap(op, key, d.fail(ctx, op, err))
	}
	h := make(http.Header, len(req.SignedHeader))
	for k, vs := range req.SignedHeader {
		if strings.EqualFold(k, "host") {
			continue // the URL's; HTTP clients send it
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return &storage.PresignedRequest{Method: req.Method, URL: req.URL, Header: h}, nil
}
