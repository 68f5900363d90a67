package miniotest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"

	"github.com/strata-storage/strata/conformance/miniotest"
)

// TestCluster starts a 4-node cluster, writes through one node, and checks
// that data stays readable through another while a node is stopped or cut
// off the network, and that stopped and cut-off nodes come back.
func TestCluster(t *testing.T) {
	t0 := time.Now()
	step := func(s string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), s) }
	c := miniotest.StartCluster(t, 4)
	step("started")
	require.Len(t, c.Nodes, 4)
	eps := c.Endpoints()
	require.Len(t, eps, 4)
	for i, n := range c.Nodes {
		assert.Equal(t, fmt.Sprintf("minio%d", i+1), n.Name)
		host, _, err := net.SplitHostPort(n.Endpoint)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1", host)
		assert.Equal(t, n.Endpoint, eps[i])
	}
	assert.Same(t, c.Nodes[2], c.Node("minio3"))
	assert.Nil(t, c.Node("minio9"))

	bucket := c.NewBucket(t)
	n1, n2, n3, n4 := c.Nodes[0], c.Nodes[1], c.Nodes[2], c.Nodes[3]
	put(t, n1.Client(), bucket, "before", "written with all nodes up")

	// The object is erasure coded across the nodes: any node serves it.
	got, err := get(t, n4.Client(), bucket, "before")
	require.NoError(t, err)
	assert.Equal(t, "written with all nodes up", got)

	// Every node's drive is on its container's disk, not a tmpfs.
	for _, n := range c.Nodes {
		info, err := n.Container.Inspect(context.Background())
		require.NoError(t, err)
		assert.Empty(t, info.HostConfig.Tmpfs, "%s: no tmpfs", n.Name)
	}
	// The part of the object on minio2's own drive, and its drive's
	// identity, to compare after a restart.
	drive := func() (format, meta []byte) {
		return containerFile(t, n2.Container, "/data/.minio.sys/format.json"),
			containerFile(t, n2.Container, "/data/"+bucket+"/before/xl.meta")
	}
	format, meta := drive()

	// One node down: reads and writes go on (4 drives, 2 parity).
	n2.Stop(t)
	step("stopped")
	hc := &http.Client{Timeout: 2 * time.Second}
	_, err = hc.Get(n2.URL + "/minio/health/live")
	require.Error(t, err, "a stopped node does not answer")
	got, err = get(t, n1.Client(), bucket, "before")
	require.NoError(t, err, "read with one node down")
	assert.Equal(t, "written with all nodes up", got)
	put(t, n3.Client(), bucket, "during", "written with minio2 down")

	n2.Start(t)
	step("restarted")
	format2, meta2 := drive()
	assert.Equal(t, string(format), string(format2), "a restarted node keeps its drive (not formatted anew)")
	assert.Equal(t, meta, meta2, "a restarted node keeps what was on its drive (not healed back)")
	c.WaitHealthy(t)
	step("waited healthy")
	got, err = get(t, n2.Client(), bucket, "during")
	require.NoError(t, err, "a restarted node serves what was written while it was down")
	assert.Equal(t, "written with minio2 down", got)

	// One node cut off the network: neither clients nor peers reach it.
	// (How long MinIO takes to notice is for the reliability tests.)
	step("healthy")
	n3.Disconnect(t)
	step("disconnected")
	nets, err := n3.Container.Networks(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, nets, c.Network.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, err = n3.Client().BucketExists(ctx, bucket)
	cancel()
	require.Error(t, err, "a disconnected node is unreachable")

	n3.Reconnect(t)
	step("reconnected")
	nets, err = n3.Container.Networks(context.Background())
	require.NoError(t, err)
	assert.Contains(t, nets, c.Network.Name)
	aliases, err := n3.Container.NetworkAliases(context.Background())
	require.NoError(t, err)
	assert.Contains(t, aliases[c.Network.Name], "minio3", "peers find it by name again")
	c.WaitHealthy(t)
	step("healthy again")
	got, err = get(t, n3.Client(), bucket, "before")
	require.NoError(t, err, "a reconnected node serves reads")
	assert.Equal(t, "written with all nodes up", got)
	_, err = n3.Client().PutObject(context.Background(), bucket, "after", strings.NewReader("x"), 1, minio.PutObjectOptions{})
	require.NoError(t, err)
}

// containerFile returns the content of a file in a container's file
// system (running or not).
func containerFile(t *testing.T, ctr testcontainers.Container, path string) []byte {
	t.Helper()
	rc, err := ctr.CopyFileFromContainer(context.Background(), path)
	require.NoError(t, err, "read %s in the container", path)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NotEmpty(t, b, path)
	return b
}
