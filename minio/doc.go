// Package minio is a storage.Provider on a bucket of MinIO or any other
// S3-compatible server, through minio-go (github.com/minio/minio-go/v7).
//
// Make a Store with New and a Config (only Endpoint and Bucket are
// required), or open one from a URL with storage.Open. A Store implements
// storage.Provider, storage.Presigner (PresignGet), storage.PutPresigner
// (PresignPut), storage.Copier (Copy),
// storage.BucketCreator and storage.PartWriter (its part size, and that it
// reads parts from an io.ReaderAt), and is safe for concurrent use. New
// sends no request.
//
// A Store is the shared layer of package storage/driver over this
// package's driver, which only speaks S3 through minio-go and classifies
// minio-go's errors in one function (Kind, with the table of
// internal/s3proto that the s3 package uses too). The layer does the rest,
// as for every strata provider: calls after Close fail with
// storage.ErrClosed, keys and PutOptions are checked before a request is
// sent, errors are *storage.Error values, Put's reader is hashed and its
// size checked as the driver reads it, and whole-object reads are
// verified.
//
// # Configuration shared with the s3 package
//
// Both S3 drivers take the same settings under the same names, with the
// same defaults, in their Config and in their URLs:
//
//   - PartSize (part_size): the size of one part of a multipart upload
//     and the largest object sent in one request; 16 MiB by default.
//   - Concurrency (concurrency): parts of one upload in flight at once; 4.
//   - MaxAttempts (max_attempts): tries of each request; minio-go's
//     default (10) when zero.
//   - RecordLargeSHA256 (record_large_sha256): record the SHA-256 of
//     objects too large to be held before they are sent, with a copy of
//     the object onto itself; off by default (see Uploads).
//   - PrefixCheck (prefix_check=auto|true|false): refuse, with
//     storage.ErrExist, a key whose parent is an object or that is a
//     prefix of other keys (see Prefix conflicts). The default, auto,
//     checks when the server is MinIO.
//   - SkipVerifyReads (skip_verify_reads): do not verify whole-object
//     reads.
//
// The names of older releases still work: the fields NumThreads
// (Concurrency), MaxRetries (MaxAttempts), SkipMultipartSHA256 (true is
// the default now) and SkipPrefixCheck (true is PrefixCheckOff), and the
// URL parameters threads, max_retries, skip_multipart_sha256 (false is
// record_large_sha256=true), skip_prefix_check and prefix_conflicts.
//
// # Uploads
//
// Put picks how to send an object from its size and its reader:
//
//   - An object whose size is known (PutOptions.Size) and at most
//     Config.PartSize (16 MiB by default), or whose reader of unknown
//     length ends within the first part, is read into memory and sent in
//     one PUT. Its SHA-256 is computed first, sent as the object's
//     metadata and used to sign the payload (X-Amz-Content-Sha256), so
//     the server checks the bytes it received against it.
//   - A larger object of known size (PutOptions.Size) from a seekable
//     reader (an *os.File of a regular file, a *bytes.Reader: an
//     io.ReaderAt whose Seek works) is read once to hash it, whole and
//     part by part on two cores (driver.Body.PartSums; at most
//     GOMAXPROCS/2 such passes at once in a process, so that of several
//     files uploaded together one is hashed while another is sent), and
//     then uploaded in parts straight from the reader, Concurrency at a
//     time, with no buffers. Each part carries a sum from the first read,
//     so a file that changes during the upload fails it (ErrCorrupt)
//     instead of being stored under a checksum that does not describe it:
//     when the server is MinIO (the Server header of any response says
//     so; a Store that has had none yet sends one HEAD of the bucket
//     first), the part's CRC32C
//     (x-amz-checksum-crc32c, in an upload created for it), and the part
//     goes unsigned, which costs both sides a small fraction of a
//     SHA-256; before that, or with another server, the part's SHA-256,
//     which signs it.
//   - A larger object from any other reader is uploaded in parts as it is
//     read, Concurrency at a time. It holds at most Concurrency+1 parts in
//     memory: 5 × 16 MiB = 80 MiB with the defaults, measured at 85 MiB
//     peak for a 1 GiB upload of unknown length, where minio-go's
//     PutObject with size -1 allocates a 528 MiB part buffer (measured 625
//     MiB). An object of unknown length may be up to 10,000 parts long
//     (156 GiB with 16 MiB parts); set PutOptions.Size or a larger
//     PartSize beyond that. Put reads Concurrency+1 parts before it starts
//     the upload, so an object that ends within them (80 MiB by default)
//     is hashed first and its SHA-256 goes into its metadata, as in the s3
//     package. For a larger one the SHA-256 is known only at the end,
//     after the object's metadata was sent: Put returns it, and records it
//     only with Config.RecordLargeSHA256, by a CopyObject of the object
//     onto itself that replaces its metadata, conditional on the ETag just
//     written. On MinIO this copy rewrites the data once (MinIO adds a
//     CRC64NVME checksum to copied objects that have none): measured
//     against the same upload without it, 0.65 of the throughput for 64
//     MiB, and the copy of a 256 MiB object took 2.2 s after a 2.8 s
//     upload (the benchmarks in internal/integration/miniodriver); a
//     seekable reader of known size avoids the copy. If the copy fails,
//     Put still succeeds and logs a warning.
//
// Byte counts are checked before anything becomes visible: a reader that
// yields fewer or more bytes than PutOptions.Size fails the Put with
// ErrSizeMismatch and stores nothing. A Put whose reader fails or whose
// context ends aborts its multipart upload before returning, even when its
// context is cancelled.
//
// PutOptions.IfNotExists sends If-None-Match: * with the request that makes
// the object visible (the PUT, or CompleteMultipartUpload), so of several
// racing writers exactly one wins and the others get ErrExist.
//
// # Retries
//
// A request that fails with a network error, a timeout or an answer that
// means the server is busy or down (5xx, 429, 499, SlowDown, ...) is tried
// again, Config.MaxAttempts times in all (10 by default), with minio-go's
// backoff (exponential from 200 ms, capped at 1 s, with full jitter), and
// never after the caller's context ends. Requests without a body are
// retried by minio-go. Uploads (the PUT of an object or of a part) are
// retried by the Store instead: minio-go retries a body by seeking it back
// and sending it again as soon as the failed attempt's answer is in, while
// net/http may still be reading that attempt's body (a server that answers
// 503 before reading the whole body), a data race on the body reader that
// go test -race reports and that can mix the bytes of two attempts. The
// Store gives minio-go a body it cannot seek, so minio-go tries once, and a
// new body for every attempt; each is cut off when its attempt returns, so
// a late read by the transport fails without touching the data or a part
// buffer already handed back for reuse. Certificate errors and failures
// before a request is sent (signing, credentials) are not retried.
//
// # Checksums
//
// strata keeps its own content checksum: the lowercase hex SHA-256 in the
// user metadata key strata-sha256 (x-amz-meta-strata-sha256), hidden from
// Info.Metadata and returned as Info.SHA256, so integrity never rests on
// the ETag, which is not an MD5 for multipart or SSE-C objects. minio-go is
// used with its defaults that suit every S3 clone: the client is made with
// TrailingHeaders off, so minio-go sends no x-amz-checksum-* headers or
// trailers and no x-amz-checksum-algorithm (its automatic CRC32C needs
// TrailingHeaders), and no Content-MD5. Payloads are signed with their
// SHA-256 in X-Amz-Content-Sha256, which every S3 implementation checks,
// instead of minio-go's default aws-chunked streaming signature over plain
// HTTP. The one exception is the parts of a file uploaded from its
// ReaderAt to a MinIO server: they carry their CRC32C instead
// (see above).
//
// # HTTP attributes
//
// PutOptions.CacheControl, ContentDisposition, ContentEncoding and
// ContentLanguage are stored as the object's own S3 headers (not user
// metadata), with a single PUT or a multipart upload alike, kept by Copy
// and by the copy that records a large object's SHA-256 afterwards, and
// returned by Get (ranged too) and Stat, as S3 returns them to any
// client, presigned GETs included. List leaves them empty:
// ListObjectsV2 does not return them. Content-Encoding is a label: the
// bytes are stored and read back as given, never decompressed. The s3
// and minio packages write and read the same headers (the names are in
// internal/s3proto), so either reads what the other wrote.
//
// # Presigned uploads
//
// PresignPut (storage.PutPresigner) returns a PUT request that uploads
// one object without credentials, for a browser. What
// storage.PresignPutOptions gives is in the signature: the Content-Type,
// the Content-Length, and for SHA256 both x-amz-checksum-sha256 (S3 and
// MinIO refuse a body of another digest) and x-amz-meta-strata-sha256,
// so that the object reads back with Info.SHA256 and Get verifies it.
// PresignedRequest.Header lists the headers to send, as they are
// (Content-Length is set by HTTP clients from the body). The expiry is
// one second to seven days. The upload bypasses the Store: no prefix
// check, no IfNotExists, and no SHA-256 recorded unless given. Under
// SSE-C PresignPut fails with storage.ErrUnsupported.
//
// # Verified reads
//
// A Get of a whole object (no GetOptions.Range, or a range at offset 0 with
// no length) whose SHA-256 was recorded hashes the bytes as the caller reads
// them (the shared layer does it, as for every provider). At the end of the body, the Read that would return io.EOF compares
// the hash with the recorded strata-sha256 and the count with the object's
// size; on a mismatch it returns an error matching storage.ErrCorrupt
// instead (with the bytes it read), and so does every later Read. So
// io.ReadAll and io.Copy fail instead of returning bytes that are not what
// Put stored: bit rot, a bad disk, or a writer that replaced the data
// behind strata's back and kept the metadata. Only a caller that reads to
// the end gets the verdict: one that stops early, or reads exactly
// Info.Size bytes with io.ReadFull or io.CopyN (which do not read on to
// io.EOF), is not told.
//
// Ranged Gets are not verified: the checksum covers the whole object, and
// hashing a range proves nothing about it. Neither are objects without a
// recorded checksum (written by another client, or large streams stored
// without Config.RecordLargeSHA256). Config.SkipVerifyReads (URL parameter
// skip_verify_reads=true) turns the check off. It costs one SHA-256 pass
// over the bytes read, on the reading goroutine. Releases before the
// shared layer hashed objects of 1 MiB or more on a goroutine of their own
// instead; measured against that, interleaved on the same 2-core machine
// (BenchmarkLarge/Download, 3 rounds each), the inline hash kept 0.89 to
// 1.16 of minio-go's throughput against 0.81 to 0.87, so it was dropped.
// Measured before either with
// BenchmarkLarge (256 MiB, whole) on a 2-core machine shared with the MinIO
// server and other work, so with no core to spare: Download ran at 0.48 to
// 0.88 of minio-go's throughput with the check, 0.85 to 1.57 without it
// (DownloadSkipVerify; strata reads the body as it comes, minio-go's Object
// copies it), against 1.08 and 1.30 before the check existed. The
// difference is SHA-256's CPU time; 64 KiB objects (BenchmarkSmall) went
// from 0.99 to 0.85, within that machine's noise.
//
// # Prefix conflicts
//
// MinIO keeps objects as directories, so it cannot hold both "a" and
// "a/b": it accepts the second Put but then lists only one of them. With
// Config.PrefixCheck on, Put and Copy first check that no object exists
// under a parent of the key (a HEAD per parent) and none under the key as
// a prefix (a LIST of one key), sent at once, and fail with ErrExist on a
// conflict. The check is not atomic with the write. The default,
// PrefixCheckAuto, turns it on when the server is MinIO, as the Server
// header of the first response says (until a response has been seen, it
// checks); PrefixCheckOff saves its requests for key layouts that never
// conflict. The s3 package does the same, with the same code
// (internal/s3proto).
//
// # SSE-C
//
// Config.SSECustomerKey (32 bytes) encrypts objects with a customer key,
// sent with every request that reads or writes content, copy sources
// included. Servers accept SSE-C only over HTTPS: for MinIO, give it a
// certificate (a public.crt and private.key in the directory named by
// --certs-dir, as this package's tests do in a container) and set
// Config.Secure, with a Config.Transport that trusts the certificate if it
// is self-signed. Presigned URLs cannot carry the key, so PresignGet and
// PresignPut fail with ErrUnsupported on such a Store.
//
// # Errors
//
// Errors are *storage.Error values with Provider "minio" that wrap a
// sentinel of package storage and minio-go's error, classified by the
// table the s3 driver uses too, so that the two drivers answer alike:
//
//   - NoSuchKey is storage.ErrNotFound (and fs.ErrNotExist); a missing key
//     is never guessed from anything else, and a 404 with another code
//     (NoSuchUpload) has no Kind. Get fails at the call, not at
//     the first Read: it sends the GET at once with minio.Core.GetObject,
//     one request (no separate Stat). A Stat is a HEAD, whose 404 has no
//     body (minio-go then guesses NoSuchKey): Stat asks whether the bucket
//     exists (one more request, only on that path) and answers
//     storage.ErrNotFound if it does, storage.ErrNoBucket if not.
//   - AccessDenied, a bad signature or key, and any other 403 are
//     storage.ErrPermission: without ListBucket permission S3 answers 403
//     for a missing key, and that is not reported as not-found.
//   - NoSuchBucket is storage.ErrNoBucket, which matches
//     storage.ErrInvalidArgument and never storage.ErrNotFound
//     (Store.CreateBucket creates the bucket), for every operation.
//   - A secure Store (the default of a minio:// URL) that finds a
//     plain-HTTP server fails at once, not retried, with
//     storage.ErrInvalidArgument and a message that says to add
//     ?secure=false.
//   - PreconditionFailed on Put (IfNotExists) is storage.ErrExist, and so
//     is a prefix conflict; on a Copy whose source kept changing during
//     the copy it is storage.ErrUnavailable.
//   - InvalidRange is storage.ErrInvalidRange; a range at offset 0 of an
//     empty object is served, though S3 refuses it.
//   - A checksum the server found wrong is storage.ErrCorrupt, and so is
//     a whole-object Get whose bytes do not match the recorded checksum
//     (returned by Read; see Verified reads); an object name or metadata
//     over the server's limits is storage.ErrTooLarge.
//   - 5xx answers, throttling, 499 (ClientDisconnected), and network
//     failures (refused or reset connections, bodies cut short) are
//     storage.ErrUnavailable. So are timeouts of the transport while the
//     caller's context is live, such as an http.Transport's
//     ResponseHeaderTimeout: such an error does not match
//     context.DeadlineExceeded, which net/http's own error would; so is a
//     cancellation inside minio-go while the caller's context is live.
//   - When the caller's context ends, the call fails with an error that
//     matches its cause (errors.Is(err, context.Canceled) holds) and no
//     Kind, whatever the transport made of it (a cut connection, a 499).
//
// minio-go signs requests in headers, so no error string holds a
// credential; URLs in errors pass through storage.Redact.
//
// # URLs
//
// Importing this package registers the scheme "minio" with storage.Open:
//
//	minio://host:port/bucket?secure=false&region=us-east-1
//
// The host is the endpoint and the single path segment the bucket. Query
// parameters: secure (default true; false for plain HTTP), region,
// storage_class, and the parameters shared with s3:// URLs: part_size
// (bytes, or with a suffix: 64MiB), concurrency, max_attempts,
// record_large_sha256, prefix_check (auto, true or false) and
// skip_verify_reads, with their deprecated names (threads, max_retries,
// skip_multipart_sha256, skip_prefix_check, prefix_conflicts). A shared
// parameter given twice is an error. Credentials
// never go in the URL (a URL with user information is refused): they come
// from the
// environment, MINIO_ROOT_USER/MINIO_ROOT_PASSWORD,
// MINIO_ACCESS_KEY/MINIO_SECRET_KEY, AWS_ACCESS_KEY_ID/
// AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials, in that order.
package minio
