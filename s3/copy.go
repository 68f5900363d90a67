package s3

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// Copy implements storage.Copier: the server copies the object under src to
// dst, with its content type, metadata and SHA-256, without its bytes
// passing through the client. Objects over 5 GiB (CopyObject's limit) are
// copied part by part with UploadPartCopy. With SSE-C the key is sent for
// both the source and the destination. A missing src fails with
// storage.ErrNotFound.
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
	if dst != src {
		if err := s.checkPrefixes(ctx, dst); err != nil {
			return storage.Info{}, dst, err
		}
	}
	// The source's Info says how to copy it and is most of the result.
	// Copying from exactly that version (CopySourceIfMatch) keeps the two
	// consistent; if src changes in between, try again.
	var err error
	for range 3 {
		var info storage.Info
		info, err = s.Stat(ctx, src)
		if err != nil {
			return storage.Info{}, src, err
		}
		if dst == src {
			return info, dst, nil
		}
		var etag string
		var mod time.Time
		if info.Size > s.copyThreshold {
			etag, mod, err = s.multipartCopy(ctx, dst, src, info.ETag, info.Size, copyMeta(info))
		} else {
			etag, mod, err = s.copyObject(ctx, dst, src, info.ETag, nil)
		}
		if err == nil {
			info.Key, info.ETag, info.ModTime = dst, etag, mod
			return info, dst, nil
		}
		if !preconditionFailed(err) { // 412: src changed since Stat
			return storage.Info{}, dst, err
		}
	}
	// s3proto.Kind makes the 412 ErrUnavailable.
	return storage.Info{}, dst, fmt.Errorf("source %q kept changing during the copy: %w", src, err)
}

// objMeta is what an object carries besides its bytes, as a copy that
// replaces it, or a multipart upload, sets it.
type objMeta struct {
	contentType string
	attrs       s3proto.Attrs
	md          map[string]string // user metadata, strata's reserved entries included
}

// copyMeta is what to give a copy of the object info describes, strata's
// reserved entries included.
func copyMeta(info storage.Info) objMeta {
	return objMeta{info.ContentType, s3proto.InfoAttrs(info), putMeta(&storage.PutOptions{Metadata: info.Metadata}, info.SHA256)}
}

// optional returns v as an optional field of an SDK input: nil for "".
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// attrFields returns a as the optional CacheControl, ContentDisposition,
// ContentEncoding and ContentLanguage fields of an SDK input.
func attrFields(a s3proto.Attrs) (cacheControl, disposition, encoding, language *string) {
	return optional(a.CacheControl), optional(a.ContentDisposition), optional(a.ContentEncoding), optional(a.ContentLanguage)
}

// createInput returns the CreateMultipartUploadInput of an object under
// key that carries m, without encryption.
func (s *drv) createInput(key string, m objMeta) *s3.CreateMultipartUploadInput {
	in := &s3.CreateMultipartUploadInput{
		Bucket:       &s.set.Bucket,
		Key:          &key,
		Metadata:     m.md,
		StorageClass: s.storageClass(),
		ContentType:  optional(m.contentType),
	}
	in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage = attrFields(m.attrs)
	return in
}

// copySource returns the x-amz-copy-source value for key: bucket/key,
// URL-encoded.
func (s *drv) copySource(key string) string {
	var b strings.Builder
	b.WriteString(s.set.Bucket)
	b.WriteByte('/')
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// copyObject copies src (whose ETag is srcETag) to dst with one
// CopyObject. A nil m keeps the source's metadata, content type and HTTP
// attributes; otherwise they are replaced by m's. It returns the new
// ETag and modification time; a changed source fails with a 412
// (preconditionFailed), which is ErrUnavailable.
func (s *drv) copyObject(ctx context.Context, dst, src, srcETag string, m *objMeta) (string, time.Time, error) {
	in := &s3.CopyObjectInput{
		Bucket:            &s.set.Bucket,
		Key:               &dst,
		CopySource:        aws.String(s.copySource(src)),
		CopySourceIfMatch: aws.String(srcETag),
		StorageClass:      s.storageClass(),
	}
	if m != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.Metadata = m.md
		in.ContentType = optional(m.contentType)
		in.CacheControl, in.ContentDisposition, in.ContentEncoding, in.ContentLanguage = attrFields(m.attrs)
	}
	s.sseCopy(in)
	out, err := s.client.CopyObject(ctx, in)
	if err != nil {
		return "", time.Time{}, s.fail(ctx, "copy", err)
	}
	var etag string
	mod := responseTime(out.ResultMetadata)
	if r := out.CopyObjectResult; r != nil {
		etag = aws.ToString(r.ETag)
		if r.LastModified != nil {
			mod = r.LastModified.Truncate(time.Second)
		}
	}
	return etag, mod, nil
}

// rewriteMeta replaces the metadata of the object under key, whose ETag is
// etag, by copying it onto itself. It fails with a 412 (preconditionFailed)
// when the object changed.
func (s *drv) rewriteMeta(ctx context.Context, key, etag string, size int64, m objMeta) (string, time.Time, error) {
	if size > s.copyThreshold {
		return s.multipartCopy(ctx, key, key, etag, size, m)
	}
	return s.copyObject(ctx, key, key, etag, &m)
}

// multipartCopy copies src (size bytes, ETag srcETag) to dst with
// UploadPartCopy, Concurrency parts at a time, giving dst the content type,
// HTTP attributes and metadata of m. A failure aborts the upload.
func (s *drv) multipartCopy(ctx context.Context, dst, src, srcETag string, size int64, m objMeta) (string, time.Time, error) {
	const op = "copy"
	partSize := max(s.set.PartSize, (size+maxParts-1)/maxParts)
	if size > maxCopySize {
		// Large parts mean fewer requests; the server does the work.
		partSize = max(partSize, 512<<20)
	}
	create := s.createInput(dst, m)
	s.sseCreate(create)
	created, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		return "", time.Time{}, s.fail(ctx, op, err)
	}
	uploadID := aws.ToString(created.UploadId)

	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	nums := make(chan int32)
	var (
		mu    sync.Mutex
		parts []types.CompletedPart
		wg    sync.WaitGroup
	)
	source := s.copySource(src)
	for range s.set.Concurrency {
		wg.Go(func() {
			for num := range nums {
				if pctx.Err() != nil {
					continue
				}
				first := int64(num-1) * partSize
				last := min(first+partSize, size) - 1
				in := &s3.UploadPartCopyInput{
					Bucket:            &s.set.Bucket,
					Key:               &dst,
					UploadId:          &uploadID,
					PartNumber:        aws.Int32(num),
					CopySource:        &source,
					CopySourceIfMatch: &srcETag,
					CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
				}
				s.ssePartCopy(in)
				out, err := s.client.UploadPartCopy(pctx, in)
				if err != nil {
					cancel(err)
					continue
				}
				var etag string
				if out.CopyPartResult != nil {
					etag = aws.ToString(out.CopyPartResult.ETag)
				}
				mu.Lock()
				parts = append(parts, types.CompletedPart{ETag: aws.String(etag), PartNumber: aws.Int32(num)})
				mu.Unlock()
			}
		})
	}
	count := int32((size + partSize - 1) / partSize)
feed:
	for num := int32(1); num <= count; num++ {
		select {
		case nums <- num:
		case <-pctx.Done():
			break feed
		}
	}
	close(nums)
	wg.Wait()
	if err := context.Cause(pctx); err != nil {
		s.abort(ctx, dst, uploadID)
		if ctx.Err() != nil {
			return "", time.Time{}, ctx.Err()
		}
		return "", time.Time{}, s.fail(ctx, op, err)
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	complete := &s3.CompleteMultipartUploadInput{
		Bucket:          &s.set.Bucket,
		Key:             &dst,
		UploadId:        &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	s.sseComplete(complete)
	done, err := s.client.CompleteMultipartUpload(ctx, complete)
	if err != nil {
		s.abort(ctx, dst, uploadID)
		return "", time.Time{}, s.fail(ctx, op, err)
	}
	etag := aws.ToString(done.ETag)
	return etag, s.completedTime(ctx, dst, etag, done.ResultMetadata), nil
}
