// Package s3proto is what the two S3 drivers of strata, s3 (aws-sdk-go-v2)
// and minio (minio-go), share of the S3 protocol, so that on one server they
// cannot answer differently.
//
// Its core is one table, [Kind], from what an S3 error response says (the
// operation, the HTTP status, the S3 error code, the message) to the
// storage sentinel it means, and [NoResponseKind] for a request that got no
// response. Each driver keeps only a small function that takes those fields
// out of its SDK's error type, and the context handling around them.
//
// It also holds what both drivers send and read the same way: the HTTP
// attributes of an object ([Attrs], stored as the object's own headers),
// strata's SHA-256 in user metadata ([MetaSHA256]) and the checks and
// signed headers of a presigned upload ([CheckPresignPut]).
//
// # A 404 to a HEAD
//
// A HEAD response has no body, so its 404 says neither "no such key" nor
// "no such bucket" (aws-sdk-go-v2 reports the code "NotFound"; minio-go
// guesses NoSuchKey, and takes MinIO's x-minio-error-code header when there
// is one, which other servers do not send). A missing bucket must never be
// reported as a missing key: a tiered store or a migration would take it
// for "this object does not exist". So a driver's Stat that gets a 404
// asks whether the bucket exists (one HEAD of the bucket, sent only on that
// path; a Stat that finds its object costs nothing more) and lets
// [ConfirmMissing] decide: no bucket is ErrNoBucket; a bucket that exists,
// or that the caller may not HEAD (a 403: the name is taken, so the bucket
// is there), makes the 404 a missing key, ErrNotFound. The answer is not
// cached, because a bucket can be removed while a Store is open, and that
// is exactly when a cached "it exists" would turn its absence into
// ErrNotFound.
package s3proto
