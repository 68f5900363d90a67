package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/conformance/miniotest"
)

// missingBucket returns the name of a bucket that does not exist on srv
// and that is removed, with what it holds, when the test ends.
func missingBucket(t *testing.T, srv *miniotest.Server) string {
	t.Helper()
	bucket := srv.NewBucket(t) // a fresh name, cleaned up at the end
	require.NoError(t, srv.Client().RemoveBucket(t.Context(), bucket))
	return bucket
}

// A first-time user with an empty MinIO: ls and migrate say that the
// bucket is missing and how to make it; "strata mb" makes it (through
// minio:// and s3:// URLs); then ls and migrate work, and a second mb says
// the bucket is there.
func TestMbMakesTheBucketAMigrationNeeds(t *testing.T) {
	srv := miniotest.Start(t)
	src := t.TempDir()
	files := mediaStore(t, src, 5, sizes(100))
	for _, tc := range []struct {
		name string
		r    *runner
		url  func(bucket string) string
	}{
		{"minio", withMinio(newRunner(t), srv), func(bucket string) string { return minioURL(srv, bucket) }},
		{"s3", newRunner(t).with("AWS_ACCESS_KEY_ID="+srv.AccessKey, "AWS_SECRET_ACCESS_KEY="+srv.SecretKey),
			func(bucket string) string {
				return "s3://" + bucket + "?region=" + srv.Region + "&endpoint=" + url.QueryEscape(srv.URL)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := missingBucket(t, srv)
			loc := tc.url(bucket)

			res := tc.r.run("ls", loc)
			assert.Equal(t, 1, res.code, "stderr: %s", res.stderr)
			oneLine(t, res, srv.SecretKey)
			assert.Contains(t, res.stderr, "bucket does not exist")
			assert.Contains(t, res.stderr, "(create it with: strata mb '"+loc+"')")

			res = tc.r.run("migrate", src, loc)
			assert.NotZero(t, res.code, "stderr: %s", res.stderr)
			assert.Contains(t, res.stderr, "create it with: strata mb '"+loc+"'")

			res = tc.r.run("mb", loc)
			require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
			assert.Equal(t, "created "+loc+"\n", res.stdout)
			assert.Empty(t, res.stderr)
			ok, err := srv.Client().BucketExists(t.Context(), bucket)
			require.NoError(t, err)
			assert.True(t, ok)

			res = tc.r.run("ls", loc)
			assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
			assert.Empty(t, res.stdout)

			res = tc.r.run("migrate", src, loc)
			assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
			assert.Equal(t, files, bucketContents(t, srv.Client(), bucket))

			// Again: the bucket is there and the caller's, which is fine.
			res = tc.r.run("mb", loc)
			assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
			assert.Equal(t, loc+" already exists\n", res.stdout)
			assert.Equal(t, files, bucketContents(t, srv.Client(), bucket), "nothing lost")
		})
	}
}

// A directory is made with its parents, as mkdir -p does, and one that
// exists is fine; mem:// always exists; a location whose driver cannot
// make buckets is refused in one line.
func TestMbLocalMemAndUnsupported(t *testing.T) {
	r := newRunner(t)
	dir := filepath.Join(t.TempDir(), "srv", "media")

	res := r.run("mb", dir)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, "created "+fileURL(dir)+"\n", res.stdout)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())

	res = r.run("mb", fileURL(dir))
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, fileURL(dir)+" already exists\n", res.stdout)

	res = r.run("mb", "mem://media")
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, "mem://media already exists\n", res.stdout)

	res = r.run("mb", testURL("mem://"))
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res)
	assert.Contains(t, res.stderr, "test:// locations cannot create a bucket")
	assert.Empty(t, res.stdout)

	res = r.run("mb")
	assert.Equal(t, 2, res.code)
	assert.Contains(t, res.stderr, "usage: strata mb URL")

	res = r.run("help", "mb")
	assert.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "Usage: strata mb URL")
	assert.True(t, strings.Contains(res.stdout, "mkdir -p"))
}

// b2 looks the bucket up as it opens: migrate says the bucket is missing
// and how to make it, mb makes it (a private bucket, through the error of
// the open), and then the migration and ls work.
func TestMbB2(t *testing.T) {
	srv := b2test.NewServer(t, nil)
	id, key := srv.MasterKey()
	r := newRunner(t).with("B2_APPLICATION_KEY_ID="+id, "B2_APPLICATION_KEY="+key)
	loc := "b2://media-made-by-mb?api_base=" + url.QueryEscape(srv.URL)
	src := t.TempDir()
	files := mediaStore(t, src, 3, sizes(100))

	res := r.run("migrate", src, loc)
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res, key)
	assert.Contains(t, res.stderr, `bucket "media-made-by-mb" does not exist`)
	assert.Contains(t, res.stderr, "(create it with: strata mb '"+loc+"')")

	res = r.run("mb", loc)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, "created "+loc+"\n", res.stdout)
	assert.True(t, srv.HasBucket("media-made-by-mb"))

	res = r.run("migrate", src, loc)
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	res = r.run("ls", loc)
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Len(t, strings.Fields(res.stdout), len(files))

	res = r.run("mb", loc)
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, loc+" already exists\n", res.stdout)
	for _, s := range []string{res.stdout, res.stderr} {
		assert.NotContains(t, s, key)
	}
}
