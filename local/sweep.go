package local

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sweep removes what interrupted writes left behind: temporary files of
// Puts that never finished (a crash, a killed process) and, in sidecar
// mode, sidecar files whose object is gone or was replaced. It removes only
// leftovers last modified before the given time, so that writes in
// progress, in this process or another sharing the root, are not disturbed:
// pass a time well in the past, such as time.Now().Add(-time.Hour).
// Directories its removals leave empty are removed too. It returns how many
// files it removed.
//
// Leftovers never show in Get, Stat or List, so Sweep is only about disk
// space; New does not call it, because it walks the whole tree.
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	const op = "sweep"
	if err := s.CheckOpen(ctx, op); err != nil {
		return 0, err
	}
	n, err := s.d.sweep(ctx, before)
	return n, s.Wrap(op, "", err)
}

// sweep is Sweep, on the driver's side.
func (s *fileStore) sweep(ctx context.Context, before time.Time) (int, error) {
	if err := s.begin(); err != nil {
		return 0, err
	}
	defer s.end()
	removed := 0
	err := s.walk(ctx, ".", func(dir string, e fs.DirEntry) error {
		if dir == "." && e.Name() == metaDir {
			return fs.SkipDir
		}
		if e.IsDir() || !isTemp(e.Name()) {
			return nil
		}
		if fi, err := e.Info(); err != nil || !fi.ModTime().Before(before) {
			return nil
		}
		name := joinRel(dir, e.Name())
		if err := s.root.Remove(filepath.FromSlash(name)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		s.log.Info("swept temporary file", "path", name)
		removed++
		s.removeEmptyDirs(dir, ".")
		return nil
	})
	if err == nil {
		err = s.walk(ctx, metaDir, func(dir string, e fs.DirEntry) error {
			if e.IsDir() || !strings.HasPrefix(e.Name(), sidePrefix) {
				return nil
			}
			ok, err := s.sweepSidecar(dir, e, before)
			if ok {
				removed++
			}
			return err
		})
	}
	return removed, err
}

// sweepSidecar removes the sidecar file e in dir (under the sidecar tree)
// when it is older than before and the object it was written for is gone.
func (s *fileStore) sweepSidecar(dir string, e fs.DirEntry, before time.Time) (bool, error) {
	ino, err := strconv.ParseUint(strings.TrimPrefix(e.Name(), sidePrefix), 10, 64)
	if err != nil {
		return false, nil
	}
	if fi, err := e.Info(); err != nil || !fi.ModTime().Before(before) {
		return false, nil
	}
	p := strings.TrimPrefix(dir, metaDir+"/")
	key, ok := pathKey(p)
	if !ok || dir == metaDir {
		key = ""
	}
	unlock := s.lock(key)
	defer unlock()
	if fi, err := s.root.Lstat(filepath.FromSlash(p)); err == nil && fi.Mode().IsRegular() && fileID(fi) == ino {
		return false, nil // current
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return false, err
	}
	name := joinRel(dir, e.Name())
	if err := s.root.Remove(filepath.FromSlash(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	s.log.Info("swept orphaned sidecar", "path", name)
	s.removeEmptyDirs(dir, metaDir)
	return true, nil
}

// walk calls fn for every entry under the directory top (relative to the
// root), depth first, without following symbolic links. fn may return
// fs.SkipDir for a directory entry to skip it. A missing top is empty.
func (s *fileStore) walk(ctx context.Context, top string, fn func(dir string, e fs.DirEntry) error) error {
	stack := []string{top}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		d, err := s.root.Open(filepath.FromSlash(dir))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return err
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			err := fn(dir, e)
			if errors.Is(err, fs.SkipDir) {
				continue
			}
			if err != nil {
				return err
			}
			if e.IsDir() {
				stack = append(stack, joinRel(dir, e.Name()))
			}
		}
	}
	return nil
}
