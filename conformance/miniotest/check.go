package miniotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// UnavailableError reports that MinIO cannot be started on this machine:
// Docker is not reachable, or the image is neither present nor pullable.
// Start, StartFresh and StartCluster skip the test on it, or fail it when
// the environment variable CI is true.
type UnavailableError struct {
	// Reason says what is missing, in one line.
	Reason string
	// Err is the underlying cause, if any.
	Err error
}

// Error implements error.
func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

// hint tells a developer how to get the MinIO tests to run.
const hint = "run `make test`, or `make minio-image` and set " + EnvImage + "=$(scripts/minio-image.sh --name)"

// docker is the part of the Docker API the prerequisite check uses; tests
// replace it with a fake.
type docker interface {
	// Ping reports whether the daemon answers.
	Ping(ctx context.Context) error
	// ImagePresent reports whether ref is in the local image store.
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// Pull fetches ref from its registry.
	Pull(ctx context.Context, ref string) error
}

// localOnly reports whether image can only have been built here (by
// scripts/minio-image.sh), so that pulling it is pointless.
func localOnly(image string) bool {
	return strings.HasPrefix(image, "strata-minio:") || strings.HasPrefix(image, "strata-minio@")
}

// checkPrereqs makes sure Docker answers and image is available locally,
// pulling it once (bounded by pullTimeout) when it is a registry image. It
// returns nil, an *UnavailableError, or another error.
func checkPrereqs(ctx context.Context, d docker, image string, pullTimeout time.Duration) error {
	if err := d.Ping(ctx); err != nil {
		return &UnavailableError{Reason: "Docker is not reachable", Err: err}
	}
	ok, err := d.ImagePresent(ctx, image)
	if err != nil {
		return fmt.Errorf("miniotest: inspect image %s: %w", image, err)
	}
	if ok {
		return nil
	}
	if localOnly(image) {
		return &UnavailableError{Reason: fmt.Sprintf("image %s is not built", image)}
	}
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	defer cancel()
	if err := d.Pull(pctx, image); err != nil {
		return &UnavailableError{Reason: fmt.Sprintf("image %s is not present and cannot be pulled", image), Err: err}
	}
	return nil
}

// reporter is the part of testing.TB that report uses.
type reporter interface {
	Helper()
	Skip(args ...any)
	Fatal(args ...any)
}

// inCI reports whether the environment variable CI says this is a CI run.
func inCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// report ends the test for err: a skip with one line saying why and how
// to enable the test, or, in CI or for an error other than an
// *UnavailableError, a failure.
func report(t reporter, ci bool, err error) {
	t.Helper()
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatal("miniotest: " + err.Error())
		return
	}
	if ci {
		t.Fatal("miniotest: CI=true and MinIO is unavailable: " + err.Error() + "; " + hint)
		return
	}
	t.Skip("miniotest: skipping, " + err.Error() + "; " + hint)
}

// dockerClient adapts testcontainers' Docker client to docker.
type dockerClient struct{ c *testcontainers.DockerClient }

// Ping implements docker.
func (d dockerClient) Ping(ctx context.Context) error {
	_, err := d.c.Ping(ctx, client.PingOptions{})
	return err
}

// ImagePresent implements docker.
func (d dockerClient) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := d.c.ImageInspect(ctx, ref)
	if err == nil {
		return true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return false, err
}

// Pull implements docker: one attempt, no retries, bounded by ctx.
func (d dockerClient) Pull(ctx context.Context, ref string) error {
	rc, err := d.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	// The daemon reports a failed pull in the stream; Wait reads it all.
	return rc.Wait(ctx)
}
