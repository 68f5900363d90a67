// Package s3driver tests the s3 driver against a real MinIO: the
// conformance suite, multipart uploads, copies, listings, verification of
// reads, SSE-C and SSE-S3/KMS over TLS, and the benchmarks against the SDK.
// These tests were in package s3; they live here so that the s3 module's
// go.mod needs neither testcontainers nor the MinIO test helper (and their
// Go version). Limits that no Config offers (a listing page, the copy
// threshold) are lowered through s3proto.Knobs. The tests that need no
// server, or a loopback fake of one, stay in package s3.
package s3driver
