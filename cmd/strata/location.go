package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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

// sameOrNested reports whether two locations are the same store, or local
// directories one inside the other, which a migration must refuse: it
// would read what it writes.
func sameOrNested(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a == b
	}
	if strings.EqualFold(ua.Scheme, "file") && strings.EqualFold(ub.Scheme, "file") {
		pa, pb := filepath.Clean(ua.Path), filepath.Clean(ub.Path)
		return pa == pb || within(pa, pb) || within(pb, pa)
	}
	return storage.Redact(ua) == storage.Redact(ub)
}

// within reports whether path p is inside directory dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}
