// Package iofs presents any strata provider as an io/fs file system, so
// that code written for io/fs (http.FileServerFS, fs.WalkDir,
// template.ParseFS, fs.Sub) works on a local store, a bucket or a tiered
// store alike.
//
// Keys are paths: "a/b/c.jpg" is the file c.jpg in the directory a/b.
// Directories are not stored; a directory exists while some key lies
// under it, as on S3. When a key is both an object and the parent of
// others ("a" and "a/b", which some stores allow), the object is what
// Open, Stat and ReadDir show under that name; Open("a/b") still finds the
// other.
//
// Files are read through [storage.OpenReader]: Open makes one Stat and
// reads nothing; files implement io.Seeker and io.ReaderAt, and the first
// Read after a Seek is one ranged Get, so http.FileServerFS serves a byte
// range of a large video with a Stat and one ranged Get, without reading
// what lies before it (on a tiered store, without fetching the whole
// object first), and a file read from its start is one whole Get.
//
// # Errors
//
// Errors are *fs.PathError values whose Err is the provider's error, so
// errors.Is(err, fs.ErrNotExist) holds for a missing file (strata's
// ErrNotFound matches it) and errors.Is(err, storage.ErrUnavailable) for a
// remote that could not be reached. A name fs.ValidPath refuses fails with
// fs.ErrInvalid; one it accepts but strata's key rules refuse (a backslash,
// a control character) does not exist.
package iofs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/strata-storage/strata/storage"
)

// FS is an io/fs view of a provider. It implements fs.FS, fs.StatFS,
// fs.ReadDirFS, fs.ReadFileFS and fs.SubFS. It is safe for concurrent use
// when its provider is.
type FS struct {
	ctx    context.Context
	p      storage.Provider
	prefix string // "" or a directory followed by "/"
}

var (
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.SubFS      = (*FS)(nil)
)

// New returns a view of p. The io/fs methods take no context; ctx is the
// one every call to p uses (nil means context.Background). Closing p ends
// the view; the view itself holds nothing to close.
func New(ctx context.Context, p storage.Provider) *FS {
	if ctx == nil {
		ctx = context.Background()
	}
	return &FS{ctx: ctx, p: p}
}

// key returns the key of name, or "" for the root.
func (f *FS) key(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return strings.TrimSuffix(f.prefix, "/"), nil
	}
	return f.prefix + name, nil
}

// Open implements fs.FS.
func (f *FS) Open(name string) (fs.File, error) {
	key, err := f.key("open", name)
	if err != nil {
		return nil, err
	}
	if name != "." {
		r, err := storage.OpenReader(f.ctx, f.p, key, nil)
		if err == nil {
			return &file{ObjectReader: r, name: name}, nil
		}
		if !missing(err) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	d, err := f.dir(name, key)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return d, nil
}

// missing reports whether err means the name holds no object: a key that
// is not there, or one strata's key rules refuse.
func missing(err error) bool {
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidKey)
}

// Stat implements fs.StatFS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	key, err := f.key("stat", name)
	if err != nil {
		return nil, err
	}
	if name != "." {
		info, err := f.p.Stat(f.ctx, key)
		if err == nil {
			return fileInfo{info: info, name: path.Base(name)}, nil
		}
		if !missing(err) {
			return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
		}
	}
	d, err := f.dir(name, key)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return d.Stat()
}

// ReadFile implements fs.ReadFileFS.
func (f *FS) ReadFile(name string) ([]byte, error) {
	key, err := f.key("readfile", name)
	if err != nil {
		return nil, err
	}
	if name == "." {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	b, _, err := storage.ReadAll(f.ctx, f.p, key)
	if err != nil {
		if missing(err) {
			if _, derr := f.dir(name, key); derr == nil {
				return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
			}
			err = errors.Join(fs.ErrNotExist, err)
		}
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return b, nil
}

// ReadDir implements fs.ReadDirFS.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	key, err := f.key("readdir", name)
	if err != nil {
		return nil, err
	}
	d, err := f.dir(name, key)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return d.entries, nil
}

// Sub implements fs.SubFS: the view of the directory dir.
func (f *FS) Sub(dir string) (fs.FS, error) {
	key, err := f.key("sub", dir)
	if err != nil {
		return nil, err
	}
	if dir == "." {
		return f, nil
	}
	return &FS{ctx: f.ctx, p: f.p, prefix: key + "/"}, nil
}

// dir lists the directory whose key is key ("" for the root): its files
// and subdirectories, sorted by name. A directory with nothing under it
// does not exist, except the root.
func (f *FS) dir(name, key string) (*dir, error) {
	prefix := ""
	if key != "" {
		prefix = key + "/"
	}
	var entries []fs.DirEntry
	for info, err := range f.p.List(f.ctx, &storage.ListOptions{Prefix: prefix, Delimiter: "/"}) {
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(info.Key[len(prefix):], "/")
		if i := strings.IndexByte(name, '/'); i >= 0 && !info.IsPrefix {
			// A provider that does not know Delimiter (a user's own,
			// not built on storage/driver) lists the whole subtree: fold
			// it here.
			name, info = name[:i], storage.Info{Key: prefix + name[:i] + "/", IsPrefix: true}
		}
		if n := len(entries); n > 0 && entries[n-1].Name() == name {
			// An object that is also a directory ("a" and "a/" sort
			// next to each other only when nothing sorts between them;
			// the sort below finds the others): the object wins.
			continue
		}
		if info.IsPrefix {
			entries = append(entries, dirEntry{name: name})
		} else {
			entries = append(entries, fileInfo{info: info, name: name})
		}
	}
	slices.SortStableFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	entries = slices.CompactFunc(entries, func(a, b fs.DirEntry) bool { return a.Name() == b.Name() })
	// CompactFunc keeps the first of equal names; the stable sort keeps
	// listing order, in which an object "a" comes before the prefix "a/".
	if len(entries) == 0 && key != strings.TrimSuffix(f.prefix, "/") {
		return nil, fs.ErrNotExist
	}
	return &dir{name: path.Base(name), entries: entries}, nil
}

// fileInfo is the fs.FileInfo and fs.DirEntry of an object.
type fileInfo struct {
	info storage.Info
	name string
}

func (i fileInfo) Name() string               { return i.name }
func (i fileInfo) Size() int64                { return i.info.Size }
func (i fileInfo) Mode() fs.FileMode          { return 0o444 }
func (i fileInfo) ModTime() time.Time         { return i.info.ModTime }
func (i fileInfo) IsDir() bool                { return false }
func (i fileInfo) Sys() any                   { return i.info }
func (i fileInfo) Type() fs.FileMode          { return 0 }
func (i fileInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i fileInfo) String() string             { return fs.FormatFileInfo(i) }

// dirEntry is the fs.DirEntry and fs.FileInfo of a directory.
type dirEntry struct{ name string }

func (d dirEntry) Name() string               { return d.name }
func (d dirEntry) Size() int64                { return 0 }
func (d dirEntry) Mode() fs.FileMode          { return fs.ModeDir | 0o555 }
func (d dirEntry) ModTime() time.Time         { return time.Time{} }
func (d dirEntry) IsDir() bool                { return true }
func (d dirEntry) Sys() any                   { return nil }
func (d dirEntry) Type() fs.FileMode          { return fs.ModeDir }
func (d dirEntry) Info() (fs.FileInfo, error) { return d, nil }
func (d dirEntry) String() string             { return fs.FormatDirEntry(d) }

// file is an open object: an io.ReadSeeker and io.ReaderAt.
type file struct {
	*storage.ObjectReader
	name string
}

func (f *file) Stat() (fs.FileInfo, error) {
	return fileInfo{info: f.Info(), name: path.Base(f.name)}, nil
}

// dir is an open directory, read from the listing taken at Open.
type dir struct {
	name    string
	entries []fs.DirEntry
	off     int
}

var _ fs.ReadDirFile = (*dir)(nil)

func (d *dir) Stat() (fs.FileInfo, error) { return dirEntry{name: d.name}, nil }

func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errors.New("is a directory")}
}

func (d *dir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}
