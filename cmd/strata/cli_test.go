package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpHasExamplesForEveryCommand(t *testing.T) {
	r := newRunner(t)
	res := r.run("--help")
	require.Equal(t, 0, res.code)
	for _, c := range commands {
		assert.Contains(t, res.stdout, "  "+c.name+" ")
		for _, args := range [][]string{{"help", c.name}, {c.name, "--help"}, {c.name, "-h"}} {
			res := r.run(args...)
			assert.Equal(t, 0, res.code, "%v", args)
			assert.Contains(t, res.stdout, "Usage: strata "+c.name)
			if c.name != "version" {
				assert.Contains(t, res.stdout, "Examples:\n  strata "+c.name+" ", "%v", args)
			}
		}
	}
	res = r.run("help", "migrate")
	assert.Contains(t, res.stdout, "--workers INT")
	assert.Contains(t, res.stdout, "--older-than DURATION")

	res = r.run()
	assert.Equal(t, 2, res.code)
	assert.Contains(t, res.stderr, "Commands:")
}

func TestUsageAndLocationErrorsAreOneLine(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	const secret = "SEKRETsekret123"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"migrate", dir}, "wrong number of arguments; usage: strata migrate SRC DST"},
		{[]string{"migrate", dir, dir + "/x", "--workers", "0"}, "--workers must be at least 1"},
		{[]string{"migrate", dir, dir + "/x", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"migrate", dir, dir + "/x", "--older-than", "yesterday"}, `invalid duration "yesterday"`},
		{[]string{"migrate", dir, filepath.Join(dir, "inside")}, "one is inside the other"},
		{[]string{"migrate", "nosuch://bucket", dir}, `unknown URL scheme "nosuch"`},
		{[]string{"migrate", dir, "s3://%zz"}, "cannot parse URL"},
		{[]string{"ls", "s3://bucket?secret_access_key=" + secret}, `unknown parameter "secret_access_key"`},
		{[]string{"ls", "b2://media"}, "no B2 application key"},
		{[]string{"ls", "minio://127.0.0.1:1"}, "want exactly one path segment, the bucket"},
		{[]string{"verify", "mem://", "file://remotehost/srv"}, "names a local directory"},
		{[]string{"bench", dir, "--concurrency", "1,x"}, `invalid list "1,x"`},
		{[]string{"bench", dir, "--small-size", "lots"}, `invalid size "lots"`},
		{[]string{"cat", dir}, "wrong number of arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			res := r.run(tc.args...)
			assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
			oneLine(t, res, secret)
			assert.Contains(t, res.stderr, tc.want)
		})
	}
}

func TestInspectCommands(t *testing.T) {
	r := newRunner(t)
	store := t.TempDir()
	other := t.TempDir()
	loc := fileURL(store)

	res := r.runStdin([]byte("hello, media"), "cp", "-", "local_content/ab/cd/efgh", loc, "--content-type", "image/png")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	writeTree(t, store, map[string][]byte{"local_content/ab/cd/plain": []byte("plain file")})

	res = r.run("ls", loc)
	require.Equal(t, 0, res.code)
	assert.Equal(t, "local_content/ab/cd/efgh\nlocal_content/ab/cd/plain\n", res.stdout)
	res = r.run("ls", loc, "local_content/ab/cd/p")
	assert.Equal(t, "local_content/ab/cd/plain\n", res.stdout)
	res = r.run("ls", "--long", loc)
	require.Equal(t, 0, res.code)
	assert.Regexp(t, `(?m)^ +12  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  [0-9a-f]{64}  local_content/ab/cd/efgh$`, res.stdout)
	res = r.run("ls", loc, "--json")
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(res.stdout, "\n", 2)[0]), &first))
	assert.Equal(t, "local_content/ab/cd/efgh", first["key"])
	assert.EqualValues(t, 12, first["size"])

	res = r.run("stat", loc, "local_content/ab/cd/efgh")
	require.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "size:         12 (12 B)\n")
	assert.Contains(t, res.stdout, "content-type: image/png\n")
	assert.Regexp(t, `sha256: +[0-9a-f]{64}\n`, res.stdout)
	res = r.run("stat", loc, "local_content/ab/cd/plain", "--json")
	require.Equal(t, 0, res.code)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &st))
	assert.EqualValues(t, 10, st["size"])
	assert.Nil(t, st["sha256"], "a plain file has no stored checksum")

	res = r.run("cat", loc, "local_content/ab/cd/efgh")
	assert.Equal(t, "hello, media", res.stdout)
	res = r.run("cat", loc, "local_content/ab/cd/efgh", "--offset", "7", "--length", "3")
	assert.Equal(t, "med", res.stdout)

	res = r.run("cp", loc, "local_content/ab/cd/efgh", fileURL(other))
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	res = r.run("cp", loc, "local_content/ab/cd/efgh", other, "copies/one")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, map[string][]byte{"local_content/ab/cd/efgh": []byte("hello, media"), "copies/one": []byte("hello, media")}, readTree(t, other))
	res = r.run("stat", other, "copies/one")
	assert.Contains(t, res.stdout, "content-type: image/png\n", "content type carried over")
	res = r.run("cp", loc, "local_content/ab/cd/plain", other, "copies/one", "-n")
	assert.Equal(t, 1, res.code)
	oneLine(t, res)

	res = r.run("stat", loc, "missing/key")
	assert.Equal(t, 1, res.code)
	oneLine(t, res)
	assert.Contains(t, res.stderr, "not found")
	res = r.run("cat", loc, "missing/key")
	assert.Equal(t, 1, res.code)
	oneLine(t, res)

	res = r.run("rm", loc, "local_content/ab/cd/efgh", "local_content/ab/cd/plain")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, readTree(t, store))
	res = r.run("rm", loc, "local_content/ab/cd/efgh")
	assert.Equal(t, 1, res.code)
	oneLine(t, res)
	res = r.run("rm", "-f", loc, "local_content/ab/cd/efgh")
	assert.Equal(t, 0, res.code)
}

func TestBenchPrintsTableAndCleansUp(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{"keep/me": []byte("x")})
	res := r.run("bench", dir, "--large-size", "2MiB", "--large-count", "2", "--large-concurrency", "1,2",
		"--small-size", "1KiB", "--small-count", "30", "--concurrency", "1,4")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 11)
	assert.Regexp(t, `^\s*OP\s+SIZE\s+CONC\s+OPS\s+OPS/S\s+MiB/S\s+P50\s+P90\s+P99$`, lines[0])
	assert.Regexp(t, `^\s*PUT\s+2\.0 MiB\s+1\s+2\s`, lines[1])
	assert.Regexp(t, `^\s*DELETE\s+1\.0 KiB\s+4\s+30\s`, lines[10])
	assert.Equal(t, map[string][]byte{"keep/me": []byte("x")}, readTree(t, dir))

	res = r.run("bench", dir, "--large-size", "0", "--small-count", "5", "--concurrency", "2", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, 3, strings.Count(res.stdout, `"type":"bench"`))
	assert.Empty(t, res.stderr)
}

func TestBenchInterruptedStillCleansUp(t *testing.T) {
	r := newRunner(t)
	dir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "puts.log")
	run := r.start("bench", testURL(fileURL(dir), "delay", "20ms", "log", logPath),
		"--large-size", "0", "--small-count", "1000", "--concurrency", "2")
	waitFor(t, "the first objects", time.Minute, func() bool {
		_, puts := putLog(t, logPath)
		return len(puts) >= 10 || run.exited()
	})
	require.False(t, run.exited())
	require.NoError(t, run.cmd.Process.Signal(syscall.SIGINT))
	res := run.wait(t)
	assert.Equal(t, 130, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "bench: interrupted")
	assert.Empty(t, readTree(t, dir), "everything the bench wrote is gone")
	_, err := os.Stat(dir)
	require.NoError(t, err)
}

// cp within one store copies there (storage.Copy: on the store's side when
// it can), with the content type, and reports a missing source in one
// line.
func TestCpWithinOneStore(t *testing.T) {
	r := newRunner(t)
	store := t.TempDir()
	loc := fileURL(store)
	res := r.runStdin([]byte("hello, media"), "cp", "-", "a/k", loc, "--content-type", "image/png")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	res = r.run("cp", loc, "a/k", loc, "b/k")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, map[string][]byte{"a/k": []byte("hello, media"), "b/k": []byte("hello, media")}, readTree(t, store))
	res = r.run("stat", loc, "b/k")
	assert.Contains(t, res.stdout, "content-type: image/png\n")
	assert.Regexp(t, `sha256: +[0-9a-f]{64}\n`, res.stdout)

	res = r.run("cp", loc, "missing", loc, "c/k")
	assert.Equal(t, 1, res.code)
	oneLine(t, res)
	assert.Contains(t, res.stderr, "not found")
	assert.NotContains(t, readTree(t, store), "c/k")
}
