package stratablob

import (
	"context"
	"strings"

	"gocloud.dev/blob/driver"

	"github.com/strata-storage/strata/storage"
)

// defaultPageSize is the page size of a listing that asks for none.
const defaultPageSize = 1000

// A page token is the strata key (or common prefix) of the last entry of
// the page, then a NUL (which no strata key holds), then the last
// "directory" of a listing by a delimiter other than "/", whose keys the
// next page skips.

func encodeToken(after, dir string) []byte {
	return []byte(after + "\x00" + dir)
}

func decodeToken(tok []byte) (after, dir string) {
	after, dir, _ = strings.Cut(string(tok), "\x00")
	return after, dir
}

// emitFunc takes one entry of a page, with the strata key or prefix it
// comes from and the last "directory" of a folding listing; it reports
// false when the page is full.
type emitFunc func(obj *driver.ListObject, pos, dir string) bool

// ListPaged implements driver.Bucket.
//
// Without a delimiter it is one strata listing. With "/" it is one
// delimiter listing of the provider (which does the folding itself, on
// the server for S3, MinIO and B2), plus one for each segment longer than
// strata allows that a key there holds. With any other delimiter it is one
// listing of every key under the prefix, folded here.
func (b *bucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	pageSize := opts.PageSize
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	after, lastDir := decodeToken(opts.PageToken)
	lo := &storage.ListOptions{Prefix: escapePrefix(opts.Prefix)}
	if opts.BeforeList != nil {
		err := opts.BeforeList(func(i any) bool {
			p, ok := i.(**storage.ListOptions)
			if ok && p != nil {
				*p = lo
			}
			return ok && p != nil
		})
		if err != nil {
			return nil, err
		}
	}
	page := &driver.ListPage{}
	var pos string
	more := false
	emit := func(obj *driver.ListObject, p, dir string) bool {
		if len(page.Objects) == pageSize {
			more = true
			return false
		}
		page.Objects = append(page.Objects, obj)
		pos, lastDir = p, dir
		return true
	}
	var err error
	if opts.Delimiter == "/" {
		_, err = b.listLevel(ctx, *lo, lo.Prefix, after, opts.Prefix, emit)
	} else {
		err = b.listFlat(ctx, *lo, after, lastDir, opts.Prefix, opts.Delimiter, emit)
	}
	if err != nil {
		return nil, err
	}
	if more {
		page.NextPageToken = encodeToken(pos, lastDir)
	}
	return page, nil
}

func listObject(key string, info storage.Info) *driver.ListObject {
	return &driver.ListObject{Key: key, ModTime: info.ModTime, Size: info.Size, AsFunc: infoAs(info)}
}

func listDir(key string, info storage.Info) *driver.ListObject {
	return &driver.ListObject{Key: key, IsDir: true, AsFunc: infoAs(info)}
}

// listFlat lists every key under base.Prefix after after, keeps those
// whose gocloud key starts with prefix and, when delim is not "", folds
// those with delim after prefix into their "directory" (skipping those of
// lastDir, the directory the previous page ended with).
func (b *bucket) listFlat(ctx context.Context, base storage.ListOptions, after, lastDir, prefix, delim string, emit emitFunc) error {
	lo := base
	lo.StartAfter = after
	lo.Delimiter = ""
	for info, err := range b.p.List(ctx, &lo) {
		if err != nil {
			return err
		}
		k := unescapeKey(info.Key)
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				dir := k[:len(prefix)+i+len(delim)]
				if dir == lastDir {
					continue
				}
				lastDir = dir
				if !emit(listDir(dir, storage.Info{Key: info.Key, IsPrefix: true}), info.Key, dir) {
					return nil
				}
				continue
			}
		}
		if !emit(listObject(k, info), info.Key, lastDir) {
			return nil
		}
	}
	return nil
}

// listLevel lists one level of the tree by "/" under the strata prefix np,
// after after, keeping the entries whose gocloud key starts with prefix.
// A common prefix that is a piece of a long segment is listed in its
// place. It reports false when emit stopped it.
func (b *bucket) listLevel(ctx context.Context, base storage.ListOptions, np, after, prefix string, emit emitFunc) (bool, error) {
	startAfter := after
	if after != "" && strings.HasPrefix(after, np) {
		// A page that ended within the pieces of a long segment: finish
		// them first, then go on after them.
		rest := after[len(np):]
		if i := strings.IndexByte(rest, '/'); i >= 0 && isContinued(np+rest[:i+1]) {
			g := np + rest[:i+1]
			if ok, err := b.listLevel(ctx, base, g, after, prefix, emit); !ok || err != nil {
				return ok, err
			}
			startAfter = g
		}
	}
	lo := base
	lo.Prefix = np
	lo.StartAfter = startAfter
	lo.Delimiter = "/"
	lastDir := ""
	skip := "" // a common prefix done with, whose keys a provider that does not fold yields
	for info, err := range b.p.List(ctx, &lo) {
		if err != nil {
			return false, err
		}
		if skip != "" && strings.HasPrefix(info.Key, skip) {
			continue
		}
		if !info.IsPrefix && strings.HasPrefix(info.Key, np) {
			// A provider that does not fold by Delimiter (see
			// storage.ListOptions) yields the keys themselves.
			if i := strings.IndexByte(info.Key[len(np):], '/'); i >= 0 {
				info = storage.Info{Key: info.Key[:len(np)+i+1], IsPrefix: true}
			}
		}
		if info.IsPrefix {
			skip = info.Key
			if info.Key <= startAfter {
				continue
			}
			if isContinued(info.Key) {
				if ok, err := b.listLevel(ctx, base, info.Key, "", prefix, emit); !ok || err != nil {
					return ok, err
				}
				continue
			}
		}
		k := unescapeKey(info.Key)
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		var obj *driver.ListObject
		if i := strings.IndexByte(k[len(prefix):], '/'); i >= 0 {
			// A common prefix, or a key that no gocloud key escapes to
			// but whose unescaped form holds a "/" (such as "a%2Fb").
			dir := k[:len(prefix)+i+1]
			if dir == lastDir {
				continue
			}
			lastDir = dir
			obj = listDir(dir, info)
		} else {
			obj = listObject(k, info)
		}
		if !emit(obj, info.Key, "") {
			return false, nil
		}
	}
	return true, nil
}
