// Package changing has a source for the integration tests whose bytes
// change while they are uploaded: a file rewritten between a driver's
// hashing pass and its upload.
package changing

import (
	"bytes"
	"sync"
)

// Reader is a seekable source (an io.ReaderAt and io.Seeker, as a file
// is) whose bytes, read through ReadAt, are inverted once as many bytes as
// it holds have been read: a driver that hashes it first and then uploads
// it sends other bytes than it hashed.
type Reader struct {
	*bytes.Reader
	mu   sync.Mutex
	read int64 // bytes read through ReadAt so far; guarded by mu
}

// New returns a Reader of data.
func New(data []byte) *Reader { return &Reader{Reader: bytes.NewReader(data)} }

// ReadAt implements io.ReaderAt.
func (m *Reader) ReadAt(p []byte, off int64) (int, error) {
	n, err := m.Reader.ReadAt(p, off)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.read += int64(n)
	if m.read > m.Size() { // after the hashing pass: serve other bytes
		for i := range p[:n] {
			p[i] ^= 0xff
		}
	}
	return n, err
}
