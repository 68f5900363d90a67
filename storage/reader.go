package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// skipAhead is how far forward a Seek may land and still be served by
// reading on in the open body (and discarding) rather than by a new
// request.
const skipAhead = 64 << 10

// headMax is how many of the first bytes of a body an ObjectReader keeps,
// so that a Seek back over them (http.ServeContent and httpserve read the
// first 512 bytes to sniff a type, then seek back to the start) reads them
// again without a new request.
const headMax = 512

// ObjectReader reads one object of any provider as an io.ReadSeeker and an
// io.ReaderAt, as http.ServeContent, io.SectionReader and archive readers
// want. It reads nothing before it is asked to: a Seek costs nothing, and
// the first Read at an offset opens one Get from there, which the Reads
// that follow continue (a Seek a little ahead reads on in it, one back
// over the first bytes it yielded reads them again). So a reader that
// seeks into a large object never reads what lies before it, and one that
// reads the object from its start reads it with one whole-object Get,
// verified as any whole Get is (against the recorded SHA-256, where the
// provider checks it). ReadAt makes one Get of exactly the bytes it is
// asked for and is safe for concurrent use, also with Read; Read, Seek,
// CopyN and WriteTo are not.
//
// Every Get after the first request is checked against the object as it
// was opened: when it was replaced in between (its size, or its SHA-256,
// or when either lacks one its ETag, differ), the read fails with an error
// matching [ErrChanged] rather than mix two objects' bytes. GetOptions has
// no condition to send with the request, so the check is made on the Info
// the Get answers with, before any of its bytes are used.
//
// When a whole-object Get returns a reader that can seek and read at
// offsets itself (a local file), the ObjectReader uses it as it is from
// then on, with no further request.
type ObjectReader struct {
	ctx  context.Context
	p    Provider
	key  string
	info Info
	plan []Range  // the ranges the caller said it would read
	one  [1]Range // plan's array when it holds one range

	// direct is the provider's own reader, once a whole-object Get has
	// returned one that seeks and reads at offsets itself. It is atomic
	// because ReadAt, which may run beside Read, reads it.
	direct    atomic.Pointer[seekerAt]
	directBuf seekerAt // what direct points to, once set

	pos int64 // offset of the next Read

	// The open body, if any: a Get of [rcStart, rcEnd), of which rc
	// yields the byte at rcPos next. While no more than headMax bytes of
	// it have been read, head holds them all (headOK).
	rc      io.ReadCloser
	rcStart int64
	rcPos   int64
	rcEnd   int64
	rcDone  bool // rc has been read to its end
	head    []byte
	headOK  bool

	// mu guards rc and direct against a Close from another goroutine
	// (which stops a Read blocked on the network); closed is set under it.
	mu     sync.Mutex
	closed atomic.Bool
}

// seekerAt is a provider's reader that seeks itself.
type seekerAt struct {
	r interface {
		io.ReadSeekCloser
		io.ReaderAt
	}
}

var (
	_ io.ReadSeekCloser = (*ObjectReader)(nil)
	_ io.ReaderAt       = (*ObjectReader)(nil)
	_ io.WriterTo       = (*ObjectReader)(nil)
)

// ReaderOptions are the optional arguments of OpenReader. A nil
// *ReaderOptions means all defaults.
type ReaderOptions struct {
	// Info is the object's Info, when the caller has it already (from a
	// Stat of the same provider): OpenReader then makes no request at
	// all, and the reader's Gets are checked against it. Its Key, when
	// set, must be the key opened. Nil: OpenReader asks for it (see
	// OpenReader).
	Info *Info

	// Ranges are the byte ranges the caller will read, in order, when it
	// knows them in advance (those of an HTTP Range header): a Read at
	// the start of one opens a Get of just that range, not one to the end
	// of the object, so no more is sent than is read. A Length of zero
	// or less reaches the end of the object. When Info is nil, OpenReader
	// opens the first range itself, with a Get that answers for the Info
	// too, in place of a Stat: a caller that seeks to its start and reads
	// it makes one request in all.
	Ranges []Range
}

// OpenReader opens the object under key of p for reading and seeking.
// Unless opts says otherwise it makes one request, a Stat, to learn the
// object's size and version; a missing key fails here, with ErrNotFound.
// No bytes are read until the first Read, ReadAt, CopyN or WriteTo. A
// reader that reads the whole object from the start thus costs a Stat and
// one whole Get; with opts.Info it costs the Get alone, and with
// opts.Ranges it may cost one Get in all (see ReaderOptions). opts may be
// nil. The caller must Close the reader.
func OpenReader(ctx context.Context, p Provider, key string, opts *ReaderOptions) (*ObjectReader, error) {
	var o ReaderOptions
	if opts != nil {
		o = *opts
	}
	r := &ObjectReader{ctx: ctx, p: p, key: key}
	r.plan = r.one[:0]
	for _, rg := range o.Ranges {
		if rg.Offset < 0 {
			return nil, &Error{Op: "open", Provider: "storage", Key: key, Kind: ErrInvalidRange,
				Err: fmt.Errorf("range offset %d", rg.Offset)}
		}
		r.plan = append(r.plan, rg)
	}
	switch {
	case o.Info != nil:
		if o.Info.Key != "" && o.Info.Key != key {
			return nil, &Error{Op: "open", Provider: "storage", Key: key, Kind: ErrInvalidArgument,
				Err: fmt.Errorf("ReaderOptions.Info is of the key %q", o.Info.Key)}
		}
		r.info = *o.Info
		r.info.Key = key
	case len(r.plan) > 0:
		first := r.plan[0]
		rc, info, err := p.Get(ctx, key, getOptions(first.Offset, first.Length))
		if err != nil {
			return nil, err
		}
		r.info = info
		if err := r.setBody(rc, first.Offset, r.end(first.Offset, first.Length)); err != nil {
			return nil, err
		}
	default:
		info, err := p.Stat(ctx, key)
		if err != nil {
			return nil, err
		}
		r.info = info
	}
	return r, nil
}

// getOptions are the GetOptions of the range [off, off+n) (n <= 0: to
// the end): nil for the whole object, so that the provider verifies it.
func getOptions(off, n int64) *GetOptions {
	if off == 0 && n <= 0 {
		return nil
	}
	return &GetOptions{Range: &Range{Offset: off, Length: n}}
}

// end returns where the range [off, off+n) (n <= 0: to the end) ends in
// the object.
func (r *ObjectReader) end(off, n int64) int64 {
	if n <= 0 || off+n > r.info.Size {
		return r.info.Size
	}
	return off + n
}

// setBody makes rc, a Get of [off, end), the open body, or the direct
// reader when it is the whole object and seeks itself.
func (r *ObjectReader) setBody(rc io.ReadCloser, off, end int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		rc.Close()
		return r.closedErr()
	}
	if d, ok := rc.(interface {
		io.ReadSeekCloser
		io.ReaderAt
	}); ok && off == 0 && end == r.info.Size {
		if _, err := d.Seek(r.pos, io.SeekStart); err == nil {
			r.directBuf.r = d
			r.direct.Store(&r.directBuf)
			return nil
		}
	}
	r.rc, r.rcStart, r.rcPos, r.rcEnd, r.rcDone = rc, off, off, end, false
	r.head, r.headOK = r.head[:0], true
	return nil
}

// Info returns the Info of the object as it was opened.
func (r *ObjectReader) Info() Info { return r.info }

// Size returns the size of the object as it was opened.
func (r *ObjectReader) Size() int64 { return r.info.Size }

func (r *ObjectReader) closedErr() error {
	return &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrClosed}
}

// Read implements io.Reader.
func (r *ObjectReader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	for {
		if d := r.direct.Load(); d != nil {
			return d.r.Read(p)
		}
		if r.pos >= r.info.Size {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if h := r.headAt(); len(h) > 0 {
			n := copy(p, h)
			r.pos += int64(n)
			return n, nil
		}
		if err := r.position(0); err != nil {
			return 0, err
		}
		if r.rc == nil {
			continue // the body is the direct reader
		}
		q := p[:min(int64(len(p)), r.rcEnd-r.rcPos)]
		n, err := r.rc.Read(q)
		r.advance(q[:n])
		switch {
		case err == io.EOF:
			if r.rcPos < r.rcEnd {
				// The provider checks a body's length; this only guards
				// a Provider that does not.
				return n, r.cutShort()
			}
			r.rcDone = true
			if n == 0 {
				continue // the body's range is read: open the next
			}
			return n, nil
		case err != nil:
			return n, err
		case r.rcPos == r.rcEnd:
			return n, r.finish()
		}
		return n, nil
	}
}

// finish reads the open body, all of whose bytes have been read, to its
// end: that is where the provider checks it (its length and, for a whole
// object, its SHA-256), and a body read to its end leaves its connection
// to be used again.
func (r *ObjectReader) finish() error {
	if r.rcDone {
		return nil
	}
	r.rcDone = true
	var one [1]byte
	for range 100 {
		n, err := r.rc.Read(one[:])
		switch {
		case n > 0:
			return &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrCorrupt,
				Err: fmt.Errorf("the body of the range [%d, %d) is longer", r.rcStart, r.rcEnd)}
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

func (r *ObjectReader) cutShort() error {
	return &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrUnavailable,
		Err: fmt.Errorf("body ended at %d, before %d: %w", r.rcPos, r.rcEnd, io.ErrUnexpectedEOF)}
}

// headAt returns the bytes from r.pos on that the open body yielded and
// head kept, or nil.
func (r *ObjectReader) headAt() []byte {
	if r.rc == nil || !r.headOK || r.pos < r.rcStart || r.pos >= r.rcPos {
		return nil
	}
	return r.head[r.pos-r.rcStart:]
}

// advance moves past b, just read from the open body.
func (r *ObjectReader) advance(b []byte) {
	n := int64(len(b))
	r.pos += n
	r.rcPos += n
	if !r.headOK {
		return
	}
	if len(r.head)+len(b) > headMax {
		r.head, r.headOK = nil, false
		return
	}
	if r.head == nil {
		r.head = make([]byte, 0, headMax)
	}
	r.head = append(r.head, b...)
}

// position makes the open body yield the byte at r.pos next, reading on a
// little in it or opening a Get at r.pos: of want bytes when want > 0, else
// of the planned range that holds r.pos, else to the end of the object. A
// whole-object Get may become the direct reader, leaving no body open.
func (r *ObjectReader) position(want int64) error {
	if r.rc != nil && r.pos < r.rcEnd && r.pos >= r.rcPos {
		if r.rcPos == r.pos {
			return nil
		}
		if r.pos-r.rcPos <= skipAhead {
			r.headOK, r.head = false, nil
			n, err := io.CopyN(io.Discard, r.rc, r.pos-r.rcPos)
			r.rcPos += n
			if err == nil {
				return nil
			}
		}
	}
	r.closeBody()
	end, n := r.info.Size, int64(0) // to the end
	if want > 0 {
		end = min(r.pos+want, r.info.Size)
		n = end - r.pos
	} else {
		for _, rg := range r.plan {
			if e := r.end(rg.Offset, rg.Length); rg.Offset <= r.pos && r.pos < e {
				end = e
				if rg.Length > 0 {
					n = end - r.pos
				}
				break
			}
		}
	}
	if r.pos == 0 && end == r.info.Size {
		n = 0 // the whole object, verified as one
	}
	rc, err := r.get(r.pos, n)
	if err != nil {
		return err
	}
	return r.setBody(rc, r.pos, end)
}

// closeBody closes the open body, unless Close has.
func (r *ObjectReader) closeBody() {
	r.mu.Lock()
	if r.rc != nil && !r.closed.Load() {
		r.rc.Close()
	}
	r.rc = nil
	r.mu.Unlock()
	r.head, r.headOK = r.head[:0], false
}

// get opens the range [off, off+n) (n = 0: to the end; the whole object
// when off is 0 too) and checks that it belongs to the object first
// opened.
func (r *ObjectReader) get(off, n int64) (io.ReadCloser, error) {
	rc, info, err := r.p.Get(r.ctx, r.key, getOptions(off, n))
	if err != nil {
		return nil, err
	}
	if !sameVersion(info, r.info) {
		rc.Close()
		return nil, &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrChanged,
			Err: fmt.Errorf("opened with size %d, SHA-256 %q and ETag %q, now size %d, SHA-256 %q and ETag %q",
				r.info.Size, r.info.SHA256, r.info.ETag, info.Size, info.SHA256, info.ETag)}
	}
	return rc, nil
}

// sameVersion reports whether two Infos of a key describe the same
// object: the same size and, when both have one, the same SHA-256 (a
// tiered store's cache and remote give one object different ETags),
// else the same ETag.
func sameVersion(a, b Info) bool {
	if a.Size != b.Size {
		return false
	}
	if a.SHA256 != "" && b.SHA256 != "" {
		return a.SHA256 == b.SHA256
	}
	return a.ETag == b.ETag
}

// Seek implements io.Seeker. It only moves the offset of the next Read; a
// position past the end is allowed, and Read there returns io.EOF.
func (r *ObjectReader) Seek(offset int64, whence int) (int64, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	if d := r.direct.Load(); d != nil {
		return d.r.Seek(offset, whence)
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = r.info.Size + offset
	default:
		return 0, &Error{Op: "seek", Provider: "storage", Key: r.key, Kind: ErrInvalidArgument, Err: fmt.Errorf("whence %d", whence)}
	}
	if abs < 0 {
		return 0, &Error{Op: "seek", Provider: "storage", Key: r.key, Kind: ErrInvalidArgument, Err: errors.New("negative position")}
	}
	r.pos = abs
	return abs, nil
}

// ReadAt implements io.ReaderAt with one Get of exactly the bytes asked
// for (of the whole object, verified, when they are all of it). It is
// safe for concurrent use, also with Read.
func (r *ObjectReader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	if d := r.direct.Load(); d != nil {
		return d.r.ReadAt(p, off)
	}
	if off < 0 {
		return 0, &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrInvalidArgument, Err: errors.New("negative offset")}
	}
	if off >= r.info.Size || len(p) == 0 {
		if off >= r.info.Size && len(p) > 0 {
			return 0, io.EOF
		}
		return 0, nil
	}
	want := min(int64(len(p)), r.info.Size-off)
	n := want
	if off == 0 && want == r.info.Size {
		n = 0
	}
	rc, err := r.get(off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	k, err := io.ReadFull(rc, p[:want])
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrUnavailable,
				Err: fmt.Errorf("range ended after %d of %d bytes: %w", k, want, io.ErrUnexpectedEOF)}
		}
		return k, err
	}
	if n == 0 {
		// The whole object: read on to its end, where the provider
		// checks what it read.
		if _, err := io.Copy(io.Discard, rc); err != nil {
			return k, err
		}
	}
	if int64(len(p)) > want {
		return k, io.EOF
	}
	return k, nil
}

// CopyN copies n bytes from the current offset to w, as io.CopyN(w, r, n)
// does, and moves the offset past them. It returns io.EOF when the object
// ends before n bytes. Unlike io.CopyN it knows how much is wanted, so it
// opens at most one Get for them, of exactly those bytes (unless the open
// body already holds them), and hands that Get's reader to w through the
// reader's own WriteTo: a local file then reaches a socket with
// sendfile(2), and a tiered store's cached copy is checked as it streams.
// A writer that receives an ObjectReader through io.CopyN (the
// http.ResponseWriter of http.ServeContent sees an *io.LimitedReader of
// it in its ReadFrom) can call CopyN instead; package httpserve does.
func (r *ObjectReader) CopyN(w io.Writer, n int64) (int64, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	var written int64
	for written < n {
		if d := r.direct.Load(); d != nil {
			k, err := copyDirect(w, d.r, n-written)
			return written + k, err
		}
		if r.pos >= r.info.Size {
			return written, io.EOF
		}
		want := min(n-written, r.info.Size-r.pos)
		if h := r.headAt(); len(h) > 0 {
			k, err := w.Write(h[:min(int64(len(h)), want)])
			r.pos += int64(k)
			written += int64(k)
			if err != nil {
				return written, err
			}
			continue
		}
		if err := r.position(want); err != nil {
			return written, err
		}
		if r.rc == nil {
			continue // the body is the direct reader
		}
		r.head, r.headOK = nil, false
		avail := min(want, r.rcEnd-r.rcPos)
		var k int64
		var err error
		if wt, ok := r.rc.(io.WriterTo); ok && avail == r.rcEnd-r.rcPos {
			k, err = wt.WriteTo(w) // to the body's end, where it is checked
			r.rcDone = err == nil
		} else {
			bp := copyBufs.Get().(*[]byte)
			k, err = io.CopyBuffer(writerOnly{w}, &io.LimitedReader{R: r.rc, N: avail}, *bp)
			copyBufs.Put(bp)
		}
		r.pos += k
		r.rcPos += k
		written += k
		if err != nil {
			return written, err
		}
		if k < avail {
			return written, r.cutShort()
		}
		if r.rcPos == r.rcEnd {
			if err := r.finish(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// copyDirect copies n bytes from d, a provider's own seekable reader, to
// w: with d's WriteTo when that is all of the rest of it, else under an
// io.LimitedReader, which w's ReadFrom may copy in the kernel (a local
// file to a socket).
func copyDirect(w io.Writer, d io.ReadSeeker, n int64) (int64, error) {
	if wt, ok := d.(io.WriterTo); ok {
		pos, err := d.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, err
		}
		end, err := d.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, err
		}
		if _, err := d.Seek(pos, io.SeekStart); err != nil {
			return 0, err
		}
		if n >= end-pos {
			k, err := wt.WriteTo(w)
			if err == nil && k < n {
				err = io.EOF
			}
			return k, err
		}
	}
	return io.CopyN(w, d, n)
}

// copyBufs are the buffers CopyN copies through when the body cannot
// write itself.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writerOnly hides all methods but Write, so that io.CopyBuffer uses the
// buffer it is given.
type writerOnly struct{ io.Writer }

// WriteTo implements io.WriterTo: it writes the rest of the object, from
// the current offset, to w, as CopyN does.
func (r *ObjectReader) WriteTo(w io.Writer) (int64, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	if d := r.direct.Load(); d != nil {
		if wt, ok := d.r.(io.WriterTo); ok {
			return wt.WriteTo(w)
		}
		return io.Copy(w, onlyReader{d.r})
	}
	if r.pos >= r.info.Size {
		return 0, nil
	}
	n, err := r.CopyN(w, r.info.Size-r.pos)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// onlyReader hides WriteTo, so that io.Copy does not call it back.
type onlyReader struct{ io.Reader }

// Close implements io.Closer. Reads after Close fail with ErrClosed. Close
// may be called while a Read runs in another goroutine, to stop it.
func (r *ObjectReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil
	}
	r.closed.Store(true)
	if d := r.direct.Load(); d != nil {
		return d.r.Close()
	}
	if r.rc != nil {
		return r.rc.Close()
	}
	return nil
}
