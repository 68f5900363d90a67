// Package cache is strata's disk cache: objects in files under one
// directory, bounded by bytes and by idle time, evicted least recently used
// first, with pinned entries that are never evicted. It is the local tier
// of a tiered store, and a storage.Provider of its own.
//
// # Bounds
//
// Every byte the cache keeps counts against Options.MaxBytes: object files
// (trailers included), pinned or not, space reserved by writes still
// streaming (a write of unknown length reserves as it goes) and the index
// files. Before a write takes space, the least recently used unpinned
// entries are evicted until it fits. When pinned entries, writes in flight
// and the index alone leave no room, the write waits (back-pressure) until
// Unpin, Delete or Drop frees space, or until its context ends, and then
// fails with an error matching ErrFull. The bound is never passed.
//
// Last access is tracked by the cache itself (a Get counts, a Stat does
// not); atime is never used. Options.MaxIdle evicts entries idle for
// longer, from a background goroutine and on Evict; the clock is
// Options.Now.
//
// # Pins
//
// PutPinned stores an object and pins it in one durable step; Pin and
// Unpin change the pin of a stored object. A pinned object is the only
// copy of its data, so the cache never evicts it; Delete and Drop still
// remove it when asked. Pinned object files live in their own directory,
// so a pin survives even the loss of the index.
//
// # On disk
//
//	lock            flock(2)ed while a Cache has the directory; holds its PID
//	index/          snapshot and append-only journal of the index
//	objects/xx/...  object files, named by a hash of the key
//	pinned/xx/...   pinned object files
//	tmp/            writes in progress, removed at Open
//	state/          never touched: StateDir, for the layers above
//
// Each object file holds the content, page-aligned at offset 0, followed by
// a trailer holding the key, content type, metadata, size, SHA-256,
// CRC-32C and generation, so the index in memory holds neither keys nor
// metadata: about 60 bytes per entry (48 for the entry, the rest for the
// hash table).
// List and Entries read keys back from the index files.
//
// # Integrity
//
// Each object file records two checksums of its content, both computed
// as Put streams it, in one pass over each buffer: its SHA-256, which is
// the object's identity (Info.SHA256, and the ETag is made from it), and
// its CRC-32C (Castagnoli), which is what reads check. The header holding
// them has a CRC-32C of its own. A Get of the whole object (no range, or a
// range covering all of it) verifies what it serves against the CRC-32C,
// for the cost of checksumming the bytes it streams and never a second
// read of the file from the disk:
//
//   - an object under 128 KiB with its header is read whole, with one
//     open and one read (fewer system calls than os.ReadFile, and no
//     *os.File), and checked before Get returns, so Get itself fails. Its
//     reader hands the checked bytes out of memory, except that a copy of
//     16 KiB or more to an HTTP response, a network connection or a file
//     (io.Copy, or httpserve) is handed the file they were read from, to
//     go out with sendfile(2) rather than be copied once more: the same
//     pages of the page cache the check read a moment before. The cache
//     never writes into an object file, so only another program writing
//     into it, or the kernel dropping those pages and reading them back
//     from a disk that changed them, in the microseconds between, could
//     make the bytes sent differ from the bytes checked. Should the file
//     have been cut short meanwhile, the rest is written from memory;
//   - a larger one is checksummed as it streams, and the Read that would
//     deliver its last bytes fails instead and withholds them, so that a
//     reader that stops once it has the size it expects (io.ReadFull,
//     io.CopyN) still sees the error. Bytes read before that cannot be
//     taken back: treat what was read as void. A verified read goes
//     through a 256 KiB buffer, not sendfile(2).
//
// Either way the error is a *storage.Error matching storage.ErrCorrupt.
//
// CRC-32C is hardware-accelerated on amd64 and arm64: it runs at several
// GB/s, against about 1 GB/s for SHA-256, and a verified read makes up
// for it by reading 256 KiB at a time (io.Copy from a file reads 8 or
// 32 KiB), so a verified hit streams about as fast as a plain read of the
// file, or faster (see BenchmarkHitThroughput). It
// catches any single changed bit and any burst of damage up to 32 bits
// long, and other damage with all but one chance in 2^32: it detects
// damage, it does not authenticate (nor did the SHA-256 check, whose
// checksum sits in the same file).
//
// Object files written by an older version of the cache (format 1, with
// no CRC-32C) are read as they are, and a whole read of one checks its
// SHA-256 instead, at SHA-256's speed; they go as they are evicted or
// replaced, and every Put writes the current format (2). Going back to
// an older version is safe too: it reads format 2 files, checking their
// SHA-256.
//
// Options.SkipVerify turns the check of whole reads off, for a file system
// that checksums data itself and fails a read of damaged blocks (ZFS,
// btrfs): a hit then costs what reading a plain file costs (an object of
// 16 KiB or more is not read into memory at all), and a copy to a socket
// can use sendfile(2). The header and size checks below stay. Over HTTP,
// checking a 64 KiB hit costs about a fifth of what serving it costs
// (see the README's figures).
//
// A ranged read is not verified: that would mean reading and checksumming
// the whole object to serve a few bytes of it. It serves the bytes on
// disk, damaged or not. What every Get, Stat and Copy does check, ranged
// or not, verified or not, and at no extra system call, is that the
// header is intact and the file's size is the one its header and the
// index record: a file cut short or lengthened fails at once with
// storage.ErrCorrupt. Copy verifies its source as it copies (even with
// SkipVerify), so that damage is never copied under a fresh checksum.
//
// A damaged entry is logged (with its key, through Options.Logger),
// counted in Stats.Corrupt and removed, so that the next Get is a miss
// (storage.ErrNotFound) and a tiered store fetches the object again. A
// pinned entry is the exception: it holds the only copy of its data, so it
// is not silently deleted but kept, for an operator to look at, until a
// Put replaces it or Delete removes it; meanwhile every whole read of it
// fails with storage.ErrCorrupt (and a ranged read serves what is on disk).
//
// # Index and crashes
//
// The index lives in memory (about 60 bytes per entry, keys excluded) and
// on disk as a snapshot plus an append-only journal of checksummed
// records. Open reads the snapshot and replays the journal without
// walking the object directories: a million entries load in a few hundred
// milliseconds of CPU. Close writes a fresh snapshot. A Put journals an
// intent before it renames its file into place and a commit after, so
// after a crash (the index/dirty marker is left behind) Open checks just
// the intents without a commit, finishes deletions, sweeps tmp/ and walks
// pinned/ (the truth for pins). A damaged journal is cut at the damage and
// the object directories are listed to adopt files and drop entries the
// lost records spoke of; a damaged or missing snapshot is rebuilt from
// the object files' trailers. No pinned entry is lost either way.
//
// Plain Put does not fsync (Options.Sync makes it); PutPinned and Pin do,
// so a pinned entry survives a power loss as well as a process crash.
// Access times are saved with each snapshot; after a crash, the accesses
// since the last snapshot are lost, which only changes the eviction order.
//
// # Errors
//
// Errors are *storage.Error values matching the storage sentinels
// (storage.ErrNotFound, storage.ErrExist, storage.ErrCorrupt for a
// damaged object, ...), plus ErrFull when a write cannot get space in time
// and ErrLocked when another process has the directory open.
package cache
