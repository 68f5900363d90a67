package driver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/strata-storage/strata/storage"
)

// Body is the reader a Driver's Put reads the object from. It hashes and
// counts the bytes as they are read, and it keeps PutOptions.Size: when the
// caller's reader yields more bytes than promised, or ends early, the Read
// that finds it fails with an error matching storage.ErrSizeMismatch, before
// the driver has seen io.EOF, so a driver that stops at the first error
// stores nothing.
//
// A Body is not safe for concurrent use: a driver reads it from one
// goroutine at a time.
type Body struct {
	r       io.Reader
	size    int64 // promised size, or 0 when unknown
	h       hash.Hash
	n       int64
	eof     bool
	sum     string // set at EOF, or by Sum
	sizeErr error  // the size mismatch found, returned again
}

// NewBody returns a Body reading from r (nil: no bytes), which promises
// size bytes (0: unknown). Drivers get their Body from the Provider; NewBody
// is for their tests.
func NewBody(r io.Reader, size int64) *Body {
	if r == nil {
		r = eofReader{}
	}
	return &Body{r: r, size: size, h: sha256.New()}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Size returns the size the caller promised, or 0 when it is unknown.
func (b *Body) Size() int64 { return b.size }

// N returns how many bytes have been read.
func (b *Body) N() int64 { return b.n }

// Done reports whether the body has been read to its end, so that SHA256
// is the whole object's.
func (b *Body) Done() bool { return b.eof }

// SHA256 returns the lowercase hex SHA-256 of the object once Done, or ""
// before.
func (b *Body) SHA256() string { return b.sum }

// Read implements io.Reader.
func (b *Body) Read(p []byte) (int, error) {
	if b.sizeErr != nil {
		return 0, b.sizeErr
	}
	if b.eof {
		return 0, io.EOF
	}
	if b.size > 0 && int64(len(p)) > b.size-b.n+1 {
		// Read at most one byte past the promised size: enough to tell.
		p = p[:b.size-b.n+1]
	}
	n, err := b.r.Read(p)
	if n > 0 {
		if b.size > 0 && b.n+int64(n) > b.size {
			return 0, b.mismatch(fmt.Sprintf("the reader yields more than the %d bytes PutOptions.Size promised", b.size))
		}
		b.h.Write(p[:n])
		b.n += int64(n)
	}
	switch {
	case err == io.EOF:
		if b.size > 0 && b.n != b.size {
			return n, b.mismatch(fmt.Sprintf("the reader yielded %d bytes, PutOptions.Size promised %d", b.n, b.size))
		}
		b.finish()
		return n, io.EOF
	case err != nil:
		return n, err
	}
	if b.size > 0 && b.n == b.size {
		// Every promised byte is here: make sure there is no more before
		// the driver takes this as the end of the object.
		var one [1]byte
		m, err := io.ReadFull(b.r, one[:])
		if m > 0 {
			return n, b.mismatch(fmt.Sprintf("the reader yields more than the %d bytes PutOptions.Size promised", b.size))
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return n, err
		}
		b.finish()
		return n, io.EOF
	}
	return n, nil
}

func (b *Body) finish() {
	b.eof = true
	b.sum = hex.EncodeToString(b.h.Sum(nil))
}

func (b *Body) mismatch(why string) error {
	b.sizeErr = &storage.Error{Op: "put", Provider: "storage", Kind: storage.ErrSizeMismatch, Err: errors.New(why)}
	return b.sizeErr
}

// ReaderAt returns the caller's reader as an io.ReaderAt of Size bytes from
// its current offset, when it is an io.ReaderAt and an io.Seeker (a file, a
// *bytes.Reader) and the size is known and nothing has been read yet. A
// driver that uploads parts in parallel reads them from it; it then calls
// Sum for the object's SHA-256, and does not read the Body itself.
func (b *Body) ReaderAt() (io.ReaderAt, bool) {
	ra, off, ok := b.readerAt()
	if !ok {
		return nil, false
	}
	return io.NewSectionReader(ra, off, b.size), true
}

func (b *Body) readerAt() (io.ReaderAt, int64, bool) {
	if b.size <= 0 || b.n > 0 || b.eof {
		return nil, 0, false
	}
	rs, ok := b.r.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		return nil, 0, false
	}
	off, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, false
	}
	return rs, off, true
}

// Sum reads the body to its end, hashing it, and returns its SHA-256. It
// reads the caller's reader through ReaderAt, so it leaves the Body where
// it was for a driver that uploads from ReaderAt; otherwise it reads the
// Body itself, so the bytes are gone (use it only for an object that is
// not read again). After Done, it returns SHA256 without reading.
func (b *Body) Sum() (string, error) {
	if b.eof {
		return b.sum, nil
	}
	if _, _, ok := b.readerAt(); ok {
		sum, _, err := b.PartSums(context.Background(), 0, PartSHA256)
		return sum, err
	}
	if _, err := io.Copy(io.Discard, b); err != nil {
		return "", err
	}
	return b.sum, nil
}

// SeekToEnd moves the caller's reader past the object's bytes, where reading
// them would have left it. A driver that uploaded from ReaderAt calls it
// once the upload is done, so that a caller who hands Put a file finds its
// offset where io.Copy would have left it.
func (b *Body) SeekToEnd() error {
	rs, off, ok := b.readerAt()
	if !ok {
		return errors.New("driver: SeekToEnd needs a Body that ReaderAt offers")
	}
	_, err := rs.(io.Seeker).Seek(off+b.size, io.SeekStart)
	return err
}

// sumBuffer is how much PartSums reads at a time.
const sumBuffer = 1 << 20

// sumPasses bounds the PartSums passes that run at once in the process:
// each keeps two cores busy. It also staggers uploads that start
// together: the second hashes while the first is sent, rather than both
// hashing while the server waits and then both sending.
var sumPasses = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// PartHash names the checksum PartSums computes of each part.
type PartHash uint8

const (
	// PartSHA256 is the lowercase hex SHA-256 of a part, with which SigV4
	// signs the part's request.
	PartSHA256 PartHash = iota
	// PartCRC32C is the base64 of a part's big-endian CRC32C
	// (Castagnoli), as S3's x-amz-checksum-crc32c header carries it: a
	// check the server makes of the part at a small fraction of a second
	// SHA-256's cost on both sides.
	PartCRC32C
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (k PartHash) new() hash.Hash {
	if k == PartCRC32C {
		return crc32.New(castagnoli)
	}
	return sha256.New()
}

func (k PartHash) encode(sum []byte) string {
	if k == PartCRC32C {
		return base64.StdEncoding.EncodeToString(sum)
	}
	return hex.EncodeToString(sum)
}

// PartSums reads the caller's reader once through ReaderAt, which must
// offer it, and returns the lowercase hex SHA-256 of the whole object and,
// when partSize is above 0, the checksum kind of each part of partSize
// bytes (the last one may be shorter), as a driver that signs each part of
// a multipart upload with its SHA-256, or sends each with its CRC32C,
// needs. The same bytes feed both hashes, the whole
// object's on another goroutine, so the checksum and the part sums cannot
// disagree and the pass takes the time of one hash when a second core is
// free; at most GOMAXPROCS/2 passes (at least one) run at once in the
// process, and a call waits for its turn. It leaves the Body unread, for the driver to upload from ReaderAt.
// A reader that ends before Size or has bytes past it fails with an error
// matching storage.ErrSizeMismatch; ctx is checked between reads.
func (b *Body) PartSums(ctx context.Context, partSize int64, kind PartHash) (sum string, parts []string, err error) {
	ra, off, ok := b.readerAt()
	if !ok {
		return "", nil, errors.New("driver: PartSums needs a Body that ReaderAt offers")
	}
	select {
	case sumPasses <- struct{}{}:
		defer func() { <-sumPasses }()
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	asked := partSize > 0
	split := asked && partSize < b.size
	if !split {
		partSize = b.size
	}
	// The parts are hashed on their own unless the one part is the whole
	// object and its sum the whole object's SHA-256.
	hashParts := split || (asked && kind != PartSHA256)
	whole := sha256.New()
	part := kind.new()
	bufs := [2][]byte{make([]byte, min(sumBuffer, b.size)), make([]byte, min(sumBuffer, b.size))}
	var (
		wg     sync.WaitGroup
		read   int64
		inPart int64
	)
	for i := 0; read < b.size; i++ {
		if err := ctx.Err(); err != nil {
			wg.Wait()
			return "", nil, err
		}
		// Two buffers: the whole object's hash of one runs while the next
		// is read and hashed as a part.
		buf := bufs[i%2]
		want := min(int64(len(buf)), b.size-read, partSize-inPart)
		n, err := ra.ReadAt(buf[:want], off+read)
		if int64(n) < want {
			wg.Wait()
			if err == nil || err == io.EOF {
				return "", nil, b.mismatch(fmt.Sprintf("the reader yielded %d bytes, PutOptions.Size promised %d", read+int64(n), b.size))
			}
			return "", nil, err
		}
		chunk := buf[:n]
		wg.Wait() // the whole hash is done with the other buffer
		wg.Go(func() { whole.Write(chunk) })
		if hashParts {
			part.Write(chunk)
		}
		read += int64(n)
		if inPart += int64(n); inPart == partSize || read == b.size {
			if hashParts {
				parts = append(parts, kind.encode(part.Sum(nil)))
				part.Reset()
			}
			inPart = 0
		}
	}
	wg.Wait()
	var one [1]byte
	if n, _ := ra.ReadAt(one[:], off+b.size); n > 0 {
		return "", nil, b.mismatch(fmt.Sprintf("the reader yields more than the %d bytes PutOptions.Size promised", b.size))
	}
	sum = hex.EncodeToString(whole.Sum(nil))
	if hashParts && len(parts) == 0 {
		parts = []string{kind.encode(part.Sum(nil))} // an empty object's one part
	}
	if asked && !hashParts {
		parts = []string{sum} // one part: the whole object
	}
	return sum, parts, nil
}
