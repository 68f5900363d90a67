// Package miniotest starts real MinIO servers in Docker containers for
// tests, with testcontainers-go: one server shared by a test binary, a
// server of a test's own, or a distributed cluster on a private network.
//
// A CI pipeline tests against a real S3-compatible server in three lines:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
//
//	srv := miniotest.Start(t)      // shared by the binary, started once
//	bucket := srv.NewBucket(t)     // fresh and empty, removed after the test
//
// and then points its client at srv.Endpoint (or srv.URL) with
// srv.AccessKey, srv.SecretKey and srv.Region.
//
// # Sharing and teardown
//
// Start returns one server for the whole test binary when TestMain calls
// Run: it starts on first use and Run terminates it after the last test.
// Tests are isolated from each other by buckets, not servers. Without Run,
// Start gives each test its own server, removed when the test ends: nothing
// leaks, it is only slower. StartFresh always gives the test its own
// server; use it for a test that stops, pauses or restarts MinIO, so an
// outage never reaches another test. StartCluster starts an n-node
// distributed MinIO with erasure coding whose nodes can be stopped or cut off
// the network.
//
// # Data on tmpfs
//
// The servers Start returns keep MinIO's data directory on a tmpfs (a
// Docker tmpfs mount on /data, in memory, of at most DefaultTmpfsSize): no
// disk I/O for MinIO's writes and fsyncs, and nothing left on the host's
// disk. A tmpfs does not outlive its container's run, so those servers
// must not be stopped (Server.Stop refuses); pausing them is fine.
// StartFresh servers, the ones tests stop and start, keep their data on
// the container's disk unless Options.Tmpfs asks for a tmpfs, and cluster
// nodes always do, so that a stopped node comes back with its drive as it
// was.
//
// The environment variable STRATA_MINIO_TMPFS (EnvTmpfs) sets the size of
// the tmpfs ("8g" for tests that store more than DefaultTmpfsSize at once)
// or, set to 0, keeps every server's data on disk: for a Docker that
// cannot mount a tmpfs, or a machine short of memory.
//
// # Image
//
// The image is Options.Image, else the environment variable
// STRATA_MINIO_IMAGE, else DefaultImage (the upstream minio/minio at a
// pinned release, for users with a registry). strata's own runs use the
// image scripts/minio-image.sh builds from MinIO's Go module without any
// registry (`make minio-image`): a single static binary FROM scratch, with
// no shell, which is why every wait here is an HTTP probe.
//
// # When MinIO is unavailable
//
// Before starting anything, the package checks that Docker answers and that
// the image is present locally; a registry image is pulled once, with a
// time limit, and an image named strata-minio:* is never pulled. If Docker
// or the image is missing, the test is skipped with one line saying why and
// how to enable it, unless the environment variable CI is true: then the
// test fails, so a CI run never passes by skipping. In -short mode the
// tests are skipped.
//
// # Environment
//
// Importing the package sets TESTCONTAINERS_RYUK_DISABLED=true and
// TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 unless they are already set: the
// reaper needs an image of its own that may not be pullable, and without
// the override testcontainers can resolve the Docker host to a gateway
// address rather than loopback. Containers publish their port on 127.0.0.1
// only, and Start fails if the endpoint is not on a loopback address
// (Options.AllowNonLoopback for a remote Docker daemon). Ports are fixed when
// a container is created, so a stopped and restarted server keeps its
// endpoint. Every container and network carries the label
// dev.strata.miniotest, so leftovers of a killed test binary can be removed
// with
//
//	docker rm -f $(docker ps -aq --filter label=dev.strata.miniotest)
//
// # Errors
//
// Start and its siblings report through the testing.TB they are given
// (Skip or Fatal) and never return an error. *UnavailableError is the
// cause they skip on.
package miniotest
