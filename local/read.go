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
func (s *Store) openObject(key, p string) (*os.File, storage.Info, error) {
	unlock := s.rlock(key)
	defer unlock()
	f, err := s.root.OpenFile(filepath.FromSlash(p), os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, storage.Info{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, storage.Info{}, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, storage.Info{}, errNotRegular
	}
	return f, s.info(key, p, f, fi), nil
}

// info builds the Info of the object key, open as f at relative path p.
func (s *Store) info(key, p string, f *os.File, fi fs.FileInfo) storage.Info {
	ino := fileID(fi)
	info := storage.Info{
		Key:     key,
		Size:    fi.Size(),
		ModTime: fi.ModTime(),
		ETag:    plainETag(fi),
	}
	rec := s.readRecord(p, f, ino)
	if !rec.matches(fi.Size(), fi.ModTime().UnixNano()) {
		if rec != nil {
			s.log.Debug("ignoring metadata written for other content", "key", key)
		}
		return info
	}
	info.ETag = rec.sha256
	info.SHA256 = rec.sha256
	info.ContentType = rec.contentType
	if len(rec.metadata) > 0 {
		info.Metadata = maps.Clone(rec.metadata)
	}
	return info
}

// plainETag is the ETag of a file without a record: its inode, size and
// modification time, which change when another program replaces or
// rewrites it.
func plainETag(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x-%x", fileID(fi), fi.Size(), fi.ModTime().UnixNano())
}

// readRecord returns the record kept for the file f (inode ino) at relative
// path p, or nil when there is none or it cannot be read.
func (s *Store) readRecord(p string, f *os.File, ino uint64) *record {
	var data []byte
	var err error
	if s.sidecar {
		data, err = s.root.ReadFile(filepath.FromSlash(sidecarName(p, ino)))
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
	} else {
		data, err = getXattr(f)
	}
	if err != nil {
		s.log.Warn("cannot read metadata", "path", p, "err", err)
		return nil
	}
	if data == nil {
		return nil
	}
	rec, err := decodeRecord(data)
	if err != nil {
		s.log.Warn("ignoring damaged metadata", "path", p, "err", err)
		return nil
	}
	return rec
}

// sidecarName is the sidecar file of the object at relative path p whose
// file has inode ino.
func sidecarName(p string, ino uint64) string {
	return sidecarDir(p) + "/" + sidePrefix + strconv.FormatUint(ino, 10)
}

// Stat returns the Info of the object under key. Errors match
// storage.ErrNotFound when there is none (or key names a directory).
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	p, err := s.start(ctx, "stat", key)
	if err != nil {
		return storage.Info{}, err
	}
	defer s.end()
	f, info, err := s.openObject(key, p)
	if err != nil {
		return storage.Info{}, s.fail("stat", key, err)
	}
	f.Close()
	return info, nil
}

// Get opens the object under key, or the byte range opts.Range of it. It
// fails at the call, with an error matching storage.ErrNotFound, when there
// is no object; reading from the returned reader fails with the context's
// error once ctx ends. The caller closes the reader.
func (s *Store) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	p, err := s.start(ctx, "get", key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	defer s.end()
	f, info, err := s.openObject(key, p)
	if err != nil {
		return nil, storage.Info{}, s.fail("get", key, err)
	}
	var rng *storage.Range
	if opts != nil {
		rng = opts.Range
	}
	off, n, err := storage.CheckRange(rng, info.Size)
	if err != nil {
		f.Close()
		return nil, storage.Info{}, &storage.Error{Op: "get", Provider: ProviderName, Key: key, Kind: storage.ErrInvalidRange,
			Err: fmt.Errorf("range offset %d, object size %d", rng.Offset, info.Size)}
	}
	return &reader{ctx: ctx, f: f, r: io.NewSectionReader(f, off, n)}, info, nil
}

// reader is what Get returns: a section of an open file that stops with
// the context's error once the context of the Get ends.
type reader struct {
	ctx context.Context
	f   *os.File
	r   io.Reader
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (r *reader) Close() error { return r.f.Close() }
