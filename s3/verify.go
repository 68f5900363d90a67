package s3

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// Hashing of large reads runs beside the reader, in blocks of hashBlock
// bytes copied from what Read returned, at most hashAhead blocks behind.
// Contents under asyncMin bytes are hashed as they are read.
const (
	hashBlock = 256 << 10
	hashAhead = 8
	asyncMin  = 1 << 20
)

var hashPool = sync.Pool{New: func() any { b := make([]byte, hashBlock); return &b }}

// verifier checks the content of a whole-object Get against the size the
// response announced and the SHA-256 recorded in the object's metadata.
//
// A large content is hashed by a chain of short-lived goroutines, one per
// block, each waiting for the previous one, so that the hashing overlaps
// with reading from the network and no goroutine outlives its block, even
// when the reader is never closed. Its methods are called by the reader's
// goroutine only.
type verifier struct {
	h    hash.Hash
	n    int64
	size int64  // Content-Length of the response
	sha  string // recorded SHA-256, hex

	async bool
	buf   *[]byte       // the block being filled, or nil
	used  int           // bytes in buf
	last  chan struct{} // closed when every block queued so far is hashed; nil before the first
	slots chan struct{} // one token per block queued or being filled
}

func newVerifier(size int64, sha string) *verifier {
	v := &verifier{h: sha256.New(), size: size, sha: sha}
	if size >= asyncMin {
		v.async = true
		v.slots = make(chan struct{}, hashAhead)
	}
	return v
}

// write hashes p, the next bytes of the content.
func (v *verifier) write(p []byte) {
	v.n += int64(len(p))
	if !v.async {
		v.h.Write(p)
		return
	}
	for len(p) > 0 {
		if v.buf == nil {
			v.slots <- struct{}{} // waits while hashAhead blocks are queued
			v.buf, v.used = hashPool.Get().(*[]byte), 0
		}
		c := copy((*v.buf)[v.used:], p)
		v.used += c
		p = p[c:]
		if v.used == len(*v.buf) {
			v.flush()
		}
	}
}

// flush queues the block being filled for hashing.
func (v *verifier) flush() {
	if v.buf == nil {
		return
	}
	buf, n, prev, done := v.buf, v.used, v.last, make(chan struct{})
	v.buf, v.last = nil, done
	go func() {
		if prev != nil {
			<-prev
		}
		v.h.Write((*buf)[:n])
		hashPool.Put(buf)
		<-v.slots
		close(done)
	}()
}

// check returns an error when the content read differs from what was
// recorded. It is called once, at the end of the content.
func (v *verifier) check() error {
	v.flush()
	if v.last != nil {
		<-v.last
	}
	got := hex.EncodeToString(v.h.Sum(nil))
	if v.n == v.size && strings.EqualFold(got, v.sha) {
		return nil
	}
	return fmt.Errorf("read %d bytes with SHA-256 %s; the object's size is %d and its recorded SHA-256 (%s) is %s",
		v.n, got, v.size, metaSHA256, v.sha)
}

// stop drops the block being filled when the reader is closed before the
// end. Blocks already queued are hashed by their goroutines, which then
// end.
func (v *verifier) stop() {
	if v.buf != nil {
		hashPool.Put(v.buf)
		v.buf = nil
		<-v.slots
	}
}
