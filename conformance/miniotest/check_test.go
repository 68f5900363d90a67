package miniotest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
)

// fakeDocker is a docker whose answers the test sets.
type fakeDocker struct {
	pingErr  error
	present  bool
	inspErr  error
	pullErr  error
	pulled   []string
	deadline bool // whether Pull saw a deadline
}

func (f *fakeDocker) Ping(context.Context) error { return f.pingErr }
func (f *fakeDocker) ImagePresent(context.Context, string) (bool, error) {
	return f.present, f.inspErr
}
func (f *fakeDocker) Pull(ctx context.Context, ref string) error {
	_, f.deadline = ctx.Deadline()
	f.pulled = append(f.pulled, ref)
	if f.pullErr == nil {
		f.present = true
	}
	return f.pullErr
}

func TestCheckPrereqs(t *testing.T) {
	down := errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")
	noRegistry := errors.New("lookup registry-1.docker.io: no such host")
	tests := []struct {
		name        string
		d           fakeDocker
		image       string
		unavailable bool   // an *UnavailableError
		other       bool   // another error
		wantPull    bool   // a pull was attempted
		reason      string // in the message
	}{
		{name: "ready", d: fakeDocker{present: true}, image: "strata-minio:v1"},
		{name: "no docker", d: fakeDocker{pingErr: down}, image: "strata-minio:v1", unavailable: true, reason: "Docker is not reachable"},
		{name: "local image not built", d: fakeDocker{}, image: "strata-minio:v1", unavailable: true, reason: "image strata-minio:v1 is not built"},
		{name: "registry image pulled", d: fakeDocker{}, image: DefaultImage, wantPull: true},
		{name: "registry unreachable", d: fakeDocker{pullErr: noRegistry}, image: DefaultImage, unavailable: true, wantPull: true, reason: "cannot be pulled"},
		{name: "inspect fails", d: fakeDocker{inspErr: errors.New("daemon error")}, image: DefaultImage, other: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			err := checkPrereqs(context.Background(), &d, tt.image, time.Minute)
			var ue *UnavailableError
			switch {
			case tt.unavailable:
				require.ErrorAs(t, err, &ue)
				assert.Contains(t, err.Error(), tt.reason)
			case tt.other:
				require.Error(t, err)
				assert.False(t, errors.As(err, &ue), "not an availability problem: %v", err)
			default:
				require.NoError(t, err)
			}
			if tt.wantPull {
				assert.Equal(t, []string{tt.image}, d.pulled)
				assert.True(t, d.deadline, "a pull is bounded in time")
			} else {
				assert.Empty(t, d.pulled, "no pull attempted")
			}
		})
	}
	t.Run("cause kept", func(t *testing.T) {
		err := checkPrereqs(context.Background(), &fakeDocker{pingErr: down}, "strata-minio:v1", time.Minute)
		assert.ErrorIs(t, err, down)
	})
}

// fakeT records how report ended a test.
type fakeT struct {
	skipped, fatal []string
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Skip(args ...any)  { f.skipped = append(f.skipped, fmt.Sprint(args...)) }
func (f *fakeT) Fatal(args ...any) { f.fatal = append(f.fatal, fmt.Sprint(args...)) }

func TestReport(t *testing.T) {
	unavailable := &UnavailableError{Reason: "image strata-minio:v1 is not built"}
	t.Run("skip outside CI with one line", func(t *testing.T) {
		var f fakeT
		report(&f, false, unavailable)
		require.Len(t, f.skipped, 1)
		assert.Empty(t, f.fatal)
		msg := f.skipped[0]
		assert.NotContains(t, msg, "\n")
		assert.Contains(t, msg, "image strata-minio:v1 is not built")
		assert.Contains(t, msg, "make test")
		assert.Contains(t, msg, "make minio-image")
		assert.Contains(t, msg, EnvImage+"=")
	})
	t.Run("fail in CI", func(t *testing.T) {
		var f fakeT
		report(&f, true, unavailable)
		assert.Empty(t, f.skipped)
		require.Len(t, f.fatal, 1)
		assert.Contains(t, f.fatal[0], "CI=true")
		assert.Contains(t, f.fatal[0], "not built")
	})
	t.Run("other errors fail everywhere", func(t *testing.T) {
		var f fakeT
		report(&f, false, errors.New("container exited"))
		assert.Empty(t, f.skipped)
		require.Len(t, f.fatal, 1)
	})
}

func TestNoDocker(t *testing.T) {
	dockerOnce.Lock()
	saved, savedConnect := dockerOnce.c, connect
	dockerOnce.c = nil
	down := errors.New("Cannot connect to the Docker daemon")
	connect = func(context.Context) (*testcontainers.DockerClient, error) { return nil, down }
	dockerOnce.Unlock()
	t.Cleanup(func() {
		dockerOnce.Lock()
		dockerOnce.c, connect = saved, savedConnect
		dockerOnce.Unlock()
	})

	_, err := start(&Options{Image: "strata-minio:any"})
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.ErrorIs(t, err, down)
	assert.Contains(t, err.Error(), "Docker is not reachable")

	var f fakeT
	report(&f, false, err)
	require.Len(t, f.skipped, 1)
	assert.Contains(t, f.skipped[0], "Docker is not reachable")
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "": false, "false": false, "yes": false} {
		t.Setenv("CI", v)
		assert.Equal(t, want, inCI(), "CI=%q", v)
	}
}

func TestSetDefaultEnv(t *testing.T) {
	env := map[string]string{"TESTCONTAINERS_HOST_OVERRIDE": "::1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	set := func(k, v string) error { env[k] = v; return nil }
	setDefaultEnv(lookup, set)
	assert.Equal(t, map[string]string{
		"TESTCONTAINERS_RYUK_DISABLED": "true",
		"TESTCONTAINERS_HOST_OVERRIDE": "::1", // the caller's choice is kept
	}, env)
}

func TestImageChoice(t *testing.T) {
	t.Setenv(EnvImage, "")
	assert.Equal(t, DefaultImage, (*Options)(nil).image())
	t.Setenv(EnvImage, "strata-minio:vX")
	assert.Equal(t, "strata-minio:vX", (*Options)(nil).image())
	assert.Equal(t, "mine:1", (&Options{Image: "mine:1"}).image())
	assert.True(t, localOnly("strata-minio:vX"))
	assert.False(t, localOnly(DefaultImage))
}

func TestOptionsDefaults(t *testing.T) {
	a, b := (*Options)(nil).withDefaults(), (*Options)(nil).withDefaults()
	assert.Equal(t, DefaultAccessKey, a.AccessKey)
	assert.GreaterOrEqual(t, len(a.SecretKey), 8, "MinIO wants 8 characters at least")
	assert.NotEqual(t, a.SecretKey, b.SecretKey, "a random secret per server")
	kept := (&Options{AccessKey: "k", SecretKey: "secret-key"}).withDefaults()
	assert.Equal(t, "k", kept.AccessKey)
	assert.Equal(t, "secret-key", kept.SecretKey)
}

func TestCheckLoopback(t *testing.T) {
	assert.NoError(t, checkLoopback("127.0.0.1", false))
	assert.NoError(t, checkLoopback("::1", false))
	assert.Error(t, checkLoopback("172.17.0.1", false))
	assert.Error(t, checkLoopback("localhost", false), "a name could resolve anywhere")
	assert.NoError(t, checkLoopback("172.17.0.1", true))
}

var validBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func TestBucketName(t *testing.T) {
	for _, name := range []string{
		"TestX",
		"TestConformance/Put/If_Not_Exists",
		strings.Repeat("VeryLongTestName/", 10),
		"///",
		"Test_ünïcode/名前",
	} {
		b := bucketName(name)
		assert.Regexp(t, validBucket, b, "from %q", name)
		assert.NotContains(t, b, "--")
	}
	assert.NotEqual(t, bucketName("TestX"), bucketName("TestX"))
}
