package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// skipAhead is how far forward a Seek may land and still be served by
// reading on in the open body (and discarding) rather than by a new
// request.
const skipAhead = 64 << 10

// ObjectReader reads one object of any provider as an io.ReadSeeker and an
// io.ReaderAt, as http.ServeContent, io.SectionReader and archive readers
// want. A Seek costs nothing; the Read after it opens a ranged Get at the
// new offset (or reads on, when the offset is a little ahead), so a reader
// that seeks into a large object never reads what lies before it. ReadAt
// makes a ranged Get of its own for each call and is safe for concurrent
// use; Read, Seek and WriteTo are not.
//
// Every ranged Get is checked against the object first opened: when the
// object was replaced in between (its ETag or size differ), the read fails
// with an error matching [ErrChanged] rather than mix two objects' bytes.
//
// When the provider's own reader can already seek and read at offsets (a
// local file), the ObjectReader uses it as it is.
type ObjectReader struct {
	ctx  context.Context
	p    Provider
	key  string
	info Info

	direct interface { // the provider's reader, when it seeks itself
		io.ReadSeeker
		io.ReaderAt
	}

	pos   int64         // offset of the next Read
	rc    io.ReadCloser // the open body, or nil
	rcPos int64         // offset of the next byte rc yields

	closed atomic.Bool
}

var (
	_ io.ReadSeekCloser = (*ObjectReader)(nil)
	_ io.ReaderAt       = (*ObjectReader)(nil)
	_ io.WriterTo       = (*ObjectReader)(nil)
)

// OpenReader opens the object under key of p for reading and seeking. It
// makes one Get of the whole object, which the first Reads continue: a
// reader that does not seek costs one request, as a Get does, and its bytes
// are verified as a whole Get's are. The caller must Close it.
func OpenReader(ctx context.Context, p Provider, key string) (*ObjectReader, error) {
	rc, info, err := p.Get(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	r := &ObjectReader{ctx: ctx, p: p, key: key, info: info, rc: rc}
	if d, ok := rc.(interface {
		io.ReadSeeker
		io.ReaderAt
	}); ok {
		r.direct = d
	}
	return r, nil
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
	if r.direct != nil {
		return r.direct.Read(p)
	}
	if r.pos >= r.info.Size {
		return 0, io.EOF
	}
	if err := r.position(); err != nil {
		return 0, err
	}
	n, err := r.rc.Read(p)
	r.pos += int64(n)
	r.rcPos += int64(n)
	if err == io.EOF && r.pos < r.info.Size {
		// The provider checks a body's length; this only guards a Provider
		// that does not.
		return n, &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrUnavailable,
			Err: fmt.Errorf("object ended at %d of %d bytes: %w", r.pos, r.info.Size, io.ErrUnexpectedEOF)}
	}
	return n, err
}

// position makes rc yield the byte at r.pos next: it reads on a little in
// the open body, or opens a ranged Get.
func (r *ObjectReader) position() error {
	if r.rc != nil && r.rcPos == r.pos {
		return nil
	}
	if r.rc != nil && r.pos > r.rcPos && r.pos-r.rcPos <= skipAhead {
		n, err := io.CopyN(io.Discard, r.rc, r.pos-r.rcPos)
		r.rcPos += n
		if err == nil {
			return nil
		}
	}
	if r.rc != nil {
		r.rc.Close()
		r.rc = nil
	}
	rc, err := r.get(r.pos, 0)
	if err != nil {
		return err
	}
	r.rc, r.rcPos = rc, r.pos
	return nil
}

// get opens the range [off, off+n) (n = 0: to the end) and checks that it
// belongs to the object first opened.
func (r *ObjectReader) get(off, n int64) (io.ReadCloser, error) {
	var opts *GetOptions
	if off > 0 || n > 0 {
		opts = &GetOptions{Range: &Range{Offset: off, Length: n}}
	}
	rc, info, err := r.p.Get(r.ctx, r.key, opts)
	if err != nil {
		return nil, err
	}
	if info.Size != r.info.Size || info.ETag != r.info.ETag || !info.ModTime.Equal(r.info.ModTime) {
		rc.Close()
		return nil, &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrChanged,
			Err: fmt.Errorf("opened with size %d and ETag %q, now size %d and ETag %q", r.info.Size, r.info.ETag, info.Size, info.ETag)}
	}
	return rc, nil
}

// Seek implements io.Seeker. It only moves the offset of the next Read; a
// position past the end is allowed, and Read there returns io.EOF.
func (r *ObjectReader) Seek(offset int64, whence int) (int64, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	if r.direct != nil {
		return r.direct.Seek(offset, whence)
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

// ReadAt implements io.ReaderAt with one ranged Get per call. It is safe
// for concurrent use, also with Read.
func (r *ObjectReader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	if r.direct != nil {
		return r.direct.ReadAt(p, off)
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
	rc, err := r.get(off, want)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p[:want])
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = &Error{Op: "read", Provider: "storage", Key: r.key, Kind: ErrUnavailable,
				Err: fmt.Errorf("range ended after %d of %d bytes: %w", n, want, io.ErrUnexpectedEOF)}
		}
		return n, err
	}
	if int64(len(p)) > want {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo implements io.WriterTo: it writes the rest of the object, from
// the current offset, to w. When the open body is already there and can
// write itself (a local file through sendfile), it does.
func (r *ObjectReader) WriteTo(w io.Writer) (int64, error) {
	if r.closed.Load() {
		return 0, r.closedErr()
	}
	if r.direct != nil {
		if wt, ok := r.direct.(io.WriterTo); ok {
			return wt.WriteTo(w)
		}
	}
	if r.direct == nil && r.pos < r.info.Size {
		if err := r.position(); err != nil {
			return 0, err
		}
		if wt, ok := r.rc.(io.WriterTo); ok {
			n, err := wt.WriteTo(w)
			r.pos += n
			r.rcPos += n
			return n, err
		}
	}
	return io.Copy(w, onlyReader{r})
}

// onlyReader hides WriteTo, so that io.Copy does not call it back.
type onlyReader struct{ io.Reader }

// Close implements io.Closer. Reads after Close fail with ErrClosed.
func (r *ObjectReader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.rc != nil {
		err := r.rc.Close()
		r.rc = nil
		return err
	}
	return nil
}
