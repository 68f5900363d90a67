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
	"sync"
	"syscall"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// bufPool holds the buffers Put copies through.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Put implements driver.Driver: it stores what body yields under key. The
// bytes go to a temporary file in the key's directory, which is fsynced and
// then renamed onto the key's file, and the directory is fsynced: a reader
// or a crash sees the old object or the whole new one. When body fails (the
// caller's reader failed, or yielded another size than opts.Size) or ctx
// ends, the temporary file is removed and any old object is left as it
// was.
//
// With opts.IfNotExists the temporary file is hard-linked to the key's
// file instead of renamed; link(2) fails when the name exists, so of racing
// writers exactly one wins and the others get storage.ErrExist. On a file
// system without hard links, Linux's renameat2(RENAME_NOREPLACE) does the
// same.
//
// A key whose path is taken by a directory of other objects, or one of
// whose parents is an object ("a" is stored and Put asks for "a/b"), fails
// with an error matching storage.ErrExist: a file cannot also be a
// directory.
func (s *fileStore) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	p, err := s.start(key)
	if err != nil {
		return storage.Info{}, err
	}
	defer s.end()
	return s.put(ctx, key, p, body, opts)
}

// Copy copies the object under src to dst, with its content type and
// metadata, through a temporary file as Put does. It implements
// storage.Copier.
func (s *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := s.CheckKeys(ctx, op, dst, src); err != nil {
		return storage.Info{}, err
	}
	dp, err := s.d.start(dst)
	if err != nil {
		return storage.Info{}, s.Wrap(op, dst, err)
	}
	defer s.d.end()
	f, info, err := s.d.openObject(src, keyPath(src))
	if err != nil {
		return storage.Info{}, s.Wrap(op, src, err)
	}
	defer f.Close()
	opts := storage.PutOptionsOf(info)
	out, err := s.d.put(ctx, dst, dp, driver.NewBody(f, info.Size), opts)
	if errors.Is(err, storage.ErrSizeMismatch) {
		// The source changed under us: it was not written by strata and
		// another program is writing to it in place.
		return storage.Info{}, storage.NewError(op, ProviderName, src, storage.ErrCorrupt, err)
	}
	return s.Result(op, dst, out, err)
}

// put writes the object key at relative path p; see Put.
func (s *fileStore) put(ctx context.Context, key, p string, body *driver.Body, opts *storage.PutOptions) (info storage.Info, err error) {
	dir, base := splitDir(p)

	f, tmp, created, err := s.createTemp(dir)
	published := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if published {
			return
		}
		if tmp != "" {
			if rerr := s.root.Remove(filepath.FromSlash(tmp)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				s.log.Warn("cannot remove temporary file", "path", tmp, "err", rerr)
			}
		}
		if created != "" {
			// Leave the tree as it was: remove the directories this Put
			// made, as long as nobody else put anything in them.
			parent, _ := splitDir(created)
			s.removeEmptyDirs(dir, parent)
		}
	}()
	if err != nil {
		return storage.Info{}, err
	}

	// body fails a read, before its end, when it yields another size than
	// opts.Size promised.
	if err := copyCtx(ctx, f, body); err != nil {
		return storage.Info{}, err
	}
	if err := f.Chmod(s.fileMode); err != nil {
		return storage.Info{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return storage.Info{}, err
	}
	ino := fileID(fi)
	rec := &record{
		size:        fi.Size(),
		mtime:       fi.ModTime().UnixNano(),
		sha256:      body.SHA256(),
		contentType: opts.ContentType,
		metadata:    maps.Clone(opts.Metadata),
		attrs:       attrsOf(opts),
	}
	sidecar, err := s.keepRecord(f, rec)
	if err != nil {
		return storage.Info{}, err
	}
	if s.sync {
		if err := f.Sync(); err != nil {
			return storage.Info{}, err
		}
	}
	err = f.Close()
	f = nil
	if err != nil {
		return storage.Info{}, err
	}
	// Last chance to give up: after this the object is visible.
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	if err := s.publish(key, dir, base, tmp, ino, rec, opts.IfNotExists, sidecar); err != nil {
		return storage.Info{}, err
	}
	published = true
	if err := s.syncDir(dir); err != nil {
		return storage.Info{}, err
	}
	info = storage.Info{
		Key:         key,
		Size:        rec.size,
		ModTime:     fi.ModTime(),
		ETag:        rec.sha256,
		SHA256:      rec.sha256,
		ContentType: rec.contentType,
	}
	rec.attrs.set(&info)
	if len(opts.Metadata) > 0 {
		info.Metadata = maps.Clone(opts.Metadata)
	}
	return info, nil
}

// createTemp creates a new temporary file in dir (relative to the root),
// creating dir first when it is missing, and returns it with its name and
// the topmost directory it created ("" for none). It retries when a
// concurrent Delete removes the directory between the two steps.
func (s *fileStore) createTemp(dir string) (f *os.File, name, created string, err error) {
	for attempt := 0; ; attempt++ {
		top, err := s.ensureDir(dir)
		if created == "" {
			created = top
		}
		if attempt < 10 && errors.Is(err, fs.ErrNotExist) {
			continue // a Delete removed a directory it had left empty
		}
		if err != nil {
			return nil, "", created, err
		}
		name := joinRel(dir, tempPrefix+randomHex())
		f, err := s.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.fileMode)
		if err == nil {
			return f, name, created, nil
		}
		if attempt < 10 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)) {
			continue
		}
		return nil, "", created, err
	}
}

// writeSidecar writes rec to the sidecar file name. No reader looks at it
// before the data file it belongs to is published, so it needs no
// temporary file: its name carries the inode of the temporary data file,
// which no other file has while that one exists. It is called with the
// key's lock held: an inode number is reused as soon as a replaced file is
// unlinked, and the lock keeps a writer from writing the sidecar of a new
// file with a reused number while the writer that freed it still has to
// remove the sidecar of the old one.
func (s *fileStore) writeSidecar(name string, rec *record) error {
	dir, _ := splitDir(name)
	for attempt := 0; ; attempt++ {
		if _, err := s.ensureDir(dir); err != nil {
			if attempt < 10 && errors.Is(err, fs.ErrNotExist) {
				continue // a Delete removed a directory it had left empty
			}
			return err
		}
		f, err := s.root.OpenFile(filepath.FromSlash(name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, s.fileMode)
		if attempt < 10 && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		_, err = f.Write(rec.encode())
		if err == nil {
			err = f.Chmod(s.fileMode)
		}
		if err == nil && s.sync {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return s.syncDir(dir)
	}
}

// keepRecord sets rec as the extended attribute of f, the temporary file
// of a Put, unless the Store keeps metadata in sidecar files. It reports
// whether the record is for a sidecar file instead, which publish writes.
// The first Put of a MetadataAuto Store decides the mode here: when f
// takes the attribute, extended attributes it is; when the file system
// takes none, sidecar files.
func (s *fileStore) keepRecord(f *os.File, rec *record) (sidecar bool, err error) {
	if s.sidecar() {
		return true, nil
	}
	err = setRecordXattr(f, rec.encode())
	switch {
	case err == nil:
		s.meta.CompareAndSwap(metaUndecided, metaXattr)
		return false, nil
	case !xattrUnsupported(err):
		return false, err
	case s.mode == MetadataAuto && s.useSidecar(err):
		return true, nil
	}
	return false, fmt.Errorf("metadata mode xattr: %w: %w", storage.ErrUnsupported, err)
}

// setRecordXattr is setXattr; tests replace it to play a file system
// without extended attributes.
var setRecordXattr = setXattr

// publish makes the temporary file tmp (inode ino) the object key, at
// dir/base, and when sidecar is true writes rec to its sidecar first and
// removes the sidecar of the file it replaced after. With ifNotExists it
// fails with fs.ErrExist when the key's file exists.
func (s *fileStore) publish(key, dir, base, tmp string, ino uint64, rec *record, ifNotExists, sidecar bool) error {
	p := joinRel(dir, base)
	unlock := s.lock(key)
	defer unlock()
	var oldIno uint64
	if sidecar {
		if !ifNotExists {
			if fi, err := s.root.Lstat(filepath.FromSlash(p)); err == nil && fi.Mode().IsRegular() {
				oldIno = fileID(fi)
			}
		}
		if err := s.writeSidecar(sidecarName(p, ino), rec); err != nil {
			s.removeSidecar(p, ino)
			return err
		}
	}
	if testHook != nil {
		testHook("before-publish")
	}
	var err error
	if ifNotExists {
		err = s.linkNoReplace(dir, base, tmp)
	} else {
		err = s.root.Rename(filepath.FromSlash(tmp), filepath.FromSlash(p))
	}
	if err != nil {
		if sidecar {
			s.removeSidecar(p, ino)
		}
		if fi, serr := s.root.Lstat(filepath.FromSlash(p)); serr == nil && fi.IsDir() {
			return &inTheWay{what: key, dir: true}
		}
		return err
	}
	if ifNotExists {
		if err := s.root.Remove(filepath.FromSlash(tmp)); err != nil {
			s.log.Warn("cannot remove temporary file", "path", tmp, "err", err)
		}
	}
	if testHook != nil {
		testHook("after-publish")
	}
	if oldIno != 0 && oldIno != ino {
		s.removeSidecar(p, oldIno)
	}
	return nil
}

// testHook, when set by a test, is called at the named stages of a Put, so
// that a test can stop a process there (kill it, as a crash would).
var testHook func(stage string)

// removeSidecar removes the sidecar of inode ino of the object at relative
// path p, and the directories of the sidecar tree that leaves empty. The
// caller holds the key's lock.
func (s *fileStore) removeSidecar(p string, ino uint64) {
	if err := s.root.Remove(filepath.FromSlash(sidecarName(p, ino))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("cannot remove sidecar", "path", p, "err", err)
	}
	s.removeEmptyDirs(sidecarDir(p), metaDir)
}

// linkNoReplace gives the temporary file tmp the name dir/base unless that
// name exists. It uses link(2), and renameat2(RENAME_NOREPLACE) where the
// file system has no hard links.
func (s *fileStore) linkNoReplace(dir, base, tmp string) error {
	err := s.root.Link(filepath.FromSlash(tmp), filepath.FromSlash(joinRel(dir, base)))
	if err == nil || errors.Is(err, fs.ErrExist) || !linkUnsupported(err) {
		return err
	}
	d, derr := s.root.Open(filepath.FromSlash(dir))
	if derr != nil {
		return derr
	}
	defer d.Close()
	_, tbase := splitDir(tmp)
	if rerr := renameNoReplace(d, tbase, base); !errors.Is(rerr, errors.ErrUnsupported) {
		return rerr
	}
	return err
}

// linkUnsupported reports whether err from link(2) says the file system
// has no hard links.
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EMLINK) || errors.Is(err, syscall.EXDEV)
}

// copyCtx copies src to dst until src ends, checking ctx between reads.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return bodyError(rerr)
		}
	}
}

// bodyError is the error of a read from Put's body: the caller's reader
// failed, or the driver.Body found that it yields another size than
// PutOptions.Size. The Body's error is a *storage.Error of its own; only
// its kind and cause are kept, as the Provider names the call.
func bodyError(err error) error {
	var se *storage.Error
	if errors.As(err, &se) && se.Kind == storage.ErrSizeMismatch && se.Err != nil {
		return fmt.Errorf("%w: %w", storage.ErrSizeMismatch, se.Err)
	}
	return &readError{err}
}

// readError marks an error of the reader given to Put, so that it is not
// taken for an error of the file system.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the object's content: " + e.err.Error() }

func (e *readError) Unwrap() error { return e.err }
