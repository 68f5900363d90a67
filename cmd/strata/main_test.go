package main

// The tests of this file build the strata binary once (with the test://
// scheme of testdriver.go, a storage/faults wrapper, compiled in) and run
// it as a user would, with os/exec, against real directories and a MinIO
// container.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/internal/testlog"
)

// binPath is the strata binary TestMain builds.
var binPath string

func TestMain(m *testing.M) {
	if sdk := os.Getenv(sdkChildEnv); sdk != "" {
		os.Exit(runSDKChild(sdk, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "strata-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binPath = filepath.Join(dir, "strata")
	build := exec.Command("go", "build", "-tags", "strata_testdriver", "-o", binPath, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building strata: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := miniotest.Run(m)
	os.RemoveAll(dir)
	if benchTrees.small != "" {
		os.RemoveAll(filepath.Dir(benchTrees.small))
	}
	os.Exit(code)
}

// result is what a run of the binary left.
type result struct {
	stdout, stderr string
	code           int
	usage          *syscall.Rusage
}

// runner runs the binary with a clean environment: its own HOME and state
// directory, no credentials but those given, and no cloud metadata
// service.
type runner struct {
	t     *testing.T
	env   []string
	state string
}

func newRunner(t *testing.T) *runner {
	home := t.TempDir()
	r := &runner{t: t, state: filepath.Join(home, "state")}
	r.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_STATE_HOME=" + r.state,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "no-aws-credentials"),
	}
	return r
}

// with returns a runner with more environment variables.
func (r *runner) with(kv ...string) *runner {
	c := *r
	c.env = append(append([]string(nil), r.env...), kv...)
	return &c
}

func (r *runner) command(ctx context.Context, args ...string) (*exec.Cmd, *lockedBuffer, *lockedBuffer) {
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = r.env
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// lockedBuffer is a buffer a test reads while others write to it.
type lockedBuffer = testlog.Buffer

// run runs the binary to the end and returns what it printed.
func (r *runner) run(args ...string) result {
	r.t.Helper()
	return r.runStdin(nil, args...)
}

func (r *runner) runStdin(stdin []byte, args ...string) result {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 3*time.Minute)
	defer cancel()
	cmd, stdout, stderr := r.command(ctx, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	return finished(r.t, cmd, err, stdout, stderr)
}

func finished(t *testing.T, cmd *exec.Cmd, err error, stdout, stderr *lockedBuffer) result {
	t.Helper()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running strata: %v", err)
		}
	}
	res := result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.usage = ru
	}
	return res
}

// started is a run of the binary in the background.
type started struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	exit           chan struct{} // closed when the process has ended
	err            error         // of Wait, set before exit is closed
}

func (r *runner) start(args ...string) *started {
	r.t.Helper()
	cmd, stdout, stderr := r.command(context.Background(), args...)
	require.NoError(r.t, cmd.Start())
	s := &started{cmd: cmd, stdout: stdout, stderr: stderr, exit: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.exit)
	}()
	r.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exit
	})
	return s
}

// wait waits for the run to end, at most a few minutes.
func (s *started) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-s.exit:
		return finished(t, s.cmd, s.err, s.stdout, s.stderr)
	case <-time.After(3 * time.Minute):
		t.Fatalf("strata did not exit")
	}
	return result{}
}

// exited reports whether the run has ended.
func (s *started) exited() bool {
	select {
	case <-s.exit:
		return true
	default:
		return false
	}
}

// waitFor polls cond until it holds, failing the test after the deadline.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, not synchronising
	}
}

// mediaStore writes a tree shaped like a Synapse media_store under dir:
// for each of n media, local content and two thumbnails, remote content and
// a remote thumbnail. It returns the contents by key (relative path).
func mediaStore(t *testing.T, dir string, n int, size func(i int) int) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	files := map[string][]byte{}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := range n {
		id := make([]byte, 24)
		for j := range id {
			id[j] = letters[rng.IntN(len(letters))]
		}
		s := string(id)
		path := s[:2] + "/" + s[2:4] + "/" + s[4:]
		for j, key := range []string{
			"local_content/" + path,
			"local_thumbnails/" + path + "/32-32-image-jpeg",
			"local_thumbnails/" + path + "/96-96-image-png",
			"remote_content/matrix.org/" + path,
			"remote_thumbnail/matrix.org/" + path + "/32-32-image-jpeg",
		} {
			data := make([]byte, size(i*5+j))
			for k := range data {
				data[k] = byte(rng.Uint32())
			}
			files[key] = data
		}
	}
	writeTree(t, dir, files)
	return files
}

func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for key, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(key))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		require.NoError(t, os.WriteFile(p, data, 0o640))
	}
}

// readTree returns the regular files under dir by relative path, skipping
// strata's own names (which contain a backslash).
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if strings.Contains(d.Name(), `\`) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	require.NoError(t, err)
	return files
}

func fileURL(dir string) string { return (&url.URL{Scheme: "file", Path: dir}).String() }

// testURL wraps a location in the test:// driver.
func testURL(inner string, params ...string) string {
	q := url.Values{"inner": {inner}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return "test://?" + q.Encode()
}

// putLog reads the log of a test:// location: how many Puts of each key
// started and succeeded.
func putLog(t *testing.T, path string) (starts, puts map[string]int) {
	t.Helper()
	starts, puts = map[string]int{}, map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return starts, puts
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		verb, key, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch verb {
		case "start":
			starts[key]++
		case "put":
			puts[key]++
		}
	}
	require.NoError(t, sc.Err())
	return starts, puts
}

// summaryOf finds the JSON summary line on stdout.
func summaryOf(t *testing.T, stdout string) map[string]any {
	t.Helper()
	for line := range strings.SplitSeq(stdout, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["type"] == "summary" {
			return m
		}
	}
	t.Fatalf("no JSON summary in stdout:\n%s", stdout)
	return nil
}

func num(t *testing.T, m map[string]any, field string) int {
	t.Helper()
	v, ok := m[field].(float64)
	require.True(t, ok, "field %s in %v", field, m)
	return int(v)
}

// oneLine checks that stderr is one line of the form "strata: ..." with no
// stack trace and none of the secrets.
func oneLine(t *testing.T, res result, secrets ...string) {
	t.Helper()
	assert.NotZero(t, res.code, "exit status")
	assert.Equal(t, 1, strings.Count(res.stderr, "\n"), "stderr is one line:\n%s", res.stderr)
	assert.True(t, strings.HasPrefix(res.stderr, "strata: "), "stderr: %s", res.stderr)
	for _, bad := range append(secrets, "goroutine ", "panic", ".go:") {
		assert.NotContains(t, res.stderr+res.stdout, bad)
	}
}

func sizes(small int) func(int) int {
	return func(i int) int { return small + i%97*13 }
}
