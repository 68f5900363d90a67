// Package s3 is a storage.Provider for Amazon S3 and S3-compatible servers
// (MinIO, Ceph, Cloudflare R2, Backblaze B2's S3 endpoint, Wasabi), built on
// aws-sdk-go-v2.
//
// A Store keeps objects in one bucket. Make one with New and a Config, or
// with storage.Open and an s3:// URL. It also implements storage.Presigner
// (presigned GET URLs), storage.PutPresigner (presigned uploads),
// storage.Copier (server-side copy),
// storage.BucketCreator and storage.PartWriter (its part size).
//
// A Store is the shared layer of package storage/driver over this
// package's driver, which only speaks S3 through aws-sdk-go-v2 and
// classifies the SDK's errors in one function (Kind, with the table of
// internal/s3proto that the minio package uses too). The layer does the
// rest, as for every strata provider: calls after Close fail with
// storage.ErrClosed, keys and PutOptions are checked before a request is
// sent, errors are *storage.Error values, Put's reader is hashed and its
// size checked as the driver reads it, and whole-object reads are
// verified.
//
// # Configuration shared with the minio package
//
// Both S3 drivers take the same settings under the same names, with the
// same defaults, in their Config and in their URLs:
//
//   - PartSize (part_size): the size of one part of a multipart upload
//     and the largest object sent in one request; 16 MiB by default.
//   - Concurrency (concurrency): parts of one upload in flight at once; 4.
//   - MaxAttempts (max_attempts): tries of each request; the SDK's
//     default when zero.
//   - RecordLargeSHA256 (record_large_sha256): record the SHA-256 of
//     streams too large to be held before they are sent, with a copy of
//     the object onto itself; off by default (see Checksums).
//   - PrefixCheck (prefix_check=auto|true|false): refuse, with
//     storage.ErrExist, a key whose parent is an object or that is a
//     prefix of other keys. The default, auto, checks when the server is
//     MinIO (its Server header says so, seen once from the first
//     response; until then it checks), which cannot list "a" and "a/b"
//     together; AWS S3, R2 and B2 hold such keys side by side.
//   - SkipVerifyReads (skip_verify_reads): do not verify whole-object
//     reads.
//
// The names of older releases still work: the field PrefixConflicts
// (true is PrefixCheckOn) and the URL parameters prefix_conflicts,
// threads, max_retries, skip_multipart_sha256 and skip_prefix_check.
//
// # Uploads
//
// Put streams from a reader of unknown length in bounded memory: it holds at
// most (Concurrency+1) × PartSize bytes (80 MiB with the defaults of 4 and
// 16 MiB), in pooled 1 MiB blocks. An object that fits in one part is sent
// with one PutObject; a larger one as a multipart upload, Concurrency parts
// at a time, while it is read. A failed or cancelled upload is aborted, with
// a fresh context so that cancellation does not prevent the cleanup; a
// process that dies mid-upload leaves parts behind, so give buckets a
// lifecycle rule that aborts incomplete multipart uploads after a day. The
// count of bytes read is checked against PutOptions.Size before anything
// becomes visible: a short or long reader fails with storage.ErrSizeMismatch
// and stores nothing. The uploader is this package's own (the SDK's
// feature/s3/manager is deprecated, and its successor transfermanager aborts
// with the caller's possibly cancelled context, logs with the log package,
// and cannot put a checksum computed while streaming into the metadata);
// the benchmarks compare it with transfermanager.
//
// An object of up to 1 MiB is sent, from the second PutObject of a Store
// on, through a request pipeline of the Store's own, built once from the
// SDK's parts (its retry loop and retryer, its SigV4 signer and
// credentials cache, its clock-skew correction and error types) rather
// than the stack of about 40 steps the SDK's PutObject builds for every
// call, which costs a small object more CPU than its request. The first
// PutObject goes through the SDK, and the pipeline copies the request the
// SDK signed: its endpoint and addressing, its query, the scope of its
// signature. When that request has anything the pipeline would not send
// the same way (SigV4a, an S3 Express session, a streamed or unsigned
// payload, a header it does not know), every PutObject stays with the SDK.
// Requests of the pipeline carry the User-Agent "strata-s3". One of up to
// 56 KiB goes out in one write to the connection, head and body together,
// from a copy of its bytes: the Store's own transport has a 64 KiB write
// buffer for it, held by each open connection (a Config.HTTPClient of
// your own keeps its own buffer, 4 KiB by default, and two writes).
//
// PutOptions.IfNotExists sends If-None-Match: * with PutObject or
// CompleteMultipartUpload, so of racing writers exactly one wins and the
// others get storage.ErrExist (AWS S3 and MinIO support conditional writes;
// check your server).
//
// # Checksums
//
// strata keeps its own content checksum, so integrity never rests on the
// ETag (which is not an MD5 for multipart or SSE-C objects): Put computes
// the SHA-256 of what it reads (the shared layer's driver.Body hashes it as
// it is read) and stores it in user metadata as
// x-amz-meta-strata-sha256 (the "strata-" prefix is reserved; it is hidden
// from Info.Metadata and returned as Info.SHA256).
//
// A reader of a known size (PutOptions.Size) larger than one part that is
// an io.ReaderAt whose Seek works (a file, a *bytes.Reader; see
// driver.Body.ReaderAt) is read once to hash it, whole and part by part
// in the same pass on two cores; then it is uploaded in parts read at
// their offsets, Concurrency at a time, with no part buffers, so its
// checksum is in its metadata from the start, whatever its size. Each
// part carries a sum from that pass, so that a file that changes during
// the upload fails it (storage.ErrCorrupt: the server's sum of what it got
// differs) instead of being stored under a checksum that does not describe
// it:
//   - when the server is MinIO (the Server header of any response says
//     so; a Store that has had none yet sends one HeadBucket first), the
//     part's CRC32C (x-amz-checksum-crc32c, in an upload created with
//     x-amz-checksum-algorithm CRC32C), and the part goes unsigned: MinIO
//     checks a CRC32C for a small fraction of what checking a SHA-256
//     costs, and so does the client, which is what lets large files go
//     through as fast as mc mirror sends them;
//   - otherwise, over plain HTTP, the part's SHA-256, which signs the
//     request (X-Amz-Content-Sha256), so the SDK does not hash it again;
//   - otherwise (TLS to another server) none: the SDK sends the part
//     unsigned, and TLS guards it on the way.
//
// A Store's Parts says so (storage.Parts.ReaderAt), and strata migrate
// hands it large files as they are.
//
// Any other reader is read as a stream. Put reads up to Concurrency+1
// parts before sending anything, so every object of up to that size (80
// MiB by default) is hashed before its upload starts and gets the checksum
// at no extra cost. For larger streams the checksum is known only after
// the upload, when the metadata can no longer change: Put returns it in
// its Info, and records it only with Config.RecordLargeSHA256, by copying
// the object onto itself with the checksum added. Measured on
// MinIO, that copy rewrites the data and took about as long as the upload
// itself (1.3 to 4 s for 256 MiB), halving throughput, so it is off by
// default; raise PartSize to cover larger objects for free instead. S3's
// own additional checksums were not used: for multipart uploads they are
// checksums of part checksums, and S3-compatible servers support them
// unevenly.
//
// The SHA-256 costs client CPU, about 0.1 s per 256 MiB with SHA-NI. For
// a stream it is spent on the goroutine that reads the parts while earlier
// parts are sent; for a file, before the upload starts, and at most
// GOMAXPROCS/2 such passes run at once in a process, so that of several
// files uploaded together one is hashed while another is sent. Over TLS
// the SDK sends unsigned payloads, so that is the only hash of the data on
// the client; over plain HTTP every part is hashed as well, to sign it (by
// the SDK for a stream; in the same pass for a file). Where client and
// server share two busy cores (the benchmarks in
// internal/integration/s3driver) it costs 10 to 15% of upload throughput;
// with a core to spare, or a remote server, it overlaps with the network.
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
// A Get of a whole object (no Range, or a Range of offset 0 and length 0)
// whose SHA-256 is recorded hashes the content as the caller reads it (the
// shared layer does it, as for every provider). At
// the end, when the bytes read differ in number from the response's
// Content-Length or in SHA-256 from x-amz-meta-strata-sha256, the Read that
// would have returned io.EOF returns a *storage.Error matching
// storage.ErrCorrupt instead (with Op "get"), and so does every later
// Read. This catches an object whose bytes were replaced behind strata's
// back with its metadata kept, and corruption on the way. The bytes have
// been handed to the caller by then: a caller that must not act on
// corrupt content reads to the end before using it, as io.ReadAll does.
// A reader closed before its end is not verified.
//
// Ranged reads are not verified (the checksum is of the whole object), nor
// are objects without a recorded SHA-256: streams larger than
// (Concurrency+1) × PartSize stored without Config.RecordLargeSHA256, and
// objects written by other tools. Config.SkipVerifyReads (skip_verify_reads
// in a URL) turns verification off. It costs a SHA-256 of every byte
// read, computed in the reader's goroutine. Measured against MinIO on
// loopback on a shared two-core machine (the benchmarks in
// internal/integration/s3driver, interleaved with the SDK called
// directly), a verified 256 MiB download ran at 0.54 to 0.76
// of the SDK's throughput (0.75 on the quietest run) with 2.3 to 2.7 times
// its client CPU, against 0.78 to 1.12 (1.01) unverified; 2000 downloads of
// 64 KiB ran at 0.88 to 1.25 of the SDK's, against 0.97 to 1.04, which is
// within that machine's noise. Hashing beside the reader in a goroutine of
// its own was measured too, and was no faster there. A slower network hides
// more of the cost: the kernel keeps receiving while a block is hashed.
//
// Since January 2025 aws-sdk-go-v2 sends a CRC checksum with every upload
// and validates one on every download by default. MinIO, R2, B2 and others
// refuse the x-amz-checksum-algorithm header (HTTP 501) or answer
// XAmzContentSHA256Mismatch, so for an Endpoint that is not an AWS host,
// New sets RequestChecksumCalculation and ResponseChecksumValidation to
// "when required" (unless AWS_REQUEST_CHECKSUM_CALCULATION or
// AWS_RESPONSE_CHECKSUM_VALIDATION say otherwise). The uploader sends no
// checksum headers of its own, so the setting holds for multipart uploads
// too.
//
// # Encryption
//
// Config.SSE selects SSE-S3, SSE-KMS (with a key id) or SSE-C. An SSE-C
// key is sent with every request that reads or writes object data: each
// PutObject and UploadPart, CreateMultipartUpload and
// CompleteMultipartUpload, every Get (ranged or not), Stat (HeadObject),
// and Copy, which also sends it as the copy-source key. Servers refuse
// SSE-C over plain HTTP; MinIO also needs TLS for it, and a KMS
// (MINIO_KMS_SECRET_KEY=name:base64-of-32-bytes) for SSE-S3 and SSE-KMS.
// This package's tests start such a MinIO: a self-signed certificate
// passed with --certs-dir, trusted through Config.HTTPClient. PresignGet
// and PresignPut fail with storage.ErrUnsupported under SSE-C, as a plain
// request cannot carry the key.
//
// # Errors
//
// Errors are *storage.Error values with Provider "s3" that keep the SDK's
// error as their cause (errors.As finds smithy.APIError and the HTTP
// response error), classified by the table the minio driver uses too, so
// that the two drivers answer alike:
//
//   - NoSuchKey: storage.ErrNotFound (also fs.ErrNotExist). A 404 with
//     another code (NoSuchUpload, NoSuchVersion) is not a missing key and
//     has no Kind. A Stat is a HEAD, whose 404 has no body and so does not
//     say whether the key or the bucket is missing: Stat then asks the
//     bucket (one HeadBucket, only on that path) and answers
//     storage.ErrNotFound if it exists, storage.ErrNoBucket if not.
//   - 401, 403, AccessDenied, bad credentials: storage.ErrPermission. S3
//     answers 403 for a missing key when the caller may not list the bucket;
//     that is reported as access denied, never as not-found.
//   - No credentials (the SDK's default chain found none):
//     storage.ErrPermission, with a message naming AWS_ACCESS_KEY_ID and
//     AWS_SECRET_ACCESS_KEY, before any request is sent. A 5xx or 429
//     answer from a server of the chain (STS, SSO, the instance metadata
//     service) is storage.ErrUnavailable; its refused connections and
//     timeouts, which are how the instance metadata service is absent off
//     EC2, count as no credentials. With an Endpoint that is not AWS's
//     (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL naming one), the
//     instance metadata service is never asked: an instance role is
//     AWS's, and when nothing else is configured New fails at once with
//     that storage.ErrPermission. The SDK's own log lines (such as its
//     IMDSv1 warning) are not printed.
//   - 412 PreconditionFailed: storage.ErrExist for a Put with
//     IfNotExists; for a Copy whose source kept changing during the copy,
//     storage.ErrUnavailable.
//   - 416 InvalidRange: storage.ErrInvalidRange.
//   - 5xx, 429, 499 (MinIO's ClientDisconnected), SlowDown, timeouts,
//     refused or reset connections: storage.ErrUnavailable, after the SDK's
//     retries (Config.MaxAttempts; 499 is retried too). A timeout of the
//     transport (such as http.Transport's ResponseHeaderTimeout or
//     http.Client's Timeout, in Config.HTTPClient) while the caller's
//     context is live is storage.ErrUnavailable and does not match
//     context.DeadlineExceeded, though net/http's error does: it is not the
//     caller's deadline.
//   - BadDigest, XAmzContentSHA256Mismatch, and a verified read whose
//     content does not match its recorded SHA-256: storage.ErrCorrupt.
//   - NoSuchBucket: storage.ErrNoBucket, which matches
//     storage.ErrInvalidArgument and never storage.ErrNotFound
//     (Store.CreateBucket creates the bucket), for every operation.
//   - Other 400s: storage.ErrInvalidArgument, and so is an https
//     endpoint (an endpoint= without a scheme is one) that answers in
//     plain HTTP: that is not retried, and the message says to write
//     endpoint=http://HOST.
//   - context.Canceled and context.DeadlineExceeded stay matchable with
//     errors.Is. Once the caller's context has ended, what a request ended
//     with, unless it is a definite answer such as a 404 (a 499, a reset
//     connection, a timeout), is reported as the context's error, not as
//     storage.ErrUnavailable. While it is live, a cancellation inside the
//     SDK is storage.ErrUnavailable, as a transport timeout is.
//
// Error strings carry the bucket, key and the server's message, never
// credentials or signatures: requests are signed in headers, an endpoint may
// not hold a password, and a URL inside a transport error has its secret
// query parameters redacted. Presigned URLs carry a signature; treat them as
// secrets and do not log them. The SDK's request logging stays off.
//
// A Get of a missing key fails at the call, before any body is read. A
// ranged Get sends a Range header and takes the object's size from
// Content-Range; offset 0 of an empty object (where S3 answers 416) reads
// the empty object.
//
// # URLs
//
// Importing this package registers the scheme "s3" with storage.Open:
//
//	s3://bucket?region=eu-west-1
//	s3://media?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true
//
// Query parameters (all optional): region, endpoint (a URL; without a
// scheme, https is assumed), path_style (true or false) or addressing
// (auto, path, virtual-host), storage_class, sse (none, sse-s3, sse-kms,
// sse-c), sse_kms_key_id, and the parameters shared with minio:// URLs:
// part_size (bytes, or with a suffix: 64MiB), concurrency, max_attempts,
// record_large_sha256 (true or false), prefix_check (auto, true or false)
// and skip_verify_reads (true or false), with their deprecated names
// (threads, max_retries, skip_multipart_sha256, prefix_conflicts,
// skip_prefix_check). Unknown parameters, and a parameter given twice
// (under its name and a deprecated one too), are an error.
//
// Credentials are never taken from the URL: a URL with user information is
// refused. They come from the SDK's default chain: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws,
// web identity, container and instance roles. With sse=sse-c the key is
// read from the environment variable STRATA_S3_SSE_C_KEY (32 bytes in
// base64).
//
// # Configuring for AWS, MinIO, Cloudflare R2 and Backblaze B2
//
// AWS S3: name the bucket and its region; credentials from the default
// chain. Virtual-hosted requests and the SDK's checksum defaults apply.
//
//	s3.Config{Bucket: "media", Region: "eu-west-1"}
//	s3://media?region=eu-west-1
//
// MinIO: the endpoint URL, path-style requests (the default for a custom
// endpoint) and any region (MinIO's default is us-east-1). The default
// PrefixCheck, auto, turns the prefix check on, because MinIO keeps
// objects as directories and cannot list "a" and "a/b" together. SSE-C
// needs MinIO over TLS.
//
//	s3.Config{Bucket: "media", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
//		AccessKeyID: "...", SecretAccessKey: "..."}
//	s3://media?endpoint=http://127.0.0.1:9000&region=us-east-1
//
// Cloudflare R2: the account's endpoint and the region "auto", with an R2
// API token's access key pair. R2 supports If-None-Match on PutObject.
//
//	s3.Config{Bucket: "media", Endpoint: "https://<account-id>.r2.cloudflarestorage.com",
//		Region: "auto", AccessKeyID: "...", SecretAccessKey: "..."}
//	s3://media?endpoint=https://<account-id>.r2.cloudflarestorage.com&region=auto
//
// Backblaze B2: the S3 endpoint of the bucket's region, with that region,
// and an application key (key id as access key). B2 keeps every version of
// an object unless the bucket's lifecycle says otherwise.
//
//	s3.Config{Bucket: "media", Endpoint: "https://s3.us-west-004.backblazeb2.com",
//		Region: "us-west-004", AccessKeyID: "<keyID>", SecretAccessKey: "<applicationKey>"}
//	s3://media?endpoint=https://s3.us-west-004.backblazeb2.com&region=us-west-004
package s3
