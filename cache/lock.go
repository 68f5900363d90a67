package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockDir takes the exclusive flock(2) on dir/lock and writes this
// process's PID into it. A second Open of the directory, from this process
// or another, fails at once with ErrLocked naming the holder.
func lockDir(path string, mode fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, mode)
	if err == nil {
		err = f.Chmod(mode)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b := make([]byte, 32)
			n, _ := f.ReadAt(b, 0)
			pid := string(bytes.TrimSpace(b[:n]))
			if _, perr := strconv.Atoi(pid); perr != nil {
				pid = "unknown"
			}
			return nil, fmt.Errorf("%w: %s is held by process %s", ErrLocked, path, pid)
		}
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(pid), 0)
	}
	if err != nil {
		// The PID is what a second Open reports as the holder; a lock
		// file that cannot take eight bytes is no place for a cache.
		f.Close()
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	return f, nil
}
