package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcminio "github.com/testcontainers/testcontainers-go/modules/minio"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	// EnvImage names the environment variable that selects the MinIO
	// image. The project's own runs set it to the image that
	// scripts/minio-image.sh builds (strata-minio:<version>).
	EnvImage = "STRATA_MINIO_IMAGE"

	// DefaultImage is the upstream image used when EnvImage is unset, for
	// users whose Docker can pull from Docker Hub.
	DefaultImage = "minio/minio:RELEASE.2025-09-07T16-13-09Z"

	// DefaultRegion is the region every server is configured with.
	DefaultRegion = "us-east-1"

	// DefaultAccessKey is the access key used when Options sets none.
	DefaultAccessKey = "strata"

	// EnvTmpfs names the environment variable that sets the size of the
	// tmpfs a server keeps /data on (see Options.Tmpfs): a size as
	// Docker takes it ("512m", "8g"), or 0 (also false, off, no) to keep
	// every server's data on the container's disk. Unset, empty or 1
	// means DefaultTmpfsSize.
	EnvTmpfs = "STRATA_MINIO_TMPFS"

	// DefaultTmpfsSize bounds the tmpfs of a server's /data. It is an
	// upper bound, not an allocation: the tmpfs takes memory for what is
	// stored in it only, and buckets go away with their tests.
	DefaultTmpfsSize = "4g"
)

// The environment testcontainers reads. Set here, before any container
// starts, unless the caller set them: the reaper container (Ryuk) is an
// image that cannot be pulled where no registry is reachable, and without
// the host override testcontainers may resolve the Docker host to a
// gateway address instead of loopback.
func init() { setDefaultEnv(os.LookupEnv, os.Setenv) }

// defaultEnv is what init sets when unset.
var defaultEnv = [][2]string{
	{"TESTCONTAINERS_RYUK_DISABLED", "true"},
	{"TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1"},
}

// setDefaultEnv sets each variable of defaultEnv that lookup does not find.
func setDefaultEnv(lookup func(string) (string, bool), set func(k, v string) error) {
	for _, kv := range defaultEnv {
		if _, ok := lookup(kv[0]); !ok {
			_ = set(kv[0], kv[1])
		}
	}
}

// Options configures a server started by StartFresh or a cluster started by
// StartClusterWith. The zero value (or nil) means: the image from
// STRATA_MINIO_IMAGE or DefaultImage, DefaultAccessKey and a random secret
// key, and generous timeouts.
type Options struct {
	// Image is the MinIO image; empty means $STRATA_MINIO_IMAGE, then
	// DefaultImage.
	Image string
	// AccessKey and SecretKey are the root credentials. Empty AccessKey
	// means DefaultAccessKey; empty SecretKey means a random one, so a
	// secret never repeats between runs and a test can look for it in
	// logs.
	AccessKey, SecretKey string
	// StartTimeout bounds starting the container(s) until they answer;
	// zero means 2 minutes.
	StartTimeout time.Duration
	// PullTimeout bounds pulling an image that is not present locally;
	// zero means 5 minutes. Images named strata-minio:* are never pulled.
	PullTimeout time.Duration
	// Env adds environment variables to the MinIO containers, e.g.
	// MINIO_DRIVE_MAX_TIMEOUT to make a cluster give up on an unreachable
	// node sooner than its default 30 seconds or so.
	Env map[string]string
	// AllowNonLoopback lets the endpoint be on a host other than a
	// loopback address (a remote Docker daemon). By default a server whose
	// mapped port is not on loopback is an error.
	AllowNonLoopback bool
	// Tmpfs keeps the server's data directory, /data, on a tmpfs: in
	// memory, so that MinIO's writes and fsyncs cost no disk I/O and
	// nothing is left on the host's disk. The size is EnvTmpfs, else
	// DefaultTmpfsSize; EnvTmpfs=0 turns it off, even here.
	//
	// A tmpfs does not outlive its container's run, so Stop on a server
	// started with it fails the test (Pause is fine). The servers Start
	// returns always have one; StartFresh, whose servers are the ones
	// tests stop and start, only with this field. A cluster's nodes keep
	// their drives on the container's disk, so that a node stopped and
	// started comes back with its data: StartClusterWith fails the test
	// when this field is set.
	Tmpfs bool
}

// tmpfsSize returns the size of the tmpfs a server with Options.Tmpfs set
// to want keeps /data on, given the value of EnvTmpfs (set says whether
// it is set at all), or "" for none.
func tmpfsSize(want bool, env string, set bool) (string, error) {
	if !want {
		return "", nil
	}
	v := strings.ToLower(strings.TrimSpace(env))
	switch {
	case !set, v == "", v == "1", v == "true", v == "on", v == "yes":
		return DefaultTmpfsSize, nil
	case v == "0", v == "false", v == "off", v == "no":
		return "", nil
	case tmpfsSizeRE.MatchString(v):
		return v, nil
	}
	return "", fmt.Errorf("miniotest: %s=%q: want a size such as 2g or 512m, 1 for the default (%s), or 0 to keep MinIO's data on disk", EnvTmpfs, env, DefaultTmpfsSize)
}

// tmpfsSizeRE matches the sizes tmpfsSize passes on to Docker.
var tmpfsSizeRE = regexp.MustCompile(`^[1-9][0-9]*[kmg]?$`)

// dataTmpfs returns the size of the tmpfs for o's server, or "".
func (o *Options) dataTmpfs() (string, error) {
	env, set := os.LookupEnv(EnvTmpfs)
	return tmpfsSize(o != nil && o.Tmpfs, env, set)
}

// onTmpfs mounts a tmpfs of the given size on /data.
func onTmpfs(size string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs["/data"] = "rw,size=" + size
	}
}

// image returns the image to run.
func (o *Options) image() string {
	if o != nil && o.Image != "" {
		return o.Image
	}
	if v := os.Getenv(EnvImage); v != "" {
		return v
	}
	return DefaultImage
}

// withDefaults returns a copy of o with every empty field filled in.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	r.Image = o.image()
	if r.AccessKey == "" {
		r.AccessKey = DefaultAccessKey
	}
	if r.SecretKey == "" {
		r.SecretKey = randomHex(16)
	}
	if r.StartTimeout <= 0 {
		r.StartTimeout = 2 * time.Minute
	}
	if r.PullTimeout <= 0 {
		r.PullTimeout = 5 * time.Minute
	}
	return r
}

// Server is a running MinIO server.
type Server struct {
	// Endpoint is host:port, always 127.0.0.1:port unless
	// Options.AllowNonLoopback.
	Endpoint string
	// URL is "http://" + Endpoint.
	URL string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
	// Region is DefaultRegion.
	Region string
	// Container is the running container, for tests that stop, start or
	// pause it. Do that only to a server from StartFresh: the one Start
	// returns is shared by every test in the binary.
	Container *tcminio.MinioContainer

	shared bool
	tmpfs  string // size of the tmpfs /data is on, or ""
	client *minio.Client
}

// Client returns a minio-go client for the server, with its root
// credentials.
func (s *Server) Client() *minio.Client { return s.client }

// NewBucket creates an empty bucket with a fresh name derived from the
// test's name and returns the name. Unless the server is one of the test's
// own (StartFresh), the bucket and everything in it, incomplete multipart
// uploads included, is removed when the test ends.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	return newBucket(t, s.client, s.Region, s.shared)
}

// Stop stops the container; the server is unreachable until Start, and
// keeps its data. Use it only on a server from StartFresh, without
// Options.Tmpfs: on a server that keeps /data on a tmpfs it fails the
// test, since stopping the container would wipe the data.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stoppable(); err != nil {
		t.Fatal(err.Error())
		return
	}
	stopContainer(t, s.Container)
}

// stoppable says why the server cannot be stopped, or nil.
func (s *Server) stoppable() error {
	if s.tmpfs != "" {
		return errors.New("miniotest: this server keeps /data on a tmpfs, which stopping the container would wipe; " +
			"for a server to stop and start, use StartFresh without Options.Tmpfs")
	}
	return nil
}

// Start starts a stopped container and waits until it serves again, on the
// same endpoint.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	startContainer(t, s.Container, s.URL)
}

// Pause freezes the container's processes (docker pause): connections are
// accepted by Docker's proxy but never answered, as with a hung server.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	pauseContainer(t, s.Container.GetContainerID(), true)
}

// Unpause resumes a paused container.
func (s *Server) Unpause(t testing.TB) {
	t.Helper()
	pauseContainer(t, s.Container.GetContainerID(), false)
}

// shared holds the server Start returns to every test of a binary whose
// TestMain calls Run.
var shared struct {
	mu    sync.Mutex
	inRun bool
	srv   *Server
	err   error // why the first start failed; later tests report it at once
}

// Run runs the tests of m and then terminates the shared server, if one
// was started, and returns the exit code for os.Exit. Call it from
// TestMain so that Start shares one server between all the tests of the
// binary:
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
//
// Without it, Start gives each test its own server, removed when the test
// ends (correct, only slower).
func Run(m *testing.M) int {
	shared.mu.Lock()
	shared.inRun = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := shared.srv.Container.Terminate(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "miniotest: terminate shared MinIO container %s: %v\n", shared.srv.Container.GetContainerID(), err)
			if code == 0 {
				code = 1
			}
		}
		shared.srv = nil
	}
	shared.inRun = false
	return code
}

// Start returns the MinIO server shared by the tests of this test binary,
// starting it on first use, when TestMain calls Run; otherwise it returns a
// server of the test's own, as StartFresh(t, &Options{Tmpfs: true}). Each
// test should work in its own bucket (NewBucket). The server keeps its
// data on a tmpfs (see Options.Tmpfs and EnvTmpfs) and must not be
// stopped.
//
// When Docker is not reachable or the image is missing and cannot be
// pulled, the test is skipped with one line saying why and how to enable
// it, or fails if the environment variable CI is true. In -short mode it
// is skipped.
func Start(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("miniotest: skipping MinIO test in -short mode")
	}
	shared.mu.Lock()
	if !shared.inRun {
		shared.mu.Unlock()
		t.Log("miniotest: no TestMain calling miniotest.Run, so this test gets a MinIO server of its own")
		return StartFresh(t, &Options{Tmpfs: true})
	}
	defer shared.mu.Unlock()
	if shared.srv != nil {
		return shared.srv
	}
	if shared.err != nil {
		report(t, inCI(), shared.err)
		return nil
	}
	srv, err := start(&Options{Tmpfs: true})
	if err != nil {
		shared.err = err
		report(t, inCI(), err)
		return nil
	}
	srv.shared = true
	shared.srv = srv
	return srv
}

// StartFresh starts a MinIO server for this test alone and terminates it
// when the test ends. Use it for tests that stop, pause or restart the
// server. opts may be nil. Its data is on the container's disk, and
// survives Stop and Start, unless opts.Tmpfs. It skips or fails as Start
// does.
func StartFresh(t testing.TB, opts *Options) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("miniotest: skipping MinIO test in -short mode")
	}
	srv, err := start(opts)
	if err != nil {
		report(t, inCI(), err)
		return nil
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Container.Terminate(ctx); err != nil {
			t.Errorf("miniotest: terminate MinIO container: %v", err)
		}
	})
	return srv
}

// dockerOnce holds the one Docker client of the process.
var dockerOnce struct {
	sync.Mutex
	c *testcontainers.DockerClient
}

// connect makes a Docker client; tests replace it.
var connect = func(ctx context.Context) (*testcontainers.DockerClient, error) {
	return testcontainers.NewDockerClientWithOpts(ctx)
}

// dockerAPI returns the process's Docker client, connecting on first use.
func dockerAPI(ctx context.Context) (*testcontainers.DockerClient, error) {
	dockerOnce.Lock()
	defer dockerOnce.Unlock()
	if dockerOnce.c != nil {
		return dockerOnce.c, nil
	}
	c, err := connect(ctx)
	if err != nil {
		return nil, &UnavailableError{Reason: "Docker is not reachable", Err: err}
	}
	dockerOnce.c = c
	return c, nil
}

// prepare checks Docker and the image for o.
func prepare(ctx context.Context, o Options) error {
	dc, err := dockerAPI(ctx)
	if err != nil {
		return err
	}
	return checkPrereqs(ctx, dockerClient{dc}, o.Image, o.PullTimeout)
}

// noLog silences testcontainers' per-container logging; failures carry the
// container's own log instead.
var noLog = tclog.NewNoopLogger()

// start starts one server.
func start(opts *Options) (*Server, error) {
	o := opts.withDefaults()
	tmpfs, err := o.dataTmpfs()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout+o.PullTimeout)
	defer cancel()
	if err := prepare(ctx, o); err != nil {
		return nil, err
	}
	sctx, scancel := context.WithTimeout(ctx, o.StartTimeout)
	defer scancel()

	var ctr *tcminio.MinioContainer
	hostConfig := func(hostPort string) func(*container.HostConfig) {
		if tmpfs == "" {
			return bindLoopback(hostPort)
		}
		bind, mount := bindLoopback(hostPort), onTmpfs(tmpfs)
		return func(hc *container.HostConfig) { bind(hc); mount(hc) }
	}
	// A port chosen free may be taken before Docker binds it; try again.
	for attempt := 0; attempt < 3; attempt++ {
		var hostPort string
		hostPort, err = freePort()
		if err != nil {
			return nil, err
		}
		ctr, err = tcminio.Run(sctx, o.Image,
			tcminio.WithUsername(o.AccessKey),
			tcminio.WithPassword(o.SecretKey),
			testcontainers.WithEnv(map[string]string{"MINIO_CI_CD": "1"}),
			testcontainers.WithEnv(o.Env),
			testcontainers.WithLabels(map[string]string{labelKey: "server"}),
			testcontainers.WithHostConfigModifier(hostConfig(hostPort)),
			testcontainers.WithWaitStrategy(wait.ForHTTP("/minio/health/live").WithPort("9000/tcp").WithStartupTimeout(o.StartTimeout)),
			testcontainers.WithLogger(noLog),
		)
		if err == nil || !isPortTaken(err) {
			break
		}
		terminate(asContainer(ctr))
	}
	if err != nil {
		err = fmt.Errorf("miniotest: start %s: %w%s", o.Image, err, containerLog(asContainer(ctr)))
		terminate(asContainer(ctr))
		return nil, err
	}
	srv, err := newServer(sctx, ctr, o)
	if err != nil {
		err = fmt.Errorf("miniotest: %w%s", err, containerLog(ctr))
		terminate(ctr)
		return nil, err
	}
	srv.tmpfs = tmpfs
	return srv, nil
}

// newServer fills in a Server for a started container and waits until it
// serves S3 requests.
func newServer(ctx context.Context, ctr *tcminio.MinioContainer, o Options) (*Server, error) {
	host, err := ctr.Host(ctx)
	if err != nil {
		return nil, fmt.Errorf("container host: %w", err)
	}
	if err := checkLoopback(host, o.AllowNonLoopback); err != nil {
		return nil, err
	}
	port, err := ctr.MappedPort(ctx, "9000/tcp")
	if err != nil {
		return nil, fmt.Errorf("mapped port: %w", err)
	}
	endpoint := net.JoinHostPort(host, port.Port())
	c, err := newClient(endpoint, o.AccessKey, o.SecretKey)
	if err != nil {
		return nil, err
	}
	srv := &Server{
		Endpoint:  endpoint,
		URL:       "http://" + endpoint,
		AccessKey: o.AccessKey,
		SecretKey: o.SecretKey,
		Region:    DefaultRegion,
		Container: ctr,
		client:    c,
	}
	if err := waitHealthy(ctx, srv.URL, "/minio/health/cluster"); err != nil {
		return nil, err
	}
	return srv, nil
}

// labelKey marks every container and network this package starts, so
// leftovers can be found: docker ps -a --filter label=dev.strata.miniotest
const labelKey = "dev.strata.miniotest"

// checkLoopback refuses a host that is not a loopback address.
func checkLoopback(host string, allow bool) error {
	if allow {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return nil
	}
	return fmt.Errorf("container host is %q, not a loopback address; set TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 (or Options.AllowNonLoopback for a remote Docker)", host)
}

// bindLoopback publishes port 9000 on 127.0.0.1:hostPort only: never on
// every interface, and on a fixed port so a restarted container keeps its
// endpoint.
func bindLoopback(hostPort string) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		if hc.PortBindings == nil {
			hc.PortBindings = network.PortMap{}
		}
		hc.PortBindings[network.MustParsePort("9000/tcp")] = []network.PortBinding{{
			HostIP:   netip.MustParseAddr("127.0.0.1"),
			HostPort: hostPort,
		}}
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("miniotest: find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// isPortTaken reports whether err is Docker failing to bind a host port.
func isPortTaken(err error) bool {
	s := err.Error()
	return strings.Contains(s, "port is already allocated") || strings.Contains(s, "address already in use")
}

// newClient returns a minio-go client for endpoint over plain HTTP.
func newClient(endpoint, access, secret string) (*minio.Client, error) {
	c, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(access, secret, ""),
		Secure: false,
		Region: DefaultRegion,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client: %w", err)
	}
	return c, nil
}

// probeClient makes the health probes; each has its own deadline too.
var probeClient = &http.Client{Timeout: 2 * time.Second}

// probe GETs url and reports an error unless it answers 200.
func probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// waitHealthy polls baseURL+path until it answers 200 or ctx ends.
func waitHealthy(ctx context.Context, baseURL, path string) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		last := probe(ctx, baseURL+path)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s%s: %w (last: %v)", baseURL, path, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// bucketSafe matches the runs of characters a bucket name cannot hold.
var bucketSafe = regexp.MustCompile(`[^a-z0-9]+`)

// bucketName derives a valid, unique S3 bucket name from a test name.
func bucketName(testName string) string {
	base := strings.Trim(bucketSafe.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	if base == "" {
		base = "test"
	}
	return base + "-" + randomHex(6)
}

// newBucket makes a bucket on c and, if cleanup, removes it after the test.
func newBucket(t testing.TB, c *minio.Client, region string, cleanup bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := bucketName(t.Name())
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatalf("miniotest: make bucket %s: %v", name, err)
	}
	if cleanup {
		t.Cleanup(func() {
			if err := removeBucket(c, name); err != nil {
				t.Errorf("miniotest: remove bucket %s: %v", name, err)
			}
		})
	}
	return name
}

// removeBucket deletes a bucket with everything in it: objects and
// incomplete multipart uploads.
func removeBucket(c *minio.Client, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for u := range c.ListIncompleteUploads(ctx, name, "", true) {
		if u.Err != nil {
			return fmt.Errorf("list incomplete uploads: %w", u.Err)
		}
		if err := c.RemoveIncompleteUpload(ctx, name, u.Key); err != nil {
			return fmt.Errorf("abort upload of %q: %w", u.Key, err)
		}
	}
	objs := c.ListObjects(ctx, name, minio.ListObjectsOptions{Recursive: true, WithVersions: true})
	var errs []error
	for e := range c.RemoveObjects(ctx, name, objs, minio.RemoveObjectsOptions{}) {
		errs = append(errs, fmt.Errorf("remove %q: %w", e.ObjectName, e.Err))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.RemoveBucket(ctx, name)
}

// stopContainer stops ctr within a minute.
func stopContainer(t testing.TB, ctr testcontainers.Container) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	timeout := 10 * time.Second
	if err := ctr.Stop(ctx, &timeout); err != nil {
		t.Fatalf("miniotest: stop container: %v", err)
	}
}

// startContainer starts ctr and waits until url's liveness probe answers.
func startContainer(t testing.TB, ctr testcontainers.Container, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := ctr.Start(ctx); err != nil {
		t.Fatalf("miniotest: start container: %v", err)
	}
	if err := waitHealthy(ctx, url, "/minio/health/live"); err != nil {
		t.Fatalf("miniotest: %v", err)
	}
}

// pauseContainer pauses or unpauses a container.
func pauseContainer(t testing.TB, id string, pause bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dc, err := dockerAPI(ctx)
	if err != nil {
		t.Fatalf("miniotest: %v", err)
	}
	if pause {
		err = retryFreeze(ctx, func(ctx context.Context) error {
			_, err := dc.ContainerPause(ctx, id, client.ContainerPauseOptions{})
			return err
		})
	} else {
		_, err = dc.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	}
	if err != nil {
		t.Fatalf("miniotest: pause=%v container: %v", pause, err)
	}
}

// retryFreeze calls pause until it succeeds, fails for another reason than
// a freeze that did not finish, or ctx ends.
//
// On cgroup v1, runc freezes a container by writing FROZEN to its
// freezer.state and reading it back; a task in uninterruptible sleep (a
// MinIO write waiting on a busy disk) keeps the cgroup FREEZING, and after
// 1,000 tries runc thaws it and fails with "unable to freeze". Docker
// passes that on as an untyped error, so its text is what tells it apart;
// the container is left running, and a later try finds the task awake.
func retryFreeze(ctx context.Context, pause func(context.Context) error) error {
	wait := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := pause(ctx)
		if err == nil || !strings.Contains(err.Error(), "unable to freeze") {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %d tries: %w)", err, try, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// asContainer returns c as a Container, or a nil interface when there is
// no container.
func asContainer(c *tcminio.MinioContainer) testcontainers.Container {
	if c == nil || c.Container == nil {
		return nil
	}
	return c
}

// terminate removes a container that failed to become ready.
func terminate(ctr testcontainers.Container) {
	if ctr == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = ctr.Terminate(ctx)
}

// containerLog returns the tail of a container's log, for error messages.
func containerLog(ctr testcontainers.Container) string {
	if ctr == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := ctr.Logs(ctx)
	if err != nil {
		return ""
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	s := string(b)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return "\ncontainer log:\n" + s
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
