package driver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

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
	if ra, off, ok := b.readerAt(); ok {
		h := sha256.New()
		n, err := io.Copy(h, io.NewSectionReader(ra, off, b.size+1))
		if err != nil {
			return "", err
		}
		if n != b.size {
			return "", b.mismatch(fmt.Sprintf("the reader yielded %d bytes, PutOptions.Size promised %d", n, b.size))
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if _, err := io.Copy(io.Discard, b); err != nil {
		return "", err
	}
	return b.sum, nil
}
