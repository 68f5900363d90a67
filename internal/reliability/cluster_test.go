package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// EnvCluster enables TestCluster, which takes a few minutes: `make
// test-cluster` sets it, and CI runs that target.
const EnvCluster = "STRATA_RELIABILITY_CLUSTER"

// nodeTransport is the HTTP transport of one node's clients: a refused or
// unroutable node fails fast at dial, while an answer may take as long as
// MinIO needs to give up on a lost peer (about 30 s for the first write).
func nodeTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		ResponseHeaderTimeout: 35 * time.Second,
		IdleConnTimeout:       30 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
}

// clusterProviders returns, for each node, an s3 and a minio Store on bucket
// through that node alone.
func clusterProviders(t *testing.T, c *miniotest.Cluster, bucket string) (s3s, minios []storage.Provider) {
	ctx := context.Background()
	for _, n := range c.Nodes {
		ss, err := s3.New(ctx, s3.Config{
			Bucket: bucket, Region: c.Region, Endpoint: n.URL,
			AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey,
			MaxAttempts: 2, HTTPClient: &http.Client{Transport: nodeTransport()},
		})
		require.NoError(t, err)
		ms, err := minio.New(ctx, minio.Config{
			Endpoint: n.Endpoint, Bucket: bucket, Region: c.Region,
			AccessKey: c.AccessKey, SecretKey: c.SecretKey,
			MaxAttempts: 1, Transport: nodeTransport(), PrefixCheck: minio.PrefixCheckOff,
		})
		require.NoError(t, err)
		s3s = append(s3s, ss)
		minios = append(minios, ms)
	}
	return s3s, minios
}

// TestCluster runs a mixed workload through the s3 and minio providers and
// a write-behind tiered store against a 4-node MinIO while nodes stop,
// restart and drop off the network, and checks that every acknowledged
// write is readable at the end through every provider and every node.
//
// Clients reach the cluster through a Failover over one provider per node:
// each call starts at the next node and moves on when a node is
// unavailable, as a load balancer with health checks would.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test: not in -short mode")
	}
	if os.Getenv(EnvCluster) == "" {
		msg := fmt.Sprintf("cluster test: set %s=1 to run it (make test runs it on its own, after the other tests)", EnvCluster)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true it must not be skipped")
		}
		t.Skip(msg)
	}
	c := miniotest.StartCluster(t, 4)
	bucket := c.NewBucket(t)

	s3s, minios := clusterProviders(t, c, bucket)
	s3f := NewFailover(s3s...)
	minioF := NewFailover(minios...)
	t.Cleanup(func() { s3f.Close(); minioF.Close() })

	// The tiered store's remote gets providers of its own, so that Close
	// (which closes the remote) leaves the checkers' providers open.
	_, tieredRemotes := clusterProviders(t, c, bucket)
	cc, err := cache.Open(t.TempDir(), cache.Options{MaxBytes: 512 << 20})
	require.NoError(t, err)
	tieredF := NewFailover(tieredRemotes...)
	ts, err := tiered.New(cc, tieredF, tiered.Options{
		Mode: tiered.WriteBehind, MinBackoff: 200 * time.Millisecond, MaxBackoff: 3 * time.Second,
		Timeout: 55 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { ts.Close() })

	w := &Workload{
		Clients: []Client{{Name: "s3", P: s3f}, {Name: "minio", P: minioF}, {Name: "tiered", P: ts, Buffered: true}},
		Ledger:  NewLedger(),
		Prefix:  "cluster",
		Sizes: func(rng interface{ IntN(int) int }) int {
			if rng.IntN(10) == 0 {
				return 1<<20 + rng.IntN(1<<20)
			}
			return 4<<10 + rng.IntN(252<<10)
		},
		OpTimeout: 2 * time.Minute,
		Seed:      9,
		Logf:      t.Logf,
	}
	ctx := context.Background()
	const ops, workers = 60, 4
	var tallies []*Tally
	run := func(phase string, mid func()) {
		start := time.Now()
		n := ops
		if phase == "2-nodes-stopped" {
			n = ops / 2 // writes wait for MinIO to give up on the lost quorum
		}
		tl := w.Run(ctx, phase, n, workers, mid)
		tallies = append(tallies, tl)
		t.Logf("phase %s: %d ops in %v, errors: %q", phase, tl.Attempted.Load(), time.Since(start).Round(time.Millisecond), tl.Samples())
	}
	n2, n3, n4 := c.Nodes[1], c.Nodes[2], c.Nodes[3]
	// A node that restarts or reconnects is out of the clients' rotation
	// until the cluster is healthy again (see Failover): until it has
	// rejoined its peers, MinIO acknowledges deletes on it that delete
	// nothing. A node that stops or drops off stays in rotation, and the
	// clients fail over from it.
	drain := func(idx ...int) {
		for _, i := range idx {
			s3f.Drain(i)
			minioF.Drain(i)
			tieredF.Drain(i)
		}
	}
	admit := func(idx ...int) {
		for _, i := range idx {
			s3f.Admit(i)
			minioF.Admit(i)
			tieredF.Admit(i)
		}
	}

	run("healthy", nil)
	run("1-node-stopped", func() { n4.Stop(t) })
	run("2-nodes-stopped", func() { n3.Stop(t) })
	// Write-behind keeps Puts locally while the cluster has no write
	// quorum: a few made now, whatever the random workload did.
	for i := range 3 {
		key := fmt.Sprintf("cluster/tiered/2-nodes-stopped/explicit-%d", i)
		data := Content(key, 64<<10)
		_, err := ts.Put(ctx, key, bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data))})
		require.NoError(t, err, "a write-behind Put succeeds with two nodes down")
		w.Ledger.Ack(Record{Key: key, SHA256: SHA256(data), Size: int64(len(data)), Writer: "tiered", Phase: "2-nodes-stopped"})
	}
	pendingBefore := ts.Status().PendingUploads
	run("nodes-restarted", func() {
		drain(2, 3)
		n3.Start(t)
		n4.Start(t)
		c.WaitHealthy(t)
		admit(2, 3)
	})
	flushCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	require.NoError(t, ts.Flush(flushCtx), "write-behind uploads drain once the nodes are back")
	cancel()
	run("1-node-disconnected", func() { n2.Disconnect(t) })
	run("node-reconnected", func() {
		drain(1)
		n2.Reconnect(t)
		c.WaitHealthy(t)
		admit(1)
	})

	flushCtx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	require.NoError(t, ts.Flush(flushCtx))
	st := ts.Status()
	t.Logf("tiered: %d uploads pending when 2 nodes were down, %d uploaded, %d failed attempts, %d pending now",
		pendingBefore, st.Uploaded, st.UploadFailures, st.PendingUploads)

	readers := map[string]storage.Provider{"tiered": ts}
	for i := range c.Nodes {
		readers["s3@"+c.Nodes[i].Name] = s3s[i]
		readers["minio@"+c.Nodes[i].Name] = minios[i]
	}
	// A tiered store does not learn of deletes made by other clients: it
	// serves its cached copy until the copy leaves the cache (see the
	// package documentation), so it is checked for its own deletes only.
	//
	// The cluster itself sometimes undoes an acknowledged delete, so a key
	// deleted in some phases comes back on every node. The likely causes,
	// from the timing of the deletes that came back:
	//   - with two nodes down, a delete lacks write quorum and fails, but
	//     only after removing the object from the nodes that are up; a
	//     write-behind tiered store retries it, and once the nodes are back
	//     the nodes it reaches first answer 204 (they no longer have it)
	//     while the other half, which does, is enough for MinIO's read
	//     quorum of 2 of 4;
	//   - while a node rejoins, a Put the node held when it was cut off
	//     (which the client gave up on and sent to another node) completes
	//     once it reaches its peers again, or the heal of an object it
	//     missed races the delete.
	// No client can prevent these (seen about once in 50 deletes), so
	// deletes sent in those phases are counted in the table's "deletes
	// undone" column, not failed; in the other phases a deleted key that
	// comes back fails the test.
	problems := Check(ctx, w.Ledger, tallies, CheckOptions{Readers: readers, Attempts: 3,
		OwnDeletesOnly:      map[string]string{"tiered": "tiered"},
		ServerUndoesDeletes: map[string]bool{"2-nodes-stopped": true, "nodes-restarted": true, "node-reconnected": true},
		NotFoundGrace:       45 * time.Second,
		Logf:                t.Logf})
	t.Logf("fault table (%d acknowledged writes checked through %d readers, %d acknowledged deletes):\n%s",
		len(w.Ledger.Acked()), len(readers), len(w.Ledger.Deleted()), Table(tallies))
	for _, p := range problems {
		t.Error(p)
	}
	for _, tl := range tallies {
		require.Zero(t, tl.Corrupt.Load(), "phase %s served wrong bytes", tl.Phase)
	}
	require.Positive(t, pendingBefore, "with two nodes down, write-behind Puts were kept locally")
}
