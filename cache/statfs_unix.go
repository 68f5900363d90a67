package cache

import "golang.org/x/sys/unix"

// statfs returns the bytes available to this user and the size of the file
// system holding dir.
func statfs(dir string) (free, total int64, err error) {
	var s unix.Statfs_t
	if err := unix.Statfs(dir, &s); err != nil {
		return 0, 0, err
	}
	return int64(s.Bavail) * int64(s.Bsize), int64(s.Blocks) * int64(s.Bsize), nil
}
