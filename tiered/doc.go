// Package tiered is strata's tiered store: a storage.Provider made of a
// local disk cache (package cache) in front of a remote provider (S3,
// MinIO, B2, a directory...). Reads are served from local disk when it
// holds the object and fetched from the remote when it does not; writes go
// to both, either before Put returns (write-through) or in the background
// from a durable local queue (write-behind).
//
//	c, _ := cache.Open("/var/cache/media", cache.Options{MaxBytes: 50 << 30, MaxIdle: 30 * 24 * time.Hour})
//	remote, _ := s3.New(ctx, s3.Config{Bucket: "media", ...})
//	store, _ := tiered.New(c, remote, tiered.Options{Mode: tiered.WriteBehind})
//	defer store.Close()
//
// # Write-through
//
// Put stores the object in the cache, pinned so that it cannot be evicted
// meanwhile, uploads it from the cache file, and unpins it once the remote
// copy is confirmed: the remote reports the size the cache recorded and,
// when it reports one, the same SHA-256, and the bytes sent hash to what
// the cache recorded. Put returns only then. If the upload fails, Put fails
// and the new local copy is removed: a failed Put never leaves new content
// visible locally while the remote holds the old (the old version, if the
// remote has one, is then fetched from the remote on the next Get). Delete
// deletes from the remote first; if that fails, Delete fails and nothing
// changes.
//
// # Write-behind
//
// Put returns once the object and the record of its pending upload are
// durable on local disk: the cache's PutPinned fsyncs the object and its
// pin, and the pin is the record. Background uploaders (Options.Uploaders
// of them) send pending objects, each attempt bounded by Options.Timeout,
// and retry failures with capped exponential backoff and jitter for as long
// as it takes; when an upload succeeds after failures, every key waiting
// out a backoff after an outage is tried again at once, so the queue
// drains as soon as the remote is back. An object stays pinned, and so is
// never evicted, until its remote copy is confirmed as above; then it is
// unpinned (only if it is still the version that was sent) and becomes an
// ordinary cache entry. Nothing acknowledged depends on the process: after a
// crash or a restart, New finds the pinned entries and queues them again.
//
// Delete in write-behind mode appends a record to a journal in the cache's
// state directory and fsyncs it, removes the local copy, and queues the
// remote delete, which is retried like an upload. A key whose delete is
// pending is not found, by Get, Stat and List alike, and is never fetched
// back from the remote. A Put after a Delete wins: it cancels the pending
// delete in the journal (after its object is durable) and its upload
// replaces the remote object.
//
// Per key, the remote sees the writes in the order they were made and only
// the last one wins: at most one upload or remote delete of a key is in
// flight at a time, a newer Put or Delete replaces what is pending for the
// key (an overwritten version is never sent once a newer one is pending),
// and the uploader looks at the key again when its attempt ends. So an
// older upload never lands after a newer one, nor after a delete.
//
// Status shows the pending uploads and deletes, the age of the oldest, the
// number failing, the last error and when the next retry is due: alert on
// them. Flush waits until everything pending when it was called is
// confirmed. Close stops taking work, lets the uploads in flight finish
// (each within Timeout) and leaves the rest pending for the next Store on
// the same cache directory.
//
// When pinned data fills the cache's byte bound, writes wait for uploads to
// unpin space (back-pressure) until their context ends, and then fail with
// an error matching cache.ErrFull.
//
// A remote may refuse an upload for good, for example MinIO refusing "a/b"
// when "a" exists: in write-through mode the Put fails; in write-behind mode
// the Put has been acknowledged, so the object stays pinned and served
// locally, its upload keeps being retried and Status reports it failing,
// until an operator resolves the conflict.
//
// # IfNotExists in write-behind mode
//
// In write-through mode, Put with IfNotExists is the remote's own
// conditional write: of several processes racing, exactly one wins. In
// write-behind mode the Put returns before the remote sees the object, so
// the answer is given in two steps:
//
//   - At Put, the local tier is checked (the cache, including pending
//     uploads, and the journal of pending deletes): a key held locally
//     fails with storage.ErrExist, and a key whose delete is pending is
//     free. Then the remote is asked: a key it holds fails with
//     storage.ErrExist, and a key it says is missing is free. When the
//     remote cannot say (an error matching storage.ErrUnavailable: down,
//     or no answer within Options.Timeout), the local tier's answer
//     stands and the Put is accepted, so that write-behind keeps taking
//     writes through an outage. Other remote errors fail the Put.
//   - An accepted Put is durable like any other, and its pending upload
//     is recorded in the journal as a conditional create, a record that
//     survives a crash or restart. A later Put of the key without
//     IfNotExists makes it an ordinary upload again (the last Put wins).
//   - The uploader sends it as a conditional create (IfNotExists on the
//     remote). If the remote then says the key exists and holds the same
//     bytes (an earlier attempt whose reply was lost), the upload is done.
//     If it holds another object, another writer created the key first: a
//     conflict found after the Put was acknowledged. The other writer's
//     object is never overwritten, and the acknowledged one is never lost:
//     it is uploaded under ConflictKey(key, its SHA-256), that is
//     "strata-conflicts/<key>/<sha256>" (conditionally too), with its
//     content type and metadata, and only once the remote has confirmed
//     that copy is the local copy of key dropped, so that key reads as the
//     remote holds it, in every process. The conflict is logged once at
//     ERROR, with both keys quoted, and counted in Status.Conflicts and
//     Counters.Conflicts. If the remote refuses the conditional create
//     while holding nothing under the key (MinIO refuses "a/b" when "a"
//     exists), the upload is retried as any refused upload is. Offload
//     leaves a conditional upload to the uploader.
//
// To recover the object of a conflict, an operator lists the remote under
// ConflictPrefix (strata ls REMOTE strata-conflicts/), decides which
// object the key should hold, and copies the kept one where it belongs
// (strata cp REMOTE "strata-conflicts/KEY/SHA256" REMOTE NEWKEY); the
// tiered store never deletes a conflict copy. Keys that are unique by
// construction (random media keys) never conflict: such an application
// may leave IfNotExists out and save the remote request it costs in
// write-behind mode.
//
// # Reads: fetch on miss
//
// Get serves the object from the cache when it holds it. On a miss it
// fetches the object from the remote into the cache and serves it from
// there; concurrent misses of one key share a single fetch, so they make
// one remote request. The fetch checks the SHA-256 the remote reports, if
// any, before the cache commits, and commits only if no Put or Delete of
// the key finished meanwhile, so a fetch never brings back a deleted object
// or puts an old version over a new one.
//
// An object larger than Options.RangeThreshold is not made to wait for: a
// Get of it, ranged or not, is answered straight from the remote (a ranged
// request for a ranged Get), so a video seek starts at once, while one
// background fetch copies the whole object into the cache. The cache holds
// the object only once that fetch is complete, never a part of it. When the
// cache cannot take the object (it is full of pinned data), it is served
// from the remote without being cached. A ranged Get that starts at or
// past RangeThreshold is of such an object whatever its size: it goes to
// the remote at once, one ranged request, and the background fetch starts
// beside it (unless Options.Uploaders large fetches are under way
// already); a ranged Get that starts before it waits for the remote's
// answer to that fetch to learn the size first.
//
// What a seek costs: storage.OpenReader over the store, a seek to the
// middle of an uncached 64 MiB object and a read of 64 KiB make a Stat
// (of the remote, on a miss) and one ranged Get that reads 64 KiB from the
// remote for the caller; the background fetch reads the 64 MiB once, and
// the reads after it are served from the cache.
//
// A definite not-found from the remote is storage.ErrNotFound. A remote
// that fails or does not answer within Options.Timeout is an error
// matching storage.ErrUnavailable (or the remote's own error), never a
// not-found, and it fails fast rather than hang. Stat looks at the cache,
// then at the remote, without fetching. List merges the remote's listing
// with the pending uploads not on the remote yet, leaves out the keys whose
// delete is pending, and yields each key once, in order; it fails when the
// remote cannot be listed.
//
// The Info of an object comes from the tier that answered: the cache's
// or the remote's. A copy the store fetched from the remote answers with
// the ETag the remote gave that version, so an object keeps its ETag when
// it becomes cached (an HTTP client's If-None-Match and If-Range still
// match, and a storage.ObjectReader opened from the remote reads on from
// the cache, even for an object another program wrote, whose SHA-256 the
// remote does not know). The store remembers this, while it runs,
// for up to 65,536 fetched keys (past that, one at random makes room):
// after a restart, for a key it forgot, or for a copy written through
// the store, the ETag is the cache's own, which changes with each local
// copy. Compare SHA256, not ETag, across tiers.
//
// Losing the local tier is harmless: with an empty or wiped cache
// directory every object already on the remote is still served. Only
// pending (pinned) work that had not reached the remote is lost with it.
//
// # Integrity of cached bytes
//
// The cache verifies what it serves (see package cache): a Get of a whole
// object checks its bytes against the CRC-32C recorded when they were
// stored (the SHA-256 for an object file written by an older version of
// the cache), and every Get checks that the object's file has the size
// its header records; a ranged Get of an object already cached is not
// checked against the checksum (that would take reading all of it), only
// its size. A cache opened with cache.Options.SkipVerify (for a file
// system that checksums data itself, such as ZFS or btrfs) checks only
// the size. The SHA-256 stays the object's identity across tiers: a fill
// checks the SHA-256 the remote reports, and an upload checks that the
// bytes sent hash to the SHA-256 the cache recorded. The store makes the
// most of the cache's checks:
//
//   - Damage found when the cache opens the object (a file cut short or
//     lengthened, and any changed byte when a whole object under 64 KiB
//     is read) costs
//     the caller nothing: the cache removes its copy, and Get fetches
//     the object from the remote at once and serves the right bytes,
//     re-filling the cache. Stat likewise answers from the remote.
//   - Damage found while streaming a larger object fails the Read that
//     would deliver its last bytes with storage.ErrCorrupt: the bytes
//     already streamed cannot be taken back, so the caller gets the
//     error and must drop what it read. The cache removes its copy, so
//     the next Get fetches the object from the remote again and serves
//     the right bytes.
//   - A pending write-behind upload whose local copy (pinned, the only
//     copy) is damaged is not replaced by whatever the remote holds (an
//     older version, or nothing): its Gets fail with storage.ErrCorrupt,
//     the cache keeps the damaged copy for an operator to look at, and its
//     upload, which reads the copy through the same check (and, with
//     SkipVerify, through the SHA-256 check of the bytes sent), fails without
//     sending it and is retried with backoff like any refused upload, so
//     Status reports it failing with the error. A new Put or a Delete of
//     the key ends it. A write-through Put whose copy is damaged before
//     its upload fails, and its local copy is removed.
//
// Counters.Corrupt counts the damaged copies found.
//
// # Offload
//
// Offload is the daily migration job of the seeds (Synapse's
// s3_media_upload): for every cache entry it makes sure the remote holds
// the same content, uploading what is only local, then drops the local
// copies not read for longer than OffloadOptions.IdleFor, each only after
// verifying that the remote copy's size and SHA-256 match (the cache's Drop
// is conditional on the version checked). See Offload for the details.
//
// # Several processes, one remote
//
// Many processes, on one host or many, may share one remote (Synapse runs
// several media workers). Each owns its cache directory: the cache locks it,
// and a second process opening the same directory fails with an error
// matching cache.ErrLocked. Each process reads the others' objects through
// fetch on miss.
//
// Without Options.Staleness, a process that holds an object in its cache
// goes on serving it after another process overwrote or deleted it, until
// the entry is evicted or dropped (Offload drops a clean copy that differs
// from the remote): keep keys immutable, or give each key one writer.
//
// With Options.Staleness set to a bound B (every process on the remote must
// set it), an overwrite or a delete through one process stops being served
// by the others within B of its announcement, through nothing but the
// remote. A write-through process announces a change before acknowledging
// it, so the bound counts from the acknowledgement; a write-behind process
// announces it right after its upload or delete reaches the remote, so the
// bound counts from there plus that one small Put:
//
//   - Each overwrite or delete, once the remote has it (before a
//     write-through call returns; when the upload or delete reaches the
//     remote in write-behind mode), is announced with one small object in
//     the change log, under ChangesPrefix: its name holds its time, the
//     process and the key. A Put with IfNotExists announces nothing (the
//     key had no older version), so unique keys written that way cost
//     nothing more. A write-through Put stays pinned, and a write-through
//     Delete recorded in the journal (one fsync), until its announcement
//     is on the remote, so that a process that dies in between announces
//     it after a restart; a failed announcement fails the call and is
//     retried in the background.
//   - An upload's entry also names the cache version it announces (in
//     its metadata), and the cache's state directory keeps the ids of its
//     last 8 runs. So a copy still pinned after a restart whose upload and
//     announcement had both reached the remote (the process killed before
//     unpinning it, or the announcement's reply lost) is recognised by its
//     entry and unpinned, not sent again: sending it would undo what
//     another process did to the key since, such as a delete. Its first
//     read then checks it against the remote. (Only when the entry is
//     gone, past the retention, is it sent again.)
//   - Every B/2, each process lists the log from where it last read it
//     (one List, a few only when a page holds more than its entries), and
//     drops its cached copies of the keys other processes changed. A copy
//     of its own pending upload is kept, as the newer version; since that
//     upload may have reached the remote before the other change, the
//     copy is checked with a remote Stat at its first read once the
//     upload is confirmed. A cached copy is served without any remote
//     request as long as the last successful read of the log began less
//     than B ago.
//   - When the log cannot be read for longer than B (the remote is down,
//     or this process is cut off from it), each read of a cached copy is
//     first checked with a remote Stat (size and SHA-256); when that fails
//     too the read fails with storage.ErrUnavailable rather than serve
//     what may be stale. A pending upload's copy is served as ever.
//   - Each poll re-reads the last Timeout + 30 s of the log before its
//     cursor, so an entry whose Put was slow to land, and clocks that
//     differ between hosts by less than that, lose nothing. Hosts' clocks
//     must agree within that margin.
//   - The log keeps entries for a retention of 10 B, at least 10 minutes
//     (and 4 times the margin): each process removes its own entries past
//     the retention, and anyone's past twice the retention (those of a
//     process that went away), a few times per retention. It thus holds
//     at most about twice the retention's worth of changes.
//   - The cache's state directory records how far the log was read. A
//     process that starts again within the retention reads what it
//     missed; one that was away longer (or whose record is lost) checks
//     each cached copy with a remote Stat before serving it for the first
//     time, and drops those that differ.
//
// The change log is invisible to users of the store: List never yields
// keys under ChangesPrefix, Stat and Get of them report
// storage.ErrNotFound, and Put, Delete and Copy refuse them with
// storage.ErrInvalidArgument; Offload never sees them (they are never
// cached). Tools that list the remote bucket directly do see them.
// ChangeStatus reports the log's work (polls, entries written and applied,
// copies dropped, revalidations, compactions) and how long ago the last
// successful poll began; package metrics exports them
// (strata_tiered_changes_*): alert when that age stays above B, since
// every read of a cached copy then costs a remote Stat.
//
// Measured with three example media servers (race-enabled builds) on one
// MinIO, on a loaded 2-core machine, at B = 2 s, one server writing
// behind, one killed (-9) and restarted, one cut off from MinIO for 6 s,
// 180 to 320 measures a run (TestThreeServersStaleness in
// examples/mediaserver, seven runs): the time until the other servers
// stopped serving the old bytes, counted from when the remote had the
// change, was 0.3 to 0.6 s at the median, 1.2 to 1.8 s at the 99th
// percentile, and at most 1.43 to 1.97 s. Write-behind changes were
// announced 35 to 230 ms (median) and at most 0.25 to 0.9 s after the
// remote had them.
//
// At rest a process costs one List per B/2 and a List of the log's oldest
// entries a few times per retention: about 3,600 requests an hour at
// B = 2 s (60 a minute, measured in the same runs for each of the three
// servers). With 10 changes per second across the
// processes, the writers add one Put per change and, a retention later,
// one Delete (36,000 of each an hour in all), and each process still makes
// one List per B/2, of the last minute or so of entries (the margin: about
// 600, one page). A List of the store from the top of the key space pages
// through the log's entries too (and leaves them out).
//
// # Abilities
//
// A Store implements storage.Flusher, and also storage.Presigner and
// storage.Copier, which it offers exactly when its remote does: over a
// remote without them, PresignGet and Copy fail with an error matching
// storage.ErrUnsupported. PresignGet presigns the remote copy, so it
// fails while an upload of the key is pending, with an error matching
// ErrNotUploaded (and storage.ErrUnsupported, so that a caller that falls
// back to serving through the store does), and while a delete of it is
// pending, with storage.ErrNotFound. Copy is the remote's own copy in
// write-through mode, with the cache copying its local copy too; in
// write-behind mode, and for keys with pending work, it is a Put of dst
// with src's content, so that it works through an outage (see Copy).
//
// # Errors
//
// Errors are *storage.Error values (Provider "tiered", or the cache's or
// the remote's own) matching the storage sentinels: storage.ErrNotFound
// only for a definite not-found, storage.ErrUnavailable for a remote that
// failed or timed out, storage.ErrCorrupt for content whose SHA-256 does
// not match, storage.ErrClosed after Close, and cache.ErrFull when the
// cache had no room in time. Context errors stay matchable with errors.Is.
package tiered
