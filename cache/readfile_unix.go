package cache

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// readFile opens the file at path and reads it into b with one read,
// and returns the open descriptor, for the caller to close or hand on,
// and how many bytes it read: all of the file when that is fewer than
// len(b), since a read of a regular file stops short only at its end. It
// is os.ReadFile without what a small hit does not need: the *os.File
// (whose open costs four fcntl calls and a failed epoll registration on
// Linux), the fstat for the size, and the read that confirms the end.
// pread leaves the descriptor's offset at 0, the start of the content.
func readFile(path string, b []byte) (fd, n int, err error) {
	fd, err = openRead(path)
	if err != nil {
		return -1, 0, err
	}
	for {
		n, err := unix.Pread(fd, b, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			unix.Close(fd)
			return -1, 0, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		return fd, n, nil
	}
}

// closeFD closes a descriptor readFile returned, if it is open (not -1).
func closeFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// openFile opens the file at path for reading, as os.Open does but with
// one fcntl call where os.Open makes four.
func openFile(path string) (*os.File, error) {
	fd, err := openRead(path)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openRead opens the file at path for reading, close-on-exec.
func openRead(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			return fd, nil
		}
		if err != unix.EINTR {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
}
