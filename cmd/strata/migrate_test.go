package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrateDirectoryToDirectoryKeepsKeysAndResumesFromJournal(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "dst")
	files := mediaStore(t, src, 30, sizes(100))

	res := r.run("migrate", src, fileURL(dst), "--json", "--workers", "4")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, len(files), num(t, sum, "copied"))
	assert.Equal(t, fileURL(src), sum["source"])
	assert.Equal(t, files, readTree(t, dst))
	assert.Equal(t, files, readTree(t, src), "source untouched")

	// Again: everything is skipped on the journal's word, nothing read.
	res = r.run("migrate", src, fileURL(dst), "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, 0, num(t, sum, "copied"))
	assert.Equal(t, len(files), num(t, sum, "skipped"))
	assert.Equal(t, len(files), num(t, sum, "journal_hits"))
	assert.Equal(t, 0, num(t, sum, "hashed_bytes"))

	// Without the journal, the checksums decide, and agree.
	res = r.run("migrate", src, fileURL(dst), "--json", "--no-journal")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, len(files), num(t, sum, "skipped"))
	assert.Equal(t, 0, num(t, sum, "journal_hits"))
	assert.Positive(t, num(t, sum, "hashed_bytes"))

	// A source file changed in place (same size, new content) is sent again.
	keys := slices.Sorted(maps.Keys(files))
	changed := slices.Clone(files[keys[3]])
	changed[0] ^= 0xff
	require.NoError(t, os.WriteFile(filepath.Join(src, keys[3]), changed, 0o640))
	res = r.run("migrate", src, fileURL(dst), "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum = summaryOf(t, res.stdout)
	assert.Equal(t, 1, num(t, sum, "copied"))
	got, err := os.ReadFile(filepath.Join(dst, keys[3]))
	require.NoError(t, err)
	assert.Equal(t, changed, got)

	// The plain summary is for people.
	res = r.run("migrate", src, fileURL(dst))
	require.Equal(t, 0, res.code)
	assert.Contains(t, res.stdout, "skipped:")
	assert.Contains(t, res.stdout, "objects/s")
}

func TestMigrateOlderThanAndPrefix(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 10, sizes(10))
	old := time.Now().Add(-40 * 24 * time.Hour)
	var oldKeys []string
	for i, key := range slices.Sorted(maps.Keys(files)) {
		if i%2 == 0 {
			require.NoError(t, os.Chtimes(filepath.Join(src, key), old, old))
			oldKeys = append(oldKeys, key)
		}
	}
	res := r.run("migrate", src, dst, "--older-than", "30d", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, len(oldKeys), num(t, summaryOf(t, res.stdout), "copied"))
	assert.Equal(t, len(files)-len(oldKeys), num(t, summaryOf(t, res.stdout), "excluded"))
	assert.ElementsMatch(t, oldKeys, slices.Collect(maps.Keys(readTree(t, dst))))

	dst2 := t.TempDir()
	res = r.run("migrate", "--prefix", "local_thumbnails/", src, dst2, "-q")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, res.stdout, "-q prints nothing")
	got := readTree(t, dst2)
	assert.Len(t, got, 20)
	for k := range got {
		assert.True(t, strings.HasPrefix(k, "local_thumbnails/"), k)
	}

	// -q with --json: no progress, but the JSON summary for scripts.
	res = r.run("migrate", "--prefix", "local_thumbnails/", src, dst2, "-q", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, res.stderr)
	assert.Equal(t, 20, num(t, summaryOf(t, res.stdout), "skipped"))
}

// A bucket that tiered stores share holds their change log; migrating it
// leaves the log out and says so.
func TestMigrateSaysItLeftOutTheChangeLog(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 3, sizes(3))
	entry := filepath.Join(src, "strata-changes", "00000001764979200000000000-p1-1", "local_content", "x")
	require.NoError(t, os.MkdirAll(filepath.Dir(entry), 0o750))
	require.NoError(t, os.WriteFile(entry, nil, 0o640))
	res := r.run("migrate", src, dst)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "left out:        1 entries of a tiered store's change log (strata-changes/), not objects")
	assert.Len(t, readTree(t, dst), len(files))
	res = r.run("migrate", src, t.TempDir(), "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, 1, num(t, summaryOf(t, res.stdout), "change_log"))
}

func TestMigrateDryRunChangesNothing(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 8, sizes(50))
	keys := slices.Sorted(maps.Keys(files))
	// Two objects are already at the destination, copied by strata.
	for _, key := range keys[:2] {
		res := r.run("cp", src, key, dst)
		require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	}
	snapshot := func(dir string) map[string]string {
		out := map[string]string{}
		require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			require.NoError(t, err)
			if p == dir {
				// The local driver probes for extended attributes with a
				// scratch file in the root when it opens it: the root's
				// own modification time changes. Nothing in it does.
				return nil
			}
			data := ""
			if fi.Mode().IsRegular() {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				data = string(b)
			}
			out[p] = fi.Mode().String() + fi.ModTime().String() + data
			return nil
		}))
		return out
	}
	beforeSrc, beforeDst := snapshot(src), snapshot(dst)

	res := r.run("migrate", src, dst, "--dry-run", "--delete")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, beforeSrc, snapshot(src))
	assert.Equal(t, beforeDst, snapshot(dst))
	_, err := os.Stat(r.state)
	assert.True(t, os.IsNotExist(err), "a dry run writes no journal")
	assert.Contains(t, res.stdout, "dry run: nothing was changed")
	assert.Equal(t, len(files)-2, strings.Count(res.stdout, "would copy "))
	assert.Equal(t, len(files), strings.Count(res.stdout, "would delete source "))
	assert.Contains(t, res.stdout, "would copy "+keys[2]+" (")
	assert.NotContains(t, res.stdout, "would copy "+keys[0]+" (")

	res = r.run("migrate", src, dst, "--dry-run", "--json")
	require.Equal(t, 0, res.code)
	actions := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(res.stdout), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["type"] == "object" {
			actions[m["action"].(string)]++
			assert.Equal(t, true, m["dry_run"])
		}
	}
	assert.Equal(t, map[string]int{"copy": len(files) - 2, "skipped": 2}, actions)
	assert.Equal(t, beforeDst, snapshot(dst))
}

func TestMigrateDeleteKeepsSourceOfEveryObjectThatFailed(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 40, sizes(200))
	// The destination refuses every write after the first 60.
	res := r.run("migrate", src, testURL(fileURL(dst), "fail_puts_after", "60"), "--delete", "--workers", "4", "--json")
	assert.Equal(t, 1, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, 60, num(t, sum, "copied"))
	assert.Equal(t, 60, num(t, sum, "deleted"))
	assert.Equal(t, len(files)-60, num(t, sum, "failed"))
	assert.Contains(t, res.stderr, "injected failure")
	assert.Contains(t, res.stderr, "objects failed and were left at the source")

	left, sent := readTree(t, src), readTree(t, dst)
	assert.Len(t, left, len(files)-60)
	for key, data := range files {
		if got, ok := left[key]; ok {
			assert.Equal(t, data, got, "source %s intact", key)
			continue
		}
		assert.Equal(t, data, sent[key], "%s deleted at the source only once safe at the destination", key)
	}

	// Run again with a working destination: the rest moves.
	res = r.run("migrate", src, dst, "--delete", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, readTree(t, src))
	assert.Equal(t, files, readTree(t, dst))
}

func TestMigrateDeleteKeepsSourceWhenTheCopyCannotBeVerified(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 4, sizes(10))
	// Stats at the destination fail for thumbnails: those copies cannot be
	// verified, so their sources stay.
	res := r.run("migrate", src, testURL(fileURL(dst), "fail_get", "thumbnail"), "--delete", "--json")
	assert.Equal(t, 1, res.code)
	left := readTree(t, src)
	for key := range files {
		_, kept := left[key]
		assert.Equal(t, strings.Contains(key, "thumbnail"), kept, key)
	}
}

func TestMigrateCtrlCFinishesObjectsInFlightAndResumes(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 120, sizes(100))
	logPath := filepath.Join(t.TempDir(), "puts.log")
	args := []string{"migrate", src, testURL(fileURL(dst), "log", logPath, "delay", "5ms"), "--workers", "4"}

	run := r.start(args...)
	waitFor(t, "a third of the objects", time.Minute, func() bool {
		_, puts := putLog(t, logPath)
		return len(puts) >= len(files)/3 || run.exited()
	})
	require.False(t, run.exited(), "the migration ended before it could be interrupted")
	require.NoError(t, run.cmd.Process.Signal(syscall.SIGINT))
	res := run.wait(t)
	assert.Equal(t, 130, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "interrupted: finishing the objects in flight")
	assert.Contains(t, res.stderr, "to resume, run the same command again:\n  strata migrate "+src+" 'test://?")
	starts, puts := putLog(t, logPath)
	assert.Equal(t, starts, puts, "every object in flight finished")
	assert.Less(t, len(puts), len(files))

	res = r.run(args...)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	_, puts = putLog(t, logPath)
	assert.Len(t, puts, len(files))
	for key, n := range puts {
		assert.Equal(t, 1, n, "%s sent once", key)
	}
	assert.Equal(t, files, readTree(t, dst))
}

func TestMigrateKilledResumesWithoutResending(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 120, sizes(100))
	logPath := filepath.Join(t.TempDir(), "puts.log")
	args := []string{"migrate", src, testURL(fileURL(dst), "log", logPath, "delay", "5ms"), "--workers", "4", "-q"}

	run := r.start(args...)
	waitFor(t, "a third of the objects", time.Minute, func() bool {
		_, puts := putLog(t, logPath)
		return len(puts) >= len(files)/3 || run.exited()
	})
	require.False(t, run.exited(), "the migration ended before it could be killed")
	require.NoError(t, run.cmd.Process.Kill())
	run.wait(t)
	_, before := putLog(t, logPath)

	res := r.run(args...)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	starts, puts := putLog(t, logPath)
	assert.Equal(t, files, readTree(t, dst))
	for key := range files {
		// An object whose Put completed is never sent again. One killed
		// in flight may have been stored without its "put" line: it is
		// then found at the destination and not sent again either.
		assert.LessOrEqual(t, puts[key], 1, "%s sent twice", key)
		assert.LessOrEqual(t, starts[key]-puts[key], 1, key)
	}
	assert.Greater(t, len(before), 0)
	assert.GreaterOrEqual(t, len(puts), len(files)-4, "at most the 4 objects in flight went unlogged")
}

func TestMigrateProgressLinesWithoutTerminal(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	mediaStore(t, src, 20, sizes(100))
	slow := testURL(fileURL(dst), "delay", "10ms")

	res := r.run("migrate", src, slow, "--workers", "2", "--progress-interval", "50ms")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Regexp(t, `(?m)^migrate: \d+/\d+\+? objects, .* objects/s`, res.stderr)

	dst2 := t.TempDir()
	res = r.run("migrate", src, testURL(fileURL(dst2), "delay", "10ms"), "--workers", "2", "--progress-interval", "50ms", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	var progress int
	for line := range strings.SplitSeq(strings.TrimSpace(res.stderr), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "stderr line %q", line)
		if m["type"] == "progress" {
			progress++
			assert.Equal(t, "migrate", m["command"])
		}
	}
	assert.Positive(t, progress)
	assert.Equal(t, 100, num(t, summaryOf(t, res.stdout), "copied"))
}

func TestVerifyExitStatus(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	files := mediaStore(t, src, 5, sizes(30))
	res := r.run("migrate", src, dst, "-q")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	res = r.run("verify", src, dst)
	assert.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "checked 25 objects")
	assert.Contains(t, res.stdout, "25 match, 0 missing, 0 different, 0 errors")

	keys := slices.Sorted(maps.Keys(files))
	require.NoError(t, os.Remove(filepath.Join(dst, keys[0])))
	changed := slices.Clone(files[keys[1]])
	changed[len(changed)-1] ^= 1
	require.NoError(t, os.WriteFile(filepath.Join(dst, keys[1]), changed, 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(dst, keys[2]), []byte("short"), 0o640))
	res = r.run("verify", src, dst)
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stdout, "missing  "+keys[0])
	assert.Contains(t, res.stdout, "checksum "+keys[1])
	assert.Contains(t, res.stdout, "size     "+keys[2])
	oneLine(t, res)
	assert.Contains(t, res.stderr, "1 missing and 2 different")

	res = r.run("verify", src, dst, "--json", "-q")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, 3, strings.Count(res.stdout, `"type":"diff"`))

	// Objects that cannot be read: exit status 2.
	res = r.run("verify", testURL(fileURL(src), "fail_get", keys[3]), dst, "-q")
	assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "could not be compared")
}

func TestMigrateZulipUploadsWithContentTypeFromName(t *testing.T) {
	r := newRunner(t)
	uploads, dst := t.TempDir(), t.TempDir()
	writeTree(t, uploads, map[string][]byte{
		"files/2/a1/Xk9Lm3/holiday.jpg": []byte("jpeg bytes"),
		"files/2/b7/Qz8Wn1/minutes.pdf": []byte("pdf bytes"),
		"avatars/2/5f3c1e.png":          []byte("avatar"),
	})
	res := r.run("migrate", filepath.Join(uploads, "files"), dst, "--content-type-from-name", "-q")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, map[string][]byte{"2/a1/Xk9Lm3/holiday.jpg": []byte("jpeg bytes"), "2/b7/Qz8Wn1/minutes.pdf": []byte("pdf bytes")}, readTree(t, dst))
	res = r.run("stat", dst, "2/a1/Xk9Lm3/holiday.jpg", "2/b7/Qz8Wn1/minutes.pdf")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "content-type: image/jpeg\n")
	assert.Contains(t, res.stdout, "content-type: application/pdf\n")
}

func TestMigrateSecondCtrlCAbortsObjectsInFlight(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	mediaStore(t, src, 4, sizes(100))
	logPath := filepath.Join(t.TempDir(), "puts.log")
	// Every Put waits an hour: only an abort ends this run.
	run := r.start("migrate", src, testURL(fileURL(dst), "log", logPath, "delay", "1h"), "--workers", "2")
	waitFor(t, "two transfers in flight", time.Minute, func() bool {
		starts, _ := putLog(t, logPath)
		return len(starts) == 2 || run.exited()
	})
	require.False(t, run.exited())
	require.NoError(t, run.cmd.Process.Signal(syscall.SIGINT))
	// Two signals sent at once may arrive as one: send the second after
	// the first was seen.
	waitFor(t, "the first Ctrl-C to be seen", time.Minute, func() bool {
		return strings.Contains(run.stderr.String(), "interrupted: finishing") || run.exited()
	})
	require.NoError(t, run.cmd.Process.Signal(syscall.SIGINT))
	res := run.wait(t)
	assert.Equal(t, 130, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stderr, "aborting the objects in flight")
	assert.Contains(t, res.stderr, "to resume, run the same command again")
	assert.Empty(t, readTree(t, dst), "no object, whole or partial, at the destination")
	// The two objects aborted are not errors of their own: none was
	// printed, and the summary does not send the reader looking for one.
	assert.NotContains(t, res.stderr, "object failed")
	assert.NotContains(t, res.stdout, "see the errors above")
	assert.Regexp(t, `failed: +2 objects .* \(aborted in flight; kept at the source\)`, res.stdout)
}

// rewriteInPlace overwrites the file at p with data (of its size) in place,
// as dd conv=notrunc, an editor or rsync --inplace do, and gives it back its
// modification time, as touch -r does: its inode, size and modification
// time are those of the old content.
func rewriteInPlace(t *testing.T, p string, data []byte) {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.EqualValues(t, fi.Size(), len(data))
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
	after, err := os.Stat(p)
	require.NoError(t, err)
	require.True(t, os.SameFile(fi, after) && after.ModTime().Equal(fi.ModTime()) && after.Size() == fi.Size())
}

func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 13))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// The reproduction: a file rewritten with the same size and
// modification time after it was migrated looks unchanged to the journal.
// --delete must not delete it on the journal's word: the new bytes are
// sent, checked at the destination, and only then is the file deleted.
func TestMigrateDeleteNeverDeletesAFileRewrittenBehindTheJournal(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "dst")
	f1 := filepath.Join(src, "a", "f1")
	writeTree(t, src, map[string][]byte{"a/f1": randomBytes(5000, 1), "a/f2": randomBytes(3000, 2)})
	res := r.run("migrate", fileURL(src), fileURL(dst))
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	changed := randomBytes(5000, 3)
	rewriteInPlace(t, f1, changed)

	// A dry run says what the real run will do.
	res = r.run("migrate", fileURL(src), fileURL(dst), "--delete", "--dry-run")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Contains(t, res.stdout, "would copy a/f1 (4.9 KiB, checksum differs")

	res = r.run("migrate", fileURL(src), fileURL(dst), "--delete", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, 1, num(t, sum, "copied"), "the new content is sent")
	assert.Equal(t, 1, num(t, sum, "skipped"))
	assert.Equal(t, 2, num(t, sum, "deleted"))
	assert.True(t, bytes.Equal(changed, readTree(t, dst)["a/f1"]), "the destination holds the file's new bytes")
	assert.Empty(t, readTree(t, src), "each file deleted once its content was safe at the destination")
}

// A file strata wrote itself carries its SHA-256 in its metadata, kept
// while its size and modification time stay the same: a rewrite that keeps
// both leaves a stale checksum, which bit rot would too. --delete does not
// take it on trust, with or without the journal: the file's bytes differ
// from what it records, so it is reported and kept.
func TestMigrateDeleteDoesNotTrustAStaleChecksumAtTheSource(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	old := randomBytes(5000, 4)
	res := r.runStdin(old, "cp", "-", "a/f1", fileURL(src))
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	res = r.run("migrate", fileURL(src), fileURL(dst))
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	changed := randomBytes(5000, 5)
	rewriteInPlace(t, filepath.Join(src, "a", "f1"), changed)
	res = r.run("stat", fileURL(src), "a/f1")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	require.Contains(t, res.stdout, sha256Hex(old), "the source's recorded checksum is stale")

	for _, journal := range []string{"--no-journal=false", "--no-journal"} {
		res = r.run("migrate", fileURL(src), fileURL(dst), "--delete", journal, "--json")
		assert.Equal(t, 1, res.code, "stderr: %s", res.stderr)
		sum := summaryOf(t, res.stdout)
		assert.Equal(t, 1, num(t, sum, "failed"))
		assert.Equal(t, 0, num(t, sum, "deleted"))
		assert.Contains(t, res.stderr, "does not match its stored SHA-256")
		assert.True(t, bytes.Equal(changed, readTree(t, src)["a/f1"]), "the file is kept")
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// runAsOther runs the binary as a user who does not own the test's files
// (nobody) when the tests run as root, whom file modes do not stop; as
// anyone else, it runs it as that user. See shareTree.
func (r *runner) runAsOther(args ...string) result {
	r.t.Helper()
	require.NoError(r.t, os.Chmod(filepath.Dir(binPath), 0o755))
	ctx, cancel := context.WithTimeout(r.t.Context(), 3*time.Minute)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, args...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	err := cmd.Run()
	return finished(r.t, cmd, err, stdout, stderr)
}

// shareTree makes dir and everything under it readable by all (and not
// writable but by its owner).
func shareTree(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	}))
}

// worldDir returns a new directory that every user may enter, removed
// after the test.
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "strata-test-world-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

// A destination the process may not write (a read-only mount, a directory
// of another user): the migration stops after the first few refusals,
// says so once, and exits 2, rather than logging one identical line for
// every object.
func TestMigrateStopsWhenTheDestinationRefusesEveryWrite(t *testing.T) {
	r := newRunner(t)
	base := worldDir(t)
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	files := mediaStore(t, src, 40, sizes(100))
	shareTree(t, base)
	require.NoError(t, os.Mkdir(dst, 0o555))

	for _, format := range []string{"--json", "--progress-interval=1h"} {
		res := r.runAsOther("migrate", src, dst, "--no-journal", "--workers", "4", "--delete", format)
		assert.Equal(t, 2, res.code, "stderr: %s", res.stderr)
		assert.Contains(t, res.stderr, "strata: migrate: the destination refuses writes (permission denied): 5 objects in a row failed alike, so no more were tried")
		assert.Contains(t, res.stderr, "(check the permissions)")
		assert.LessOrEqual(t, strings.Count(res.stderr, "\n"), 6, "stderr: %s", res.stderr)
		assert.Equal(t, 5, strings.Count(res.stderr, "object failed; source kept"), "stderr: %s", res.stderr)
		assert.Equal(t, files, readTree(t, src), "every source kept")
		assert.Empty(t, readTree(t, dst))
		if format == "--json" {
			sum := summaryOf(t, res.stdout)
			assert.Equal(t, true, sum["stopped"])
			assert.Equal(t, false, sum["ok"])
			assert.Contains(t, sum["error"], "the destination refuses writes (permission denied)")
			assert.LessOrEqual(t, num(t, sum, "failed"), 5+4, "no new object after the fifth refusal")
		} else {
			assert.Contains(t, res.stdout, "failed:")
		}
	}
}

// A migration that cannot start (here: the source cannot be listed) prints
// no summary that could pass for a result; its JSON summary says it did
// not run, and why.
func TestMigrateThatCannotStartReportsNoResult(t *testing.T) {
	r := newRunner(t)
	base := worldDir(t)
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	mediaStore(t, src, 4, sizes(100))
	require.NoError(t, os.Mkdir(dst, 0o755))
	shareTree(t, base)
	// The first directory of the listing cannot be read.
	require.NoError(t, os.Chmod(filepath.Join(src, "local_content"), 0))
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(src, "local_content"), 0o755) })

	res := r.runAsOther("migrate", src, dst, "--no-journal")
	assert.Equal(t, 2, res.code)
	oneLine(t, res)
	assert.Contains(t, res.stderr, "strata: migrate: list source:")
	assert.Empty(t, res.stdout, "no summary")

	res = r.runAsOther("migrate", src, dst, "--no-journal", "--json", "-q")
	assert.Equal(t, 2, res.code)
	oneLine(t, res)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, false, sum["ok"])
	assert.Equal(t, false, sum["ran"])
	assert.Equal(t, true, sum["stopped"])
	assert.Contains(t, sum["error"], "list source:")
	assert.Contains(t, sum["error"], "permission denied")
}

func TestMigrateHelpIsWrapped(t *testing.T) {
	r := newRunner(t)
	res := r.run("help", "migrate")
	require.Equal(t, 0, res.code)
	text, _, ok := strings.Cut(res.stdout, "\nFlags:\n")
	require.True(t, ok)
	for line := range strings.SplitSeq(text, "\n") {
		assert.LessOrEqual(t, len(line), 80, "%q", line)
	}
}

func TestMigrateDryRunReportsNoThroughput(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	mediaStore(t, src, 4, sizes(100))
	res := r.run("migrate", src, dst, "--dry-run")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Regexp(t, `(?m)^elapsed [0-9.]+[µm]?s$`, res.stdout)
	assert.NotContains(t, res.stdout, "/s")
	res = r.run("migrate", src, dst, "--dry-run", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	sum := summaryOf(t, res.stdout)
	assert.Equal(t, 20, num(t, sum, "copied"))
	assert.Equal(t, 0, num(t, sum, "objects_per_s"))
	assert.Equal(t, 0, num(t, sum, "bytes_per_s"))
	assert.Equal(t, true, sum["ok"])
}

// A run that only deletes (everything is already at the destination) sends
// no bytes: its progress lines show no byte rate.
func TestMigrateDeleteOnlyProgressShowsNoByteRate(t *testing.T) {
	r := newRunner(t)
	src, dst := t.TempDir(), t.TempDir()
	mediaStore(t, src, 8, sizes(2000))
	slowSrc := testURL(fileURL(src), "delay", "20ms") // Gets wait: each hash before a delete
	res := r.run("migrate", slowSrc, dst, "-q")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)

	res = r.run("migrate", slowSrc, dst, "--delete", "--workers", "2", "--progress-interval", "50ms")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Empty(t, readTree(t, src))
	lines := regexp.MustCompile(`(?m)^migrate: .*$`).FindAllString(res.stderr, -1)
	require.NotEmpty(t, lines, "stderr: %s", res.stderr)
	for _, line := range lines {
		assert.NotContains(t, line, "B/s", line)
		assert.Contains(t, line, "objects/s", line)
	}

	// A run that sends says how fast it sends.
	src2 := t.TempDir()
	mediaStore(t, src2, 8, sizes(2000))
	res = r.run("migrate", src2, testURL(fileURL(t.TempDir()), "delay", "20ms"), "--workers", "2", "--progress-interval", "50ms", "--json")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Regexp(t, `"bytes_per_s":[1-9]`, res.stderr)
}

// A migration to an s3:// or minio:// location that does not set
// prefix_check opens it a second time with prefix_check=false, for the
// keys its listings show free of prefix conflicts; a URL that sets it, or
// another scheme, is left alone.
func TestUncheckedURL(t *testing.T) {
	for raw, want := range map[string]string{
		"minio://127.0.0.1:9000/media?secure=false&region=us-east-1": "minio://127.0.0.1:9000/media?secure=false&region=us-east-1&prefix_check=false",
		"minio://minio.internal:9000/media":                          "minio://minio.internal:9000/media?prefix_check=false",
		"s3://media-bucket?region=eu-central-1":                      "s3://media-bucket?region=eu-central-1&prefix_check=false",
		"S3://media-bucket":                                          "s3://media-bucket?prefix_check=false",
		"s3://media-bucket?endpoint=http%3A%2F%2F127.0.0.1%3A9000":   "s3://media-bucket?endpoint=http%3A%2F%2F127.0.0.1%3A9000&prefix_check=false",
		"minio://h:9000/media?prefix_check=true":                     "",
		"minio://h:9000/media?prefix_check=auto":                     "",
		"s3://media-bucket?prefix_check=false":                       "",
		"s3://media-bucket?region=x&prefix_check=":                   "",
		"file:///srv/media":                                          "",
		"b2://media":                                                 "",
		"mem://":                                                     "",
		"test://?inner=minio%3A%2F%2Fh%3A9000%2Fmedia":               "",
		"%zz": "",
	} {
		got, ok := uncheckedURL(raw)
		assert.Equal(t, want != "", ok, raw)
		assert.Equal(t, want, got, raw)
	}
}
