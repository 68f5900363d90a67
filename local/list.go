package local

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/strata-storage/strata/storage"
)

// List implements driver.Driver: it yields the objects whose keys start
// with opts.Prefix and sort after opts.StartAfter, in byte-wise lexical key
// order.
//
// Key order is not the order of a depth-first walk ("a.b" < "a/b" < "a0",
// because "/" sorts between "." and "0"), so List walks best-first: it
// keeps the directories it has not yet opened in a heap, keyed by the
// smallest key they can hold, and opens one only when that key comes up.
// It holds the names of one directory at a time plus those of the
// directories on the way down, never the whole tree. Directories that
// cannot hold a key in range are not opened.
//
// List yields regular files only: temporary files, symbolic links,
// directories and names that are not valid keys are skipped, and it does
// not descend into symbolic links. The Info of each object is that of
// Stat, so it opens each file it yields to read its metadata.
//
// With opts.Delimiter ("/"; the Provider has checked it) List reads one
// directory, the one the prefix names: its files are yielded as above,
// and each subdirectory whose name continues the prefix is the common
// prefix "<dir>/<name>/", yielded in its place in the key order without
// the walk going into it. A subdirectory is a common prefix only when it
// holds a key, as on a bucket: an empty one, or one that holds only
// temporary files, sidecars, symbolic links or names that are no keys, is
// not listed. To tell, List reads the subdirectory only until it finds a
// file that is a key (one batch of names in a tree that holds files at
// each level), going deeper only through subdirectories without one.
func (s *fileStore) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	prefix, after := opts.Prefix, opts.StartAfter
	delim := opts.Delimiter != ""
	return func(yield func(storage.Info, error) bool) {
		l := &lister{s: s, ctx: ctx, prefix: prefix, after: after, delim: delim}
		defer l.closeAll()
		if err := l.start(); err != nil {
			yield(storage.Info{}, err)
			return
		}
		for l.h.Len() > 0 {
			n := heap.Pop(&l.h).(node)
			if n.bound > prefix && !strings.HasPrefix(n.bound, prefix) {
				l.release(n.dir)
				return // everything left sorts after the prefix
			}
			if err := ctx.Err(); err != nil {
				l.release(n.dir)
				yield(storage.Info{}, err)
				return
			}
			switch n.kind {
			case kindDir:
				if err := l.expand(n); err != nil {
					yield(storage.Info{}, err)
					return
				}
				continue
			case kindPrefix:
				ok, err := l.holdsKey(n)
				l.release(n.dir)
				if err != nil {
					yield(storage.Info{}, err)
					return
				}
				if ok && !yield(storage.Info{Key: n.bound, IsPrefix: true}, nil) {
					return
				}
				continue
			}
			info, ok, err := l.stat(n)
			l.release(n.dir)
			if err != nil {
				yield(storage.Info{}, err)
				return
			}
			if ok && !yield(info, nil) {
				return
			}
		}
	}
}

// node is an entry of the walk: a file holding one key, a directory
// holding keys that all start with its bound, or (in a listing with a
// delimiter) a directory to be yielded as the common prefix bound.
type node struct {
	// bound is the key of a file, or for a directory the prefix ("a/b/")
	// every key in it starts with and is longer than.
	bound string
	rel   string // path relative to the root
	kind  nodeKind
	// dir is the open directory the entry is in, when it is still open:
	// the entry is then opened relative to it, with one openat(2),
	// rather than by its path from the root.
	dir *dirHandle
}

// dirHandle is a directory of the walk kept open while entries of it wait
// in the heap; refs counts them.
type dirHandle struct {
	f    *os.File
	refs int
}

// release drops one reference to d, closing it with the last.
func (l *lister) release(d *dirHandle) {
	if d == nil {
		return
	}
	if d.refs--; d.refs == 0 {
		d.f.Close()
	}
}

// closeAll closes the directories still open when the walk ends early.
func (l *lister) closeAll() {
	for _, n := range l.h {
		l.release(n.dir)
	}
	l.h = nil
}

// gone reports whether err, from opening an entry the walk found, means
// it has been removed or replaced by something not to list (a symbolic
// link, or a file where a directory was).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)
}

// baseName returns the last element of the relative path rel.
func baseName(rel string) string {
	return rel[strings.LastIndexByte(rel, '/')+1:]
}

// nodeKind tells what a node of the walk is.
type nodeKind uint8

const (
	kindFile   nodeKind = iota // a file: the object bound
	kindDir                    // a directory to read
	kindPrefix                 // a directory to yield as the common prefix bound
)

// nodeHeap orders nodes by bound, files before directories of the same
// bound (a file "k" sorts before every longer key starting with "k"). A
// common prefix ends in "/", which no key does, so it never shares its
// bound with a file; and a listing with a delimiter reads one directory
// only, so it never shares it with a directory either.
type nodeHeap []node

func (h nodeHeap) Len() int { return len(h) }
func (h nodeHeap) Less(i, j int) bool {
	if h[i].bound != h[j].bound {
		return h[i].bound < h[j].bound
	}
	return h[i].kind == kindFile && h[j].kind != kindFile
}
func (h nodeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)   { *h = append(*h, x.(node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	*h = old[:len(old)-1]
	return n
}

type lister struct {
	s             *fileStore
	ctx           context.Context
	prefix, after string
	delim         bool // a listing with Delimiter "/": one directory
	h             nodeHeap
}

// start pushes the deepest directory that every key with the prefix lies
// in.
func (l *lister) start() error {
	i := strings.LastIndex(l.prefix, "/")
	if i < 0 {
		heap.Push(&l.h, node{bound: "", rel: ".", kind: kindDir})
		return nil
	}
	dirKey := l.prefix[:i]
	rel := keyPath(dirKey)
	if rel == "" {
		return nil // no valid key starts with this prefix
	}
	// Walk down without following symbolic links, as expand does.
	for j := 0; j <= len(rel); j++ {
		if j < len(rel) && rel[j] != '/' {
			continue
		}
		fi, err := l.s.root.Lstat(filepath.FromSlash(rel[:j]))
		if err != nil || !fi.IsDir() {
			if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil
			}
			return err
		}
	}
	heap.Push(&l.h, node{bound: dirKey + "/", rel: rel, kind: kindDir})
	return nil
}

// wanted reports whether a directory whose keys all start with bound can
// hold a key in range.
func (l *lister) wanted(bound string) bool {
	if !strings.HasPrefix(bound, l.prefix) && !strings.HasPrefix(l.prefix, bound) {
		return false
	}
	return bound >= l.after || strings.HasPrefix(l.after, bound)
}

// expand reads the directory n and pushes its entries.
func (l *lister) expand(n node) error {
	s := l.s
	if err := s.begin(); err != nil {
		l.release(n.dir)
		return err
	}
	defer s.end()
	d, err := l.openDir(n)
	l.release(n.dir)
	if err != nil {
		if gone(err) {
			return nil // removed since it was pushed
		}
		return err
	}
	entries, err := d.ReadDir(-1)
	s.readDir(n.rel, len(entries))
	if err != nil {
		d.Close()
		return err
	}
	h := &dirHandle{f: d}
	push := func(nn node) {
		nn.dir = h
		h.refs++
		heap.Push(&l.h, nn)
	}
	defer func() {
		if h.refs == 0 {
			d.Close()
		}
	}()
	// Keys under n start with n.bound; files in it add their name to it.
	for _, e := range entries {
		name := e.Name()
		rel := joinRel(n.rel, name)
		switch {
		case e.Type().IsRegular():
			if !validSegment(name) {
				continue // a temporary file, or a name that is no key
			}
			key := n.bound + name
			if !strings.HasPrefix(key, l.prefix) || key <= l.after || storage.ValidKey(key) != nil {
				continue
			}
			push(node{bound: key, rel: rel, kind: kindFile})
		case e.IsDir():
			if !validSegment(name) {
				continue // the sidecar tree, or a name that is no key
			}
			bound := n.bound + name + "/"
			switch {
			case l.delim:
				// n is the directory of the prefix, so bound is a
				// common prefix when it starts with the prefix.
				if strings.HasPrefix(bound, l.prefix) && bound > l.after {
					push(node{bound: bound, rel: rel, kind: kindPrefix})
				}
			case l.wanted(bound):
				push(node{bound: bound, rel: rel, kind: kindDir})
			}
		}
	}
	return nil
}

// openDir opens the directory n, relative to the directory it is in when
// that is open, without following a symbolic link put in its place.
func (l *lister) openDir(n node) (*os.File, error) {
	if n.dir != nil {
		if f, ok, err := openDirEntry(n.dir.f, baseName(n.rel)); ok {
			return f, err
		}
	}
	return l.s.root.Open(filepath.FromSlash(n.rel))
}

// statFile returns the Info of the file n as Stat does, relative to the
// directory it is in when that is open.
func (l *lister) statFile(n node) (storage.Info, error) {
	if n.dir != nil {
		unlock := l.s.rlock(n.bound)
		info, ok, err := l.s.statEntry(n.dir.f, baseName(n.rel), n.bound, n.rel)
		unlock()
		if ok {
			return info, err
		}
	}
	f, info, err := l.s.openObject(n.bound, n.rel)
	if err == nil {
		f.Close()
	}
	return info, err
}

// stat returns the Info of the file n, and false when it is gone or is no
// longer a regular file.
func (l *lister) stat(n node) (storage.Info, bool, error) {
	s := l.s
	if err := s.begin(); err != nil {
		return storage.Info{}, false, err
	}
	defer s.end()
	info, err := l.statFile(n)
	if err == nil {
		return info, true, nil
	}
	if gone(err) {
		return storage.Info{}, false, nil
	}
	if errors.Is(err, fs.ErrPermission) {
		// It is there but this process may not read it: list what lstat
		// tells, and let Get report the refusal.
		if fi, lerr := s.root.Lstat(filepath.FromSlash(n.rel)); lerr == nil && fi.Mode().IsRegular() {
			return storage.Info{Key: n.bound, Size: fi.Size(), ModTime: fi.ModTime(), ETag: plainETag(fi)}, true, nil
		}
	}
	// The error of one object names it.
	return storage.Info{}, false, s.p.Wrap("list", n.bound, err)
}

// probeBatch is how many names holdsKey reads from a directory at a time.
const probeBatch = 16

// holdsKey reports whether the directory n, a common prefix of a listing
// with a delimiter, holds at any depth a file that a listing without one
// would yield: a regular file whose path below the root is a valid key.
// It stops at the first such file. An error (a subdirectory this process
// may not read) names the common prefix.
func (l *lister) holdsKey(n node) (bool, error) {
	s := l.s
	if err := s.begin(); err != nil {
		return false, err
	}
	defer s.end()
	d, err := l.openDir(n)
	if err != nil {
		if gone(err) {
			return false, nil // removed since it was read
		}
		return false, s.p.Wrap("list", n.bound, err)
	}
	defer d.Close()
	ok, err := l.anyKey(d, n.bound, n.rel)
	return ok, s.p.Wrap("list", n.bound, err)
}

// anyKey reports whether the open directory d, at relative path rel,
// whose keys start with bound, holds a key: it reads d a batch of names at
// a time and answers as soon as a batch holds a file that is a key,
// looking into the subdirectories of a batch without one, depth first.
func (l *lister) anyKey(d *os.File, bound, rel string) (bool, error) {
	for {
		if err := l.ctx.Err(); err != nil {
			return false, err
		}
		entries, err := d.ReadDir(probeBatch)
		l.s.readDir(rel, len(entries))
		for _, e := range entries {
			if name := e.Name(); e.Type().IsRegular() && validSegment(name) && storage.ValidKey(bound+name) == nil {
				return true, nil
			}
		}
		for _, e := range entries {
			name := e.Name()
			sub := bound + name + "/"
			if !e.IsDir() || !validSegment(name) || len(sub) >= storage.MaxKeyLen {
				continue // no key can lie under it
			}
			ok, err := l.anySubKey(d, name, sub, joinRel(rel, name))
			if ok || err != nil {
				return ok, err
			}
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// anySubKey is anyKey for the subdirectory name of the open directory d.
func (l *lister) anySubKey(d *os.File, name, bound, rel string) (bool, error) {
	f, ok, err := openDirEntry(d, name)
	if !ok {
		f, err = l.s.root.Open(filepath.FromSlash(rel))
	}
	if err != nil {
		if gone(err) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	return l.anyKey(f, bound, rel)
}
