package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/strata-storage/strata/storage"
)

// cacheEntries are what cache.Open makes in its directory (see the cache
// package's doc, "On disk"): its lock file and its folders.
var cacheEntries = map[string]bool{"lock": true, "index": true, "objects": true, "pinned": true, "tmp": true, "state": true}

// checkDataDir refuses a -data directory laid out for the other mode,
// before anything is written to it:
//
//   - With -remote, -data becomes the tiered store's disk cache, and a
//     cache serves only what it indexed: files stored there by a
//     local-only server would all answer 404 and the cache's folders
//     would be written among them. Any regular file that is not the
//     cache's own (its lock file and what lies under its folders) means
//     such a tree, and the answer is strata migrate to the remote first.
//   - Without -remote, -data is served as it is, so a cache directory
//     (its lock file beside its index/ and objects/ folders) would serve
//     the cache's internal files and none of the objects.
//
// A missing or empty directory suits either.
func checkDataDir(dir, remote string) error {
	if remote == "" {
		if isCacheDir(dir) {
			return fmt.Errorf("-data %q is the disk cache of a tiered store (it holds lock, index/ and objects/): start with the -remote it caches, or give a local-only store another -data directory", dir)
		}
		return nil
	}
	file, err := mediaFile(dir)
	if err != nil {
		return fmt.Errorf("checking -data %q: %w", dir, err)
	}
	if file != "" {
		return fmt.Errorf("-data %q holds the files of a local-only store (such as %q): with -remote it would become a cache that hides them (404) and writes its own folders among them. "+
			"Copy them to the remote first, with strata migrate %q %q (--delete removes the local copies once verified), then give -remote an empty -data directory",
			dir, file, dir, storage.RedactString(remote))
	}
	return nil
}

// isCacheDir reports whether dir holds a disk cache: a regular file named
// lock beside index/ and objects/ directories.
func isCacheDir(dir string) bool {
	lock, err := os.Lstat(filepath.Join(dir, "lock"))
	if err != nil || !lock.Mode().IsRegular() {
		return false
	}
	for _, d := range []string{"index", "objects"} {
		if fi, err := os.Lstat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// mediaFile returns the path, relative to dir, of the first regular file
// under dir that is not the disk cache's own, or "" when there is none. It
// stops at the first one, so a big tree costs no more than a small one.
func mediaFile(dir string) (string, error) {
	errFound := errors.New("found")
	found := ""
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		if filepath.Dir(rel) == "." && cacheEntries[rel] {
			if d.IsDir() {
				return fs.SkipDir // the cache's own
			}
			if rel == "lock" && d.Type().IsRegular() {
				return nil
			}
		}
		if d.Type().IsRegular() || d.Type()&fs.ModeSymlink != 0 {
			found = filepath.ToSlash(rel)
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return found, nil
	}
	return "", err
}
