// Package crossdriver checks that the s3 and minio drivers give the same
// answers against one MinIO (same errors, same objects): the tests of
// internal/s3proto that need both drivers (against MinIO and against a
// canned S3 server), kept out of the core module.
package crossdriver
