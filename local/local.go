package local

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// ProviderName is the Provider field of the errors this package returns.
const ProviderName = "local"

// Default modes of the files and directories a Store creates.
const (
	DefaultFileMode fs.FileMode = 0o640
	DefaultDirMode  fs.FileMode = 0o750
)

// MetadataMode says where a Store keeps the content type, user metadata and
// SHA-256 of the objects it writes.
type MetadataMode int

const (
	// MetadataAuto uses sidecar files when the root already holds a sidecar
	// tree, extended attributes when the file system takes them, and
	// sidecar files otherwise. Whether the file system takes them is found
	// out by the first Put, on its own temporary file, so New writes
	// nothing and a read-only tree can be opened.
	MetadataAuto MetadataMode = iota
	// MetadataXattr keeps metadata in the extended attribute
	// "user.strata" of each file (Linux only). New fails with an error
	// matching storage.ErrUnsupported when the file system lacks user
	// extended attributes; to find out it sets the attribute on a scratch
	// file it removes again. When the root is read-only and the scratch
	// file cannot be made, New succeeds, and a Put on a file system
	// without them fails with storage.ErrUnsupported.
	MetadataXattr
	// MetadataSidecar keeps metadata in sidecar files under the directory
	// ".strata\meta" at the top of the root.
	MetadataSidecar
)

// String returns "auto", "xattr" or "sidecar".
func (m MetadataMode) String() string {
	switch m {
	case MetadataAuto:
		return "auto"
	case MetadataXattr:
		return "xattr"
	case MetadataSidecar:
		return "sidecar"
	}
	return fmt.Sprintf("MetadataMode(%d)", int(m))
}

// Options configure a Store. The zero value, and a nil *Options, mean the
// defaults.
type Options struct {
	// FileMode is the permission of the files the Store writes. Zero means
	// DefaultFileMode (0640). It is set with chmod, so the umask does not
	// change it. It must let the owner read.
	FileMode fs.FileMode
	// DirMode is the permission of the directories the Store creates,
	// the root included when New creates it. Zero means DefaultDirMode
	// (0750). It must let the owner read, write and search (0700).
	DirMode fs.FileMode
	// Logger receives what the Store has to say besides its errors: files
	// it could not clean up, metadata it ignored, what Sweep removed. Nil
	// discards it.
	Logger *slog.Logger
	// Metadata says where metadata is kept; see MetadataMode.
	Metadata MetadataMode
	// NoSync skips every fsync. Put stays atomic for readers (they still
	// see the old object or the whole new one), but an object Put
	// acknowledged may be lost or empty after a power failure. Meant for
	// tests and scratch caches.
	NoSync bool
}

// Store is a storage.Provider that keeps each object as a file under a root
// directory. It is safe for concurrent use. See the package documentation
// for the layout on disk.
//
// Store is a [driver.Provider] over this package's driver, the protocol of
// files under a root: the closed and context checks of every call, the
// validation of keys and options, the errors and the size check of Put come
// from package driver. Get hands out the driver's readers as they are (see
// the package documentation, section Reading). Close waits for the Puts,
// Deletes, Copies and Sweeps in progress, then releases the root directory;
// readers returned by Get before Close keep working until they are closed.
type Store struct {
	*base
	d *fileStore
}

// base is the embedded shared layer; the alias keeps the field unexported.
type base = driver.Provider

// fileStore is the driver: the protocol of objects as files under a root.
type fileStore struct {
	p        *driver.Provider // for Closed
	root     *os.Root
	dir      string
	fileMode fs.FileMode
	dirMode  fs.FileMode
	log      *slog.Logger
	sync     bool
	mode     MetadataMode // as asked for
	escape   error
	fast     *fastOpen // one-call opens beneath the root, where the system has them

	// meta is where metadata is kept: metaXattr or metaSidecar, or
	// metaUndecided until the first Put of a Store in MetadataAuto mode
	// finds out whether the file system takes extended attributes. It
	// changes at most once, from metaUndecided.
	meta atomic.Int32

	// recs keeps the records read from extended attributes.
	recs recordCache

	// locks serialise, per key, the writers and readers of sidecar files
	// within this process (sidecar mode, and until the mode is decided).
	locks [64]sync.RWMutex
	seed  maphash.Seed

	// ops counts the calls using the root, which Close waits for. mu
	// orders begin against Close: a begin either adds to ops before Close
	// waits or sees the Provider closed. A call never begins twice.
	mu  sync.RWMutex
	ops sync.WaitGroup

	// createdRoot tells that New created the root directory (see
	// CreateBucket).
	createdRoot bool

	// onReadDir, when set (by tests, before the first call), is told of
	// each read of a directory by List: its relative path and the number
	// of names read.
	onReadDir func(rel string, names int)
}

// readDir tells onReadDir, when set, that List read names names of the
// directory rel.
func (s *fileStore) readDir(rel string, names int) {
	if s.onReadDir != nil {
		s.onReadDir(rel, names)
	}
}

var (
	_ storage.Provider = (*Store)(nil)
	_ storage.Copier   = (*Store)(nil)
)

// errNoXattr stands for "no extended attributes here".
var errNoXattr = errors.New("user extended attributes are not supported")

// Values of Store.meta.
const (
	metaXattr int32 = iota
	metaSidecar
	metaUndecided
)

// New returns a Store keeping its objects under the directory root, which
// it creates (with the parents it lacks) when it is missing. Files already
// under root are objects of the Store as they are. opts may be nil.
//
// New writes nothing to a root that exists (except with MetadataXattr,
// which probes the file system with a scratch file when it can), so a
// read-only tree, such as a media store mounted read-only to migrate from,
// opens and serves Get, Stat and List; Put and Copy on it, and Delete of
// an object there, fail with storage.ErrPermission.
//
// Errors match storage.ErrInvalidArgument for bad options or a root that
// is not a directory, storage.ErrPermission when a missing root cannot be
// created or the root cannot be opened for lack of permission (the
// messages of these name the root), and storage.ErrUnsupported when
// MetadataXattr is asked for on a file system without user extended
// attributes.
func New(root string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.FileMode == 0 {
		o.FileMode = DefaultFileMode
	}
	if o.DirMode == 0 {
		o.DirMode = DefaultDirMode
	}
	bad := func(format string, args ...any) error {
		return openError(storage.ErrInvalidArgument, fmt.Errorf(format, args...))
	}
	switch {
	case root == "":
		return nil, bad("empty root directory")
	case o.FileMode&^fs.ModePerm != 0 || o.FileMode&0o400 == 0:
		return nil, bad("file mode %#o: want permission bits that let the owner read", uint32(o.FileMode))
	case o.DirMode&^fs.ModePerm != 0 || o.DirMode&0o700 != 0o700:
		return nil, bad("directory mode %#o: want permission bits that include 0700", uint32(o.DirMode))
	case o.Metadata < MetadataAuto || o.Metadata > MetadataSidecar:
		return nil, bad("unknown metadata mode %d", int(o.Metadata))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, openError(storage.ErrInvalidArgument, err)
	}
	r, created, err := openRoot(abs, o.DirMode)
	if err != nil {
		return nil, err
	}
	s := &fileStore{
		root:     r,
		dir:      abs,
		fileMode: o.FileMode,
		dirMode:  o.DirMode,
		log:      o.Logger.With("provider", ProviderName, "root", abs),
		sync:     !o.NoSync,
		mode:     o.Metadata,
		seed:     maphash.MakeSeed(),
		fast:     newFastOpen(r),
	}
	s.createdRoot = created
	// os.Root reports a path leading out of the root with an error value
	// of its own that is not exported; learn it from the root itself.
	if _, err := r.Lstat(".."); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			s.escape = pe.Err
		}
	}
	switch o.Metadata {
	case MetadataSidecar:
		s.meta.Store(metaSidecar)
	case MetadataXattr:
		s.meta.Store(metaXattr)
		if err := s.probeXattr(); xattrUnsupported(err) {
			r.Close()
			return nil, openError(storage.ErrUnsupported, fmt.Errorf("metadata mode xattr: %w", err))
		} else if err != nil {
			s.log.Debug("cannot probe for extended attributes; the first Put will tell", "err", err)
		}
	default:
		if fi, err := r.Lstat(metaDir); err == nil && fi.IsDir() {
			s.meta.Store(metaSidecar)
		} else if !haveXattr {
			s.meta.Store(metaSidecar)
		} else {
			s.meta.Store(metaUndecided)
		}
	}
	s.log.Debug("opened local store", "metadata", s.metaName(), "sync", s.sync)
	// Get's readers read the open file itself and check what they return
	// (the section, the context): handed out as they are, they keep their
	// io.WriterTo, io.Seeker, io.ReaderAt and syscall.Conn. List reads one
	// directory for a listing with a delimiter.
	s.p = driver.New(ProviderName, s, &driver.Options{ReadsChecked: true, Delimiter: true})
	return &Store{base: s.p, d: s}, nil
}

// openRoot opens the root directory abs, first creating it and the parents
// it lacks, with mode dirMode, when it is missing; created tells whether it
// did.
func openRoot(abs string, dirMode fs.FileMode) (r *os.Root, created bool, err error) {
	fail := func(kind error, format string, args ...any) error {
		return openError(kind, fmt.Errorf(format, args...))
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(abs, dirMode); err != nil {
			return nil, false, fail(nil, "root directory %s is missing and cannot be created: %w", abs, err)
		}
		if err := os.Chmod(abs, dirMode); err != nil {
			return nil, false, fail(nil, "set the mode of the new root directory %s: %w", abs, err)
		}
		created = true
	case errors.Is(err, syscall.ENOTDIR):
		return nil, false, fail(storage.ErrInvalidArgument, "root %s: a parent is not a directory: %w", abs, err)
	case err != nil:
		return nil, false, fail(nil, "root directory %s: %w", abs, err)
	case !fi.IsDir():
		return nil, false, fail(storage.ErrInvalidArgument, "root %s is not a directory (it is a %s)", abs, fileKind(fi.Mode()))
	}
	r, err = os.OpenRoot(abs)
	if err != nil {
		return nil, false, fail(nil, "open root directory %s: %w", abs, err)
	}
	return r, created, nil
}

// openError is an error of New or OpenURL, of the given kind, or of the
// kind err means when kind is nil. (Calls on an open Store get theirs from
// the Provider.)
func openError(kind, err error) error {
	if kind == nil {
		kind = kindOf(err, nil)
	}
	return &storage.Error{Op: "open", Provider: ProviderName, Kind: kind, Err: err}
}

// fileKind names the type of a file for error messages.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file that is not a directory"
}

// sidecar reports whether the Store keeps metadata in sidecar files. Until
// the mode is decided it is false: no sidecar file exists yet.
func (s *fileStore) sidecar() bool { return s.meta.Load() == metaSidecar }

// metaName names the metadata mode for logs.
func (s *fileStore) metaName() string {
	switch s.meta.Load() {
	case metaXattr:
		return "xattr"
	case metaSidecar:
		return "sidecar"
	}
	return "auto (decided by the first Put)"
}

// useSidecar records that the file system takes no user extended
// attributes, as the first Put of a MetadataAuto Store found, and reports
// whether the Store now keeps metadata in sidecar files: false when it had
// already settled on extended attributes (another Put set one), in which
// case err, the failure to set one, stands.
func (s *fileStore) useSidecar(err error) bool {
	if s.meta.CompareAndSwap(metaUndecided, metaSidecar) {
		s.log.Info("user extended attributes are not supported here; keeping metadata in sidecar files", "err", err)
		return true
	}
	return s.meta.Load() == metaSidecar
}

// probeXattr sets the record attribute on a scratch file in the root. It
// returns an error that xattrUnsupported recognises when the file system
// does not take user extended attributes. Other failures (a read-only root)
// are returned too, and leave the choice to the caller.
func (s *fileStore) probeXattr() error {
	if !haveXattr {
		return errNoXattr
	}
	name := tempPrefix + "probe-" + randomHex()
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.fileMode)
	if err != nil {
		return err
	}
	defer s.root.Remove(name)
	defer f.Close()
	return setXattr(f, []byte(recordVersion))
}

// Root returns the absolute path of the root directory.
func (s *Store) Root() string { return s.d.dir }

// Close implements driver.Driver: the Provider has marked the Store closed,
// so no call begins any more; Close waits for the calls in progress (Puts,
// Deletes, Copies, Sweeps, the steps of a List) and releases the root
// directory. Readers returned by Get before Close keep working until they
// are closed.
func (s *fileStore) Close() error {
	// Every begin that takes mu after this sees the Provider closed.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops.Wait()
	s.fast.close()
	return s.root.Close()
}

// begin registers a call that uses the root, so that Close waits for it;
// it fails with storage.ErrClosed when the Store is closed. Every begin
// without an error is followed by one end.
func (s *fileStore) begin() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.p.Closed() {
		return storage.ErrClosed
	}
	s.ops.Add(1)
	return nil
}

func (s *fileStore) end() { s.ops.Done() }

// start begins a call on key (see begin) and returns the key's path
// relative to the root. The caller calls end when it returns no error.
func (s *fileStore) start(key string) (string, error) {
	p := keyPath(key)
	if p == "" {
		// Cannot happen after the Provider's check; refuse rather than trust.
		return "", storage.ErrInvalidKey
	}
	if err := s.begin(); err != nil {
		return "", err
	}
	return p, nil
}

// Kind implements driver.Driver: it classifies the errors of the os
// package, and the driver's own.
func (s *fileStore) Kind(op string, err error) error {
	if s.p.Closed() && errors.Is(err, fs.ErrClosed) {
		return storage.ErrClosed
	}
	return kindOf(err, s.escape)
}

// kindOf maps an error of the os package to the sentinel it means. escape
// is the error os.Root gives for a path that leads out of the root.
func kindOf(err error, escape error) error {
	var itw *inTheWay
	var re *readError
	switch {
	case errors.As(err, &re):
		return nil
	case errors.As(err, &itw):
		return storage.ErrExist
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return storage.ErrNotFound
	case escape != nil && errors.Is(err, escape):
		return storage.ErrPermission
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return storage.ErrPermission
	case errors.Is(err, fs.ErrExist):
		return storage.ErrExist
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EFBIG):
		return storage.ErrTooLarge
	}
	return nil
}

// inTheWay is the cause of a Put that cannot store its key because the
// path on disk is taken by something that is not the key's object: a file
// where a directory is needed ("a" is stored and Put asks for "a/b") or a
// directory where the file should go ("a/b" is stored and Put asks for
// "a"). Its kind is storage.ErrExist.
type inTheWay struct {
	what string // the key or key prefix in the way
	dir  bool   // what is a directory
}

func (e *inTheWay) Error() string {
	if e.dir {
		return fmt.Sprintf("%q is a directory of other objects on disk, so it cannot also be an object", e.what)
	}
	return fmt.Sprintf("object %q is a file on disk, so it cannot also hold objects under %q", e.what, e.what+"/")
}

// lock takes the write lock of key's sidecar files; the returned function
// releases it. In xattr mode it does nothing. (Until the mode is decided it
// locks, so that a Put switching to sidecar files cannot race a reader or
// writer that started before.)
func (s *fileStore) lock(key string) func() {
	if s.meta.Load() == metaXattr {
		return func() {}
	}
	l := &s.locks[maphash.String(s.seed, key)%uint64(len(s.locks))]
	l.Lock()
	return l.Unlock
}

// rlock is lock for readers.
func (s *fileStore) rlock(key string) func() {
	if s.meta.Load() == metaXattr {
		return func() {}
	}
	l := &s.locks[maphash.String(s.seed, key)%uint64(len(s.locks))]
	l.RLock()
	return l.RUnlock
}

// randomHex returns 16 random hex digits.
func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// syncDir fsyncs the directory dir (relative to the root), so that entries
// created, renamed or removed in it survive a crash.
func (s *fileStore) syncDir(dir string) error {
	if !s.sync {
		return nil
	}
	d, err := s.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// ensureDir creates the directory dir (relative to the root) and the
// parents it lacks, each with the Store's directory mode, and fsyncs the
// parent of each directory it creates. It returns the topmost directory it
// created, or "" when dir was there. It walks down one directory at a
// time, so a deep key costs steps in proportion to its depth.
func (s *fileStore) ensureDir(dir string) (top string, err error) {
	if dir == "." {
		return "", nil
	}
	if fi, err := s.root.Stat(filepath.FromSlash(dir)); err == nil && fi.IsDir() {
		return "", nil
	}
	cur := s.root
	defer func() {
		if cur != s.root {
			cur.Close()
		}
	}()
	comps := strings.Split(dir, "/")
	for i, comp := range comps {
		err := cur.Mkdir(comp, s.dirMode)
		created := err == nil
		if created {
			if top == "" {
				top = strings.Join(comps[:i+1], "/")
			}
			if err := cur.Chmod(comp, s.dirMode); err != nil {
				return top, err
			}
			if err := s.syncRootDir(cur); err != nil {
				return top, err
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return top, err
		}
		next, err := cur.OpenRoot(comp)
		if err != nil && !created {
			// Not a directory, or a symbolic link that leaves cur: look
			// it up from the top, as every other call does.
			sub := strings.Join(comps[:i+1], "/")
			fi, serr := s.root.Stat(filepath.FromSlash(sub))
			if serr != nil {
				return top, serr
			}
			if !fi.IsDir() {
				k, ok := pathKey(sub)
				if !ok {
					k = sub
				}
				return top, &inTheWay{what: k}
			}
			next, err = s.root.OpenRoot(filepath.FromSlash(sub))
		}
		if err != nil {
			return top, err
		}
		if cur != s.root {
			cur.Close()
		}
		cur = next
	}
	return top, nil
}

// syncRootDir fsyncs the directory r is rooted at.
func (s *fileStore) syncRootDir(r *os.Root) error {
	if !s.sync {
		return nil
	}
	d, err := r.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// removeEmptyDirs removes dir and then its parents while they are empty
// directories, stopping before stop (a directory above dir: the root ".",
// the sidecar tree metaDir, ...) and at the first one that is not empty or
// not a directory. It opens each level once, so a deep key costs steps in
// proportion to its depth.
func (s *fileStore) removeEmptyDirs(dir, stop string) {
	rel := dir
	if stop != "." {
		var ok bool
		if rel, ok = strings.CutPrefix(dir, stop+"/"); !ok {
			return
		}
	}
	if rel == "." || rel == "" {
		return
	}
	base := s.root
	if stop != "." {
		r, err := s.root.OpenRoot(filepath.FromSlash(stop))
		if err != nil {
			return
		}
		defer r.Close()
		base = r
	}
	comps := strings.Split(rel, "/")
	// holders[i] is the directory that holds comps[i].
	holders := []*os.Root{base}
	defer func() {
		for _, r := range holders[1:] {
			r.Close()
		}
	}()
	for _, comp := range comps[:len(comps)-1] {
		r, err := holders[len(holders)-1].OpenRoot(comp)
		if err != nil {
			break
		}
		holders = append(holders, r)
	}
	for i := len(comps) - 1; i >= 0; i-- {
		if i >= len(holders) {
			return // below a level that could not be opened
		}
		h := holders[i]
		fi, err := h.Lstat(comps[i])
		if err != nil || !fi.IsDir() {
			return
		}
		if err := h.Remove(comps[i]); err != nil {
			return
		}
	}
}
