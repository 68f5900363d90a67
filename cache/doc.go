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
// a trailer holding the key, content type, metadata, size, SHA-256 and
// generation, so the index in memory holds neither keys nor metadata: about
// 60 bytes per entry (48 for the entry, the rest for the hash table).
// List and Entries read keys back from the index files.
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
// (storage.ErrNotFound, storage.ErrExist, ...), plus ErrFull when a write
// cannot get space in time and ErrLocked when another process has the
// directory open.
package cache
