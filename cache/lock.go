package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// forkWait bounds how long lockDir waits for a lock that this process's
// own children hold: a child started with fork and exec holds a copy of
// every open file of its parent, the lock file's too, from the fork until
// its exec closes it (microseconds, or a few milliseconds on a loaded
// machine).
const forkWait = 2 * time.Second

// held is the lock files this process has open as a Cache's lock, by
// device and inode: a second Open of a directory in the same process is
// refused from here, at once, whatever flock would say.
var held struct {
	sync.Mutex
	files map[fileID]bool
}

type fileID struct{ dev, ino uint64 }

// dirLock is an open, locked lock file. Close releases it.
type dirLock struct {
	*os.File
	id fileID
}

// Close forgets the lock, then closes the file, which releases the flock
// once no child process holds a copy of it any more.
func (l *dirLock) Close() error {
	held.Lock()
	delete(held.files, l.id)
	held.Unlock()
	return l.File.Close()
}

// lockDir takes the exclusive flock(2) on dir/lock and writes this
// process's PID into it. A second Open of the directory, from this process
// or another, fails at once with ErrLocked naming the holder.
//
// The one wait is for a lock the file says this process holds while no
// Cache of this process does: that is the copy a child process took at
// its fork, before this process closed the lock, and it goes at the
// child's exec. Without the wait a Cache closed and opened again in a
// process that also starts programs (ffmpeg, a helper) fails now and then
// with ErrLocked naming itself.
func lockDir(path string, mode fs.FileMode) (*dirLock, error) {
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
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	l := &dirLock{File: f, id: fileID{uint64(st.Dev), uint64(st.Ino)}}
	self := strconv.Itoa(os.Getpid())
	held.Lock()
	if held.files[l.id] {
		held.Unlock()
		f.Close()
		return nil, fmt.Errorf("%w: %s is held by this process (%s), by another Cache", ErrLocked, path, self)
	}
	if held.files == nil {
		held.files = make(map[fileID]bool)
	}
	held.files[l.id] = true
	held.Unlock()
	if err := flockWaitingForChildren(f, self); err != nil {
		defer l.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by process %s", ErrLocked, path, holder(f))
		}
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(self+"\n"), 0)
	}
	if err != nil {
		// The PID is what a second Open reports as the holder; a lock
		// file that cannot take eight bytes is no place for a cache.
		l.Close()
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	return l, nil
}

// flockWaitingForChildren takes the flock without blocking, and while the
// holder the file names is this process (self), tries again for up to
// forkWait: see lockDir.
func flockWaitingForChildren(f *os.File, self string) error {
	deadline := time.Now().Add(forkWait)
	pause := 100 * time.Microsecond
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) || holder(f) != self || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause)
		pause = min(2*pause, 10*time.Millisecond)
	}
}

// holder is the PID a lock file names, or "unknown".
func holder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid := string(bytes.TrimSpace(b[:n]))
	if _, err := strconv.Atoi(pid); err != nil {
		return "unknown"
	}
	return pid
}
