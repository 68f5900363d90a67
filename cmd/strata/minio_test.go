package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/storage"
)

// minioURL is the minio:// location of bucket on srv.
func minioURL(srv *miniotest.Server, bucket string, params ...string) string {
	q := url.Values{"secure": {"false"}, "region": {srv.Region}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return fmt.Sprintf("minio://%s/%s?%s", srv.Endpoint, bucket, q.Encode())
}

// withMinio returns r with srv's credentials in the environment, as a user
// would set them.
func withMinio(r *runner, srv *miniotest.Server) *runner {
	return r.with("MINIO_ACCESS_KEY="+srv.AccessKey, "MINIO_SECRET_KEY="+srv.SecretKey)
}

// bucketContents reads every object of bucket.
func bucketContents(t *testing.T, c *miniogo.Client, bucket string) map[string][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out := map[string][]byte{}
	for oi := range c.ListObjects(ctx, bucket, miniogo.ListObjectsOptions{Recursive: true}) {
		require.NoError(t, oi.Err)
		o, err := c.GetObject(ctx, bucket, oi.Key, miniogo.GetObjectOptions{})
		require.NoError(t, err)
		data, err := io.ReadAll(o)
		require.NoError(t, err)
		require.NoError(t, o.Close())
		out[oi.Key] = data
	}
	return out
}

// reached reports whether the object at the given rank in key order is
// in the bucket: strata sends objects in key order, a few at a time, so
// that is a cheap sign of how far it got.
func reached(t *testing.T, c *miniogo.Client, bucket string, files map[string][]byte, rank int) bool {
	t.Helper()
	key := slices.Sorted(maps.Keys(files))[rank]
	_, err := c.StatObject(t.Context(), bucket, key, miniogo.StatObjectOptions{})
	return err == nil
}

func objectCount(t *testing.T, c *miniogo.Client, bucket string) int {
	t.Helper()
	n := 0
	for oi := range c.ListObjects(t.Context(), bucket, miniogo.ListObjectsOptions{Recursive: true}) {
		if oi.Err != nil {
			return n
		}
		n++
	}
	return n
}

func TestMinIOMigrateSynapseMediaStoreThenVerify(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	files := mediaStore(t, src, 40, sizes(0))
	// One large file, sent in several parts, and one empty file.
	big := make([]byte, 40<<20+123)
	for i := range big {
		big[i] = byte(i * 7)
	}
	extra := map[string][]byte{"local_content/zz/zz/bigvideo": big, "local_content/zz/zz/empty": {}}
	writeTree(t, src, extra)
	maps.Copy(files, extra)
	dst := minioURL(srv, bucket)

	res := r.run("migrate", "file://"+src, dst, "--json", "--workers", "8")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, len(files), num(t, sum, "copied"))
	assert.Equal(t, 0, num(t, sum, "failed"))
	got := bucketContents(t, srv.Client(), bucket)
	assert.Equal(t, len(files), len(got))
	for key, data := range files {
		assert.Equal(t, data, got[key], key)
	}

	res = r.run("verify", src, dst)
	assert.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, fmt.Sprintf("%d match, 0 missing, 0 different, 0 errors", len(files)))

	// A second run lists the bucket once and sends nothing: no Stat, no
	// read, on the journal's word.
	res = r.run("migrate", src, dst, "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, 0, num(t, sum, "copied"))
	assert.Equal(t, len(files), num(t, sum, "skipped"))
	assert.Equal(t, len(files), num(t, sum, "journal_hits"))
	assert.Equal(t, 0, num(t, sum, "dst_stats"))
	assert.Equal(t, 0, num(t, sum, "hashed_bytes"))

	// Without the journal: one Stat per object already there, and the
	// checksums MinIO keeps agree with the files.
	res = r.run("migrate", src, dst, "--json", "--no-journal")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, len(files), num(t, sum, "skipped"))
	assert.Equal(t, len(files), num(t, sum, "dst_stats"))

	// Damage the bucket behind strata's back: verify sees it, a dry run
	// reports it and changes nothing, migrate repairs it.
	keys := slices.Sorted(maps.Keys(files))
	ctx := t.Context()
	require.NoError(t, srv.Client().RemoveObject(ctx, bucket, keys[0], miniogo.RemoveObjectOptions{}))
	other := slices.Clone(files[keys[1]])
	other[0] ^= 0xff
	_, err := srv.Client().PutObject(ctx, bucket, keys[1], strings.NewReader(string(other)), int64(len(other)), miniogo.PutObjectOptions{})
	require.NoError(t, err)

	res = r.run("verify", src, dst)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stdout, "missing  "+keys[0])
	assert.Contains(t, res.stdout, "checksum "+keys[1])

	res = r.run("migrate", src, dst, "--dry-run")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "would copy "+keys[0]+" (")
	assert.Contains(t, res.stdout, "would copy "+keys[1]+" (")
	assert.Equal(t, 2, strings.Count(res.stdout, "would copy "))
	assert.Equal(t, len(files)-1, objectCount(t, srv.Client(), bucket))

	res = r.run("migrate", src, dst, "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, 2, num(t, summaryOf(t, res.stdout), "copied"))
	res = r.run("verify", src, dst, "-q")
	assert.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)

	// Then --delete empties the media store, each file once verified.
	res = r.run("migrate", src, dst, "--delete", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, len(files), num(t, summaryOf(t, res.stdout), "deleted"))
	assert.Empty(t, readTree(t, src))
	assert.Equal(t, len(files), objectCount(t, srv.Client(), bucket))
}

func TestMinIOKilledMigrationResumesWithEveryObjectSentOnce(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	ctx := t.Context()
	// With versioning, every PUT makes a version: the destination itself
	// counts what was sent.
	require.NoError(t, srv.Client().EnableVersioning(ctx, bucket))
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	files := mediaStore(t, src, 80, sizes(500))
	dst := testURL(minioURL(srv, bucket), "delay", "10ms")
	args := []string{"migrate", src, dst, "--workers", "4", "-q"}

	run := r.start(args...)
	waitFor(t, "a third of the objects at MinIO", 2*time.Minute, func() bool {
		return reached(t, srv.Client(), bucket, files, len(files)/3) || run.exited()
	})
	require.False(t, run.exited(), "the migration ended before it could be killed")
	require.NoError(t, run.cmd.Process.Kill())
	run.wait(t)
	atKill := objectCount(t, srv.Client(), bucket)
	require.Less(t, atKill, len(files))

	res := r.run(args...)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	versions := map[string]int{}
	for oi := range srv.Client().ListObjects(ctx, bucket, miniogo.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		require.NoError(t, oi.Err)
		versions[oi.Key]++
	}
	assert.Len(t, versions, len(files))
	for key := range files {
		assert.Equal(t, 1, versions[key], "PUTs of %s", key)
	}
	got := bucketContents(t, srv.Client(), bucket)
	for key, data := range files {
		assert.Equal(t, data, got[key], key)
	}
}

func TestMinIODeleteKeepsSourceWhenMinIOStopsMidRun(t *testing.T) {
	srv := miniotest.StartFresh(t, nil)
	bucket := srv.NewBucket(t)
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	files := mediaStore(t, src, 80, sizes(300))
	dst := testURL(minioURL(srv, bucket, "max_retries", "1"), "delay", "10ms")

	run := r.start("migrate", src, dst, "--delete", "--workers", "4", "--json")
	waitFor(t, "a fifth of the objects at MinIO", 2*time.Minute, func() bool {
		return reached(t, srv.Client(), bucket, files, len(files)/5) || run.exited()
	})
	require.False(t, run.exited(), "the migration ended before MinIO could be stopped")
	srv.Stop(t)
	res := run.wait(t)
	assert.NotEqual(t, 0, res.code)
	srv.Start(t)

	left := readTree(t, src)
	got := bucketContents(t, srv.Client(), bucket)
	require.NotEmpty(t, left, "objects were left when MinIO went away")
	for key, data := range files {
		if kept, ok := left[key]; ok {
			assert.Equal(t, data, kept, "%s intact at the source", key)
			continue
		}
		assert.Equal(t, data, got[key], "%s deleted at the source only once safe in MinIO", key)
	}

	// Once MinIO is back, the same command finishes the job.
	res = r.run("migrate", src, minioURL(srv, bucket), "--delete", "-q")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, readTree(t, src))
	assert.Equal(t, files, bucketContents(t, srv.Client(), bucket))
}

func TestMinIOBadCredentialsAndURLsGiveOneLine(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	src := t.TempDir()
	mediaStore(t, src, 1, sizes(10))
	const secret = "SEKRETsekret123"
	plain := newRunner(t)
	for _, tc := range []struct {
		name   string
		r      *runner
		args   []string
		status int
		want   string
	}{
		{"no credentials", plain, []string{"migrate", src, minioURL(srv, bucket)}, 2, "check the credentials in MINIO_ACCESS_KEY"},
		{"wrong secret", plain.with("MINIO_ACCESS_KEY="+srv.AccessKey, "MINIO_SECRET_KEY="+secret),
			[]string{"ls", minioURL(srv, bucket)}, 1, "check the credentials in MINIO_ACCESS_KEY"},
		{"credentials in the URL", plain, []string{"ls", "minio://admin:" + secret + "@" + srv.Endpoint + "/" + bucket}, 2, "credentials do not go in the URL"},
		{"s3 without credentials", plain, []string{"ls", "s3://" + bucket + "?region=us-east-1&path_style=true&endpoint=" + url.QueryEscape(srv.URL)}, 2, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"missing bucket", withMinio(plain, srv), []string{"verify", src, minioURL(srv, "no-such-bucket-"+strings.ToLower(secret[:4]))}, 2, "verify:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.r.run(tc.args...)
			assert.Equal(t, tc.status, res.code, "stderr: %s", res.stderr)
			oneLine(t, res, secret)
			assert.Contains(t, res.stderr, tc.want)
			t.Log(strings.TrimSpace(res.stderr))
		})
	}
	assert.Empty(t, bucketContents(t, srv.Client(), bucket))
	assert.Len(t, readTree(t, src), 5)
}

// MinIO cannot hold both "a" and "a/b". A migration writes the keys its
// listings show free of such conflicts through the bucket opened with
// prefix_check=false, sparing the driver's check (requests per object);
// keys that do conflict with what the bucket already holds still go
// through the driver's check and fail with a clear error, while every
// other key is copied.
func TestMinIOMigrateReportsPrefixConflictsWithTheBucket(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	files := map[string][]byte{
		"local_content/ab/cd/efgh":        []byte("under an object the bucket holds"),
		"local_content/ab/cd/ijkl":        []byte("same"),
		"local_content/xy/zz/mnop":        []byte("fine"),
		"local_thumbnails/ab/cd/qrst/32":  []byte("fine"),
		"local_thumbnails/ab/cd/qrst-old": []byte("the bucket holds objects under it"),
	}
	writeTree(t, src, files)
	ctx := t.Context()
	for key, body := range map[string]string{
		"local_content/ab/cd":                 "an object where the tree has a directory",
		"local_thumbnails/ab/cd/qrst-old/x/y": "an object under a key the tree has",
	} {
		_, err := srv.Client().PutObject(ctx, bucket, key, strings.NewReader(body), int64(len(body)), miniogo.PutObjectOptions{})
		require.NoError(t, err)
	}

	res := r.run("migrate", src, minioURL(srv, bucket), "--json")
	assert.Equal(t, 1, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, 2, num(t, sum, "copied"))
	assert.Equal(t, 3, num(t, sum, "failed"))
	for _, key := range []string{"local_content/ab/cd/efgh", "local_content/ab/cd/ijkl", "local_thumbnails/ab/cd/qrst-old"} {
		assert.Contains(t, res.stderr, key)
	}
	// The log lines are JSON with --json: quotes inside are escaped.
	assert.Contains(t, res.stderr, `an object exists under \"local_content/ab/cd\", a parent of the key`)
	assert.Contains(t, res.stderr, `objects exist under the prefix \"local_thumbnails/ab/cd/qrst-old/\"`)
	got := bucketContents(t, srv.Client(), bucket)
	assert.Equal(t, files["local_content/xy/zz/mnop"], got["local_content/xy/zz/mnop"])
	assert.Equal(t, files["local_thumbnails/ab/cd/qrst/32"], got["local_thumbnails/ab/cd/qrst/32"])
	assert.NotContains(t, got, "local_content/ab/cd/efgh")
	assert.NotContains(t, got, "local_thumbnails/ab/cd/qrst-old")
	assert.Equal(t, files, readTree(t, src), "the source is untouched")
}

// The reproduction with MinIO as the destination: a file rewritten
// with its size and modification time kept is sent again before --delete
// removes it, whatever the journal says.
func TestMinIODeleteNeverDeletesAFileRewrittenBehindTheJournal(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"a/f1": randomBytes(5000, 1), "a/f2": randomBytes(3000, 2)})
	dst := minioURL(srv, bucket)
	res := r.run("migrate", fileURL(src), dst)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	changed := randomBytes(5000, 3)
	rewriteInPlace(t, filepath.Join(src, "a", "f1"), changed)
	res = r.run("migrate", fileURL(src), dst, "--delete", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, 1, num(t, sum, "copied"), "the new content is sent")
	assert.Equal(t, 2, num(t, sum, "deleted"))
	assert.True(t, bytes.Equal(changed, bucketContents(t, srv.Client(), bucket)["a/f1"]), "the bucket holds the file's new bytes")
	assert.Empty(t, readTree(t, src))
}

// A migration into a bucket that does not exist cannot start: no summary
// that reads like a result, and a JSON summary that says it did not run.
func TestMinIOMigrateToAMissingBucketReportsNoResult(t *testing.T) {
	srv := miniotest.Start(t)
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	files := mediaStore(t, src, 2, sizes(10))
	dst := minioURL(srv, "no-such-bucket")

	res := r.run("migrate", src, dst, "--delete")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res)
	assert.Empty(t, res.stdout, "no summary")

	res = r.run("migrate", src, dst, "--delete", "--json", "-q")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, false, sum["ok"])
	assert.Equal(t, false, sum["ran"])
	assert.Equal(t, true, sum["stopped"])
	assert.Contains(t, sum["error"], "destination")
	assert.Equal(t, files, readTree(t, src))
	t.Log(strings.TrimSpace(res.stderr))
}

// A migration to MinIO opens the bucket a second time, with
// prefix_check=false, for the objects whose keys its listings show free of
// prefix conflicts, when the driver takes that parameter; a driver that
// does not leaves every object to the bucket as the user opened it. Which
// of the two happened is in the -v log, and the migration succeeds either
// way.
func TestMinIOMigrateOpensTheBucketWithoutPrefixCheckWhenTheDriverCan(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	r := withMinio(newRunner(t), srv)
	src := t.TempDir()
	files := map[string][]byte{"local_content/ab/cd/efgh": []byte("one"), "local_content/ab/cd/ijkl": []byte("two")}
	writeTree(t, src, files)

	// Whether the driver takes the parameter, asked in this process.
	t.Setenv("MINIO_ACCESS_KEY", srv.AccessKey)
	t.Setenv("MINIO_SECRET_KEY", srv.SecretKey)
	u, ok := uncheckedURL(minioURL(srv, bucket))
	require.True(t, ok)
	p, openErr := storage.Open(t.Context(), u)
	if openErr == nil {
		require.NoError(t, p.Close())
	}

	res := r.run("migrate", src, minioURL(srv, bucket), "-v", "--no-journal")
	require.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	if openErr == nil {
		assert.Contains(t, res.stderr, "written without the destination's check")
	} else {
		t.Logf("the minio driver does not take prefix_check=false yet: %v", openErr)
		assert.Contains(t, res.stderr, "every object goes through the destination's own prefix check")
	}
	assert.NotContains(t, res.stderr, srv.SecretKey)
	assert.Equal(t, files, bucketContents(t, srv.Client(), bucket))
}
