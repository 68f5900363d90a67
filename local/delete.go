package local

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
)

// Delete implements driver.Driver: it removes the object under key, then
// the directories above it that are left empty, up to but not including
// the root. Deleting a missing key, or a key that names a directory,
// succeeds and removes nothing.
func (s *fileStore) Delete(ctx context.Context, key string) error {
	p, err := s.start(key)
	if err != nil {
		return err
	}
	defer s.end()
	return s.delete(key, p)
}

func (s *fileStore) delete(key, p string) error {
	dir, _ := splitDir(p)
	unlock := s.lock(key)
	fi, err := s.root.Lstat(filepath.FromSlash(p))
	if err != nil {
		unlock()
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		unlock()
		return nil
	}
	err = s.root.Remove(filepath.FromSlash(p))
	if s.sidecar() && (err == nil || errors.Is(err, fs.ErrNotExist)) {
		s.removeSidecar(p, fileID(fi))
	}
	unlock()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.removeEmptyDirs(dir, ".")
	return nil
}
