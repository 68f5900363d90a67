// Package reliability holds strata's reliability tests and the helpers they
// share: a workload of media-sized objects that records every acknowledged
// write and delete (Workload, Ledger, Check), and a client that spreads its
// calls over the nodes of a distributed store (Failover). It is test
// scaffolding, internal to strata (cmd/strata-soak uses the Ledger), not
// part of the library; the faults these tests inject into a provider come
// from storage/faults, and the cluster's from stopping MinIO nodes.
//
// # The tests
//
//   - TestCluster runs the s3 and minio providers and a write-behind tiered
//     store against a 4-node MinIO with erasure coding while nodes stop,
//     restart and drop off the network, and prints a table per phase:
//     operations attempted, succeeded, failed cleanly, and acknowledged
//     writes lost (which must be zero). It takes a few minutes and runs only
//     when STRATA_RELIABILITY_CLUSTER is set: `make test-cluster`, which CI
//     runs after `make test`.
//   - TestSeveralProcesses runs several processes (the test binary,
//     re-executed), each with its own cache directory, on one bucket.
//   - The fuzz tests and hostile-input tests check that no input panics,
//     escapes a local root, or leaks a secret into a log line or an error.
//
// # Corruption
//
// Every copy strata serves whole is checked against the checksum recorded
// when it was written, and damage is reported as storage.ErrCorrupt, never
// served as good:
//
//   - a cached file damaged on disk: the cache fails the read (at open when
//     the size is wrong, at the end of the stream when the bytes are) and
//     drops its copy, so a tiered store's next read fetches the object from
//     the remote again (TestCachedBitFlipDetected);
//   - a remote object whose bytes no longer match the SHA-256 strata stored
//     with it: the s3 and minio providers fail a whole-object read at its
//     end (TestRemoteBitFlipProviders), and a tiered store filling its cache
//     from it fails the read and keeps nothing (TestRemoteBitFlipDetected).
//
// Ranged reads are not verified (the checksum covers the whole object).
//
// # Reaching a cluster
//
// A MinIO client talks to one node, or to a load balancer in front of them.
// The tests use a Failover over one provider per node: each call starts at
// the next node in turn and moves on to the following ones while a node is
// unavailable (storage.ErrUnavailable), as a load balancer with health
// checks does. A definite answer (not found, exists) of one node is final.
// Right after a node comes back MinIO may answer a definite, false
// not-found for up to about 16 seconds; the tests wait for the cluster to be
// healthy (miniotest.Cluster.WaitHealthy) before they count on reads
// through it, and count false not-founds separately while they run.
//
// # Several processes, one remote
//
// Every process owns its cache directory; they share only the remote. A
// key written by one process is read by the others through fetch on miss,
// and since media keys are never overwritten (write them with
// storage.PutOptions.IfNotExists, so a second writer gets storage.ErrExist),
// a process never serves anything but the bytes written.
//
// When a key is overwritten (or deleted) by another process, nothing tells
// the processes that cached it: each keeps serving its cached copy, the old
// bytes, until that copy leaves its cache (evicted as least recently used,
// expired by the cache's idle bound, or dropped by the tiered store's
// Offload, which finds a clean local copy that differs from the remote's and
// drops it as stale). Then the next read fetches the new version. A process
// that overwrites a key sees its own new version at once. So overwrites
// across processes are eventually visible, bounded by the cache's idle time
// or the Offload schedule; code that needs them at once must use new keys
// (a media server does) or read the remote directly. TestOverwriteAcrossStores
// checks each step of this.
package reliability
