package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/strata-storage/strata/storage"
)

// errNotRegular is the cause of a not-found for a key whose path names a
// directory or another file that is not a regular file.
var errNotRegular = fmt.Errorf("not a regular file: %w", fs.ErrNotExist)

// openObject opens the object key stored at the relative path p and returns
// the open file with the object's Info.
func (s *fileStore) openObject(key, p string) (*os.File, storage.Info, error) {
	unlock := s.rlock(key)
	defer unlock()
	f, err := s.openRead(p)
	if err != nil {
		return nil, storage.Info{}, err
	}
	return s.objectOf(key, p, f)
}

// openRead opens the file at the relative path p for reading.
func (s *fileStore) openRead(p string) (*os.File, error) {
	if f, ok, err := s.fast.openRead(p, s.escape); ok {
		return f, err
	}
	return s.root.OpenFile(filepath.FromSlash(p), os.O_RDONLY|openNonblock, 0)
}

// objectOf returns f, the open file of the object key at relative path p,
// with the object's Info; it closes f and fails when f is no regular file.
func (s *fileStore) objectOf(key, p string, f *os.File) (*os.File, storage.Info, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, storage.Info{}, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, storage.Info{}, errNotRegular
	}
	return f, s.info(key, p, fi, func() ([]byte, error) { return getXattr(f) }), nil
}

// info builds the Info of the object key at relative path p, whose file
// fi describes; xattr reads the file's extended attribute.
func (s *fileStore) info(key, p string, fi fs.FileInfo, xattr func() ([]byte, error)) storage.Info {
	info := storage.Info{
		Key:     key,
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
	}
	rec := s.readRecord(p, fi, xattr)
	if !rec.matches(fi.Size(), fi.ModTime().UnixNano()) {
		if rec != nil {
			s.log.Debug("ignoring metadata written for other content", "key", key)
		}
		info.ETag = plainETag(fi)
		return info
	}
	info.ETag = rec.sha256
	info.SHA256 = rec.sha256
	info.ContentType = rec.contentType
	rec.attrs.set(&info)
	if len(rec.metadata) > 0 {
		info.Metadata = maps.Clone(rec.metadata)
	}
	return info
}

// plainETag is the ETag of a file without a record: its inode, size and
// modification time, which change when another program replaces or
// rewrites it.
func plainETag(fi fs.FileInfo) string {
	b := make([]byte, 0, 48)
	b = strconv.AppendUint(b, fileID(fi), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	return string(b)
}

// readRecord returns the record kept for the file at relative path p,
// which fi describes, or nil when there is none or it cannot be read;
// xattr reads the file's extended attribute. A record in an extended
// attribute read before, of the file as it is now, comes from s.recs
// (see recordCache).
func (s *fileStore) readRecord(p string, fi fs.FileInfo, xattr func() ([]byte, error)) *record {
	var data []byte
	var err error
	sidecar := s.sidecar()
	if sidecar {
		data, err = s.root.ReadFile(filepath.FromSlash(sidecarName(p, fileID(fi))))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
	} else {
		if rec, ok := s.recs.get(fi); ok {
			return rec
		}
		data, err = xattr()
	}
	if err != nil {
		s.log.Warn("cannot read metadata", "path", p, "err", err)
		return nil
	}
	var rec *record
	if data != nil {
		if rec, err = decodeRecord(data); err != nil {
			s.log.Warn("ignoring damaged metadata", "path", p, "err", err)
			return nil
		}
	}
	if !sidecar {
		s.recs.put(fi, rec)
	}
	return rec
}

// sidecarName is the sidecar file of the object at relative path p whose
// file has inode ino.
func sidecarName(p string, ino uint64) string {
	return sidecarDir(p) + "/" + sidePrefix + strconv.FormatUint(ino, 10)
}

// Stat implements driver.Driver. A key whose path is a directory, or
// another file that is not a regular file, is not found.
func (s *fileStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	p, err := s.start(key)
	if err != nil {
		return storage.Info{}, err
	}
	defer s.end()
	f, info, err := s.openObject(key, p)
	if err != nil {
		return storage.Info{}, err
	}
	f.Close()
	return info, nil
}

// Get implements driver.Driver: it opens the object under key, or the byte
// range rng of it. Reading from the returned reader fails with the
// context's error once ctx ends.
//
// The reader is the open file itself, limited to the object or the range
// (see the package documentation, section Reading): besides Read and Close
// it implements io.Seeker, io.ReaderAt and io.WriterTo, and for a whole
// object syscall.Conn, so that http.ServeContent can serve it and io.Copy
// to a socket or a file uses sendfile(2) or copy_file_range(2). The
// Provider hands it out as it is (driver.Options.ReadsChecked).
func (s *fileStore) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	p, err := s.start(key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	defer s.end()
	f, info, err := s.openObject(key, p)
	if err != nil {
		return nil, storage.Info{}, err
	}
	off, n, err := storage.CheckRange(rng, info.Size)
	if err != nil {
		f.Close()
		return nil, storage.Info{}, fmt.Errorf("range offset %d, object size %d: %w", rng.Offset, info.Size, err)
	}
	r := &reader{ctx: ctx, key: key, f: f, off: off, n: n} // fileAt 0: a file opens at offset 0
	if off == 0 && n == info.Size {
		return &wholeReader{r}, info, nil
	}
	return r, info, nil
}

// reader is what Get returns for a byte range: the bytes [off, off+n) of
// an open file, read with pread(2), seekable within that section. Reads
// fail with the context's error once the context of the Get ends.
type reader struct {
	ctx context.Context
	key string
	f   *os.File
	off int64 // where the section starts in the file
	n   int64 // the length of the section
	pos int64 // offset in the section of the next Read

	// fileAt is the offset of f (which Read, using pread, leaves alone)
	// when WriteTo last left it, or -1 when a use of the descriptor may
	// have moved it: WriteTo seeks only when it is not where it starts.
	fileAt int64
}

var (
	_ io.ReadSeekCloser = (*reader)(nil)
	_ io.ReaderAt       = (*reader)(nil)
	_ io.WriterTo       = (*reader)(nil)
	_ syscall.Conn      = (*wholeReader)(nil)
)

// Read reads from the current position, as io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if r.pos >= r.n {
		return 0, io.EOF
	}
	if rest := r.n - r.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := r.f.ReadAt(p, r.off+r.pos)
	r.pos += int64(k)
	if err == io.EOF && k > 0 {
		err = nil // the file shrank: the next Read says EOF
	}
	return k, err
}

// ReadAt reads len(p) bytes from offset off of the section, as
// io.ReaderAt. It does not move the position of Read, and may be called
// from several goroutines at once.
func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, r.badOffset("readat", off)
	}
	if off >= r.n {
		return 0, io.EOF
	}
	short := false
	if rest := r.n - off; int64(len(p)) > rest {
		p, short = p[:rest], true
	}
	k, err := r.f.ReadAt(p, r.off+off)
	if err == nil && short {
		err = io.EOF
	}
	return k, err
}

// Seek sets the position of the next Read, relative to the start of the
// section, its current position or its end, as io.Seeker. A position past
// the end is allowed (reads there return io.EOF); a negative one is not.
func (r *reader) Seek(offset int64, whence int) (int64, error) {
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = r.pos + offset
	case io.SeekEnd:
		pos = r.n + offset
	default:
		return r.pos, &storage.Error{Op: "seek", Provider: ProviderName, Key: r.key, Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("invalid whence %d", whence)}
	}
	if pos < 0 {
		return r.pos, r.badOffset("seek", pos)
	}
	r.pos = pos
	return pos, nil
}

// Size returns the length of the section: the object's size, or the
// range's length.
func (r *reader) Size() int64 { return r.n }

// copyChunk is how much WriteTo hands to the destination at a time; it
// checks the context between chunks.
const copyChunk = 8 << 20

// WriteTo writes the rest of the section to w, as io.WriterTo, and moves
// the position to its end. It hands the destination the file itself, in
// chunks of copyChunk bytes, so that a destination that can (a *net.TCPConn,
// an *os.File) copies in the kernel with sendfile(2), splice(2) or
// copy_file_range(2); other writers get a buffered copy. It stops with the
// context's error once the context of the Get ends.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	if r.pos >= r.n {
		return 0, r.ctx.Err()
	}
	seek := r.fileAt != r.off+r.pos
	r.fileAt = -1 // unknown until the copy is done: a failed one may have read more than it wrote
	if seek {
		if _, err := r.f.Seek(r.off+r.pos, io.SeekStart); err != nil {
			return 0, err
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	for r.pos < r.n {
		if err := r.ctx.Err(); err != nil {
			return written, err
		}
		want := min(r.n-r.pos, copyChunk)
		k, err := io.CopyBuffer(w, &io.LimitedReader{R: r.f, N: want}, *bp)
		r.pos += k
		written += k
		if err != nil {
			return written, err
		}
		if k < want {
			return written, nil // the file shrank
		}
	}
	r.fileAt = r.off + r.pos
	return written, nil
}

// Close closes the file.
func (r *reader) Close() error { return r.f.Close() }

func (r *reader) badOffset(op string, off int64) error {
	return &storage.Error{Op: op, Provider: ProviderName, Key: r.key, Kind: storage.ErrInvalidArgument,
		Err: fmt.Errorf("negative offset %d", off)}
}

// wholeReader is what Get returns for a whole object: a reader that also
// gives the file descriptor to callers that can copy from it in the kernel
// (net.TCPConn.ReadFrom, which http.ServeContent reaches through
// io.CopyN, uses it for sendfile(2)).
type wholeReader struct{ *reader }

// SyscallConn returns the file's raw connection, as syscall.Conn. The
// file's offset is set to the reader's position before each use of the
// descriptor and the position is taken back from it after, so that reads,
// seeks and kernel copies may be mixed. A copy through the descriptor does
// not look at the context of the Get (it ends when the destination fails);
// one without a byte limit copies to the end of the file as it is then.
func (r *wholeReader) SyscallConn() (syscall.RawConn, error) {
	rc, err := r.f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawFile{RawConn: rc, r: r.reader}, nil
}

// rawFile keeps the offset of the file and the position of the reader in
// step around uses of the descriptor.
type rawFile struct {
	syscall.RawConn
	r *reader
}

// Read runs fn with the descriptor, its offset at the reader's position.
// It does not when the context of the Get has ended, so callers fall back
// to Read, which reports it.
func (c *rawFile) Read(fn func(fd uintptr) bool) error {
	if err := c.r.ctx.Err(); err != nil {
		return err
	}
	c.r.fileAt = -1
	if _, err := c.r.f.Seek(c.r.off+c.r.pos, io.SeekStart); err != nil {
		return err
	}
	err := c.RawConn.Read(fn)
	if cur, serr := c.r.f.Seek(0, io.SeekCurrent); serr == nil {
		c.r.pos = cur - c.r.off
	} else if err == nil {
		err = serr
	}
	return err
}
