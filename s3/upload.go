package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// maxObjectSize is S3's limit on the size of an object (5 TiB).
const maxObjectSize = 5 << 40

// cleanupTimeout bounds the requests that clean up after a failed upload
// (AbortMultipartUpload), which run even when the caller's context has
// ended.
const cleanupTimeout = 30 * time.Second

// Put implements driver.Driver.
//
// A reader of a known size larger than one part that is an io.ReaderAt and
// an io.Seeker (a file, a *bytes.Reader) is read once to hash it and then
// uploaded in parts read at their offsets, Concurrency at a time, with no
// part buffers; its SHA-256 is in its metadata from the start (see
// putReaderAt).
//
// Any other reader is read as a stream: Put reads up to Concurrency+1
// parts of PartSize bytes before it sends anything. An object that ends within the first part is sent with one
// PutObject; one that ends within those parts is sent as a multipart
// upload; either way its SHA-256 (which body computes as it is read) is
// known first and stored in its metadata. A larger object is sent as a
// multipart upload while it is read, Concurrency parts at a time; its
// SHA-256 is returned in the Info but recorded in metadata only with
// Config.RecordLargeSHA256. Memory stays within (Concurrency+1) × PartSize
// bytes.
//
// When the reader fails, yields another size than opts.Size, or ctx ends,
// Put stores nothing and aborts the multipart upload (with a fresh
// context, so that a cancelled call still cleans up). With
// opts.IfNotExists the write is conditional on the server (If-None-Match: *
// on PutObject or CompleteMultipartUpload), so of racing Puts exactly one
// succeeds; the others fail with storage.ErrExist.
func (s *drv) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	if err := s.checkPrefixes(ctx, key); err != nil {
		return storage.Info{}, err
	}
	partSize := s.set.PartSize
	if opts.Size > maxObjectSize {
		return storage.Info{}, fmt.Errorf("%d bytes is more than S3's 5 TiB limit: %w", opts.Size, storage.ErrTooLarge)
	}
	if need := (opts.Size + maxParts - 1) / maxParts; need > partSize {
		partSize = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}

	u := newUpload(s, key, body, opts, partSize)
	if opts.Size > partSize {
		if ra, ok := body.ReaderAt(); ok {
			return u.putReaderAt(ctx, ra)
		}
	}
	// Read up to Concurrency+1 parts before sending anything: an object
	// that ends within them is hashed before its upload starts, so its
	// SHA-256 goes into the metadata of CreateMultipartUpload (or of the
	// single PutObject) at no extra cost. This is the memory an upload
	// holds anyway. A larger object (or one whose Size says so) streams
	// from its first part.
	limit := s.set.Concurrency + 1
	if opts.Size > int64(limit)*partSize {
		limit = 1
	}
	var chunks []*chunk
	eof := false
	for len(chunks) < limit && !eof {
		c, end, err := u.next(ctx)
		if err != nil {
			releaseAll(chunks)
			return storage.Info{}, err
		}
		eof = end
		if c.n == 0 && len(chunks) > 0 {
			c.release() // the reader ended at a part boundary
			continue
		}
		chunks = append(chunks, c)
	}
	if eof && len(chunks) == 1 {
		return u.single(ctx, chunks[0])
	}
	return u.multipart(ctx, chunks, eof)
}

func releaseAll(chunks []*chunk) {
	for _, c := range chunks {
		c.release()
	}
}

// upload is the state of one Put. At most Concurrency+1 parts exist at
// once (slots): one being read, the others being sent.
type upload struct {
	s        *drv
	key      string
	opts     *storage.PutOptions
	body     *driver.Body
	partSize int64

	slots chan struct{} // one token per live part
}

func newUpload(s *drv, key string, body *driver.Body, opts *storage.PutOptions, partSize int64) *upload {
	return &upload{
		s: s, key: key, opts: opts, body: body, partSize: partSize,
		slots: make(chan struct{}, s.set.Concurrency+1),
	}
}

// next reads the next part. eof reports that the body has ended. It fails
// when the body fails (the caller's reader failed, or yielded another size
// than opts.Size promised) or ctx ends.
func (u *upload) next(ctx context.Context) (c *chunk, eof bool, err error) {
	select {
	case u.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	c = &chunk{slot: u.slots}
	c.refs.Store(1)
	eof, err = c.fill(ctx, u.body, u.partSize)
	if err != nil {
		c.release()
		if !storage.IsContextError(err) {
			err = fmt.Errorf("reading the object: %w", err)
		}
		return nil, false, err
	}
	return c, eof, nil
}

// single stores c, the whole object, with one PutObject: through the fast
// path when it has learned how (see fastPut), else through the SDK.
func (u *upload) single(ctx context.Context, c *chunk) (storage.Info, error) {
	defer c.release()
	s := u.s
	sha := u.body.SHA256()
	body := c.reader()
	defer body.kill()
	in := u.putInput(body, c.n, sha)
	var (
		etag string
		md   smithymiddleware.Metadata
		err  error
	)
	if t := s.fast.template(); t != nil && c.n <= fastPutMax {
		etag, md, err = s.fast.put(ctx, t, in, c, sha)
	} else {
		optFns := []func(*s3.Options){withPayloadHash(sha)}
		if learn := s.fast.learn(u.key, sha); learn != nil && c.n <= fastPutMax {
			optFns = append(optFns, learn)
		}
		var out *s3.PutObjectOutput
		out, err = s.client.PutObject(ctx, in, optFns...)
		if err == nil {
			etag, md = aws.ToString(out.ETag), out.ResultMetadata
		}
	}
	if err != nil {
		return storage.Info{}, s.fail(ctx, "put", err)
	}
	return u.info(c.n, etag, responseTime(md), sha), nil
}

// putInput is the PutObjectInput of the whole object, body, of n bytes
// and SHA-256 sha.
func (u *upload) putInput(body io.Reader, n int64, sha string) *s3.PutObjectInput {
	s := u.s
	in := &s3.PutObjectInput{
		Bucket:        &s.set.Bucket,
		Key:           &u.key,
		Body:          body,
		ContentLength: aws.Int64(n),
		Metadata:      putMeta(u.opts, sha),
		StorageClass:  s.storageClass(),
	}
	in.ContentType = optional(u.opts.ContentType)
	a := s3proto.PutAttrs(u.opts)
	in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage = attrFields(a)
	if u.opts.IfNotExists {
		in.IfNoneMatch = aws.String("*")
	}
	s.ssePut(in)
	return in
}

// info is the Info of the object this upload stored.
func (u *upload) info(size int64, etag string, mod time.Time, sha string) storage.Info {
	info := storage.Info{
		Key:         u.key,
		Size:        size,
		ModTime:     mod,
		ETag:        etag,
		SHA256:      sha,
		ContentType: u.opts.ContentType,
	}
	s3proto.PutAttrs(u.opts).SetInfo(&info)
	if len(u.opts.Metadata) > 0 {
		info.Metadata = maps.Clone(u.opts.Metadata)
	}
	return info
}

// responseTime returns the Date header of the response md came from, or
// the current time, truncated to the second as S3's Last-Modified is.
func responseTime(md smithymiddleware.Metadata) time.Time {
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && resp != nil {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			return t
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// completedTime returns the modification time of the object a multipart
// upload or copy just completed. Servers differ (AWS dates a multipart
// object from the start of its upload, MinIO from its completion), so it
// asks the server with a HeadObject, and falls back to the response's Date
// when that fails or finds another object (a concurrent writer's).
func (s *drv) completedTime(ctx context.Context, key, etag string, md smithymiddleware.Metadata) time.Time {
	in := &s3.HeadObjectInput{Bucket: &s.set.Bucket, Key: &key}
	s.sseCHead(in)
	out, err := s.client.HeadObject(ctx, in)
	if err == nil && aws.ToString(out.ETag) == etag && out.LastModified != nil {
		return *out.LastModified
	}
	return responseTime(md)
}

// multipart sends the object as a multipart upload of the parts read so
// far, then of the rest of the reader unless eof says it has ended.
func (u *upload) multipart(ctx context.Context, chunks []*chunk, eof bool) (storage.Info, error) {
	s := u.s
	sha := ""
	if eof {
		// The whole object is in memory, and hashed.
		sha = u.body.SHA256()
	}
	create := s.createInput(u.key, objMeta{u.opts.ContentType, s3proto.PutAttrs(u.opts), putMeta(u.opts, sha)})
	s.sseCreate(create)
	created, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		releaseAll(chunks)
		return storage.Info{}, s.fail(ctx, "put", err)
	}
	uploadID := aws.ToString(created.UploadId)

	parts, err := u.sendParts(ctx, uploadID, chunks, eof)
	if err != nil {
		s.abort(ctx, u.key, uploadID)
		return storage.Info{}, err
	}

	etag, mod, err := u.complete(ctx, uploadID, parts)
	if err != nil {
		return storage.Info{}, err
	}
	size := u.body.N()
	info := u.info(size, etag, mod, u.body.SHA256())
	if sha != "" || !s.set.RecordLargeSHA256 {
		return info, nil
	}

	// The SHA-256 is known only now, after CreateMultipartUpload fixed the
	// metadata: copy the object onto itself with it added. The server
	// copies the data (MinIO and AWS alike), so this doubles the work of a
	// large upload. CopySourceIfMatch leaves a concurrent writer's object
	// alone. A failure leaves a complete object without a recorded
	// checksum, so Put still succeeds.
	etag, mod, err = s.rewriteMeta(ctx, u.key, info.ETag, size, objMeta{u.opts.ContentType, s3proto.PutAttrs(u.opts), putMeta(u.opts, info.SHA256)})
	switch {
	case err == nil:
		info.ETag, info.ModTime = etag, mod
	case preconditionFailed(err):
		// 412: the object was replaced meanwhile; ours is gone anyway.
	default:
		s.set.log.WarnContext(ctx, "s3: stored object without its SHA-256 in metadata",
			slog.String("bucket", s.set.Bucket), slog.String("key", u.key), slog.String("error", err.Error()))
	}
	return info, nil
}

// putReaderAt uploads an object of a known size larger than one part
// from ra, its Size bytes (driver.Body.ReaderAt). It reads ra once to hash
// it whole, so that the SHA-256 goes into the metadata of
// CreateMultipartUpload with no copy afterwards, and part by part in the
// same pass, so that each part's request carries a sum of that first read
// (partSum): the part's CRC32C when the server is known to be MinIO, else
// over plain HTTP its SHA-256, which signs the request so that the SDK
// does not read the part a second time to hash it. A source that changed
// in between then fails the upload (the server's sum of the body differs)
// instead of storing what the checksum does not describe. Then it uploads
// the parts straight from ra, Concurrency at a time.
func (u *upload) putReaderAt(ctx context.Context, ra io.ReaderAt) (storage.Info, error) {
	s := u.s
	size := u.opts.Size
	// Each part carries a sum of the bytes the hashing pass read: its
	// CRC32C when the server is known to check one (MinIO: a check at a
	// small fraction of a SHA-256's cost, and the part goes unsigned), else
	// over plain HTTP its SHA-256, which signs the request. Otherwise (TLS
	// to another server) it carries none, and the SDK sends it unsigned.
	// A Store that has had no answer yet asks for one (a HeadBucket, once):
	// strata migrate, say, writes through a Store that has sent nothing
	// before its first upload. An error leaves the server unknown.
	s.server.Ask(ctx, func(ctx context.Context) { _ = s.headBucket(ctx, "put") })
	var sumParts int64 // the part size to hash by, when parts carry a sum
	kind := driver.PartSHA256
	if minio, _ := s.server.MinIO(); minio {
		sumParts, kind = u.partSize, driver.PartCRC32C
	} else if s.set.plainHTTP() {
		sumParts = u.partSize
	}
	sha, partSums, err := u.body.PartSums(ctx, sumParts, kind)
	if err != nil {
		if !storage.IsContextError(err) && !errors.Is(err, storage.ErrSizeMismatch) {
			err = fmt.Errorf("reading the object: %w", err)
		}
		return storage.Info{}, err
	}
	create := s.createInput(u.key, objMeta{u.opts.ContentType, s3proto.PutAttrs(u.opts), putMeta(u.opts, sha)})
	if kind == driver.PartCRC32C && partSums != nil {
		// A part's CRC32C is checked only in an upload created for them.
		create.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32c
	}
	s.sseCreate(create)
	created, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return storage.Info{}, s.fail(ctx, "put", err)
	}
	uploadID := aws.ToString(created.UploadId)

	nparts := int((size + u.partSize - 1) / u.partSize)
	parts := make([]types.CompletedPart, nparts)
	pctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.set.Concurrency)
	for i := range nparts {
		select {
		case sem <- struct{}{}:
		case <-pctx.Done():
		}
		if pctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			off := int64(i) * u.partSize
			part := &sectionBody{r: io.NewSectionReader(ra, off, min(u.partSize, size-off))}
			defer part.kill()
			var sum partSum
			switch {
			case partSums == nil:
			case kind == driver.PartCRC32C:
				sum.crc32c = partSums[i]
			default:
				sum.sha = partSums[i]
			}
			num := int32(i + 1)
			etag, err := s.uploadPart(pctx, u.key, uploadID, num, part, part.r.Size(), sum)
			if err != nil {
				cancel(err)
				return
			}
			parts[i] = types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)}
			if sum.crc32c != "" {
				parts[i].ChecksumCRC32C = aws.String(sum.crc32c)
			}
		})
	}
	wg.Wait()
	cause := context.Cause(pctx)
	cancel(nil)
	switch {
	case ctx.Err() != nil:
		s.abort(ctx, u.key, uploadID)
		return storage.Info{}, ctx.Err()
	case cause != nil:
		s.abort(ctx, u.key, uploadID)
		return storage.Info{}, s.fail(ctx, "put", cause)
	}

	etag, mod, err := u.complete(ctx, uploadID, parts)
	if err != nil {
		return storage.Info{}, err
	}
	if err := u.body.SeekToEnd(); err != nil {
		s.set.log.DebugContext(ctx, "s3: could not seek the reader to its end", slog.String("key", u.key), slog.String("error", err.Error()))
	}
	return u.info(size, etag, mod, sha), nil
}

// complete completes the multipart upload uploadID of parts (in order) and
// returns the object's ETag and modification time. A failed Complete (such
// as 412 for IfNotExists) would leave the upload and its parts behind, so
// it aborts the upload then.
func (u *upload) complete(ctx context.Context, uploadID string, parts []types.CompletedPart) (string, time.Time, error) {
	s := u.s
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.set.Bucket,
		Key:             &u.key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if u.opts.IfNotExists {
		in.IfNoneMatch = aws.String("*")
	}
	s.sseComplete(in)
	done, err := s.client.CompleteMultipartUpload(ctx, in)
	if err != nil {
		s.abort(ctx, u.key, uploadID)
		return "", time.Time{}, s.fail(ctx, "put", err)
	}
	etag := aws.ToString(done.ETag)
	return etag, s.completedTime(ctx, u.key, etag, done.ResultMetadata), nil
}

// sendParts uploads chunks and then, unless eof, the rest of the object
// part by part, Concurrency parts at a time, and returns the
// completed parts in order. The reader runs in this goroutine; at most concurrency parts are
// being sent while one more is being read.
func (u *upload) sendParts(ctx context.Context, uploadID string, chunks []*chunk, eof bool) ([]types.CompletedPart, error) {
	s := u.s
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type job struct {
		num int32
		c   *chunk
	}
	jobs := make(chan job)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		wg    sync.WaitGroup
	)
	for range s.set.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				if pctx.Err() == nil {
					body := j.c.reader()
					etag, err := s.uploadPart(pctx, u.key, uploadID, j.num, body, j.c.n, partSum{})
					body.kill()
					if err != nil {
						cancel(err)
					} else {
						mu.Lock()
						parts = append(parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(j.num)})
						mu.Unlock()
					}
				}
				j.c.release()
			}
		})
	}
	send := func(j job) bool {
		select {
		case jobs <- j:
			return true
		case <-pctx.Done():
			j.c.release()
			return false
		}
	}

	var readErr error
	num := int32(1)
	pending := chunks
	for readErr == nil {
		for len(pending) > 0 {
			c := pending[0]
			pending = pending[1:]
			if c.n == 0 {
				c.release()
				continue
			}
			if num > maxParts {
				c.release()
				readErr = fmt.Errorf("more than %d parts of %d bytes; set PutOptions.Size or a larger PartSize: %w", maxParts, u.partSize, storage.ErrTooLarge)
				break
			}
			if !send(job{num, c}) {
				break
			}
			num++
		}
		for _, c := range pending {
			c.release()
		}
		pending = nil
		if eof || readErr != nil || pctx.Err() != nil {
			break
		}
		var c *chunk
		c, eof, readErr = u.next(pctx)
		if readErr == nil {
			pending = append(pending, c)
		}
	}
	close(jobs)
	wg.Wait()

	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case context.Cause(pctx) != nil && !errors.Is(context.Cause(pctx), context.Canceled):
		// A part failed; the reader may have seen the cancellation only.
		return nil, s.fail(ctx, "put", context.Cause(pctx))
	case readErr != nil:
		return nil, readErr
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	return parts, nil
}

// partSum is what a part's request carries of the part's bytes as a
// hashing pass read them (driver.Body.PartSums), so that a source changed
// since fails the part instead of being stored under a checksum that does
// not describe it: its SHA-256, which signs the request, or its CRC32C
// (base64), which the server checks and which lets the part go unsigned.
// The zero value carries neither (the SDK signs the part as it sends it,
// or sends it unsigned over TLS).
type partSum struct{ sha, crc32c string }

// unsignedPayload is the payload hash of a request whose body is not
// signed.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// uploadPart sends one part, size bytes read from body, with sum (see
// partSum), and returns its ETag.
func (s *drv) uploadPart(ctx context.Context, key, uploadID string, num int32, body io.ReadSeeker, size int64, sum partSum) (string, error) {
	in := &s3.UploadPartInput{
		Bucket:        &s.set.Bucket,
		Key:           &key,
		UploadId:      &uploadID,
		PartNumber:    aws.Int32(num),
		Body:          body,
		ContentLength: aws.Int64(size),
	}
	s.ssePart(in)
	var optFns []func(*s3.Options)
	switch {
	case sum.crc32c != "":
		in.ChecksumCRC32C = aws.String(sum.crc32c)
		optFns = append(optFns, withPayloadHash(unsignedPayload))
	case sum.sha != "":
		optFns = append(optFns, withPayloadHash(sum.sha))
	}
	out, err := s.client.UploadPart(ctx, in, optFns...)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// abort aborts a multipart upload, even when ctx has ended, so that no
// parts are left behind. A failure is logged, not returned: the caller
// reports the error that made it abort.
func (s *drv) abort(ctx context.Context, key, uploadID string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: &s.set.Bucket, Key: &key, UploadId: &uploadID,
	})
	if status, _, _, _ := response(err); err != nil && status != http.StatusNotFound {
		// A 404 (NoSuchUpload): the upload is gone already.
		s.set.log.WarnContext(ctx, "s3: could not abort multipart upload; a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes it later",
			slog.String("bucket", s.set.Bucket), slog.String("key", key), slog.String("upload_id", uploadID), slog.String("error", s.fail(actx, "abort", err).Error()))
	}
}

// withPayloadHash hands the SDK the SHA-256 of a request body that is the
// whole object, which Body has already computed, so that SigV4 over plain
// HTTP does not read and hash the body a second time. Over TLS the SDK
// sends UNSIGNED-PAYLOAD and this changes nothing.
func withPayloadHash(sha string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *smithymiddleware.Stack) error {
			// Just before the SDK's own step, whose ID this is: the
			// endpoint, and so the scheme, is resolved by then.
			return stack.Finalize.Insert(smithymiddleware.FinalizeMiddlewareFunc("StrataPayloadHash",
				func(ctx context.Context, in smithymiddleware.FinalizeInput, next smithymiddleware.FinalizeHandler) (
					smithymiddleware.FinalizeOutput, smithymiddleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok && !req.IsHTTPS() && sha != "" {
						ctx = v4.SetPayloadHash(ctx, sha)
					}
					return next.HandleFinalize(ctx, in)
				}), "ComputePayloadHash", smithymiddleware.Before)
		})
	}
}
