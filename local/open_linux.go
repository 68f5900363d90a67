//go:build linux

package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-storage/strata/storage"
)

// fastOpen opens files beneath the root in one openat2(2) call with
// RESOLVE_BENEATH, which the kernel refuses to resolve out of the root
// (by "..", an absolute or a relative symbolic link), as os.Root does; but
// os.Root walks the path one component at a time, an open and a close per
// directory, four times the system calls for a Synapse key. It falls back
// to os.Root where openat2 is missing (kernels before 5.6) or refused (a
// seccomp filter).
type fastOpen struct {
	dir *os.File    // the directory of the os.Root, or nil
	fd  int         // dir's descriptor, or -1
	off atomic.Bool // openat2 is not available
}

// newFastOpen opens the directory of root itself (not its path again,
// which could name another directory by now).
func newFastOpen(root *os.Root) *fastOpen {
	fo := &fastOpen{fd: -1}
	if d, err := root.Open("."); err == nil {
		fo.dir, fo.fd = d, int(d.Fd())
	}
	return fo
}

func (fo *fastOpen) close() {
	if fo.dir != nil {
		fo.dir.Close()
		fo.dir, fo.fd = nil, -1
	}
}

// openRead opens the file at the relative path p for reading, without
// blocking on a FIFO. ok is false when the caller must use os.Root instead.
// A path that leads out of the root fails with escape, os.Root's error for
// it.
func (fo *fastOpen) openRead(p string, escape error) (f *os.File, ok bool, err error) {
	if fo.fd < 0 || fo.off.Load() {
		return nil, false, nil
	}
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(fo.fd, p, &how)
		switch {
		case err == nil:
			return os.NewFile(uintptr(fd), p), true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS):
			fo.off.Store(true)
			return nil, false, nil
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EAGAIN):
			// A seccomp filter that refuses openat2, or a rename that
			// raced with the lookup: let os.Root try.
			return nil, false, nil
		case errors.Is(err, unix.EXDEV):
			// RESOLVE_BENEATH's refusal of a path out of the root.
			if escape == nil {
				escape = fs.ErrPermission
			}
			return nil, true, &fs.PathError{Op: "openat", Path: filepath.FromSlash(p), Err: escape}
		default:
			return nil, true, &fs.PathError{Op: "openat", Path: filepath.FromSlash(p), Err: err}
		}
	}
}

// openAt opens the entry name of the open directory dir with flags
// (O_NOFOLLOW and O_CLOEXEC added) and returns its descriptor. ok is false
// when dir's descriptor cannot be had, and the caller must open the entry
// by other means.
func openAt(dir *os.File, name string, flags int) (fd int, ok bool, err error) {
	raw, err := dir.SyscallConn()
	if err != nil {
		return -1, false, nil
	}
	if cerr := raw.Control(func(dfd uintptr) {
		for {
			fd, err = unix.Openat(int(dfd), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if !errors.Is(err, unix.EINTR) {
				return
			}
		}
	}); cerr != nil {
		return -1, false, nil
	}
	return fd, true, err
}

// openDirEntry opens the directory name in the open directory dir, for
// listing, without following a symbolic link. ok is false when the caller
// must open it by its path instead.
func openDirEntry(dir *os.File, name string) (f *os.File, ok bool, err error) {
	fd, ok, err := openAt(dir, name, unix.O_RDONLY|unix.O_DIRECTORY)
	if !ok || err != nil {
		if err != nil {
			err = &fs.PathError{Op: "openat", Path: name, Err: err}
		}
		return nil, ok, err
	}
	return os.NewFile(uintptr(fd), name), true, nil
}

// statEntry returns the Info of the object key, the entry name of the open
// directory dir at relative path p, as Stat does, but with the four system
// calls it needs (open, fstat, read the attribute, close) and no *os.File.
// ok is false when the caller must open it by other means.
func (s *fileStore) statEntry(dir *os.File, name, key, p string) (info storage.Info, ok bool, err error) {
	fd, ok, err := openAt(dir, name, unix.O_RDONLY|unix.O_NONBLOCK)
	if !ok {
		return storage.Info{}, false, nil
	}
	if err != nil {
		return storage.Info{}, true, &fs.PathError{Op: "openat", Path: filepath.FromSlash(p), Err: err}
	}
	defer unix.Close(fd)
	var st statInfo
	if err := syscall.Fstat(fd, &st.st); err != nil {
		return storage.Info{}, true, &fs.PathError{Op: "fstat", Path: filepath.FromSlash(p), Err: err}
	}
	st.name = name
	if !st.Mode().IsRegular() {
		return storage.Info{}, true, errNotRegular
	}
	return s.info(key, p, &st, func() ([]byte, error) { return getXattrFD(fd, p) }), true, nil
}

// statInfo is the fs.FileInfo of a stat(2) result.
type statInfo struct {
	st   syscall.Stat_t
	name string
}

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.st.Size }
func (i *statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *statInfo) Sys() any           { return &i.st }
func (i *statInfo) Mode() fs.FileMode {
	switch i.st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return fs.FileMode(i.st.Mode & 0o777)
	case syscall.S_IFDIR:
		return fs.ModeDir | fs.FileMode(i.st.Mode&0o777)
	}
	return fs.ModeIrregular | fs.FileMode(i.st.Mode&0o777)
}
