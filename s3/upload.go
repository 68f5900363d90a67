package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithymiddleware "github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/storage"
)

// maxObjectSize is S3's limit on the size of an object (5 TiB).
const maxObjectSize = 5 << 40

// cleanupTimeout bounds the requests that clean up after a failed upload
// (AbortMultipartUpload), which run even when the caller's context has
// ended.
const cleanupTimeout = 30 * time.Second

// Put implements storage.Provider.
//
// Put reads up to Concurrency+1 parts of PartSize bytes before it sends
// anything. An object that ends within the first part is sent with one
// PutObject; one that ends within those parts is sent as a multipart
// upload; either way its SHA-256 is computed first and stored in its
// metadata. A larger object is sent as a multipart upload while it is read
// and hashed, Concurrency parts at a time; its SHA-256 is returned in the
// Info but recorded in metadata only with Config.RecordLargeSHA256. Memory
// stays within (Concurrency+1) × PartSize bytes.
//
// When opts.Size is given and the reader yields a different number of
// bytes, Put fails with storage.ErrSizeMismatch and stores nothing. When the
// reader fails or ctx ends, Put stores nothing and aborts the multipart
// upload (with a fresh context, so that a cancelled call still cleans up).
// With opts.IfNotExists the write is conditional on the server
// (If-None-Match: * on PutObject or CompleteMultipartUpload), so of racing
// Puts exactly one succeeds; the others fail with storage.ErrExist.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	const op = "put"
	if err := s.begin(ctx, op, key, false); err != nil {
		return storage.Info{}, err
	}
	if err := storage.CheckPut(key, opts); err != nil {
		kind := storage.ErrInvalidArgument
		if errors.Is(err, storage.ErrInvalidKey) {
			kind = storage.ErrInvalidKey
		}
		return storage.Info{}, newErr(op, key, kind, err)
	}
	if opts == nil {
		opts = &storage.PutOptions{}
	}
	if err := s.checkPrefixes(ctx, op, key); err != nil {
		return storage.Info{}, err
	}
	if r == nil {
		r = bytes.NewReader(nil)
	}
	partSize := s.set.partSize
	if opts.Size > maxObjectSize {
		return storage.Info{}, newErr(op, key, storage.ErrTooLarge, fmt.Errorf("%d bytes is more than S3's 5 TiB limit", opts.Size))
	}
	if need := (opts.Size + maxParts - 1) / maxParts; need > partSize {
		partSize = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}

	u := newUpload(s, key, r, opts, partSize)
	defer u.stopHasher()
	// Read up to Concurrency+1 parts before sending anything: an object
	// that ends within them is hashed before its upload starts, so its
	// SHA-256 goes into the metadata of CreateMultipartUpload (or of the
	// single PutObject) at no extra cost. This is the memory an upload
	// holds anyway. A larger object (or one whose Size says so) streams
	// from its first part.
	limit := s.set.concurrency + 1
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

// upload is the state of one Put.
//
// The SHA-256 is computed by a goroutine of its own, part by part in
// order, while the reader goes on reading and the parts are sent: hashing
// is then off the path that feeds the uploads. A part goes back to the
// pool when both the hasher and its upload are done with it, and at most
// Concurrency+1 parts exist at once (slots), so the hasher falling behind
// slows the reader instead of growing memory.
type upload struct {
	s        *Store
	key      string
	opts     *storage.PutOptions
	r        io.Reader
	partSize int64
	n        int64 // bytes read so far

	slots    chan struct{} // one token per live part
	hashQ    chan *chunk   // parts to hash, in order
	hashDone chan struct{} // closed when the hasher has returned
	h        hash.Hash
	stopOnce sync.Once
}

func newUpload(s *Store, key string, r io.Reader, opts *storage.PutOptions, partSize int64) *upload {
	n := s.set.concurrency + 1
	u := &upload{
		s: s, key: key, opts: opts, r: r, partSize: partSize,
		slots:    make(chan struct{}, n),
		hashQ:    make(chan *chunk, n),
		hashDone: make(chan struct{}),
		h:        sha256.New(),
	}
	go func() {
		defer close(u.hashDone)
		for c := range u.hashQ {
			c.hash(u.h)
			c.release()
		}
	}()
	return u
}

// stopHasher ends the hasher goroutine and waits for it. Put defers it, so
// the goroutine never outlives the call.
func (u *upload) stopHasher() {
	u.stopOnce.Do(func() { close(u.hashQ) })
	<-u.hashDone
}

// sha256 waits until every part read so far is hashed and returns the
// hex SHA-256 of the whole object. Call it only after the reader ended.
func (u *upload) sha256() string {
	u.stopHasher()
	return hex.EncodeToString(u.h.Sum(nil))
}

// next reads the next part and queues it for hashing. eof reports that
// the reader has ended. It fails when the reader fails, ctx ends, or more
// bytes arrived than opts.Size promised.
func (u *upload) next(ctx context.Context) (c *chunk, eof bool, err error) {
	select {
	case u.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, u.readErr(ctx.Err())
	}
	c = &chunk{slot: u.slots}
	c.refs.Store(1)
	eof, err = c.fill(ctx, u.r, u.partSize)
	u.n += c.n
	if err == nil && u.opts.Size > 0 && u.n > u.opts.Size {
		err = storage.CheckSize(u.opts, u.n)
	}
	if err != nil {
		c.release()
		return nil, false, u.readErr(err)
	}
	c.refs.Add(1)
	u.hashQ <- c // never blocks: the queue holds as many parts as there are slots
	return c, eof, nil
}

// readErr wraps an error met while reading the caller's data.
func (u *upload) readErr(err error) error {
	if errors.Is(err, storage.ErrSizeMismatch) {
		return newErr("put", u.key, storage.ErrSizeMismatch, err)
	}
	return newErr("put", u.key, nil, err)
}

// single stores c, the whole object, with one PutObject.
func (u *upload) single(ctx context.Context, c *chunk) (storage.Info, error) {
	defer c.release()
	if err := storage.CheckSize(u.opts, c.n); err != nil {
		return storage.Info{}, newErr("put", u.key, storage.ErrSizeMismatch, err)
	}
	s := u.s
	sha := u.sha256()
	body := c.reader()
	defer body.kill()
	in := &s3.PutObjectInput{
		Bucket:        &s.set.Bucket,
		Key:           &u.key,
		Body:          body,
		ContentLength: aws.Int64(c.n),
		Metadata:      putMeta(u.opts, sha),
		StorageClass:  s.storageClass(),
	}
	if u.opts.ContentType != "" {
		in.ContentType = aws.String(u.opts.ContentType)
	}
	if u.opts.IfNotExists {
		in.IfNoneMatch = aws.String("*")
	}
	s.ssePut(in)
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return storage.Info{}, mapErr(ctx, "put", u.key, err)
	}
	return u.info(c.n, aws.ToString(out.ETag), responseTime(out.ResultMetadata), sha), nil
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
func (s *Store) completedTime(ctx context.Context, key, etag string, md smithymiddleware.Metadata) time.Time {
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
		// The whole object is in memory: check and hash it first.
		if err := storage.CheckSize(u.opts, u.n); err != nil {
			releaseAll(chunks)
			return storage.Info{}, newErr("put", u.key, storage.ErrSizeMismatch, err)
		}
		sha = u.sha256()
	}
	create := &s3.CreateMultipartUploadInput{
		Bucket:       &s.set.Bucket,
		Key:          &u.key,
		Metadata:     putMeta(u.opts, sha),
		StorageClass: s.storageClass(),
	}
	if u.opts.ContentType != "" {
		create.ContentType = aws.String(u.opts.ContentType)
	}
	s.sseCreate(create)
	created, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		releaseAll(chunks)
		return storage.Info{}, mapErr(ctx, "put", u.key, err)
	}
	uploadID := aws.ToString(created.UploadId)

	parts, err := u.sendParts(ctx, uploadID, chunks, eof)
	if err == nil {
		if err = storage.CheckSize(u.opts, u.n); err != nil {
			err = newErr("put", u.key, storage.ErrSizeMismatch, err)
		}
	}
	if err != nil {
		s.abort(ctx, u.key, uploadID)
		return storage.Info{}, err
	}

	complete := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.set.Bucket,
		Key:             &u.key,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if u.opts.IfNotExists {
		complete.IfNoneMatch = aws.String("*")
	}
	s.sseComplete(complete)
	done, err := s.client.CompleteMultipartUpload(ctx, complete)
	if err != nil {
		// A failed Complete (such as 412 for IfNotExists) leaves the upload
		// and its parts behind until it is aborted.
		s.abort(ctx, u.key, uploadID)
		return storage.Info{}, mapErr(ctx, "put", u.key, err)
	}
	size := u.n
	etag := aws.ToString(done.ETag)
	info := u.info(size, etag, s.completedTime(ctx, u.key, etag, done.ResultMetadata), u.sha256())
	if sha != "" || !s.set.RecordLargeSHA256 {
		return info, nil
	}

	// The SHA-256 is known only now, after CreateMultipartUpload fixed the
	// metadata: copy the object onto itself with it added. The server
	// copies the data (MinIO and AWS alike), so this doubles the work of a
	// large upload. CopySourceIfMatch leaves a concurrent writer's object
	// alone. A failure leaves a complete object without a recorded
	// checksum, so Put still succeeds.
	etag, mod, err := s.rewriteMeta(ctx, u.key, info.ETag, size, u.opts.ContentType, putMeta(u.opts, info.SHA256))
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

// sendParts uploads chunks and then, unless eof, the rest of the object
// part by part, u.s.set.concurrency parts at a time, and returns the
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
	for range s.set.concurrency {
		wg.Go(func() {
			for j := range jobs {
				if pctx.Err() == nil {
					etag, err := s.uploadPart(pctx, u.key, uploadID, j.num, j.c)
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
				readErr = newErr("put", u.key, storage.ErrTooLarge,
					fmt.Errorf("more than %d parts of %d bytes; set PutOptions.Size or a larger PartSize", maxParts, u.partSize))
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
		return nil, newErr("put", u.key, nil, ctx.Err())
	case context.Cause(pctx) != nil && !errors.Is(context.Cause(pctx), context.Canceled):
		// A part failed; the reader may have seen the cancellation only.
		return nil, mapErr(ctx, "put", u.key, context.Cause(pctx))
	case readErr != nil:
		return nil, readErr
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	return parts, nil
}

// uploadPart sends one part and returns its ETag.
func (s *Store) uploadPart(ctx context.Context, key, uploadID string, num int32, c *chunk) (string, error) {
	body := c.reader()
	defer body.kill()
	in := &s3.UploadPartInput{
		Bucket:        &s.set.Bucket,
		Key:           &key,
		UploadId:      &uploadID,
		PartNumber:    aws.Int32(num),
		Body:          body,
		ContentLength: aws.Int64(c.n),
	}
	s.ssePart(in)
	out, err := s.client.UploadPart(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// abort aborts a multipart upload, even when ctx has ended, so that no
// parts are left behind. A failure is logged, not returned: the caller
// reports the error that made it abort.
func (s *Store) abort(ctx context.Context, key, uploadID string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: &s.set.Bucket, Key: &key, UploadId: &uploadID,
	})
	if status, _, _, _ := response(err); err != nil && status != http.StatusNotFound {
		// A 404 (NoSuchUpload): the upload is gone already.
		s.set.log.WarnContext(ctx, "s3: could not abort multipart upload; a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes it later",
			slog.String("bucket", s.set.Bucket), slog.String("key", key), slog.String("upload_id", uploadID), slog.String("error", mapErr(actx, "abort", key, err).Error()))
	}
}
