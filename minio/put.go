package minio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// defaultContentType is what minio-go sends when Put is given no content
// type; S3 servers report it back.
const defaultContentType = "application/octet-stream"

// abortTimeout bounds aborting a failed multipart upload, which runs even
// when the Put's context is cancelled.
const abortTimeout = 30 * time.Second

// Put implements driver.Driver. See the package documentation for how an
// object goes up, by size and by kind of reader.
func (s *drv) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	if err := s.checkPrefixes(ctx, key); err != nil {
		return storage.Info{}, err
	}
	u := &upload{s: s, key: key, opts: opts, body: body}
	if opts.Size > s.set.PartSize {
		if ra, ok := body.ReaderAt(); ok {
			return u.putReaderAt(ctx, ra)
		}
	}
	u.src = &peekReader{r: body}
	return u.putStream(ctx)
}

// upload is one Put in progress.
type upload struct {
	s    *drv
	key  string
	opts *storage.PutOptions
	body *driver.Body // counts and hashes every byte read

	// For a stream:
	src  *peekReader // reads from body, with one byte of look-ahead
	bufs bufSet      // part buffers
}

// putStream uploads from u.src, a reader that is read once, front to back.
func (u *upload) putStream(ctx context.Context) (storage.Info, error) {
	size, partSize := u.opts.Size, u.s.set.PartSize
	if size > 0 && size <= partSize {
		buf, release := getBuffer(size)
		defer release()
		if _, err := io.ReadFull(u.src, buf); err != nil {
			return storage.Info{}, u.readErr(err)
		}
		if err := u.noMore(); err != nil {
			return storage.Info{}, err
		}
		return u.putSingle(ctx, buf)
	}
	if size > partSize {
		partSize = partSizeFor(size, partSize)
	}
	u.bufs = bufSet{size: partSize}
	var (
		buf []byte
		n   int
		err error
	)
	if size == 0 {
		// Most objects of unknown length are small: read into a buffer
		// that grows, and take a whole part buffer only past smallMax.
		buf, n, err = u.readFirst(partSize)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return u.putSingle(ctx, buf[:n])
		}
	} else {
		buf = u.bufs.get()
		_, err = io.ReadFull(u.src, buf)
	}
	if err != nil {
		return storage.Info{}, u.readErr(err)
	}
	if size == 0 {
		more, err := u.src.more()
		if err != nil {
			return storage.Info{}, u.readErr(err)
		}
		if !more {
			return u.putSingle(ctx, buf)
		}
	}
	return u.streamParts(ctx, buf, partSize)
}

// Buffers of whole small objects come from pools by size class, powers of
// two from minPooled to maxPooled bytes, so that a stream of small
// uploads leaves no garbage (a fresh buffer per object was most of what a
// migration of small files allocated). Larger ones are allocated. A buffer
// goes back to its pool when its Put returns: sendBody ends every body it
// made by then, so the transport never reads it again.
const (
	minPooledShift = 12 // 4 KiB
	poolClasses    = 9  // 4 KiB, 8 KiB, ... 1 MiB
	minPooled      = 1 << minPooledShift
	maxPooled      = minPooled << (poolClasses - 1)
)

var smallBufs [poolClasses]sync.Pool

// getBuffer returns a buffer of size bytes and the function that gives it
// back.
func getBuffer(size int64) ([]byte, func()) {
	if size > maxPooled {
		return make([]byte, size), func() {}
	}
	class := bits.Len64(uint64(max(size, minPooled)-1) >> minPooledShift)
	pool := &smallBufs[class]
	bp, _ := pool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, minPooled<<class)
		bp = &b
	}
	return (*bp)[:size], func() { pool.Put(bp) }
}

// smallMax is how far readFirst grows a private buffer before it takes a
// whole part buffer.
const smallMax = 1 << 20

// readFirst reads up to partSize bytes into a buffer it returns with the
// count; err is as from io.ReadFull. The buffer starts small and grows, so a
// small object of unknown length does not cost a whole part buffer.
func (u *upload) readFirst(partSize int64) ([]byte, int, error) {
	buf := make([]byte, min(32<<10, partSize))
	n := 0
	for {
		m, err := io.ReadFull(u.src, buf[n:])
		n += m
		if err != nil || int64(n) == partSize {
			return buf, n, err
		}
		var bigger []byte
		if 2*len(buf) > smallMax {
			bigger = u.bufs.get()
		} else {
			bigger = make([]byte, min(2*int64(len(buf)), partSize))
		}
		copy(bigger, buf[:n])
		buf = bigger
	}
}

// partSizeFor returns the part size for an object of known size: base, or
// more when base would need more than maxParts parts (rounded up to MiB).
func partSizeFor(size, base int64) int64 {
	if size <= base*maxParts {
		return base
	}
	const mib = 1 << 20
	p := (size + maxParts - 1) / maxParts
	return (p + mib - 1) / mib * mib
}

// readErr is the error for a read from the Put's body that ended with
// err: the body's own error (a size mismatch, the reader's failure), or a
// size mismatch when the reader ended early.
func (u *upload) readErr(err error) error {
	if errors.Is(err, storage.ErrSizeMismatch) {
		return err
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("reader ended after %d bytes, PutOptions.Size promised %d: %w", u.body.N(), u.opts.Size, storage.ErrSizeMismatch)
	}
	if storage.IsContextError(err) {
		return err
	}
	return fmt.Errorf("reading the object: %w", err)
}

// noMore checks that the reader has nothing after the PutOptions.Size bytes
// read so far.
func (u *upload) noMore() error {
	more, err := u.src.more()
	if err != nil {
		return u.readErr(err)
	}
	if more {
		return fmt.Errorf("reader yielded more than the %d bytes PutOptions.Size promised: %w", u.opts.Size, storage.ErrSizeMismatch)
	}
	return nil
}

// readPart reads the next part of a stream into a part buffer: partSize
// bytes, or what is left of PutOptions.Size. last reports that the stream
// has ended with it; n may then be 0, and buf nil.
func (u *upload) readPart(partSize int64) (buf []byte, n int, last bool, err error) {
	size := u.opts.Size
	want := partSize
	if size > 0 {
		want = min(partSize, size-u.body.N())
	}
	buf = u.bufs.get()
	n, err = io.ReadFull(u.src, buf[:want])
	switch {
	case size == 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
		return buf, n, true, nil
	case err != nil:
		u.bufs.put(buf)
		return nil, 0, false, u.readErr(err)
	case size > 0:
		if u.body.N() < size {
			return buf, n, false, nil
		}
		if err := u.noMore(); err != nil {
			u.bufs.put(buf)
			return nil, 0, false, err
		}
		return buf, n, true, nil
	}
	more, err := u.src.more()
	if err != nil {
		u.bufs.put(buf)
		return nil, 0, false, u.readErr(err)
	}
	return buf, n, !more, nil
}

// putOptions returns the minio-go options of the upload, with sum as the
// strata checksum when it is not empty.
func (u *upload) putOptions(sum string) miniogo.PutObjectOptions {
	ct := u.opts.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	a := s3proto.PutAttrs(u.opts)
	return miniogo.PutObjectOptions{
		ContentType:          ct,
		CacheControl:         a.CacheControl,
		ContentDisposition:   a.ContentDisposition,
		ContentEncoding:      a.ContentEncoding,
		ContentLanguage:      a.ContentLanguage,
		UserMetadata:         u.s.userMetadata(u.opts.Metadata, sum, putMetaPrefix),
		StorageClass:         u.s.class,
		ServerSideEncryption: u.s.sse,
		// The payload is signed with the SHA-256 strata computes anyway
		// (X-Amz-Content-Sha256), instead of minio-go hashing it again
		// for a streaming (aws-chunked) signature.
		DisableContentSha256: true,
	}
}

// commitOptions returns po with, for IfNotExists, If-None-Match: * added:
// the options of the request that makes the object visible.
func (u *upload) commitOptions(po miniogo.PutObjectOptions) miniogo.PutObjectOptions {
	if u.opts.IfNotExists {
		po.SetMatchETagExcept("*")
	}
	return po
}

// info returns the Info of the object the upload stored.
func (u *upload) info(size int64, etag, sum string, mod time.Time) storage.Info {
	var md map[string]string
	if len(u.opts.Metadata) > 0 {
		md = maps.Clone(u.opts.Metadata)
	}
	ct := u.opts.ContentType
	if ct == "" {
		ct = defaultContentType
	}
	info := storage.Info{
		Key:         u.key,
		Size:        size,
		ModTime:     mod,
		ETag:        etag,
		SHA256:      sum,
		ContentType: ct,
		Metadata:    md,
	}
	s3proto.PutAttrs(u.opts).SetInfo(&info)
	return info
}

// putSingle stores data, the whole object, with one PUT.
func (u *upload) putSingle(ctx context.Context, data []byte) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	sum := u.body.SHA256()
	po := u.commitOptions(u.putOptions(sum))
	var res miniogo.UploadInfo
	err := u.s.sendBody(ctx, func() io.Reader { return bytes.NewReader(data) }, func(body io.Reader) (err error) {
		res, err = u.s.bodyCore.PutObject(ctx, u.s.bucket, u.key, body, int64(len(data)), "", sum, po)
		return err
	})
	if err != nil {
		return storage.Info{}, u.s.fail(ctx, "put", err)
	}
	// A PUT response carries no Last-Modified; the server stamps the
	// object when it commits, which is now to within the clock skew.
	return u.info(int64(len(data)), res.ETag, sum, time.Now()), nil
}

// streamParts uploads the stream in parts of partSize bytes, the first of
// which is already in first (full). It reads up to Concurrency more parts
// before it starts the upload: an object that ends within them is hashed
// by then, and its SHA-256 goes into the metadata of the upload. A larger
// one is sent while it is read; its SHA-256 is recorded afterwards, with
// a copy of the object onto itself, only with Config.RecordLargeSHA256.
func (u *upload) streamParts(ctx context.Context, first []byte, partSize int64) (info storage.Info, err error) {
	s := u.s
	type part struct {
		buf []byte
		n   int
	}
	pending := []part{{first, len(first)}}
	done := false
	for len(pending) < s.set.Concurrency+1 && !done {
		buf, n, last, err := u.readPart(partSize)
		if err != nil {
			for _, p := range pending {
				u.bufs.put(p.buf)
			}
			return storage.Info{}, err
		}
		if n > 0 {
			pending = append(pending, part{buf, n})
		} else if buf != nil {
			u.bufs.put(buf)
		}
		done = last
	}
	sum := ""
	if done {
		sum = u.body.SHA256()
	}
	mp, err := s.startMultipart(ctx, u.key, u.putOptions(sum))
	if err != nil {
		for _, p := range pending {
			u.bufs.put(p.buf)
		}
		return storage.Info{}, err
	}
	defer func() {
		if err != nil {
			mp.abort(ctx)
		}
	}()
	send := func(num int, buf []byte, n int) {
		data := buf[:n]
		mp.send(num, func() io.Reader { return bytes.NewReader(data) }, int64(n), func() partSum {
			h := sha256.Sum256(data)
			return partSum{sha: hex.EncodeToString(h[:])}
		}, func() { u.bufs.put(buf) })
	}
	num := 0
	for _, p := range pending {
		num++
		send(num, p.buf, p.n)
	}
	for !done && mp.failed() == nil {
		if err := ctx.Err(); err != nil {
			mp.fail(err)
			break
		}
		if num == maxParts {
			mp.fail(fmt.Errorf("object of unknown length is longer than %d parts of %d bytes; set PutOptions.Size or a larger Config.PartSize: %w",
				maxParts, partSize, storage.ErrTooLarge))
			break
		}
		buf, n, last, err := u.readPart(partSize)
		if err != nil {
			mp.fail(err)
			break
		}
		done = last
		if n == 0 {
			if buf != nil {
				u.bufs.put(buf)
			}
			break
		}
		num++
		send(num, buf, n)
	}
	if err := mp.wait(ctx); err != nil {
		return storage.Info{}, err
	}
	done2, err := mp.complete(ctx, u.commitOptions(miniogo.PutObjectOptions{ServerSideEncryption: s.sse}))
	if err != nil {
		return storage.Info{}, err
	}
	info = u.info(u.body.N(), done2.ETag, u.body.SHA256(), time.Now())
	if sum != "" || !s.set.RecordLargeSHA256 {
		return info, nil
	}
	// The checksum is known only now. Record it with a copy of the object
	// onto itself that replaces its metadata, conditional on the ETag just
	// written, so an object another writer put in between is never given
	// this checksum.
	out, err := s.copyObject(ctx, u.key, u.key, info)
	if err != nil {
		s.log.WarnContext(ctx, "minio: could not record the SHA-256 of a multipart upload; the object is stored without it",
			"bucket", s.bucket, "key", u.key, "size", info.Size, "err", err)
		return info, nil
	}
	return out, nil
}

// putReaderAt uploads a reader of a known size larger than one part that
// is an io.ReaderAt (a file, a *bytes.Reader), ra being its Size bytes
// (driver.Body.ReaderAt). It reads ra once to hash it, whole and part by
// part in one pass, so the checksum goes into the object's metadata from
// the start (no copy afterwards); then it uploads the parts straight from
// ra, Concurrency at a time, with no buffers, each signed with the SHA-256
// of the first read, so a source that changed in between fails the upload
// instead of storing what the checksum does not describe.
func (u *upload) putReaderAt(ctx context.Context, ra io.ReaderAt) (info storage.Info, err error) {
	s := u.s
	size := u.opts.Size
	partSize := partSizeFor(size, s.set.PartSize)
	nparts := int((size + partSize - 1) / partSize)
	section := func(i int) *io.SectionReader {
		start := int64(i) * partSize
		return io.NewSectionReader(ra, start, min(partSize, size-start))
	}
	// Each part carries its CRC32C once the server is known to be MinIO
	// (a check it makes at a small fraction of a SHA-256's cost, and the
	// part goes unsigned), else its SHA-256, which signs it.
	// A Store that has had no answer yet asks for one (a HEAD of the
	// bucket, once): strata migrate, say, writes through a Store that has
	// sent nothing before its first upload. An error leaves the server
	// unknown.
	s.server.Ask(ctx, func(ctx context.Context) { _ = s.headBucket(ctx, "put") })
	kind := driver.PartSHA256
	if minio, _ := s.server.MinIO(); minio {
		kind = driver.PartCRC32C
	}
	sum, partSums, err := u.body.PartSums(ctx, partSize, kind)
	if err != nil {
		return storage.Info{}, u.readErr(err)
	}
	po := u.putOptions(sum)
	if kind == driver.PartCRC32C {
		// A part's CRC32C is checked only in an upload created for them.
		po.UserMetadata[amzChecksumAlgorithm] = "CRC32C"
	}
	mp, err := s.startMultipart(ctx, u.key, po)
	if err != nil {
		return storage.Info{}, err
	}
	defer func() {
		if err != nil {
			mp.abort(ctx)
		}
	}()
	for i := range nparts {
		mp.send(i+1, func() io.Reader { return section(i) }, section(i).Size(), func() partSum {
			if kind == driver.PartCRC32C {
				return partSum{crc32c: partSums[i]}
			}
			return partSum{sha: partSums[i]}
		}, nil)
		if mp.failed() != nil {
			break
		}
	}
	if err := mp.wait(ctx); err != nil {
		return storage.Info{}, err
	}
	done, err := mp.complete(ctx, u.commitOptions(miniogo.PutObjectOptions{ServerSideEncryption: s.sse}))
	if err != nil {
		return storage.Info{}, err
	}
	// The reader has been read, as a stream would have been.
	if err := u.body.SeekToEnd(); err != nil {
		s.log.DebugContext(ctx, "minio: could not seek the reader to its end", "key", u.key, "err", err)
	}
	return u.info(size, done.ETag, sum, time.Now()), nil
}

// partSum is what a part's request carries of the part's bytes as they
// were read to hash them, so that a source changed since fails the part
// instead of being stored under a checksum that does not describe it: its
// hex SHA-256, which signs the request, or the base64 of its CRC32C,
// which the server checks while the part goes unsigned.
type partSum struct{ sha, crc32c string }

// The headers of S3's additional checksums.
const (
	amzChecksumAlgorithm = "X-Amz-Checksum-Algorithm"
	amzChecksumCRC32C    = "X-Amz-Checksum-Crc32c"
)

// multipart is a multipart upload in progress, sending parts Concurrency at
// a time.
type multipart struct {
	s        *drv
	key      string
	uploadID string
	ctx      context.Context // ends when a part fails
	cancel   context.CancelFunc
	sem      chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	parts    []miniogo.CompletePart // guarded by mu
	firstErr error                  // guarded by mu
}

func (s *drv) startMultipart(ctx context.Context, key string, po miniogo.PutObjectOptions) (*multipart, error) {
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, po)
	if err != nil {
		return nil, s.fail(ctx, "put", err)
	}
	pctx, cancel := context.WithCancel(ctx)
	return &multipart{s: s, key: key, uploadID: id, ctx: pctx, cancel: cancel, sem: make(chan struct{}, s.set.Concurrency)}, nil
}

// fail records err as the upload's failure, if it is the first, and stops
// the parts in flight.
func (m *multipart) fail(err error) {
	m.mu.Lock()
	if m.firstErr == nil {
		m.firstErr = err
	}
	m.mu.Unlock()
	m.cancel()
}

// failed returns the upload's first failure, or nil.
func (m *multipart) failed() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.firstErr
}

// send uploads part num of size bytes in a goroutine, once fewer than
// Concurrency are in flight. newBody returns a reader of the part's bytes
// from their start, one per attempt (see sendBody). sum returns what the
// request carries of them (partSum); release, when not nil, is called
// when the part's bytes are no longer needed, by anyone.
func (m *multipart) send(num int, newBody func() io.Reader, size int64, sum func() partSum, release func()) {
	select {
	case m.sem <- struct{}{}:
	case <-m.ctx.Done():
		if release != nil {
			release()
		}
		m.fail(m.ctx.Err())
		return
	}
	m.wg.Go(func() {
		defer func() { <-m.sem }()
		if release != nil {
			defer release()
		}
		ps := sum()
		opts := miniogo.PutObjectPartOptions{SSE: m.s.sse, Sha256Hex: ps.sha, DisableContentSha256: true}
		if ps.crc32c != "" {
			opts.CustomHeader = http.Header{amzChecksumCRC32C: {ps.crc32c}}
		}
		var p miniogo.ObjectPart
		err := m.s.sendBody(m.ctx, newBody, func(body io.Reader) (err error) {
			p, err = m.s.bodyCore.PutObjectPart(m.ctx, m.s.bucket, m.key, m.uploadID, num, body, size, opts)
			return err
		})
		if err != nil {
			m.fail(m.s.fail(m.ctx, "put", err))
			return
		}
		m.mu.Lock()
		m.parts = append(m.parts, miniogo.CompletePart{PartNumber: num, ETag: p.ETag, ChecksumCRC32C: ps.crc32c})
		m.mu.Unlock()
	})
}

// wait waits for the parts in flight and returns the upload's failure, or
// ctx's error.
func (m *multipart) wait(ctx context.Context) error {
	m.wg.Wait()
	err := m.failed()
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// complete completes the upload with po (the SSE-C key, If-None-Match).
func (m *multipart) complete(ctx context.Context, po miniogo.PutObjectOptions) (miniogo.UploadInfo, error) {
	m.cancel()
	slices.SortFunc(m.parts, func(a, b miniogo.CompletePart) int { return a.PartNumber - b.PartNumber })
	done, err := m.s.core.CompleteMultipartUpload(ctx, m.s.bucket, m.key, m.uploadID, m.parts, po)
	return done, m.s.fail(ctx, "put", err)
}

// abort aborts the upload, even when ctx is cancelled, and logs a failure
// (the upload then stays until a lifecycle rule removes it).
func (m *multipart) abort(ctx context.Context) {
	m.cancel()
	m.wg.Wait()
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := m.s.core.AbortMultipartUpload(actx, m.s.bucket, m.key, m.uploadID); err != nil {
		var resp miniogo.ErrorResponse
		if errors.As(err, &resp) && resp.Code == miniogo.NoSuchUpload {
			return
		}
		m.s.log.WarnContext(ctx, "minio: could not abort a failed multipart upload",
			"bucket", m.s.bucket, "key", m.key, "upload_id", m.uploadID, "err", err)
	}
}

// bufSet hands out the part buffers of one upload and takes them back for
// reuse, so an upload allocates at most Concurrency+1 of them (one being
// filled, Concurrency being sent) and leaves no garbage while it runs.
type bufSet struct {
	size int64
	mu   sync.Mutex
	free [][]byte
}

func (b *bufSet) get() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.free); n > 0 {
		buf := b.free[n-1]
		b.free = b.free[:n-1]
		return buf[:b.size]
	}
	return make([]byte, b.size)
}

func (b *bufSet) put(buf []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free = append(b.free, buf)
}

// peekReader reads from r, and can tell whether r has more to read by
// reading one byte ahead, which the next Read returns first.
type peekReader struct {
	r    io.Reader
	b    [1]byte
	has  bool
	done bool // r returned io.EOF
}

func (p *peekReader) Read(q []byte) (int, error) {
	if len(q) == 0 {
		return 0, nil
	}
	if p.has {
		q[0] = p.b[0]
		p.has = false
		return 1, nil
	}
	if p.done {
		return 0, io.EOF
	}
	n, err := p.r.Read(q)
	if err == io.EOF {
		p.done = true
	}
	return n, err
}

// more reports whether the reader has at least one more byte.
func (p *peekReader) more() (bool, error) {
	if p.has {
		return true, nil
	}
	if p.done {
		return false, nil
	}
	n, err := io.ReadFull(p.r, p.b[:])
	if n == 1 {
		p.has = true
		return true, nil
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		p.done = true
		return false, nil
	}
	return false, err
}

// Requests with a body, and their retries.
//
// minio-go retries a request whose body is an io.Seeker by seeking the body
// back to its start and sending it again. It does so as soon as the failed
// attempt's answer is in, while net/http may still be reading that
// attempt's body in the connection's write goroutine (when the server
// answers, 503 say, before it has read the whole body, the write goes on
// until the connection is closed): both attempts then read the one reader
// at once. go test -race reports it, bytes.Reader.Seek in minio-go's retry
// loop against bytes.Reader.Read in net/http's writeLoop, and it can move
// bytes of one attempt into the other. Likewise a part buffer, handed back
// for reuse once PutObjectPart returns, could still be read by the
// transport.
//
// So requests with a body (PutObject, PutObjectPart) are retried here, not
// in minio-go: they go through a client that tries once (drv.bodyCore; a
// body that cannot seek keeps minio-go from retrying only from v7.3.0 on),
// with a fresh body for every attempt; each is ended when its attempt
// returns, after which a late Read from the transport fails without
// touching the data (part buffers and pooled object buffers are reused as
// soon as their Put returns). Requests without a body keep minio-go's own
// retries.

// errAttemptOver is what a request body's Read returns once its attempt has
// returned.
var errAttemptOver = errors.New("minio: request body read after its attempt returned")

// attemptBody is the body of one attempt of a request.
type attemptBody struct {
	mu   sync.Mutex
	r    io.Reader // guarded by mu
	over bool      // guarded by mu
}

func (b *attemptBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return 0, errAttemptOver
	}
	return b.r.Read(p)
}

// end makes later Reads fail, and waits for a Read in progress.
func (b *attemptBody) end() {
	b.mu.Lock()
	b.over = true
	b.r = nil
	b.mu.Unlock()
}

// sendBody runs do with a body from newBody, and again with a fresh body
// after a failure worth retrying, Config.MaxAttempts times in all (minio-go's
// default, 10, when zero), waiting between attempts as minio-go does. When
// it returns, no body it made is read any more. It returns do's last error,
// unmapped.
func (s *drv) sendBody(ctx context.Context, newBody func() io.Reader, do func(body io.Reader) error) error {
	var err error
	for attempt := range s.tries {
		if attempt > 0 && !s.backoff(ctx, attempt-1) {
			return err
		}
		b := &attemptBody{r: newBody()}
		err = do(b)
		b.end()
		if err == nil || !retryable(ctx, err) {
			return err
		}
		s.log.DebugContext(ctx, "minio: retrying a request", "bucket", s.bucket, "attempt", attempt+1, "err", err)
	}
	return err
}

// backoff waits before retry number attempt+1, as minio-go does: a random
// time up to min(retryCap, retryUnit × 2^attempt). It returns false, at
// once, when ctx ends first.
func (s *drv) backoff(ctx context.Context, attempt int) bool {
	d := min(s.retryCap, s.retryUnit<<min(attempt, 30))
	d -= time.Duration(rand.Float64() * float64(d))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryable reports whether a request that failed with err (from minio-go,
// unmapped) may succeed when sent again: a network failure, a timeout of
// the transport or an answer meaning the server is busy or down, while ctx
// is live. It follows minio-go's own rules, but leaves out certificate
// errors and failures before the request was sent (signing, credentials).
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var resp miniogo.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "ExpiredToken", "ExpiredTokenException", "RequestError", "Throttling", "ThrottlingException",
			"RequestLimitExceeded", "RequestThrottled", "SlowDownWrite", "SlowDownRead":
			return true
		case "XMinioStorageFull":
			return false
		}
		return kindOfResponse("put", resp) == storage.ErrUnavailable
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		invalidCert      x509.CertificateInvalidError
		hostname         x509.HostnameError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &invalidCert) || errors.As(err, &hostname) {
		return false
	}
	return storage.IsContextError(err) || kindOf("put", err) == storage.ErrUnavailable
}
