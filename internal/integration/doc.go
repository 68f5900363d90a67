// Package integration holds no code: its subdirectories are the tests
// that need a real MinIO (testcontainers) or cross module boundaries: the
// s3 and minio drivers against MinIO (s3driver, miniodriver), both drivers
// against one server (crossdriver), the tiered store over MinIO
// (tieredminio), and changing, a source those tests share. They are kept
// out of the core and driver modules so that those modules' go.mod files
// need no testcontainers and no MinIO test helper. See the README's module
// table.
package integration
