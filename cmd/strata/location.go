package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// locationURL turns a command-line location into a URL for storage.Open:
// a URL is kept as it is; an argument with no colon at all (/srv/media,
// ./media, media) is a local directory and becomes a file:// URL of its
// absolute path.
func locationURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("empty location; want a URL such as file:///srv/media or s3://bucket")
	}
	if strings.Contains(raw, ":") {
		return raw, nil
	}
	abs, err := filepath.Abs(raw)
	if err != nil {
		return "", fmt.Errorf("location %q: %w", raw, err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// openLocation opens the store a command-line location names. Its error
// names the location with secrets redacted.
func openLocation(ctx context.Context, raw string) (storage.Provider, error) {
	u, err := locationURL(raw)
	if err != nil {
		return nil, err
	}
	p, err := storage.Open(ctx, u)
	if err != nil {
		msg := err.Error()
		shown := storage.RedactString(u)
		if strings.Contains(msg, shown) {
			return nil, err
		}
		return nil, fmt.Errorf("open %s: %w", shown, err)
	}
	return p, nil
}

// openExisting opens a location that must already exist, such as the
// source of a migration or the store a command reads: a local directory
// that does not exist is an error naming it, where storage.Open would
// create it (a typo in a path must not read as an empty store). Other
// schemes are opened as openLocation does; a bucket that does not exist
// fails at the first request.
func openExisting(ctx context.Context, raw string) (storage.Provider, error) {
	u, err := locationURL(raw)
	if err != nil {
		return nil, err
	}
	if err := mustExist(u); err != nil {
		return nil, err
	}
	return openLocation(ctx, u)
}

// mustExist returns an error when rawURL names a local directory that
// does not exist (a dangling symbolic link included); nil otherwise,
// leaving any other problem to the driver's open.
func mustExist(rawURL string) error {
	dir, ok := localDir(rawURL)
	if !ok {
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory %q does not exist", dir)
	}
	return nil
}

// localDir returns the absolute path of the directory a file URL names
// (file:///srv/media, file://localhost/srv/media, file:media), and false
// for any other URL, including a file URL the local driver refuses.
func localDir(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || !strings.EqualFold(u.Scheme, "file") || u.User != nil || u.Fragment != "" {
		return "", false
	}
	var p string
	switch {
	case u.Opaque != "":
		if p, err = url.PathUnescape(u.Opaque); err != nil {
			return "", false
		}
	case u.Host == "" || strings.EqualFold(u.Host, "localhost"):
		p = u.Path
	default:
		return "", false
	}
	if p == "" {
		return "", false
	}
	abs, err := filepath.Abs(filepath.FromSlash(p))
	return abs, err == nil
}

// resolveLinks returns path with its symbolic links resolved: those of its
// longest existing ancestor, the rest, not yet created, appended as it is.
func resolveLinks(path string) string {
	rest := ""
	for p := path; ; {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// sameOrNested reports whether two locations are the same store, or local
// directories one inside the other, which a migration must refuse: it
// would read what it writes. Symbolic links in the paths are resolved
// first, so a directory reached through a link is caught too.
func sameOrNested(a, b string) bool {
	if pa, ok := localDir(a); ok {
		if pb, ok := localDir(b); ok {
			pa, pb = resolveLinks(pa), resolveLinks(pb)
			return pa == pb || within(pa, pb) || within(pb, pa)
		}
	}
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return storage.Redact(ua) == storage.Redact(ub)
}

// within reports whether path p is inside directory dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}
