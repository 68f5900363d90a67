package driver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
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
		sum, _, err := b.PartSums(context.Background(), 0)
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

// PartSums reads the caller's reader once through ReaderAt, which must
// offer it, and returns the lowercase hex SHA-256 of the whole object and,
// when partSize is above 0, of each part of partSize bytes (the last one
// may be shorter), as a driver that signs each part of a multipart upload
// with its SHA-256 needs. The same bytes feed both hashes, the whole
// object's on another goroutine, so the checksum and the part sums cannot
// disagree and the pass takes the time of one hash when a second core is
// free; at most GOMAXPROCS/2 passes (at least one) run at once in the
// process, and a call waits for its turn. It leaves the Body unread, for the driver to upload from ReaderAt.
// A reader that ends before Size or has bytes past it fails with an error
// matching storage.ErrSizeMismatch; ctx is checked between reads.
func (b *Body) PartSums(ctx context.Context, partSize int64) (sum string, parts []string, err error) {
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
	whole := sha256.New()
	part := sha256.New()
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
		if split {
			part.Write(chunk)
		}
		read += int64(n)
		if inPart += int64(n); inPart == partSize || read == b.size {
			if split {
				parts = append(parts, hex.EncodeToString(part.Sum(nil)))
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
	if asked && !split {
		parts = []string{sum} // one part: the whole object
	}
	return sum, parts, nil
}
