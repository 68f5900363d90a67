package local

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// Names on disk.
//
// A key is stored at the path it spells: storage.ValidKey keeps its
// segments to storage.MaxSegmentLen bytes, which every file system takes as
// a name. A key segment never contains a backslash (storage.ValidKey
// refuses it), so every name strata makes for itself contains one, and no
// key can ever name it:
//
//   - ".strata-tmp\<random>" is a temporary file of a Put in progress.
//   - ".strata\meta" at the top of the root holds sidecar metadata when the
//     file system has no extended attributes.
//   - "\<inode>" inside the sidecar tree is one sidecar file.
const (
	tempPrefix = `.strata-tmp\`
	metaDir    = `.strata\meta`
	sidePrefix = `\`
)

// keyPath maps a valid key to its path relative to the root, with "/" as
// separator. It returns "" when the key is invalid. The path always stays
// under the root: filepath.IsLocal holds for it.
func keyPath(key string) string {
	if storage.ValidKey(key) != nil {
		return ""
	}
	if !filepath.IsLocal(filepath.FromSlash(key)) {
		// Cannot happen for a key ValidKey accepts; refuse rather than trust.
		return ""
	}
	return key
}

// pathKey is the inverse of keyPath: it maps a path relative to the root to
// the key stored there, and reports false when no valid key is stored at
// that path (a temporary file, a name that is not a key).
func pathKey(p string) (string, bool) {
	if keyPath(p) != p {
		return "", false
	}
	return p, true
}

// validSegment reports whether name can be a segment of a valid key.
func validSegment(name string) bool {
	return name != "" && !strings.Contains(name, "/") && storage.ValidKey(name) == nil
}

// isTemp reports whether name is a temporary file of a Put.
func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// splitDir splits a slash-separated relative path into its directory ("."
// at the top) and its last component.
func splitDir(p string) (dir, base string) {
	dir, base = path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	return dir, base
}

// joinRel joins relative slash-separated paths, treating "." as the root.
func joinRel(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// sidecarDir is where the sidecar files of the object at relative path p
// live.
func sidecarDir(p string) string { return metaDir + "/" + p }
