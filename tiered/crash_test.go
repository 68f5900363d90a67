package tiered_test

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
	"github.com/strata-storage/strata/tiered"
)

// The crash test runs a child process (this test binary, re-executed) that
// makes write-behind Puts, overwrites and Deletes against a remote in a
// directory (the local provider), reporting each operation on stdout when
// it starts and when it is acknowledged. The parent kills it with SIGKILL
// at a random moment, then reopens the store on the same cache directory
// and checks every key: it must hold its last acknowledged state, or the
// state of the one operation on it that had started and not yet returned.
// It checks that first with a remote that refuses every write (so the
// answer comes from the local tier), then lets the store drain and checks
// the remote directly. Zero lost, over many kills.

const crashChildEnv = "STRATA_TIERED_CRASH_CHILD"

const crashWriters = 4

// crashContent is the content the child writes for (round, writer, seq).
func crashContent(round, writer, seq int) []byte {
	seed := uint64(round)<<40 | uint64(writer)<<32 | uint64(seq)
	n := int((seed * 2654435761) % (48 << 10))
	if seq%41 == 5 {
		n += 1 << 20 // now and then an object of several chunks
	}
	return conformance.RandomBytes(seed, n)
}

// crashChild is the child's body: it runs until killed.
func crashChild() int {
	var cacheDir, remoteDir string
	var round int
	_, err := fmt.Sscanf(os.Getenv(crashChildEnv), "%s %s %d", &cacheDir, &remoteDir, &round)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad", crashChildEnv, err)
		return 2
	}
	c, err := cache.Open(cacheDir, cache.Options{MaxBytes: 1 << 30})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cache:", err)
		return 2
	}
	// The remote's own durability is not under test (and a SIGKILL loses
	// nothing the kernel has): no fsync there.
	remote, err := local.New(remoteDir, &local.Options{NoSync: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "remote:", err)
		return 2
	}
	s, err := tiered.New(c, remote, tiered.Options{Mode: tiered.WriteBehind, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "tiered:", err)
		return 2
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
			var mine []string
			for seq := 0; ; seq++ {
				op := rng.IntN(10)
				var key string
				switch {
				case op < 6 || len(mine) == 0:
					key = fmt.Sprintf("r%02d/w%d/%04d", round, w, seq)
					mine = append(mine, key)
				case op < 8:
					key = mine[rng.IntN(len(mine))]
				case op < 9 && w == 0:
					key = fmt.Sprintf("shared/%d", rng.IntN(5)) // rewritten every round
				default:
					key = mine[rng.IntN(len(mine))]
					say("S %d D %s", w, key)
					if err := s.Delete(ctx, key); err != nil {
						fmt.Fprintln(os.Stderr, "delete:", err)
						return
					}
					say("A %d", w)
					continue
				}
				data := crashContent(round, w, seq)
				say("S %d P %s %s", w, key, sha(data))
				if _, err := s.Put(ctx, key, bytes.NewReader(data), nil); err != nil {
					fmt.Fprintln(os.Stderr, "put:", err)
					return
				}
				say("A %d", w)
			}
		})
	}
	wg.Wait()
	return 1 // a writer failed
}

// keyModel is what the parent knows of a key: its acknowledged state and
// the state of an operation started and not acknowledged.
type keyModel struct {
	acked    string // SHA-256 of the content, or "" for absent
	inflight *string
	touched  bool // by the last child
}

const absent = ""

func TestCrashWriteBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Parallel()
	const kills = 24
	cacheDir, remoteDir := t.TempDir(), t.TempDir()
	model := map[string]*keyModel{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	totalAcks := 0
	for round := range kills {
		acks := runCrashChild(t, cacheDir, remoteDir, round, rng, model)
		totalAcks += acks
		checkAfterCrash(t, cacheDir, remoteDir, model)
	}
	t.Logf("%d kills, %d acknowledged operations, %d keys checked after every kill: none lost", kills, totalAcks, len(model))
}

// runCrashChild runs one child until a random moment, kills it, and
// records what it reported in model. It returns the number of acks.
func runCrashChild(t *testing.T, cacheDir, remoteDir string, round int, rng *rand.Rand, model map[string]*keyModel) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %d", crashChildEnv, cacheDir, remoteDir, round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	killAfter := rng.IntN(80) // acknowledgements to wait for
	killDelay := time.Duration(rng.IntN(3000)) * time.Microsecond
	started := map[int]struct {
		key   string
		state string
	}{}
	acks := 0
	var killOnce sync.Once
	kill := func() { killOnce.Do(func() { cmd.Process.Signal(syscall.SIGKILL) }) }
	if killAfter == 0 {
		time.AfterFunc(killDelay, kill)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue // torn by the kill
		}
		w, _ := strconv.Atoi(f[1])
		switch {
		case f[0] == "S" && len(f) == 4 && f[2] == "D":
			started[w] = struct{ key, state string }{f[3], absent}
		case f[0] == "S" && len(f) == 5 && f[2] == "P":
			started[w] = struct{ key, state string }{f[3], f[4]}
		case f[0] == "A":
			op, ok := started[w]
			if !ok {
				continue
			}
			m := model[op.key]
			if m == nil {
				m = &keyModel{}
				model[op.key] = m
			}
			m.acked, m.inflight, m.touched = op.state, nil, true
			delete(started, w)
			acks++
			if acks == killAfter {
				time.AfterFunc(killDelay, kill)
			}
			continue
		default:
			continue
		}
		op := started[w]
		m := model[op.key]
		if m == nil {
			m = &keyModel{acked: absent}
			model[op.key] = m
		}
		st := op.state
		m.inflight, m.touched = &st, true
	}
	kill()
	err = cmd.Wait()
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL,
		"round %d: the child ended by itself (%v): %s", round, err, stderr.String())
	return acks
}

// checkAfterCrash reopens the store and checks every key in model, then
// settles model to what it found.
func checkAfterCrash(t *testing.T, cacheDir, remoteDir string, model map[string]*keyModel) {
	t.Helper()
	ctx := t.Context()
	remote, err := local.New(remoteDir, &local.Options{NoSync: true})
	require.NoError(t, err)
	found := map[string]string{}

	// First from the local tier alone: the remote takes no writes.
	fp := faults.Wrap(shared{remote}, faults.WithFault(faults.Fault{FailRate: 1}, faults.OpPut, faults.OpDelete))
	c, err := cache.Open(cacheDir, cache.Options{MaxBytes: 1 << 30})
	require.NoError(t, err)
	s, err := tiered.New(c, fp, tiered.Options{Mode: tiered.WriteBehind})
	require.NoError(t, err)
	for key, m := range model {
		state := readState(t, s, key)
		require.True(t, state == m.acked || (m.inflight != nil && state == *m.inflight),
			"key %q after a crash holds %.12q; acknowledged %.12q, in flight %v", key, state, m.acked, m.inflight)
		found[key] = state
	}
	require.NoError(t, s.Close())

	// Then it drains to the remote, and both tiers agree.
	c, err = cache.Open(cacheDir, cache.Options{MaxBytes: 1 << 30})
	require.NoError(t, err)
	s, err = tiered.New(c, shared{remote}, tiered.Options{Mode: tiered.WriteBehind, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, s.Flush(fctx))
	require.Zero(t, s.Status().PendingUploads+s.Status().PendingDeletes)
	for key, m := range model {
		require.Equal(t, found[key], readState(t, remote, key), "the remote copy of %q after Flush", key)
		if m.touched {
			require.Equal(t, found[key], readState(t, s, key), "%q read through the store after Flush", key)
		}
		model[key] = &keyModel{acked: found[key]}
	}
	require.NoError(t, s.Close())
	require.NoError(t, remote.Close())
}

// readState returns the SHA-256 of key's content, or absent.
func readState(t *testing.T, p storage.Provider, key string) string {
	t.Helper()
	rc, _, err := p.Get(t.Context(), key, nil)
	if errors.Is(err, storage.ErrNotFound) {
		return absent
	}
	require.NoError(t, err, "Get %q", key)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err, "reading %q", key)
	return sha(b)
}
