package main

// The SDK baselines of BenchmarkMigrate: a plain copy loop written with an
// SDK called directly, as a user's own script would be. Each runs in a
// child process (this test binary started again, see sdkChildEnv), with
// strata migrate's GOMAXPROCS, so that its CPU time and peak RSS are
// measured as those of strata, mc and rclone are: by the child's rusage
// and VmHWM, and with the same number of CPUs running Go code.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
)

// sdkChildEnv, set in the environment of this test binary, makes TestMain
// run one SDK baseline (runSDKChild) instead of the tests. Its value names
// the SDK.
const sdkChildEnv = "STRATA_BENCH_SDK_CHILD"

// The SDKs of the baselines: the values of sdkChildEnv.
const (
	sdkMinio = "minio-go"      // minio-go's PutObject
	sdkAWS   = "aws-sdk-go-v2" // aws-sdk-go-v2's s3.Client.PutObject, the SDK of s3://
	// sdkHTTP is no SDK: net/http's PUT, signed with aws-sdk-go-v2's
	// SigV4 signer over the payload's SHA-256, which is all a client
	// must do to PUT an object over plain HTTP, on net/http's default
	// transport.
	sdkHTTP = "net-http-sigv4"
)

// sdkBaseline returns the command that runs the SDK baseline sdk: copy
// every file under dir to bucket on the target, from workers goroutines.
// The credentials are in its environment, not on its command line.
func sdkBaseline(tb testing.TB, sdk string, target benchTarget, dir, bucket string, workers int) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(self, dir, bucket, target.endpoint, target.region, strconv.Itoa(workers))
	cmd.Env = []string{
		sdkChildEnv + "=" + sdk,
		"GOMAXPROCS=" + strconv.Itoa(migrateProcs()),
		"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir(),
		"AWS_ACCESS_KEY_ID=" + target.access, "AWS_SECRET_ACCESS_KEY=" + target.secret,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	return cmd
}

// runSDKChild is the child process of sdkBaseline. It returns the exit
// status: 0 when every file was copied.
func runSDKChild(sdk string, args []string) int {
	if len(args) != 5 {
		fmt.Fprintf(os.Stderr, "%s=%s: want DIR BUCKET ENDPOINT REGION WORKERS, got %q\n", sdkChildEnv, sdk, args)
		return 2
	}
	dir, bucket, endpoint, region := args[0], args[1], args[2], args[3]
	workers, err := strconv.Atoi(args[4])
	if err != nil || workers < 1 {
		fmt.Fprintf(os.Stderr, "workers: %q is not a positive number\n", args[4])
		return 2
	}
	put, err := sdkPutter(sdk, bucket, endpoint, region)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, err := sdkCopy(dir, workers, put)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("copied %d files\n", n)
	return 0
}

// sdkPutter returns a function that PUTs the open file f, of size bytes,
// under key, with the SDK sdk and its default options.
func sdkPutter(sdk, bucket, endpoint, region string) (func(ctx context.Context, key string, f *os.File, size int64) error, error) {
	access, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch sdk {
	case sdkMinio:
		c, err := miniogo.New(endpoint, &miniogo.Options{Creds: credentials.NewStaticV4(access, secret, ""), Region: region})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, key string, f *os.File, size int64) error {
			_, err := c.PutObject(ctx, bucket, key, f, size, miniogo.PutObjectOptions{})
			return err
		}, nil
	case sdkAWS:
		cfg, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(region))
		if err != nil {
			return nil, err
		}
		c := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
			o.BaseEndpoint = aws.String("http://" + endpoint)
			o.UsePathStyle = true
		})
		return func(ctx context.Context, key string, f *os.File, size int64) error {
			_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &bucket, Key: &key, Body: f, ContentLength: &size})
			return err
		}, nil
	case sdkHTTP:
		return httpPutter(bucket, endpoint, region, aws.Credentials{AccessKeyID: access, SecretAccessKey: secret}), nil
	}
	return nil, fmt.Errorf("%s=%q: no such SDK (%s, %s, %s)", sdkChildEnv, sdk, sdkMinio, sdkAWS, sdkHTTP)
}

// httpPutter is the sdkHTTP baseline, kept as lean as a Go client can be:
// read the file once into a pooled buffer, hash it, sign the request with
// its SHA-256 and send the buffer (which net/http writes without flushing
// the headers on their own, though in two writes: its default write buffer
// of 4 KiB holds the headers and the start of the body), from net/http's
// default transport with an idle connection kept for every worker
// (BenchmarkMigrate's most). Its
// URLs are escaped by net/url, which is enough for the plain keys of the
// benchmark's trees, not for every key S3 allows.
func httpPutter(bucket, endpoint, region string, creds aws.Credentials) func(ctx context.Context, key string, f *os.File, size int64) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	return func(ctx context.Context, key string, f *os.File, size int64) error {
		buf := bufs.Get().(*[]byte)
		defer bufs.Put(buf)
		if int64(cap(*buf)) < size {
			*buf = make([]byte, size)
		}
		b := (*buf)[:size]
		if _, err := io.ReadFull(f, b); err != nil {
			return err
		}
		sha := sha256.Sum256(b)
		sum := hex.EncodeToString(sha[:])
		u := url.URL{Scheme: "http", Host: endpoint, Path: "/" + bucket + "/" + key}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("X-Amz-Content-Sha256", sum)
		if err := signer.SignHTTP(ctx, creds, req, sum, "s3", region, time.Now()); err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT %s: %s: %q", key, resp.Status, msg)
		}
		return nil
	}
}

// sdkCopy walks dir and PUTs each file with put, under its path relative
// to dir, from the given number of goroutines (1: the plain sequential
// loop). It returns the number of files copied.
func sdkCopy(dir string, workers int, put func(ctx context.Context, key string, f *os.File, size int64) error) (int, error) {
	putFile := func(p string) error {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return put(context.Background(), filepath.ToSlash(rel), f, fi.Size())
	}
	paths := make(chan string)
	var (
		wg     sync.WaitGroup
		copied atomic.Int64
		mu     sync.Mutex
		errs   []error
	)
	for range workers {
		wg.Go(func() {
			for p := range paths {
				if err := putFile(p); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", p, err))
					mu.Unlock()
					continue
				}
				copied.Add(1)
			}
		})
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths <- p
		}
		return err
	})
	close(paths)
	wg.Wait()
	return int(copied.Load()), errors.Join(append(errs, err)...)
}

// Each SDK baseline, started as BenchmarkMigrate starts it, copies every
// file of a tree, nested directories included, byte for byte; and a child
// given a bad argument or an unknown SDK says so and fails, rather than
// reporting figures of a run that copied nothing.
func TestSDKBaselineCopiesTheTree(t *testing.T) {
	srv := miniotest.Start(t)
	target := benchTarget{endpoint: srv.Endpoint, access: srv.AccessKey, secret: srv.SecretKey, region: srv.Region}
	src := t.TempDir()
	files := map[string][]byte{
		"top":                      []byte("top"),
		"local_content/ab/cd/efgh": bytes.Repeat([]byte("x"), 40<<10),
		"local_content/ab/ce/ijkl": {},
	}
	writeTree(t, src, files)
	for _, sdk := range []string{sdkMinio, sdkAWS, sdkHTTP} {
		t.Run(sdk, func(t *testing.T) {
			bucket := srv.NewBucket(t)
			out, err := sdkBaseline(t, sdk, target, src, bucket, 2).CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Equal(t, "copied 3 files\n", string(out))
			assert.Equal(t, files, bucketContents(t, srv.Client(), bucket))
		})
	}

	cmd := sdkBaseline(t, "no-such-sdk", target, src, srv.NewBucket(t), 1)
	out, err := cmd.CombinedOutput()
	assert.Equal(t, 2, cmd.ProcessState.ExitCode(), "err %v, output %s", err, out)
	assert.Contains(t, string(out), `no such SDK`)

	cmd = sdkBaseline(t, sdkAWS, target, filepath.Join(src, "missing"), srv.NewBucket(t), 1)
	out, err = cmd.CombinedOutput()
	assert.Equal(t, 1, cmd.ProcessState.ExitCode(), "err %v, output %s", err, out)
	assert.Contains(t, string(out), "no such file or directory")
}
