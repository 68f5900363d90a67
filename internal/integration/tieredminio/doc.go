// Package tieredminio tests the tiered store with a real MinIO as its
// remote (the conformance suite, a conflict found on upload, an outage).
// These tests were in package tiered; they live here because they need
// the minio driver and testcontainers, which the core module does not
// require.
package tieredminio
