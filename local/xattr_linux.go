//go:build linux

package local

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// xattrName is the extended attribute that holds an object's record.
const xattrName = "user.strata"

const haveXattr = true

// setXattr stores data in the record attribute of f.
func setXattr(f *os.File, data []byte) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) {
		serr = unix.Fsetxattr(int(fd), xattrName, data, 0)
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fsetxattr", Path: f.Name(), Err: serr}
	}
	return nil
}

// getXattr reads the record attribute of f. It returns nil and no error
// when f has none (or one too large to be a record).
func getXattr(f *os.File) ([]byte, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var data []byte
	var gerr error
	if err := sc.Control(func(fd uintptr) { data, gerr = getXattrFD(int(fd), f.Name()) }); err != nil {
		return nil, err
	}
	return data, gerr
}

// smallRecord is the buffer getXattrFD tries first: records without user
// metadata fit in it.
const smallRecord = 256

// getXattrFD reads the record attribute of the open file fd, named name in
// errors, as getXattr does.
func getXattrFD(fd int, name string) ([]byte, error) {
	buf := make([]byte, smallRecord)
	for {
		n, err := unix.Fgetxattr(fd, xattrName, buf)
		switch {
		case err == nil:
			return buf[:n], nil
		case errors.Is(err, unix.ERANGE) && len(buf) < maxRecord:
			buf = make([]byte, maxRecord)
			continue
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ERANGE), xattrUnsupported(err):
			return nil, nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return nil, &os.PathError{Op: "fgetxattr", Path: name, Err: err}
	}
}

// xattrUnsupported reports whether err says the file system does not take
// user extended attributes.
func xattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, errNoXattr)
}

// renameNoReplace renames oldname to newname, both in the directory d, and
// fails with an error matching fs.ErrExist when newname exists. It is the
// fallback for IfNotExists on file systems without hard links.
func renameNoReplace(d *os.File, oldname, newname string) error {
	sc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := sc.Control(func(fd uintptr) {
		rerr = unix.Renameat2(int(fd), oldname, int(fd), newname, unix.RENAME_NOREPLACE)
	}); err != nil {
		return err
	}
	if rerr != nil {
		return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: rerr}
	}
	return nil
}

// changeStamp returns the device and inode of the file fi describes, and
// its change time in nanoseconds, for recordCache; ok is false when fi
// does not hold them.
func changeStamp(fi fs.FileInfo) (k fileKey, ctime int64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, 0, false
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, st.Ctim.Nano(), true
}
