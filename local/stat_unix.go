//go:build unix

package local

import (
	"io/fs"
	"syscall"
)

// fileID returns the inode number of the file fi describes, or 0.
func fileID(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// openNonblock keeps an open of a FIFO that was put where an object was
// expected from blocking; regular files ignore it.
const openNonblock = syscall.O_NONBLOCK
