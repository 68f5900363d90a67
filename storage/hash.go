package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// HashingReader passes reads through from an underlying reader while counting
// the bytes and computing their SHA-256. Providers use it to fill
// Info.SHA256 and to check PutOptions.Size while streaming.
type HashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

// NewHashingReader returns a HashingReader reading from r.
func NewHashingReader(r io.Reader) *HashingReader {
	return &HashingReader{r: r, h: sha256.New()}
}

// Read implements io.Reader.
func (h *HashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 {
		h.h.Write(p[:n])
		h.n += int64(n)
	}
	return n, err
}

// N returns the number of bytes read so far.
func (h *HashingReader) N() int64 { return h.n }

// SHA256 returns the lowercase hex SHA-256 of the bytes read so far.
func (h *HashingReader) SHA256() string { return hex.EncodeToString(h.h.Sum(nil)) }

// CheckSize returns an error matching ErrSizeMismatch when opts promised a
// size (opts.Size > 0) and n bytes were read instead. opts may be nil.
func CheckSize(opts *PutOptions, n int64) error {
	if opts == nil || opts.Size <= 0 || opts.Size == n {
		return nil
	}
	return &Error{Op: "put", Provider: "storage", Kind: ErrSizeMismatch, Err: sizeError{want: opts.Size, got: n}}
}

type sizeError struct{ want, got int64 }

func (e sizeError) Error() string {
	return fmt.Sprintf("reader yielded %d bytes, PutOptions.Size promised %d", e.got, e.want)
}
