// Package local is a storage.Provider that keeps objects as files under a
// root directory: the object "local_content/ab/cd/xyz" is the file
// <root>/local_content/ab/cd/xyz. It runs on Linux and other Unix systems.
//
// An existing tree of plain files is a valid store as it is: point New at a
// Synapse media_store or a Zulip LOCAL_UPLOADS_DIR and Stat, Get and List
// serve the files already there. Such files have no SHA-256 (Info.SHA256 is
// ""; it is not computed behind the caller's back), no content type and no
// metadata, and their ETag is made of their inode, size and modification
// time.
//
// # Opening
//
// New creates the root directory, with the parents it lacks, when it is
// missing; an error naming the root says why when it cannot (and when the
// root is not a directory). It writes nothing to a root that exists: the
// first Put, not New, finds out whether the file system takes extended
// attributes (see Metadata), and Put creates directories and temporary
// files as it needs them. So a tree the process cannot write, such as a
// media store mounted read-only to migrate from, opens with New or
// storage.Open("file:///...") and serves Get, Stat and List (with the
// metadata strata recorded there); Put and Copy on it, and Delete of an
// object there, fail with storage.ErrPermission.
//
// # Reading
//
// The reader Get returns reads the open file itself, limited to the object
// as it was when Get opened it, or to the range asked for. Beyond
// io.ReadCloser it implements:
//
//   - io.Seeker and io.ReaderAt, with offsets relative to the object or the
//     range, so that http.ServeContent serves it (with Range requests) and
//     uploaders read parts of it in parallel. ReadAt does not move the
//     position of Read and is safe for concurrent use.
//   - io.WriterTo, which hands the file to the destination in chunks of 8
//     MiB, so that io.Copy to a socket or to a file copies in the kernel
//     (sendfile(2), splice(2), copy_file_range(2)), checking the context
//     between chunks.
//   - syscall.Conn, for a whole object only: a *net.TCPConn given the reader
//     under an io.LimitedReader (as http.ServeContent does through
//     io.CopyN) sends it with sendfile(2). Copies through the descriptor do
//     not look at the context of the Get; they end when the destination
//     fails.
//
// Callers find these with a type assertion, as for an *os.File. Close
// closes the file.
//
// # Writes
//
// Put streams into a temporary file in the key's directory, fsyncs it,
// renames it onto the key's file and fsyncs the directory, so that readers
// and crashes see the old object or the whole new one, never a part. A Put
// whose reader fails or whose context ends removes its temporary file.
// IfNotExists uses link(2) in place of rename(2), which fails when the name
// exists, so of racing writers exactly one wins. Files are created with
// mode 0640 and directories with 0750 (see Options), set with chmod so the
// umask does not change them. Delete removes the directories it leaves
// empty, up to the root.
//
// A file cannot also be a directory, so unlike a bucket the store cannot
// hold both "a" and "a/b": the second Put fails with an error matching
// storage.ErrExist, whichever came first.
//
// # Names on disk
//
// A key is stored at the path it spells; storage.ValidKey keeps each
// segment to storage.MaxSegmentLen bytes, which every file system takes as
// a file name. A key segment never contains a backslash (storage.ValidKey
// refuses it), so every name the package makes for itself contains one and
// no key can ever name it: every key storage.ValidKey accepts can be
// stored, and none is reserved.
//
//   - ".strata-tmp\<random>": the temporary file of a Put in progress. List
//     skips them; one left by a crash is removed by Store.Sweep.
//   - ".strata\meta": the sidecar tree at the top of the root (sidecar mode
//     only; see below).
//
// # Metadata
//
// The content type, user metadata, HTTP attributes (Cache-Control and the
// others) and SHA-256 of an object strata wrote are kept, by default, in
// the extended attribute "user.strata" of its file, as lines of
// "name=value" (getfattr -n user.strata shows them). The attribute is set
// on the temporary file before the rename, so it appears with the bytes,
// atomically. Tools that copy files keep it when told to (cp -a, rsync
// -X). ext4 keeps at most about 4 KiB of extended attributes per file: a
// Put whose metadata and HTTP attributes together come near that (the
// contract allows up to 2 KiB of metadata and 1 KiB per attribute) fails
// there with storage.ErrTooLarge; MetadataSidecar has no such limit.
//
// Where the file system takes no user extended attributes (tmpfs before
// Linux 6.6, some network file systems), which the first Put finds out on
// its temporary file, or with MetadataSidecar, the same record goes to a
// sidecar file ".strata\meta/<path>/\<inode>",
// named after the inode of the data file it describes. It is written and
// fsynced before the data file is renamed into place, and the sidecar of
// the replaced file is removed after, so after a crash at any point each
// data file still has its own sidecar, never another's (an orphan left
// beside it is removed by Store.Sweep).
// Within one process, readers and writers of a key take a lock so that a
// reader always finds the sidecar of the file it opened; a reader in
// another process racing a writer may see an object without its metadata
// (never with wrong metadata).
//
// Either way the record holds the size and modification time of the file
// it was written for; when a file no longer matches its record (another
// program rewrote it in place), the record is ignored and the file is
// served as a plain file. A copy of the tree (a move to another disk, a
// restore from backup) keeps the records when it keeps extended attributes
// and modification times to the nanosecond, as cp -a and rsync -aX do.
// Sidecar files are named after inode numbers, which no copy keeps, so a
// copied sidecar store loses its records; its files stay a valid store.
//
// A Store keeps the records it has read from extended attributes (up to
// 8,192, by device and inode, with the file's change time), so that the
// Get of an object read before, such as a thumbnail a media server sends
// again and again, neither reads nor parses its record again. The kernel
// sets a file's change time to now whenever its bytes or its extended
// attributes change, so a record kept is used only for the file as it was
// read: a change by another program (setfattr, a restore in place) is seen
// at the next read. A file changed less than a second ago is read every
// time, as the kernel's clock may stamp two changes that close with the
// same time.
//
// # Safety
//
// All file access goes through os.Root, which refuses any path that leads
// out of the root, through ".." or through symbolic links. Keys are
// checked with storage.ValidKey before they are mapped to paths. Symbolic
// links inside the root that resolve inside the root are followed by Get,
// Stat and Put (a Put replaces a symbolic link at the key's own name with a
// file); List neither yields symbolic links nor descends into them. A
// symbolic link leading out of the root cannot be read or written through:
// such calls fail with storage.ErrPermission.
//
// # Errors
//
// Errors are *storage.Error with Provider "local", matched with errors.Is:
//
//   - storage.ErrNotFound (and fs.ErrNotExist): no regular file at the
//     key's path (a directory is not an object).
//   - storage.ErrExist: Put with IfNotExists found an object, or the key's
//     path is taken by a directory or passes through a file.
//   - storage.ErrInvalidKey, storage.ErrInvalidArgument: a bad key, bad
//     metadata or options, a malformed URL.
//   - storage.ErrInvalidRange, storage.ErrSizeMismatch: as in storage.
//   - storage.ErrPermission: the operating system refused (EACCES, EPERM, a
//     read-only file system), or a path led out of the root.
//   - storage.ErrTooLarge: the disk is full (ENOSPC) or the file is over the
//     size limit (EFBIG).
//   - storage.ErrClosed: the Store was closed.
//
// The cause (an *fs.PathError from the os package) stays in the chain for
// errors.As. Context errors and the error of the reader given to Put are
// kept as causes, so errors.Is(err, context.Canceled) holds for a cancelled
// call.
//
// # Layering
//
// A Store is a driver.Provider (package storage/driver) in front of this
// package's driver, which speaks only the file system: the checks every
// call starts with (closed, context, key and options), the *storage.Error
// of every failure and the size check and SHA-256 of Put's body come from
// package driver, and the driver's one classification function maps the
// errors of the os package to the sentinels above. Get's readers are the
// driver's own, handed out as they are (see Reading). The driver lists by
// delimiter itself: a List with ListOptions.Delimiter reads the one
// directory the prefix names, and yields each subdirectory as a common
// prefix without walking it. It reads of a subdirectory only enough names
// to find a key in it (a directory holding no key, such as one left with
// only the temporary file of a Put in progress, is no common prefix, as on
// a bucket).
//
// # URLs
//
// Importing the package registers the "file" scheme with storage.Open:
//
//	file:///srv/media                      absolute path
//	file://localhost/srv/media             the same
//	file:media                             relative to the working directory
//	file:./media                           the same
//	file:///srv/media?file_mode=0600&dir_mode=0700&metadata=sidecar&sync=false
//
// Parameters: file_mode and dir_mode (octal), metadata (auto, xattr or
// sidecar) and sync (false sets Options.NoSync). Unknown parameters, a
// host other than localhost, a user name and "file://./dir" (write
// "file:./dir") fail with storage.ErrInvalidArgument.
package local
