package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/storage"
)

// cacheObject is an object in a tiered store's cache as the tests see it.
type cacheObject struct {
	data   []byte
	pinned bool // a pending upload
}

// fillCache writes objects into the cache directory dir as a tiered store
// leaves them, with now as their last access: pending uploads pinned
// (write-behind's PutPinned), the others clean copies.
func fillCache(t *testing.T, dir string, now time.Time, objects map[string]cacheObject) {
	t.Helper()
	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30, Now: func() time.Time { return now }})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	for key, o := range objects {
		put := c.Put
		if o.pinned {
			put = c.PutPinned
		}
		_, err := put(t.Context(), key, bytes.NewReader(o.data), nil)
		require.NoError(t, err)
	}
}

// cacheEntry is what the tests check of a cache entry: its content's
// SHA-256 and whether it is a pending upload.
type cacheEntry struct {
	sha256 string
	pinned bool
}

func entryOf(o cacheObject) cacheEntry {
	sum := sha256.Sum256(o.data)
	return cacheEntry{sha256: hex.EncodeToString(sum[:]), pinned: o.pinned}
}

// cacheContents opens the cache directory dir and returns what it holds,
// without reading any entry (a read would count as an access).
func cacheContents(t *testing.T, dir string) map[string]cacheEntry {
	t.Helper()
	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	out := map[string]cacheEntry{}
	for e := range c.Entries(t.Context()) {
		out[e.Key] = cacheEntry{sha256: e.SHA256, pinned: e.Pinned}
	}
	return out
}

// entriesOf returns the cache entries objects make.
func entriesOf(objects map[string]cacheObject) map[string]cacheEntry {
	out := map[string]cacheEntry{}
	for k, o := range objects {
		out[k] = entryOf(o)
	}
	return out
}

// putAll stores objects at the location rawURL through strata, so that
// the store records their checksums.
func putAll(t *testing.T, rawURL string, objects map[string][]byte) {
	t.Helper()
	p, err := storage.Open(t.Context(), rawURL)
	require.NoError(t, err)
	defer p.Close()
	for key, data := range objects {
		_, err := p.Put(t.Context(), key, bytes.NewReader(data), nil)
		require.NoError(t, err)
	}
}

// objectLines returns the "object" JSON lines of a dry run as
// "action key" strings, sorted.
func objectLines(t *testing.T, stdout string) []string {
	t.Helper()
	var out []string
	for line := range strings.SplitSeq(stdout, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["type"] == "object" {
			assert.Equal(t, true, m["dry_run"], line)
			out = append(out, m["action"].(string)+" "+m["key"].(string))
		}
	}
	slices.Sort(out)
	return out
}

func TestOffloadToDirectory(t *testing.T) {
	r := newRunner(t)
	dir := filepath.Join(t.TempDir(), "cache")
	remoteDir := t.TempDir()
	remote := fileURL(remoteDir)
	now := time.Now()
	old := now.Add(-40 * 24 * time.Hour)
	data := func(s string) []byte { return []byte(strings.Repeat(s, 100)) }

	// Pending uploads read recently; clean copies read long ago, one the
	// remote lacks, one it holds, one it holds in a newer version; and a
	// clean copy read recently that the remote lacks.
	fillCache(t, dir, now, map[string]cacheObject{
		"local_content/pe/nd/one": {data: data("p1"), pinned: true},
		"local_content/pe/nd/two": {data: data("p2"), pinned: true},
		"local_content/re/ce/nt":  {data: data("c3")},
	})
	fillCache(t, dir, old, map[string]cacheObject{
		"local_content/ol/d1/lost":  {data: data("c1")},
		"local_content/ol/d2/there": {data: data("c2")},
		"local_content/ol/d4/stale": {data: data("old")},
	})
	remoteBefore := map[string][]byte{
		"local_content/ol/d2/there": data("c2"),
		"local_content/ol/d4/stale": data("new"),
	}
	putAll(t, remote, remoteBefore)
	cacheBefore := cacheContents(t, dir)
	require.Len(t, cacheBefore, 6)

	// A dry run says what would happen and changes nothing.
	res := r.run("offload", dir, remote, "--older-than", "30d", "--dry-run", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, []string{
		"drop local_content/ol/d1/lost",
		"drop local_content/ol/d2/there",
		"drop local_content/ol/d4/stale",
		"upload local_content/ol/d1/lost",
		"upload local_content/pe/nd/one",
		"upload local_content/pe/nd/two",
		"upload local_content/re/ce/nt",
	}, objectLines(t, res.stdout))
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, true, sum["dry_run"])
	assert.Equal(t, 4, num(t, sum, "uploaded"))
	assert.Equal(t, 2, num(t, sum, "dropped"))
	assert.Equal(t, 1, num(t, sum, "stale"))
	assert.Equal(t, remoteBefore, readTree(t, remoteDir), "the remote is untouched")
	assert.Equal(t, cacheBefore, cacheContents(t, dir), "the cache is untouched")

	res = r.run("offload", dir, remote, "--dry-run")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "dry run: nothing was changed\n")
	assert.Contains(t, res.stdout, "would upload local_content/pe/nd/one (200 B, pending upload)\n")
	assert.Contains(t, res.stdout, "would drop local_content/pe/nd/one (200 B)\n", "without --older-than every verified copy goes")

	// Offload: everything reaches the remote; the copies read long ago
	// are dropped, the others kept and no longer pending.
	res = r.run("offload", dir, remote, "--older-than", "30d", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, false, sum["dry_run"])
	assert.Equal(t, 6, num(t, sum, "entries"))
	assert.Equal(t, 4, num(t, sum, "uploaded"))
	assert.Equal(t, 4*200, num(t, sum, "uploaded_bytes"))
	assert.Equal(t, 5, num(t, sum, "verified"))
	assert.Equal(t, 2, num(t, sum, "dropped"))
	assert.Equal(t, 3, num(t, sum, "kept"))
	assert.Equal(t, 1, num(t, sum, "stale"))
	assert.Equal(t, 0, num(t, sum, "failed"))
	assert.Equal(t, map[string][]byte{
		"local_content/pe/nd/one":   data("p1"),
		"local_content/pe/nd/two":   data("p2"),
		"local_content/re/ce/nt":    data("c3"),
		"local_content/ol/d1/lost":  data("c1"),
		"local_content/ol/d2/there": data("c2"),
		"local_content/ol/d4/stale": data("new"),
	}, readTree(t, remoteDir))
	assert.Equal(t, entriesOf(map[string]cacheObject{
		"local_content/pe/nd/one": {data: data("p1")},
		"local_content/pe/nd/two": {data: data("p2")},
		"local_content/re/ce/nt":  {data: data("c3")},
	}), cacheContents(t, dir))

	// --keep-local drops nothing; then a plain run drops every copy, with
	// nothing left to upload.
	res = r.run("offload", dir, remote, "--keep-local", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, 0, num(t, summaryOf(t, res.stdout), "dropped"))
	assert.Len(t, cacheContents(t, dir), 3)
	res = r.run("offload", dir, remote)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Regexp(t, `(?m)^uploaded: +0 objects`, res.stdout)
	assert.Regexp(t, `(?m)^dropped: +3 local copies  600 B freed$`, res.stdout)
	assert.Empty(t, cacheContents(t, dir))
	assert.Len(t, readTree(t, remoteDir), 6)
}

func TestOffloadKeepsWhatFailsAndExitsNonZero(t *testing.T) {
	r := newRunner(t)
	dir := filepath.Join(t.TempDir(), "cache")
	remoteDir := t.TempDir()
	remote := fileURL(remoteDir)
	// The remote holds a file "a", so "a/b" cannot be stored there.
	putAll(t, remote, map[string][]byte{"a": []byte("a file")})
	fillCache(t, dir, time.Now(), map[string]cacheObject{
		"a/b":  {data: []byte("under a"), pinned: true},
		"ok/1": {data: []byte("fine"), pinned: true},
	})

	res := r.run("offload", dir, remote, "--json")
	assert.Equal(t, 1, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, 1, num(t, sum, "failed"))
	assert.Equal(t, 1, num(t, sum, "dropped"))
	assert.Contains(t, res.stderr, "a/b")
	assert.Contains(t, res.stderr, "strata: offload: 1 objects failed and were kept in the cache")
	assert.NotContains(t, res.stderr, "panic")
	assert.Equal(t, entriesOf(map[string]cacheObject{"a/b": {data: []byte("under a"), pinned: true}}), cacheContents(t, dir),
		"the failed object is still a pending upload")
	assert.Equal(t, map[string][]byte{"a": []byte("a file"), "ok/1": []byte("fine")}, readTree(t, remoteDir))
}

func TestOffloadUsageErrorsAreOneLine(t *testing.T) {
	r := newRunner(t)
	dir := filepath.Join(t.TempDir(), "cache")
	fillCache(t, dir, time.Now(), map[string]cacheObject{"k": {data: []byte("v"), pinned: true}})
	before := cacheContents(t, dir)
	plain := t.TempDir()
	remoteDir := t.TempDir()
	remote := fileURL(remoteDir)
	const secret = "SEKRETsekret123"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"offload", dir}, "wrong number of arguments; usage: strata offload CACHE_DIR REMOTE"},
		{[]string{"offload", dir, "nosuch://bucket"}, `unknown URL scheme "nosuch"`},
		{[]string{"offload", dir, "s3://%zz"}, "cannot parse URL"},
		{[]string{"offload", dir, "s3://bucket?secret_access_key=" + secret}, `unknown parameter "secret_access_key"`},
		{[]string{"offload", dir, "minio://admin:" + secret + "@127.0.0.1:1/media"}, "credentials do not go in the URL"},
		{[]string{"offload", plain, remote}, "is not a cache directory"},
		{[]string{"offload", filepath.Join(plain, "nosuch"), remote}, "no such file or directory"},
		{[]string{"offload", "s3://bucket", remote}, "must be a local directory"},
		{[]string{"offload", dir, fileURL(filepath.Join(dir, "objects"))}, "is the cache directory or inside it"},
		{[]string{"offload", dir, remote, "--keep-local", "--older-than", "1d"}, "do not go together"},
		{[]string{"offload", dir, remote, "--workers", "0"}, "--workers must be at least 1"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			res := r.run(tc.args...)
			assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
			oneLine(t, res, secret)
			assert.Contains(t, res.stderr, tc.want)
		})
	}

	// The cache in use by another process (here, this one).
	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 30})
	require.NoError(t, err)
	res := r.run("offload", dir, remote)
	require.NoError(t, c.Close())
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res)
	assert.Contains(t, res.stderr, "stop the process using the cache first")

	assert.Equal(t, before, cacheContents(t, dir), "nothing changed")
	assert.Empty(t, readTree(t, remoteDir))
}

func TestOffloadProgressLines(t *testing.T) {
	r := newRunner(t)
	dir := filepath.Join(t.TempDir(), "cache")
	objects := map[string]cacheObject{}
	for i := range 40 {
		objects[filepath.ToSlash(filepath.Join("m", string(rune('a'+i%26)), strings.Repeat("x", i+1)))] = cacheObject{data: bytes.Repeat([]byte{byte(i)}, 100), pinned: i%2 == 0}
	}
	fillCache(t, dir, time.Now(), objects)
	remote := testURL(fileURL(t.TempDir()), "delay", "5ms")

	res := r.run("offload", dir, remote, "--json", "--progress-interval", "20ms", "--workers", "2")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	var last map[string]any
	for line := range strings.SplitSeq(res.stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["type"] == "progress" {
			assert.Equal(t, "offload", m["command"])
			assert.EqualValues(t, 40, m["objects_total"])
			last = m
		}
	}
	require.NotNil(t, last, "progress lines on stderr:\n%s", res.stderr)
	assert.Positive(t, num(t, last, "objects"))
	assert.Equal(t, 40, num(t, summaryOf(t, res.stdout), "uploaded"))
	assert.Empty(t, cacheContents(t, dir))

	// Plain lines when stderr is no terminal.
	fillCache(t, dir, time.Now(), map[string]cacheObject{"k/1": {data: []byte("v"), pinned: true}})
	res = r.run("offload", dir, testURL(fileURL(t.TempDir()), "delay", "100ms"), "--progress-interval", "20ms")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Regexp(t, `(?m)^offload: \d/1 objects, .* uploaded, `, res.stderr)
}

func TestMinIOOffload(t *testing.T) {
	srv := miniotest.StartFresh(t, nil)
	bucket := srv.NewBucket(t)
	r := withMinio(newRunner(t), srv)
	dir := filepath.Join(t.TempDir(), "cache")
	objects := map[string]cacheObject{}
	want := map[string][]byte{}
	for i, key := range slices.Sorted(maps.Keys(mediaStore(t, t.TempDir(), 6, sizes(700)))) {
		data := bytes.Repeat([]byte{byte(i)}, 700+i*31)
		objects[key] = cacheObject{data: data, pinned: i%3 != 0}
		want[key] = data
	}
	// One large object, sent in parts.
	big := make([]byte, 20<<20+5)
	for i := range big {
		big[i] = byte(i * 13)
	}
	objects["local_content/zz/zz/video"] = cacheObject{data: big, pinned: true}
	want["local_content/zz/zz/video"] = big
	fillCache(t, dir, time.Now(), objects)
	remote := minioURL(srv, bucket)

	res := r.run("offload", dir, remote, "--dry-run", "-q")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, res.stdout+res.stderr)
	assert.Zero(t, objectCount(t, srv.Client(), bucket))
	assert.Equal(t, entriesOf(objects), cacheContents(t, dir))

	res = r.run("offload", dir, remote, "--json", "--workers", "4")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, len(objects), num(t, sum, "uploaded"))
	assert.Equal(t, len(objects), num(t, sum, "dropped"))
	assert.NotContains(t, res.stdout+res.stderr, srv.SecretKey)
	assert.NotContains(t, res.stdout+res.stderr, srv.AccessKey)
	got := bucketContents(t, srv.Client(), bucket)
	assert.Equal(t, len(want), len(got))
	for key, data := range want {
		assert.True(t, bytes.Equal(data, got[key]), "%s: %d bytes at MinIO, want %d", key, len(got[key]), len(data))
	}
	assert.Empty(t, cacheContents(t, dir), "every local copy dropped")

	// A missing bucket, wrong credentials, MinIO gone: one clear line,
	// and the cache as it was.
	fillCache(t, dir, time.Now(), map[string]cacheObject{"k/1": {data: []byte("v"), pinned: true}})
	res = r.run("offload", dir, minioURL(srv, "no-such-bucket"), "-q")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res, srv.SecretKey)
	const secret = "SEKRETsekret123"
	res = newRunner(t).with("MINIO_ACCESS_KEY="+srv.AccessKey, "MINIO_SECRET_KEY="+secret).run("offload", dir, remote)
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res, secret)
	assert.Contains(t, res.stderr, "check the credentials in MINIO_ACCESS_KEY")
	srv.Stop(t)
	res = r.run("offload", dir, minioURL(srv, bucket, "max_retries", "1"), "-q")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	oneLine(t, res, srv.SecretKey)
	assert.Contains(t, res.stderr, "the store could not be reached")
	assert.Equal(t, entriesOf(map[string]cacheObject{"k/1": {data: []byte("v"), pinned: true}}), cacheContents(t, dir))
}
