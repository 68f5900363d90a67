package main

// Tests of the command's edges: locations that are not there, locations
// that are the same place through a symbolic link, flag values that must
// be refused, and results that must not be reported when the work was not
// done.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
)

// runIn runs the binary with dir as its working directory.
func (r *runner) runIn(dir string, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 3*time.Minute)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, args...)
	cmd.Dir = dir
	err := cmd.Run()
	return finished(r.t, cmd, err, stdout, stderr)
}

// A source that is not there is a typo, not an empty store: every command
// that reads a location refuses it with one line naming it, and creates
// nothing, neither the source nor the destination nor a journal.
func TestMissingSourceIsRefusedAndNothingCreated(t *testing.T) {
	r := newRunner(t)
	base := t.TempDir()
	existing := filepath.Join(base, "existing")
	writeTree(t, existing, map[string][]byte{"a/b": []byte("data")})
	missing := filepath.Join(base, "no-such-dir")
	newDst := filepath.Join(base, "new-dst")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"migrate", []string{"migrate", missing, newDst}},
		{"migrate file URL", []string{"migrate", fileURL(missing), fileURL(newDst)}},
		{"migrate dry run", []string{"migrate", missing, newDst, "--dry-run"}},
		{"migrate json", []string{"migrate", missing, newDst, "--json"}},
		{"verify", []string{"verify", missing, existing}},
		{"verify json", []string{"verify", missing, existing, "--json"}},
		{"verify missing destination", []string{"verify", existing, missing}},
		{"ls", []string{"ls", missing}},
		{"ls long", []string{"ls", fileURL(missing), "--long"}},
		{"stat", []string{"stat", missing, "a/b"}},
		{"cat", []string{"cat", missing, "a/b"}},
		{"rm", []string{"rm", missing, "a/b"}},
		{"rm -f", []string{"rm", "-f", missing, "a/b"}},
		{"cp", []string{"cp", missing, "a/b", newDst}},
		{"bench", []string{"bench", missing, "--large-size", "0", "--small-count", "2", "--concurrency", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.run(tc.args...)
			assert.Equal(t, 2, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
			oneLine(t, res)
			assert.Contains(t, res.stderr, strconv.Quote(missing)+" does not exist")
			assert.Empty(t, res.stdout, "no summary, no result")
			for _, p := range []string{missing, newDst, r.state} {
				_, err := os.Stat(p)
				assert.True(t, os.IsNotExist(err), "%s was created", p)
			}
			assert.Equal(t, map[string][]byte{"a/b": []byte("data")}, readTree(t, existing))
		})
	}

	// A dangling symbolic link is a source that is not there either.
	link := filepath.Join(base, "dangling")
	require.NoError(t, os.Symlink(missing, link))
	res := r.run("migrate", link, newDst)
	assert.Equal(t, 2, res.code)
	oneLine(t, res)
	_, err := os.Stat(missing)
	assert.True(t, os.IsNotExist(err))

	// A dry run changes nothing: a destination that is not there is an
	// empty one, reported as such, and it is not created.
	res = r.run("migrate", existing, newDst, "--dry-run")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "a/b")
	_, err = os.Stat(newDst)
	assert.True(t, os.IsNotExist(err), "a dry run created its destination")

	// A file:// destination that is not there is still created.
	res = r.run("migrate", existing, newDst)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, map[string][]byte{"a/b": []byte("data")}, readTree(t, newDst))
}

// A destination inside the source, or a source inside the destination,
// reached through a symbolic link, is refused as the plain paths are;
// two different relative directories are not mistaken for the same one.
func TestSameOrNestedThroughSymbolicLinks(t *testing.T) {
	r := newRunner(t)
	base := t.TempDir()
	media := filepath.Join(base, "media")
	writeTree(t, media, map[string][]byte{"a/b": []byte("data")})
	require.NoError(t, os.Symlink(media, filepath.Join(base, "media-link")))
	backup := filepath.Join(base, "backup")
	writeTree(t, backup, map[string][]byte{"old/x": []byte("old")})
	require.NoError(t, os.Symlink(backup, filepath.Join(base, "backup-link")))
	for _, tc := range []struct{ name, src, dst string }{
		{"destination inside the source, not yet there", media, filepath.Join(base, "media-link", "backup")},
		{"destination inside the source, deeper, as file URLs",
			fileURL(media), fileURL(filepath.Join(base, "media-link", "x", "y"))},
		{"the same directory through a link", filepath.Join(base, "media-link"), media},
		{"source inside the destination", filepath.Join(base, "backup-link", "old"), backup},
		{"source inside the destination through a link", filepath.Join(base, "media-link", "a"), media},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, extra := range [][]string{nil, {"--dry-run"}} {
				res := r.run(append([]string{"migrate", tc.src, tc.dst}, extra...)...)
				assert.Equal(t, 2, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
				oneLine(t, res)
				assert.Contains(t, res.stderr, "are the same place or one is inside the other")
			}
			assert.Equal(t, map[string][]byte{"a/b": []byte("data")}, readTree(t, media), "nothing copied into the source")
			assert.Equal(t, map[string][]byte{"old/x": []byte("old")}, readTree(t, backup))
		})
	}
	cache := filepath.Join(base, "cache")
	require.NoError(t, os.MkdirAll(filepath.Join(cache, "index"), 0o750))
	require.NoError(t, os.Symlink(cache, filepath.Join(base, "cache-link")))
	res := r.run("offload", cache, fileURL(filepath.Join(base, "cache-link", "remote")))
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "is the cache directory or inside it")

	// file:a and file:b, relative to the working directory, are two places.
	writeTree(t, filepath.Join(base, "rel-a"), map[string][]byte{"k": []byte("v")})
	res = r.runIn(base, "migrate", "file:rel-a", "file:rel-b")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, map[string][]byte{"k": []byte("v")}, readTree(t, filepath.Join(base, "rel-b")))
	res = r.runIn(base, "migrate", "file:rel-a", "file:rel-a/sub")
	assert.Equal(t, 2, res.code)
	assert.Contains(t, res.stderr, "are the same place or one is inside the other")
}

// Every value of bench's flags is honoured or refused with a usage error
// before the location is opened; none is silently replaced.
func TestBenchRefusesOrHonoursEveryFlagValue(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	// Each case's flags come after a small workload on a location whose
	// Puts all fail, so that a value taken instead of refused fails fast
	// (exit status 1, not 2).
	loc := testURL(fileURL(dir), "fail_puts_after", "0")
	small := []string{"--large-size", "0", "--small-count", "1", "--concurrency", "1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--small-count", "-1"}, "--small-count -1: want 0 (skip) to 1000000"},
		{[]string{"--small-count", "1000000000"}, "--small-count 1000000000"},
		{[]string{"--large-count", "-3"}, "--large-count -3"},
		{[]string{"--small-size", "0"}, "--small-size 0 B: want 8 bytes to 64.0 MiB"},
		{[]string{"--small-size", "7"}, "--small-size 7 B"},
		{[]string{"--small-size", "1GiB"}, "--small-size 1.0 GiB"},
		{[]string{"--small-size", "64MiB", "--concurrency", "1,32"}, "--small-size 64.0 MiB at --concurrency 32 holds 2.0 GiB in memory"},
		{[]string{"--large-size", "-1"}, `invalid size "-1"`},
		{[]string{"--large-size", "6TiB"}, "--large-size 6.0 TiB: want at most 5.0 TiB"},
		{[]string{"--concurrency", "0"}, `invalid list "0"`},
		{[]string{"--concurrency", "1,100000"}, "--concurrency 100000: want at most 1000"},
		{[]string{"--large-concurrency", "-4"}, `invalid list "-4"`},
		{[]string{"--large-size", "0", "--small-count", "0"}, "nothing to measure"},
		{[]string{"--large-size", "1KiB", "--large-count", "0", "--small-count", "0"}, "nothing to measure"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := r.run(append(append([]string{"bench", loc}, small...), tc.args...)...)
			assert.Equal(t, 2, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
			oneLine(t, res)
			assert.Contains(t, res.stderr, tc.want)
			assert.Empty(t, res.stdout)
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing written")

	// --small-count 0 skips the small objects, as --large-size 0 skips the
	// large ones; --large-count 0 too.
	res := r.run("bench", dir, "--large-size", "1KiB", "--large-count", "2", "--large-concurrency", "1",
		"--small-count", "0", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, []string{"PUT 1024 x2", "GET 1024 x2"}, benchRows(t, res.stdout))
	res = r.run("bench", dir, "--large-count", "0", "--small-size", "16", "--small-count", "3", "--concurrency", "2", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, []string{"PUT 16 x3", "GET 16 x3", "DELETE 16 x3"}, benchRows(t, res.stdout))
	assert.Empty(t, readTree(t, dir))
}

// benchRows returns "OP SIZE xOPS" for each JSON row of bench's output.
func benchRows(t *testing.T, stdout string) []string {
	t.Helper()
	var rows []string
	for line := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var row benchJSON
		require.NoError(t, json.Unmarshal([]byte(line), &row), line)
		assert.Positive(t, row.OpsPerS, line)
		rows = append(rows, row.Op+" "+strconv.FormatInt(row.Size, 10)+" x"+strconv.Itoa(row.Ops))
	}
	return rows
}

// A bench whose operations fail prints no row for them: no made-up
// operations per second, no zero latency.
func TestBenchPrintsNoRowForAFailedOperation(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	// Every PUT fails: no row at all.
	loc := testURL(fileURL(dir), "fail_puts_after", "0")
	res := r.run("bench", loc, "--large-size", "0", "--small-count", "5", "--concurrency", "1")
	assert.Equal(t, 1, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "strata: bench: PUT ")
	// The second PUT phase fails: the first one's rows only.
	loc = testURL(fileURL(dir), "fail_puts_after", "3")
	res = r.run("bench", loc, "--large-size", "0", "--small-size", "64", "--small-count", "3", "--concurrency", "1,2", "--json")
	assert.Equal(t, 1, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	assert.Equal(t, []string{"PUT 64 x3", "GET 64 x3", "DELETE 64 x3"}, benchRows(t, res.stdout))
	assert.Empty(t, readTree(t, dir))
}

// cat refuses a negative offset or length, which it used to take as
// "from the start" or "to the end".
func TestCatRefusesNegativeRanges(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"k": []byte("hello")})
	for _, args := range [][]string{{"--length", "-1"}, {"--offset", "-1"}, {"--offset", "1", "--length", "-2"}} {
		res := r.run(append([]string{"cat", dir, "k"}, args...)...)
		assert.Equal(t, 2, res.code, "%v: stdout %q", args, res.stdout)
		oneLine(t, res)
		assert.Contains(t, res.stderr, "neither may be negative")
		assert.Empty(t, res.stdout)
	}
	res := r.run("cat", dir, "k", "--offset", "1", "--length", "0")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "ello", res.stdout)
}

// A bucket that is not there: bench prints no row, verify no "ok".
func TestMinIOBenchAndVerifyAgainstAMissingBucket(t *testing.T) {
	srv := miniotest.Start(t)
	r := withMinio(newRunner(t), srv)
	missing := minioURL(srv, "no-such-bucket")

	for _, format := range [][]string{nil, {"--json"}} {
		res := r.run(append([]string{"bench", missing, "--large-size", "0", "--small-count", "3", "--concurrency", "1"}, format...)...)
		assert.Equal(t, 1, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
		assert.Empty(t, res.stdout, "no row for operations that failed")
		if format != nil {
			oneLine(t, res) // no phase lines with --json
		}
		assert.Contains(t, res.stderr, "strata: bench: PUT ")
	}

	src := t.TempDir()
	writeTree(t, src, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	res := r.run("verify", src, missing, "--json")
	assert.Equal(t, 2, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, false, sum["ok"], "a comparison that could not run is not ok")
	assert.Contains(t, sum["error"], "bucket does not exist")
	res = r.run("verify", src, missing)
	assert.Equal(t, 2, res.code)
	assert.True(t, strings.HasPrefix(res.stdout, "stopped by an error: checked "), "stdout: %s", res.stdout)

	res = r.run("verify", missing, src, "--json")
	assert.Equal(t, 2, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, false, sum["ok"])
	assert.NotEmpty(t, sum["error"])
}

// cp of a source whose bytes no longer match its stored SHA-256 (changed
// in place, its size and time kept) fails and leaves the destination's
// object as it was, instead of replacing it with the damaged bytes and
// then reporting the mismatch.
func TestCpOfADamagedSourceLeavesTheDestinationAlone(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	for _, loc := range []string{src, dst} {
		res := r.runStdin([]byte("good-data"), "cp", "-", "k", loc)
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	}
	p := filepath.Join(src, "k")
	fi, err := os.Stat(p)
	require.NoError(t, err)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("BAD!"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	res := r.run("stat", src, "k")
	require.Regexp(t, `sha256: +[0-9a-f]{64}`, res.stdout, "the stored checksum is still there")

	for _, key := range []string{"k", "new"} {
		res = r.run("cp", src, "k", dst, key)
		assert.Equal(t, 1, res.code, "stderr: %s", res.stderr)
		oneLine(t, res)
		assert.Contains(t, res.stderr, `source "k" does not match its stored SHA-256`)
	}
	assert.Equal(t, map[string][]byte{"k": []byte("good-data")}, readTree(t, dst))
}
