package cache

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// The tests here start this test binary again as a helper process, chosen
// by the CACHE_HELPER environment variable, to test what only a second
// process can: the directory lock and crash recovery after SIGKILL.

func TestMain(m *testing.M) {
	switch os.Getenv("CACHE_HELPER") {
	case "":
		code := m.Run()
		if fuzzBase.dir != "" {
			os.RemoveAll(fuzzBase.dir)
		}
		os.Exit(code)
	case "lock":
		helperLock()
	case "crash":
		helperCrash()
	default:
		fmt.Fprintln(os.Stderr, "unknown CACHE_HELPER")
		os.Exit(2)
	}
}

func helper(t *testing.T, kind string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"CACHE_HELPER=" + kind}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// helperLock opens the cache in CACHE_DIR, says so, and holds it until its
// standard input closes.
func helperLock() {
	c, err := Open(os.Getenv("CACHE_DIR"), Options{MaxBytes: 1 << 20})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	c.Close()
	os.Exit(0)
}

func TestLockRefusesSecondProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := helper(t, "lock", "CACHE_DIR="+dir)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	start := time.Now()
	_, err = Open(dir, Options{MaxBytes: 1 << 20})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), "process "+strconv.Itoa(cmd.Process.Pid))
	assert.Less(t, time.Since(start), 5*time.Second, "a second Open fails at once, it does not wait")

	stdin.Close()
	require.NoError(t, cmd.Wait())
	c, err := Open(dir, Options{MaxBytes: 1 << 20})
	require.NoError(t, err, "the lock is free once the holder exits")
	require.NoError(t, c.Close())
}

// ---- crash recovery ----

// The crash helper runs crashWorkers goroutines, each doing a fixed random
// sequence of operations (from CACHE_SEED) on its own keys, and prints
// "<worker> <op>" after each operation returns. The parent kills it with
// SIGKILL, reopens the cache and checks it against a model of the
// sequences: each key must be as the acknowledged operations left it, or
// as the one operation in flight at the kill would have left it.

const (
	crashWorkers = 4
	crashKeys    = 12
	crashOps     = 100000
)

type crashOp struct {
	kind string // put, putpinned, delete, pin, unpin, drop
	key  string
	ver  int
}

func crashSeq(seed uint64, worker, iter int) []crashOp {
	r := rand.New(rand.NewPCG(seed, uint64(worker)))
	kinds := []string{"put", "put", "putpinned", "putpinned", "delete", "pin", "unpin", "drop"}
	ops := make([]crashOp, crashOps)
	for i := range ops {
		ops[i] = crashOp{
			kind: kinds[r.IntN(len(kinds))],
			key:  fmt.Sprintf("it%d/w%d/k%02d", iter, worker, r.IntN(crashKeys)),
			ver:  i + 1,
		}
	}
	return ops
}

// crashContent is the content of version ver of key: a header naming both,
// then pseudo-random bytes, 0 to 32 KiB in all.
func crashContent(key string, ver int) []byte {
	h := sha256.Sum256([]byte(key))
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:]), uint64(ver)))
	n := r.IntN(32 << 10)
	b := []byte(fmt.Sprintf("%s|%d|", key, ver))
	if n > len(b) {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], r.Uint64())
		tail := make([]byte, n-len(b))
		rand.NewChaCha8(s).Read(tail)
		b = append(b, tail...)
	}
	return b
}

func crashVersion(b []byte) int {
	parts := bytes.SplitN(b, []byte("|"), 3)
	if len(parts) < 3 {
		return -1
	}
	v, err := strconv.Atoi(string(parts[1]))
	if err != nil {
		return -1
	}
	return v
}

func helperCrash() {
	seed, _ := strconv.ParseUint(os.Getenv("CACHE_SEED"), 10, 64)
	iter, _ := strconv.Atoi(os.Getenv("CACHE_ITER"))
	testCompactAt = 12 << 10 // compact often, so that some kills land in a compaction
	c, err := Open(os.Getenv("CACHE_DIR"), Options{MaxBytes: 1 << 30})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	ack := func(w, i int) {
		mu.Lock()
		os.Stdout.WriteString(fmt.Sprintf("%d %d\n", w, i))
		mu.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, op := range crashSeq(seed, w, iter) {
				var err error
				switch op.kind {
				case "put":
					_, err = c.Put(ctx, op.key, bytes.NewReader(crashContent(op.key, op.ver)), nil)
				case "putpinned":
					_, err = c.PutPinned(ctx, op.key, bytes.NewReader(crashContent(op.key, op.ver)), nil)
				case "delete":
					err = c.Delete(ctx, op.key)
				case "pin":
					err = c.Pin(ctx, op.key)
					if errors.Is(err, storage.ErrNotFound) {
						err = nil
					}
				case "unpin":
					err = c.Unpin(ctx, op.key, "")
				case "drop":
					_, err = c.Drop(ctx, op.key, "")
				}
				if err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
				ack(w, i)
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

type keyState struct {
	exists bool
	ver    int
	pinned bool
}

func (s keyState) apply(op crashOp) keyState {
	switch op.kind {
	case "put":
		return keyState{exists: true, ver: op.ver}
	case "putpinned":
		return keyState{exists: true, ver: op.ver, pinned: true}
	case "delete":
		return keyState{}
	case "pin":
		if s.exists {
			s.pinned = true
		}
	case "unpin":
		s.pinned = false
	case "drop":
		if !s.pinned {
			return keyState{}
		}
	}
	return s
}

func TestCrashRecovery(t *testing.T) {
	iters := 25
	switch {
	case testing.Short():
		iters = 5
	case raceEnabled:
		iters = 20 // the race detector makes each round several times slower
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	// what earlier iterations left, which later ones must keep
	kept := map[string]keyState{}
	keptETag := map[string]string{}
	for iter := range iters {
		cmd := helper(t, "crash", "CACHE_DIR="+dir, fmt.Sprint("CACHE_SEED=", seed), fmt.Sprint("CACHE_ITER=", iter))
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		acked := make([]int, crashWorkers) // number of acknowledged operations
		killAfter := 10 + r.IntN(120)
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("helper: %s", line)
			}
			var w, i int
			_, err := fmt.Sscanf(line, "%d %d", &w, &i)
			require.NoError(t, err)
			require.Equal(t, acked[w], i, "acknowledgements come in order")
			acked[w] = i + 1
			if n++; n == killAfter {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				break
			}
		}
		// drain anything written before the kill landed
		for sc.Scan() {
			var w, i int
			if _, err := fmt.Sscanf(sc.Text(), "%d %d", &w, &i); err == nil {
				acked[w] = i + 1
			}
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "helper must die by the signal, got %v", err)

		c, err := Open(dir, Options{MaxBytes: 1 << 30})
		require.NoError(t, err, "reopen after kill %d", iter)
		checkConsistent(t, c)
		actual, etags := crashActual(t, c, fmt.Sprintf("it%d/", iter))
		for w := range crashWorkers {
			seq := crashSeq(seed, w, iter)
			// the state every key had after the acknowledged operations,
			// and the one the operation in flight would make
			want := map[string]keyState{}
			for _, op := range seq[:acked[w]] {
				want[op.key] = want[op.key].apply(op)
			}
			alt := map[string]keyState{}
			if acked[w] < len(seq) {
				op := seq[acked[w]]
				alt[op.key] = want[op.key].apply(op)
			}
			for k := 0; k < crashKeys; k++ {
				key := fmt.Sprintf("it%d/w%d/k%02d", iter, w, k)
				got := actual[key]
				a, inFlight := alt[key]
				if got != want[key] && !(inFlight && got == a) {
					t.Errorf("kill %d: %s is %+v; acknowledged state %+v (in flight: %v %+v)", iter, key, got, want[key], inFlight, a)
				}
				kept[key] = got
				keptETag[key] = etags[key]
			}
		}
		for key, st := range kept {
			if strings.HasPrefix(key, fmt.Sprintf("it%d/", iter)) {
				continue
			}
			if st.exists != actual[key].exists || st.pinned != actual[key].pinned || etags[key] != keptETag[key] {
				t.Errorf("kill %d: %s from an earlier run is %+v (ETag %q), was %+v (ETag %q)", iter, key, actual[key], etags[key], st, keptETag[key])
			}
		}
		t.Logf("kill %d after %d acknowledgements: %d entries (%d pinned), recovered %d", iter, n, c.Usage().Entries, c.Usage().PinnedEntries, c.Stats().Recovered)
		require.NoError(t, c.Close())
		if t.Failed() {
			return
		}
	}
}

// crashActual returns the state and ETag of every key the cache holds,
// reading and checking the content of those under prefix (the versions of
// the others are left 0; their ETags tell whether they changed).
func crashActual(t *testing.T, c *Cache, prefix string) (map[string]keyState, map[string]string) {
	t.Helper()
	out := map[string]keyState{}
	etags := map[string]string{}
	for e := range c.Entries(context.Background()) {
		st := keyState{exists: true, pinned: e.Pinned}
		etags[e.Key] = e.ETag
		if strings.HasPrefix(e.Key, prefix) {
			b, err := getBytes(c, e.Key)
			require.NoError(t, err, e.Key)
			st.ver = crashVersion(b)
			require.Equal(t, crashContent(e.Key, st.ver), b, "content of %s", e.Key)
		}
		out[e.Key] = st
	}
	n := 0
	for range c.List(context.Background(), nil) {
		n++
	}
	require.Equal(t, len(out), n, "List and Entries agree")
	return out, etags
}

// A process that starts other processes shares its open files with each
// child for the moment between fork and exec, the lock file's too; a
// Cache closed and opened again in that moment must still open. Another
// goroutine starts processes without pause while the directory is closed
// and opened again, as a server that runs ffmpeg would (it is how
// tiered's restart test failed in CI, next to its crash test's helpers).
func TestReopenWhileForking(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = exec.Command("/bin/true").Run()
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	c, err := Open(dir, Options{MaxBytes: 1 << 20})
	require.NoError(t, err)
	for i := range 300 {
		require.NoError(t, c.Close())
		c, err = Open(dir, Options{MaxBytes: 1 << 20})
		require.NoError(t, err, "open %d", i)
	}
	require.NoError(t, c.Close())
}
