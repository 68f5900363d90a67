package s3

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// blockSize is the unit of memory a part is made of. Parts are lists of
// pooled blocks rather than one slice of PartSize bytes, so a small object
// holds one block, not a whole part, and buffers are reused across uploads.
const blockSize = 64 << 10

var blockPool = sync.Pool{New: func() any { b := make([]byte, blockSize); return &b }}

// blocksOut counts the blocks in use by uploads, and blocksPeak its highest
// value, so that tests can check the memory bound of an upload.
var blocksOut, blocksPeak atomic.Int64

func getBlock() *[]byte {
	n := blocksOut.Add(1)
	for {
		p := blocksPeak.Load()
		if n <= p || blocksPeak.CompareAndSwap(p, n) {
			break
		}
	}
	return blockPool.Get().(*[]byte)
}

func putBlock(b *[]byte) {
	blocksOut.Add(-1)
	blockPool.Put(b)
}

// chunk is one part's bytes, held in pooled blocks. refs counts its
// holders, and the last release returns the blocks to the pool and frees
// the upload's slot.
type chunk struct {
	blocks []*[]byte
	n      int64
	refs   atomic.Int32
	slot   chan struct{} // a token of this chunk's upload, taken back on the last release; may be nil
}

// errNoProgress is returned when a reader keeps returning no data and no
// error.
var errNoProgress = errors.New("reader returned no data and no error 100 times")

// fill reads from r until c holds limit bytes or r ends (eof). It checks
// ctx between reads.
func (c *chunk) fill(ctx context.Context, r io.Reader, limit int64) (eof bool, err error) {
	empty := 0
	for c.n < limit {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		used := int(c.n % blockSize)
		if used == 0 {
			c.blocks = append(c.blocks, getBlock())
		}
		b := *c.blocks[len(c.blocks)-1]
		end := blockSize
		if rest := limit - c.n; rest < int64(end-used) {
			end = used + int(rest)
		}
		n, err := r.Read(b[used:end])
		if n < 0 || n > end-used {
			return false, errors.New("reader returned an impossible count")
		}
		c.n += int64(n)
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if n == 0 {
			if empty++; empty >= 100 {
				return false, errNoProgress
			}
		} else {
			empty = 0
		}
	}
	return false, nil
}

// release drops one holder of c. The last one returns c's blocks to the
// pool and frees its slot; c must not be used afterwards, and no reader of
// it may be live (see chunkReader.kill).
func (c *chunk) release() {
	if c == nil || c.refs.Add(-1) > 0 {
		return
	}
	for _, b := range c.blocks {
		putBlock(b)
	}
	c.blocks, c.n = nil, 0
	if c.slot != nil {
		<-c.slot
	}
}

// copy returns a copy of c's bytes.
func (c *chunk) copy() []byte {
	b := make([]byte, 0, c.n)
	for off := int64(0); off < c.n; off += blockSize {
		b = append(b, (*c.blocks[off/blockSize])[:min(blockSize, c.n-off)]...)
	}
	return b
}

// reader returns a seekable reader of c's bytes, as the SDK needs to sign,
// send and resend a request body.
func (c *chunk) reader() *chunkReader { return &chunkReader{c: c} }

// chunkReader reads a chunk. net/http may still read a request body after
// the request has returned (the body is closed by a transport goroutine);
// kill makes every later read fail, and waits for a read in progress, so
// that the chunk's blocks can go back to the pool safely.
type chunkReader struct {
	mu   sync.Mutex
	c    *chunk
	off  int64
	dead bool
}

var errBodyDone = errors.New("s3: request body read after its request ended")

// Read implements io.Reader.
func (r *chunkReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return 0, errBodyDone
	}
	if r.off >= r.c.n {
		return 0, io.EOF
	}
	n := copy(p, r.span(r.off))
	r.off += int64(n)
	return n, nil
}

// span returns the bytes of the block holding off, from off to the end of
// the data in that block.
func (r *chunkReader) span(off int64) []byte {
	b := *r.c.blocks[off/blockSize]
	start := off % blockSize
	end := int64(blockSize)
	if last := r.c.n - (off - start); last < end {
		end = last
	}
	return b[start:end]
}

// WriteTo implements io.WriterTo, so the transport writes whole blocks.
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			return total, errBodyDone
		}
		if r.off >= r.c.n {
			r.mu.Unlock()
			return total, nil
		}
		n, err := w.Write(r.span(r.off))
		r.off += int64(n)
		total += int64(n)
		r.mu.Unlock()
		if err != nil {
			return total, err
		}
	}
}

// Seek implements io.Seeker.
func (r *chunkReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.off + offset
	case io.SeekEnd:
		abs = r.c.n + offset
	default:
		return 0, errors.New("s3: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("s3: negative position")
	}
	r.off = abs
	return abs, nil
}

// kill ends the reader: later reads fail. It waits for a read in progress.
func (r *chunkReader) kill() {
	r.mu.Lock()
	r.dead = true
	r.mu.Unlock()
}

// sectionBody is the body of a part read from the caller's io.ReaderAt.
// Like chunkReader, it is cut off by kill, so that a read by the
// transport after its request has returned fails instead of racing the
// SDK's rewind for the next attempt.
type sectionBody struct {
	mu   sync.Mutex
	r    *io.SectionReader
	dead bool
}

// Read implements io.Reader.
func (b *sectionBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dead {
		return 0, errBodyDone
	}
	return b.r.Read(p)
}

// Seek implements io.Seeker.
func (b *sectionBody) Seek(offset int64, whence int) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r.Seek(offset, whence)
}

// kill ends the body: later reads fail. It waits for a read in progress.
func (b *sectionBody) kill() {
	b.mu.Lock()
	b.dead = true
	b.mu.Unlock()
}
