// Package integration holds no code: its subdirectories are the tests
// that cross module boundaries (a core package against a real MinIO
// through the minio or s3 driver), kept out of the core module so that
// the core's go.mod needs no SDK and no testcontainers. See the README's
// module table.
package integration
