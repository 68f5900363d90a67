// Package miniodriver tests the minio driver against a real MinIO: the
// conformance suite, round trips of every size, listings, retries through a
// flaky proxy, verification of reads, SSE-C over TLS, and the benchmarks
// against minio-go. These tests were in package minio; they live here so
// that the minio module's go.mod needs neither testcontainers nor the MinIO
// test helper (and their Go version). Settings that no Config offers (a
// listing page, the retry delay) are changed through s3proto.Knobs. The
// tests that need no server, or a loopback fake of one, stay in package
// minio.
package miniodriver
