package s3

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/aws/smithy-go/logging"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fastPutMax is the largest object the fast path sends. Above it the
// SDK's own cost per request is a small share of what sending the body
// costs, and the SDK sends it.
const fastPutMax = 1 << 20

// fastPutLooks is how many of the SDK's PutObjects a Store examines for a
// template before it leaves every PutObject to the SDK.
const fastPutLooks = 8

// fastPutAgent is the User-Agent of the requests the fast path sends.
const fastPutAgent = "strata-s3"

// fastPut sends the PutObject of a small object (up to fastPutMax bytes)
// through a request pipeline built once per Store from the SDK's own
// parts: its retry loop with the Store's retryer (the same retry quota as
// every other request), its SigV4 signer, its credentials cache, its
// response timing and clock-skew correction, and its error types. The
// SDK's PutObject builds a stack of about 40 middlewares for every call
// (endpoint rules, auth scheme resolution, user agent, invocation ID,
// checksum and tracing steps); for an object of a few KiB that costs more
// CPU than the request itself, and a migration of millions of small files
// is made of nothing else.
//
// The fast path learns the shape of the request from the SDK rather than
// working it out again. The first PutObjects of a Store go through the
// SDK with a last step (learn) that looks at the request as it was
// signed: the URL up to the key (the endpoint the SDK's rules resolved,
// path or virtual-host style), its query, the signing name and region of
// its Authorization header, and its headers. Only a request the fast path
// sends the same way becomes the template: signed with SigV4 (not SigV4a,
// not an S3 Express session), its payload hash the object's SHA-256, and
// no header the fast path does not set itself. Otherwise every PutObject
// stays with the SDK.
type fastPut struct {
	d         *drv
	pipelines sync.Pool // of smithymiddleware.Handler, each built by pipeline
	signer    *v4.Signer
	creds     aws.CredentialsProvider

	tmpl   atomic.Pointer[putTemplate]
	looked atomic.Int32 // SDK PutObjects examined for a template
	// skew is the server's clock minus ours, in nanoseconds, as the
	// latest response measured it; requests are signed at our time plus
	// skew, as the SDK signs them after it has seen a skewed clock.
	skew atomic.Int64
}

// putTemplate is what the fast path learned from a PutObject the SDK sent.
type putTemplate struct {
	scheme, host    string
	path, rawPath   string // the URL's path before the key, plain and escaped
	query           string // x-id=PutObject
	service, region string // of the signature's scope
	crc32           bool   // the SDK sent x-amz-checksum-crc32: so does the fast path
}

// newFastPut returns the fast path of a Store's small PutObjects.
func newFastPut(d *drv, retryer aws.Retryer, hc smithyhttp.ClientDo, creds aws.CredentialsProvider) *fastPut {
	f := &fastPut{d: d, creds: creds, signer: v4.NewSigner(func(o *v4.SignerOptions) {
		// S3 signs the path as it is sent, as the SDK's S3 client does.
		o.DisableURIPathEscaping = true
		o.Logger = logging.Nop{}
	})}
	f.pipelines.New = func() any { return f.pipeline(retryer, hc) }
	f.pipeline(retryer, hc) // fail now, not at the first PutObject
	return f
}

// pipeline builds the fast path's request pipeline: the SDK's retry
// loop, then signing, the HTTP exchange, and the response read as the
// SDK's S3 client reads it. A pipeline serves one request at a time (a
// smithy stack links its steps anew for each request), hence the pool.
func (f *fastPut) pipeline(retryer aws.Retryer, hc smithyhttp.ClientDo) smithymiddleware.Handler {
	st := smithymiddleware.NewStack("PutObject", smithyhttp.NewStackRequest)
	err := errors.Join(
		st.Serialize.Add(smithymiddleware.SerializeMiddlewareFunc("StrataPutRequest", f.serialize), smithymiddleware.After),
		st.Finalize.Add(retry.NewAttemptMiddleware(retryer, smithyhttp.RequestCloner), smithymiddleware.After),
		st.Finalize.Add(smithymiddleware.FinalizeMiddlewareFunc("StrataSign", f.sign), smithymiddleware.After),
		st.Deserialize.Add(smithymiddleware.DeserializeMiddlewareFunc("StrataClockSkew", f.recordSkew), smithymiddleware.After),
		awsmiddleware.AddRecordResponseTiming(st),
		awsmiddleware.AddRawResponseToMetadata(st),
		st.Deserialize.Add(smithymiddleware.DeserializeMiddlewareFunc("StrataPutResponse", f.deserialize), smithymiddleware.After),
	)
	if err != nil {
		panic("s3: building the PutObject pipeline: " + err.Error()) // two steps with one name
	}
	return smithymiddleware.DecorateHandler(smithyhttp.NewClientHandlerWithOptions(oneWrite(hc)), st)
}

// oneWriteBuffer is the size of the write buffer of the Store's own
// transport, and oneWriteMax the largest body the fast path sends from a
// private copy (see oneWrite): with the request's head, it fits that
// buffer. Each connection holds the buffer while it is open.
const (
	oneWriteBuffer = 64 << 10
	oneWriteMax    = oneWriteBuffer - 8<<10
)

// copiedBody is the context key of a request's private copy of its body.
type copiedBody struct{}

// oneWrite sends a request whose context carries a copy of its body
// (copiedBody) with that copy as a bytes.Reader, which net/http writes
// together with the request's head in one write when both fit its buffer,
// instead of flushing the head on its own first: on loopback that second
// write cost a 32 KiB PutObject about a tenth of the client's CPU. The
// copy is never reused, so a read of it after the request has ended
// (net/http may read a body after RoundTrip returns, which is why the
// pooled chunk is sent through a killable chunkReader) is harmless.
func oneWrite(hc smithyhttp.ClientDo) smithyhttp.ClientDo {
	return smithyhttp.ClientDoFunc(func(r *http.Request) (*http.Response, error) {
		if b, ok := r.Context().Value(copiedBody{}).([]byte); ok && r.ContentLength == int64(len(b)) {
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		return hc.Do(r)
	})
}

// learn returns the option that has the SDK's PutObject show its signed
// request to the fast path, until a template is found. It returns nil
// once there is one or the Store has given up looking.
func (f *fastPut) learn(key, sha string) func(*s3.Options) {
	if f == nil || f.tmpl.Load() != nil || f.looked.Load() >= fastPutLooks {
		return nil
	}
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *smithymiddleware.Stack) error {
			return st.Finalize.Add(smithymiddleware.FinalizeMiddlewareFunc("StrataLearnPut",
				func(ctx context.Context, in smithymiddleware.FinalizeInput, next smithymiddleware.FinalizeHandler) (
					smithymiddleware.FinalizeOutput, smithymiddleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						f.record(req.Request, key, sha)
					}
					return next.HandleFinalize(ctx, in)
				}), smithymiddleware.After)
		})
	}
}

// record makes req, a PutObject of key with payload hash sha as the SDK
// signed it, the template, if the fast path can send it the same way.
func (f *fastPut) record(req *http.Request, key, sha string) {
	if f.tmpl.Load() != nil {
		return
	}
	f.looked.Add(1)
	t, ok := templateOf(req, key, sha)
	if ok {
		f.tmpl.CompareAndSwap(nil, t)
	}
}

// fastPutHeaders are the headers of a PutObject the fast path can send
// itself (the values are what learn requires of them, "" for anything),
// besides x-amz-meta-*. The SDK's own bookkeeping (user agent, invocation
// ID, attempt count) it leaves out.
var fastPutHeaders = map[string]string{
	"Content-Length":                                  "",
	"Content-Type":                                    "",
	"Cache-Control":                                   "",
	"Content-Disposition":                             "",
	"Content-Encoding":                                "",
	"Content-Language":                                "",
	"If-None-Match":                                   "",
	"X-Amz-Storage-Class":                             "",
	"X-Amz-Server-Side-Encryption":                    "",
	"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id":     "",
	"X-Amz-Server-Side-Encryption-Customer-Algorithm": "",
	"X-Amz-Server-Side-Encryption-Customer-Key":       "",
	"X-Amz-Server-Side-Encryption-Customer-Key-Md5":   "",
	"X-Amz-Checksum-Crc32":                            "",
	"X-Amz-Sdk-Checksum-Algorithm":                    "CRC32",
	"X-Amz-Trailer":                                   "",
	"X-Amz-Decoded-Content-Length":                    "",
	"X-Amz-Content-Sha256":                            "",
	"X-Amz-Date":                                      "",
	"X-Amz-Security-Token":                            "",
	"Authorization":                                   "",
	"User-Agent":                                      "",
	"X-Amz-User-Agent":                                "",
	"Amz-Sdk-Invocation-Id":                           "",
	"Amz-Sdk-Request":                                 "",
	"Accept-Encoding":                                 "",
}

// templateOf returns the template req makes, or false when the fast path
// could not send req as it is.
func templateOf(req *http.Request, key, sha string) (*putTemplate, bool) {
	if req.Method != http.MethodPut || req.Host != "" && req.Host != req.URL.Host {
		return nil, false
	}
	for name, vs := range req.Header {
		want, known := fastPutHeaders[name]
		if !known && !strings.HasPrefix(name, "X-Amz-Meta-") || len(vs) != 1 || want != "" && vs[0] != want {
			return nil, false
		}
	}
	crc := req.Header.Get("X-Amz-Checksum-Crc32") != ""
	switch trailer := req.Header.Get("X-Amz-Trailer"); {
	case trailer == "" && req.Header.Get("X-Amz-Content-Sha256") == sha &&
		!strings.Contains(req.Header.Get("Content-Encoding"), "aws-chunked"):
		// The payload signed with its SHA-256.
	case strings.EqualFold(trailer, "x-amz-checksum-crc32") &&
		req.Header.Get("X-Amz-Content-Sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
		// Over TLS the SDK sends its CRC-32 after the payload (aws-chunked
		// encoding), so as not to read the payload twice. The fast path has
		// the whole object in memory and its SHA-256 already: it signs the
		// payload and sends the CRC-32 as a header, as the SDK does over
		// plain HTTP.
		crc = true
	default:
		return nil, false // another checksum, or a payload unsigned or streamed
	}
	// AWS4-HMAC-SHA256 Credential=AKID/20260101/region/service/aws4_request, SignedHeaders=..., Signature=...
	cred, ok := strings.CutPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return nil, false
	}
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/")
	if len(scope) < 5 || scope[len(scope)-1] != "aws4_request" {
		return nil, false
	}
	escaped, rawKey := req.URL.EscapedPath(), httpbinding.EscapePath(key, false)
	rawPath, ok := strings.CutSuffix(escaped, rawKey)
	if !ok {
		return nil, false
	}
	path, ok := strings.CutSuffix(req.URL.Path, key)
	if !ok {
		return nil, false
	}
	return &putTemplate{
		scheme: req.URL.Scheme, host: req.URL.Host,
		path: path, rawPath: rawPath, query: req.URL.RawQuery,
		service: scope[len(scope)-2], region: scope[len(scope)-3],
		crc32: crc,
	}, true
}

// fastPutInput is one PutObject of the fast path.
type fastPutInput struct {
	t    *putTemplate
	key  string
	hdr  http.Header
	body io.ReadSeeker
	size int64
}

// fastHeaders returns the headers of the PutObject in as the SDK's
// serializer writes them, for the fields single sets (a test checks that
// it sets no other), with sha as the payload hash.
func fastHeaders(in *s3.PutObjectInput, sha string) http.Header {
	h := make(http.Header, 8+len(in.Metadata))
	set := func(name string, v *string) {
		if v != nil && *v != "" {
			h[name] = []string{*v}
		}
	}
	set("Content-Type", in.ContentType)
	set("Cache-Control", in.CacheControl)
	set("Content-Disposition", in.ContentDisposition)
	set("Content-Encoding", in.ContentEncoding)
	set("Content-Language", in.ContentLanguage)
	set("If-None-Match", in.IfNoneMatch)
	set("X-Amz-Storage-Class", (*string)(&in.StorageClass))
	set("X-Amz-Server-Side-Encryption", (*string)(&in.ServerSideEncryption))
	set("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", in.SSEKMSKeyId)
	set("X-Amz-Server-Side-Encryption-Customer-Algorithm", in.SSECustomerAlgorithm)
	set("X-Amz-Server-Side-Encryption-Customer-Key", in.SSECustomerKey)
	set("X-Amz-Server-Side-Encryption-Customer-Key-Md5", in.SSECustomerKeyMD5)
	for k, v := range in.Metadata {
		h.Set("X-Amz-Meta-"+k, v)
	}
	if h["Content-Type"] == nil {
		h["Content-Type"] = []string{"application/octet-stream"} // the SDK's default
	}
	h["X-Amz-Content-Sha256"] = []string{sha}
	h["User-Agent"] = []string{fastPutAgent}
	return h
}

// put sends in, whose body is c and whose SHA-256 is sha, with the
// template t. It returns what the SDK's PutObject returns: the ETag and
// the response's metadata, or an error of the same types.
func (f *fastPut) put(ctx context.Context, t *putTemplate, in *s3.PutObjectInput, c *chunk, sha string) (string, smithymiddleware.Metadata, error) {
	hdr := fastHeaders(in, sha)
	if t.crc32 {
		hdr["X-Amz-Checksum-Crc32"] = []string{c.crc32()}
		hdr["X-Amz-Sdk-Checksum-Algorithm"] = []string{"CRC32"}
	}
	if f.d.transport != nil && c.n > 0 && c.n <= oneWriteMax {
		// Only the Store's own transport has the buffer that makes the
		// copy worth its bytes; a Config.HTTPClient writes two either way.
		ctx = context.WithValue(ctx, copiedBody{}, c.copy())
	}
	h := f.pipelines.Get().(smithymiddleware.Handler)
	out, md, err := h.Handle(ctx, &fastPutInput{t: t, key: *in.Key, hdr: hdr, body: in.Body.(io.ReadSeeker), size: c.n})
	f.pipelines.Put(h)
	if err != nil {
		return "", md, &smithy.OperationError{ServiceID: "S3", OperationName: "PutObject", Err: err}
	}
	etag, _ := out.(string)
	return etag, md, nil
}

// serialize makes the HTTP request of a fastPutInput.
func (f *fastPut) serialize(ctx context.Context, in smithymiddleware.SerializeInput, next smithymiddleware.SerializeHandler) (
	smithymiddleware.SerializeOutput, smithymiddleware.Metadata, error) {
	p := in.Parameters.(*fastPutInput)
	req := in.Request.(*smithyhttp.Request)
	req.Method = http.MethodPut
	req.URL.Scheme, req.URL.Host = p.t.scheme, p.t.host
	req.URL.Path = p.t.path + p.key
	req.URL.RawPath = p.t.rawPath + httpbinding.EscapePath(p.key, false)
	req.URL.RawQuery = p.t.query
	req.Header = p.hdr
	req.ContentLength = p.size
	if p.size > 0 {
		r, err := req.SetStream(p.body)
		if err != nil {
			return smithymiddleware.SerializeOutput{}, smithymiddleware.Metadata{}, &smithy.SerializationError{Err: err}
		}
		in.Request = r
	}
	return next.HandleSerialize(ctx, in)
}

// sign signs an attempt's request as the SDK's signing step does, at our
// clock plus the skew the latest response showed.
func (f *fastPut) sign(ctx context.Context, in smithymiddleware.FinalizeInput, next smithymiddleware.FinalizeHandler) (
	smithymiddleware.FinalizeOutput, smithymiddleware.Metadata, error) {
	req := in.Request.(*smithyhttp.Request)
	t := f.tmpl.Load()
	creds, err := f.creds.Retrieve(ctx)
	if err != nil {
		return smithymiddleware.FinalizeOutput{}, smithymiddleware.Metadata{}, fmt.Errorf("get identity: %w", err)
	}
	at := time.Now().Add(time.Duration(f.skew.Load()))
	if err := f.signer.SignHTTP(ctx, creds, req.Request, req.Header.Get("X-Amz-Content-Sha256"), t.service, t.region, at); err != nil {
		return smithymiddleware.FinalizeOutput{}, smithymiddleware.Metadata{}, &v4.SigningError{Err: err}
	}
	return next.HandleFinalize(ctx, in)
}

// recordSkew keeps the clock skew the SDK's response timing measured, for
// the requests signed after it.
func (f *fastPut) recordSkew(ctx context.Context, in smithymiddleware.DeserializeInput, next smithymiddleware.DeserializeHandler) (
	smithymiddleware.DeserializeOutput, smithymiddleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if skew, ok := awsmiddleware.GetAttemptSkew(md); ok && time.Duration(f.skew.Load()) != skew {
		f.skew.Store(int64(skew))
	}
	return out, md, err
}

// maxErrorBody bounds the error document read from a response.
const maxErrorBody = 64 << 10

// deserialize reads the response of a PutObject: the ETag, or the S3
// error document as the SDK's S3 client reads it.
func (f *fastPut) deserialize(ctx context.Context, in smithymiddleware.DeserializeInput, next smithymiddleware.DeserializeHandler) (
	smithymiddleware.DeserializeOutput, smithymiddleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok {
		return out, md, &smithy.DeserializationError{Err: fmt.Errorf("unknown transport type %T", out.RawResponse)}
	}
	f.d.server.Observe(resp.Header)
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		doc, err := errorDocument(resp)
		if err == nil {
			err = &smithy.GenericAPIError{Code: doc.Code, Message: doc.Message}
		}
		e := &responseError{
			ResponseError: &awshttp.ResponseError{
				ResponseError: &smithyhttp.ResponseError{Response: resp, Err: err},
				RequestID:     cmp.Or(resp.Header.Get("X-Amz-Request-Id"), doc.RequestID),
			},
			HostID: cmp.Or(resp.Header.Get("X-Amz-Id-2"), doc.HostID),
		}
		awsmiddleware.SetRequestIDMetadata(&md, e.RequestID)
		return out, md, e
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	out.Result = resp.Header.Get("ETag")
	return out, md, nil
}

// s3Error is the S3 error document of a response.
type s3Error struct {
	Code, Message, RequestID, HostID string
}

// errorDocument reads the S3 error document of resp as the SDK's S3
// client does: when it has neither a Code nor a Message, the HTTP status
// makes them.
func errorDocument(resp *smithyhttp.Response) (s3Error, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return s3Error{}, &smithy.DeserializationError{Err: fmt.Errorf("failed to copy error response body, %w", err)}
	}
	var doc struct {
		Code, Message, RequestId, HostId string //lint:ignore ST1003 S3's element names
	}
	if err := xml.NewDecoder(bytes.NewReader(body)).Decode(&doc); err != nil && err != io.EOF {
		return s3Error{}, &smithy.DeserializationError{Err: fmt.Errorf("error while deserializing xml error response : %w", err)}
	}
	e := s3Error{Code: doc.Code, Message: doc.Message, RequestID: doc.RequestId, HostID: doc.HostId}
	if e.Code == "" && e.Message == "" {
		text := http.StatusText(resp.StatusCode)
		e.Code, e.Message = strings.ReplaceAll(text, " ", ""), text
	}
	if e.Code == "" {
		e.Code = "UnknownError"
	}
	if e.Message == "" {
		e.Message = e.Code
	}
	return e, nil
}

// responseError is the error of an S3 response as the SDK's S3 client
// returns it (its type is internal to the SDK): the HTTP response error
// with S3's host ID.
type responseError struct {
	*awshttp.ResponseError
	HostID string
}

// ServiceHostID returns S3's host ID of the response.
func (e *responseError) ServiceHostID() string { return e.HostID }

func (e *responseError) Error() string {
	return fmt.Sprintf("https response error StatusCode: %d, RequestID: %s, HostID: %s, %v",
		e.Response.StatusCode, e.RequestID, e.HostID, e.Err)
}

// As finds target among the errors the response error wraps.
func (e *responseError) As(target any) bool { return errors.As(e.ResponseError, target) }

// crc32 returns the base64 CRC-32 of c, as x-amz-checksum-crc32 carries it.
func (c *chunk) crc32() string {
	var sum uint32
	for i, b := range c.blocks {
		n := int64(blockSize)
		if rest := c.n - int64(i)*blockSize; rest < n {
			n = rest
		}
		sum = crc32.Update(sum, crc32.IEEETable, (*b)[:n])
	}
	var be [4]byte
	binary.BigEndian.PutUint32(be[:], sum)
	return base64.StdEncoding.EncodeToString(be[:])
}

// template returns the template the fast path has learned, or nil.
func (f *fastPut) template() *putTemplate {
	if f == nil {
		return nil
	}
	return f.tmpl.Load()
}
