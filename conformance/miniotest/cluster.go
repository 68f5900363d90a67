package miniotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
)

// Cluster is a distributed MinIO: n nodes, one drive each, forming one
// erasure set, on a private Docker network of its own. A node can be
// stopped and started, or cut off the network and reconnected, while
// clients talk to the others. Each node's drive is on its container's disk,
// never on a tmpfs, so a node stopped and started keeps its data.
type Cluster struct {
	// Nodes are the cluster's nodes, named minio1 to minioN.
	Nodes []*Node
	// AccessKey and SecretKey are the root credentials, the same on every
	// node.
	AccessKey, SecretKey string
	// Region is DefaultRegion.
	Region string
	// Network is the private network the nodes talk over.
	Network *testcontainers.DockerNetwork

	ctx    context.Context // ends when the test does; bounds marker writes
	cancel context.CancelFunc
	wg     sync.WaitGroup // marker writes under way
}

// ProbeBucket is the bucket a Cluster keeps its markers in: when a node
// goes down, an object is written through another node, and WaitHealthy
// waits until the returning node can read it. Tests should ignore it in
// bucket listings.
const ProbeBucket = "miniotest-probe"

// Node is one server of a Cluster.
type Node struct {
	// Name is the node's host name and network alias: minio1, minio2, ...
	Name string
	// Endpoint is 127.0.0.1:port, published on loopback; it stays the same
	// when the node is stopped and started.
	Endpoint string
	// URL is "http://" + Endpoint.
	URL string
	// Container is the node's container.
	Container testcontainers.Container

	cluster *Cluster
	client  *minio.Client
	seq     int // markers written for this node

	mu     sync.Mutex
	down   bool    // stopped or disconnected through this package
	marker *marker // written while the node was away, not yet read through it
}

// marker is an object written while a node was down.
type marker struct {
	done chan struct{} // closed when the write has ended
	key  string        // set before done closes, if the write succeeded
	err  error         // set before done closes, if it failed
}

// StartCluster starts an n-node distributed MinIO (n from 2 to 16; 4 is
// the usual test: erasure coding with 2 parity drives, so reads survive two
// lost nodes and writes one) for this test alone, waits until it reports
// healthy, and removes it and its network when the test ends. It skips or
// fails as Start does.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartClusterWith(t, n, nil)
}

// StartClusterWith is StartCluster with options; opts may be nil. It fails
// the test when opts.Tmpfs is set: a node's drive on a tmpfs would be wiped
// when the node is stopped.
func StartClusterWith(t testing.TB, n int, opts *Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("miniotest: skipping MinIO cluster test in -short mode")
	}
	if n < 2 || n > 16 {
		t.Fatalf("miniotest: a cluster has 2 to 16 nodes, not %d", n)
	}
	if opts != nil && opts.Tmpfs {
		t.Fatalf("miniotest: Options.Tmpfs is not for clusters: a node keeps its drive on its container's disk, so that it keeps its data when stopped and started")
	}
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout+o.PullTimeout)
	defer cancel()
	if err := prepare(ctx, o); err != nil {
		report(t, inCI(), err)
		return nil
	}
	sctx, scancel := context.WithTimeout(ctx, o.StartTimeout)
	defer scancel()

	nw, err := network.New(sctx, network.WithLabels(map[string]string{labelKey: "cluster"}))
	if err != nil {
		t.Fatalf("miniotest: create network: %v", err)
	}
	// Cleanups run last-in first-out: the network goes after the nodes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := nw.Remove(ctx); err != nil {
			t.Errorf("miniotest: remove network %s: %v", nw.Name, err)
		}
	})

	c := &Cluster{AccessKey: o.AccessKey, SecretKey: o.SecretKey, Region: DefaultRegion, Network: nw}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	drives := fmt.Sprintf("http://minio{1...%d}/data", n)
	// Start every node before waiting on any: a node waits for its peers.
	for i := 1; i <= n; i++ {
		node, err := startNode(sctx, o, nw, fmt.Sprintf("minio%d", i), drives)
		if node != nil && node.Container != nil {
			ctr := node.Container
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := ctr.Terminate(ctx); err != nil {
					t.Errorf("miniotest: terminate %s: %v", node.Name, err)
				}
			})
		}
		if err != nil {
			t.Fatalf("miniotest: %v", err)
		}
		node.cluster = c
		c.Nodes = append(c.Nodes, node)
	}
	// Before the nodes go (cleanups run last-in first-out), stop and wait
	// for marker writes.
	t.Cleanup(func() {
		c.cancel()
		c.wg.Wait()
	})
	if err := c.waitHealthy(sctx); err != nil {
		t.Fatalf("miniotest: %v%s", err, containerLog(c.Nodes[0].Container))
	}
	if err := c.Nodes[0].client.MakeBucket(sctx, ProbeBucket, minio.MakeBucketOptions{Region: c.Region}); err != nil {
		t.Fatalf("miniotest: make bucket %s: %v", ProbeBucket, err)
	}
	return c
}

// startNode starts one node's container, without waiting for it.
func startNode(ctx context.Context, o Options, nw *testcontainers.DockerNetwork, name, drives string) (*Node, error) {
	var (
		ctr *testcontainers.DockerContainer
		err error
	)
	for attempt := 0; attempt < 3; attempt++ {
		var hostPort string
		hostPort, err = freePort()
		if err != nil {
			return nil, err
		}
		ctr, err = testcontainers.Run(ctx, o.Image,
			testcontainers.WithExposedPorts("9000/tcp"),
			testcontainers.WithEnv(map[string]string{
				"MINIO_ROOT_USER":     o.AccessKey,
				"MINIO_ROOT_PASSWORD": o.SecretKey,
				"MINIO_CI_CD":         "1",
			}),
			testcontainers.WithEnv(o.Env),
			testcontainers.WithCmd("server", drives),
			testcontainers.WithLabels(map[string]string{labelKey: "cluster-node"}),
			testcontainers.WithConfigModifier(func(cfg *container.Config) { cfg.Hostname = name }),
			testcontainers.WithHostConfigModifier(bindLoopback(hostPort)),
			network.WithNetwork([]string{name}, nw),
			testcontainers.WithLogger(noLog),
		)
		if err == nil || !isPortTaken(err) {
			break
		}
		if ctr != nil {
			terminate(ctr)
			ctr = nil
		}
	}
	node := &Node{Name: name}
	if ctr != nil {
		node.Container = ctr
	}
	if err != nil {
		return node, fmt.Errorf("start %s from %s: %w", name, o.Image, err)
	}
	host, err := ctr.Host(ctx)
	if err != nil {
		return node, fmt.Errorf("%s: container host: %w", name, err)
	}
	if err := checkLoopback(host, o.AllowNonLoopback); err != nil {
		return node, err
	}
	port, err := ctr.MappedPort(ctx, "9000/tcp")
	if err != nil {
		return node, fmt.Errorf("%s: mapped port: %w", name, err)
	}
	node.Endpoint = net.JoinHostPort(host, port.Port())
	node.URL = "http://" + node.Endpoint
	node.client, err = newClient(node.Endpoint, o.AccessKey, o.SecretKey)
	return node, err
}

// Endpoints returns every node's host:port, in node order.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		eps[i] = n.Endpoint
	}
	return eps
}

// Node returns the node named name (minio1, ...), or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// NewBucket creates an empty bucket with a fresh name, through the first
// node that answers, and returns its name. The bucket goes away with the
// cluster.
func (c *Cluster) NewBucket(t testing.TB) string {
	t.Helper()
	var errs []error
	for _, n := range c.Nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		name := bucketName(t.Name())
		err := n.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: c.Region})
		cancel()
		if err == nil {
			return name
		}
		errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
	}
	t.Fatalf("miniotest: make bucket: %v", errors.Join(errs...))
	return ""
}

// WaitHealthy waits, up to two minutes, until the cluster is healthy (see
// Healthy): use it after Start or Reconnect, before reading through the
// node that came back.
func (c *Cluster) WaitHealthy(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.waitHealthy(ctx); err != nil {
		t.Fatalf("miniotest: %v", err)
	}
}

// Healthy reports whether every node that is not stopped or disconnected
// (at least one) reports the cluster healthy, /minio/health/cluster
// answering 200, and can read the marker written while it was away, if any.
//
// The marker matters: MinIO reconnects a returning node to its peers' drives
// only every 15 seconds, and until then the node answers a GET of an object
// written while it was away with a definite 404 NoSuchKey, while its health
// endpoints already answer 200. While a marker is still being written (the
// first write after a node vanishes from the network waits for MinIO to
// give up on it, some 30 seconds), Healthy is false. If the marker could not
// be written (no write quorum), only the health endpoint is checked.
func (c *Cluster) Healthy(ctx context.Context) bool {
	return c.unhealthy(ctx) == nil
}

// unhealthy returns why the cluster is not healthy, or nil.
func (c *Cluster) unhealthy(ctx context.Context) error {
	var errs []error
	up := 0
	for _, n := range c.Nodes {
		down, m := n.state()
		if down {
			continue
		}
		up++
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx, n.URL+"/minio/health/cluster")
		if err == nil && m != nil {
			err = n.readMarker(pctx, m)
		}
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n.Name, err))
		}
	}
	if up == 0 {
		return errors.New("every node is down")
	}
	return errors.Join(errs...)
}

// waitHealthy polls until the cluster is healthy or ctx ends.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.unhealthy(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not healthy: %w (last: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// state returns whether n is down and its unread marker.
func (n *Node) state() (bool, *marker) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.down, n.marker
}

// readMarker checks that n serves m, and forgets m once it does. A marker
// whose write failed is forgotten at once.
func (n *Node) readMarker(ctx context.Context, m *marker) error {
	select {
	case <-m.done:
	default:
		return errors.New("marker write under way")
	}
	if m.err == nil {
		if _, err := n.client.StatObject(ctx, ProbeBucket, m.key, minio.StatObjectOptions{}); err != nil {
			return fmt.Errorf("read marker %s written while away: %w", m.key, err)
		}
	}
	n.mu.Lock()
	if n.marker == m {
		n.marker = nil
	}
	n.mu.Unlock()
	return nil
}

// wentDown records that n is down and writes a marker for it through the
// first other node that takes it, in the background.
func (n *Node) wentDown() {
	c := n.cluster
	n.seq++
	m := &marker{done: make(chan struct{}), key: fmt.Sprintf("%s/%d", n.Name, n.seq)}
	n.mu.Lock()
	n.down = true
	n.marker = m
	n.mu.Unlock()

	var others []*Node
	for _, o := range c.Nodes {
		if down, _ := o.state(); !down {
			others = append(others, o)
		}
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(m.done)
		ctx, cancel := context.WithTimeout(c.ctx, 90*time.Second)
		defer cancel()
		var errs []error
		for _, o := range others {
			_, err := o.client.PutObject(ctx, ProbeBucket, m.key, strings.NewReader(m.key), int64(len(m.key)), minio.PutObjectOptions{})
			if err == nil {
				return
			}
			errs = append(errs, fmt.Errorf("%s: %w", o.Name, err))
		}
		m.err = errors.Join(append(errs, errors.New("no node took the marker"))...)
	}()
}

// cameBack records that n is up again; its marker stays until read.
func (n *Node) cameBack() {
	n.mu.Lock()
	n.down = false
	n.mu.Unlock()
}

// Client returns a minio-go client for this node, with the root
// credentials.
func (n *Node) Client() *minio.Client { return n.client }

// Stop stops the node's container (SIGTERM, then SIGKILL after 10s). Its
// drive, on the container's disk, keeps its data for Start.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	stopContainer(t, n.Container)
	n.wentDown()
}

// Start starts a stopped node and waits until it answers its liveness
// probe; it keeps its endpoint. Use Cluster.WaitHealthy before reading
// through it.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	startContainer(t, n.Container, n.URL)
	n.cameBack()
}

// Disconnect cuts the node off the cluster's network (docker network
// disconnect): its peers cannot reach it, and neither can clients, as its
// published port went through that network.
func (n *Node) Disconnect(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dc, err := dockerAPI(ctx)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	_, err = dc.NetworkDisconnect(ctx, n.cluster.Network.ID, client.NetworkDisconnectOptions{
		Container: n.Container.GetContainerID(),
		Force:     true,
	})
	if err != nil {
		t.Fatalf("miniotest: disconnect %s: %v", n.Name, err)
	}
	n.wentDown()
}

// Reconnect puts a disconnected node back on the cluster's network under
// its name, and waits until it answers on its endpoint again. Use
// Cluster.WaitHealthy before reading through it.
func (n *Node) Reconnect(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dc, err := dockerAPI(ctx)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	_, err = dc.NetworkConnect(ctx, n.cluster.Network.ID, client.NetworkConnectOptions{
		Container:      n.Container.GetContainerID(),
		EndpointConfig: &mobynet.EndpointSettings{Aliases: []string{n.Name}},
	})
	if err != nil {
		t.Fatalf("miniotest: reconnect %s: %v", n.Name, err)
	}
	if err := waitHealthy(ctx, n.URL, "/minio/health/live"); err != nil {
		t.Fatalf("miniotest: %s: %v", n.Name, err)
	}
	n.cameBack()
}
