// Package b2 is a storage.Provider on a Backblaze B2 bucket, speaking B2's
// native API through blazer (github.com/Backblaze/blazer).
//
//	store, err := b2.New(ctx, b2.Config{Bucket: "my-media"}) // key from the environment
//	store, err := storage.Open(ctx, "b2://my-media")
//
// # How B2 differs, and what this package does about it
//
// Deleting. A B2 file has versions, and a plain delete through B2's own
// tools only hides it: the bytes stay and keep being billed. By default
// (DeleteAllVersions) Delete removes every version of the key, hide markers
// included, with b2_delete_file_version, so a deleted media file is really
// gone. DeleteHide only hides it (b2_hide_file) and keeps its history until
// the bucket's lifecycle rules remove it; choose it to keep old versions or
// when the key lacks the deleteFiles capability. Either way the key is gone
// for Get, Stat and List. Overwriting a key keeps its older versions in B2,
// as B2 always does (use lifecycle rules to expire them).
//
// Listings. List reads b2_list_file_names pages of 1000 names. A listing
// with a Delimiter hands the delimiter to B2, which answers with one
// "folder" entry for all the visible names under a common prefix: one
// level of a bucket costs one call per 1000 entries of that level, however
// many files lie below it.
//
// Retries. Left to itself, blazer retries transient errors with no limit
// (restic users saw prunes hang for 38 hours). This package uses blazer's
// base package for the API calls and runs its own retry loop: each request
// is retried at most Config.MaxRetries times, never after
// Config.RetryTimeout, with exponential backoff from Config.MinBackoff to
// Config.MaxBackoff (a Retry-After from B2 is honoured), and never after the
// caller's context ends; each attempt is bounded by Config.AttemptTimeout,
// so a B2 that accepts connections and never answers cannot hold a call
// whose context has no deadline. A persistent failure therefore ends in an
// error matching storage.ErrUnavailable. An expired or invalid authorization token
// (401 expired_auth_token or bad_auth_token) makes the Store call
// b2_authorize_account again, once for all goroutines, and retry at once. A
// failed upload (503 too busy, 401 on the upload token, a network error) is
// retried with a new upload URL, as B2 asks, never on the same one.
//
// Why blazer's base package and not its b2 package: b2.Client retries
// without a bound, renews tokens in place while other goroutines read them,
// its Writer's cancel-on-error option dereferences a nil large file when a
// small upload fails, and its Reader gives no metadata until the first Read.
// The base package is blazer's plain, exported client of the B2 v3 API.
//
// Restricted keys. A key restricted to the bucket works. The Store never
// lists all buckets: it calls b2_list_buckets once per authorization, with
// the bucket's name as filter (and its ID when the key is restricted), which
// B2 allows such a key and which is blazer's only way to turn a name into a
// bucket handle. A key restricted to another bucket fails New with
// storage.ErrPermission.
//
// Metadata. The content type is B2's content type; user metadata
// (storage.ValidMetadata: at most eight lower-case entries) becomes B2 file
// info, which allows ten entries. strata keeps one for itself:
// "strata-sha256", the SHA-256 of the content, which Stat, Get and List
// return as Info.SHA256 and never as metadata. The HTTP attributes
// (Cache-Control, Content-Disposition, Content-Encoding, Content-Language)
// become the file info "b2-cache-control" and the others, which B2 sends as
// those response headers on download (a presigned URL included). When user
// metadata, attributes and the SHA-256 would need more than ten entries,
// or a metadata key starts with "b2-", all the user metadata is packed into
// the one entry "strata-metadata" ("key=length:value" per key), so no
// valid Put is refused for the number of entries; B2 still limits file
// name and file info together to 7000 bytes, which only a Put near every
// limit at once (a 1 KiB key, 2 KiB of metadata, four 1 KiB attributes)
// passes. Downloads ask for the stored bytes (Accept-Encoding: identity),
// so an object stored with Content-Encoding gzip is returned as stored. File info that other tools
// wrote (such as src_last_modified_millis from b2 sync) is not returned as
// metadata. B2 checks the SHA1 of every upload and part, so corrupted
// uploads are refused; Get checks the length of what it reads and the
// SHA-256 of a whole object (or B2's SHA1, for an object without one) as
// it is read.
//
// Large files. A stream longer than Config.PartSize goes through the
// large-file API in parts of PartSize bytes, Config.Concurrency at a time,
// holding at most (Concurrency+1) × PartSize bytes. When the reader fails,
// the context ends or a part cannot be stored, the large file is cancelled
// (b2_cancel_large_file), so no unfinished upload is left to be billed. A
// large file's info is fixed when it starts, before its content is read, so
// large objects carry no "strata-sha256": their Info.SHA256 is empty in
// Stat, Get and List (Put returns it).
//
// Conditional create. B2 has no conditional write. Put with IfNotExists
// first checks that the key is absent, uploads, then lists the versions of
// the key: among the uploads newer than the newest hide marker, the oldest
// wins, and every other writer deletes the version it just wrote and fails
// with storage.ErrExist. Of writers racing on one key, exactly one succeeds
// provided B2 lists the versions of a name in the order they became
// visible. The emulator does, and the conformance race test holds there.
// B2 documents the order only as newest upload timestamp first, so if B2
// stamps a version at some moment other than when it becomes visible (for
// a large file, possibly when it was started), two racing writers can both
// succeed in rare cases. A losing version is visible for the moment
// between its upload and its deletion. Use a store with real conditional
// writes when that guarantee must be absolute.
//
// Ranges. Get with a Range makes one ranged download (206 with
// Content-Range); a range starting past the end fails with
// storage.ErrInvalidRange.
//
// Abilities. A Store implements storage.Presigner (a URL with a token from
// b2_get_download_authorization; B2 authorizes name prefixes, so the token
// for "a/b" also reads "a/b1") and storage.Copier (b2_copy_file inside B2,
// or b2_copy_part for objects over 5 GB). It is not a storage.Flusher:
// nothing is buffered, Put returns once B2 has stored the object.
// ListUnfinished and CancelUnfinished find and cancel the large files that
// a process which died mid-upload left behind.
//
// Layering. A Store is a [driver.Provider] over this package's driver,
// which speaks B2's native API and classifies B2's answers in one Kind
// function; the closed and context checks, key and option validation, the
// errors, the SHA-256 of Put, the size check and the verification of reads
// come from package driver.
//
// # Errors
//
// Errors are *storage.Error values with Provider "b2". B2's answers are
// mapped in one place:
// 404 not_found and file_not_present to storage.ErrNotFound (Get fails at
// the call for a missing key), 416 to storage.ErrInvalidRange, 401 and 403
// that re-authorizing does not cure to storage.ErrPermission, network
// errors, 408, 429 and 5xx that outlast the retries to
// storage.ErrUnavailable, other 400s to storage.ErrInvalidArgument. The
// B2 answer itself is an *APIError (errors.As). No error or log line
// carries the application key or an authorization token.
//
// # URLs
//
//	b2://BUCKET?part_size=16MiB&concurrency=4&max_retries=6&retry_timeout=2m&delete=all-versions
//
// registers with storage.Open. Credentials come from B2_APPLICATION_KEY_ID
// and B2_APPLICATION_KEY, never from the URL: a URL with user information
// (b2://KEYID:APPLICATIONKEY@BUCKET) is refused before any request, as the
// s3 and minio drivers refuse theirs, and the error does not repeat it. See
// ConfigFromURL for every parameter; api_base points the store at another
// API server, such as the emulator.
//
// # Testing
//
// No B2 server is reachable from CI, so CI tests this package against
// b2test, an emulator of the B2 native API built from Backblaze's published
// documentation and served with net/http/httptest: the whole conformance
// suite, plus fault tests (an expired token is re-authorized, a busy upload
// URL is replaced, a persistent failure ends in an error within the
// context's deadline). The emulator is exported, so code using this package
// can be tested the same way.
//
// A live test runs the conformance suite against real B2 when
// B2_APPLICATION_KEY_ID, B2_APPLICATION_KEY and B2_TEST_BUCKET are set (use
// an empty bucket kept for tests; the suite writes and deletes objects in
// it); otherwise it skips with one line:
//
//	B2_APPLICATION_KEY_ID=... B2_APPLICATION_KEY=... B2_TEST_BUCKET=... \
//		go test -run TestLive -v ./b2/
package b2
