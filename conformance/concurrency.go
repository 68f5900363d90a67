package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

// payload returns a self-describing object body: a header naming the key,
// the writer, its sequence number and the body length, then that many
// bytes of RandomBytes(seed(writer, seq), n). verifyPayload checks one.
func payload(key string, writer, seq, n int) []byte {
	h := fmt.Sprintf("%s|%d|%d|%d|", key, writer, seq, n)
	return append([]byte(h), RandomBytes(payloadSeed(writer, seq), n)...)
}

func payloadSeed(writer, seq int) uint64 { return uint64(writer)<<32 | uint64(seq) }

// verifyPayload checks that b is one whole payload written under key.
func verifyPayload(key string, b []byte) error {
	parts := bytes.SplitN(b, []byte("|"), 5)
	if len(parts) != 5 {
		return fmt.Errorf("%q: %d bytes without a payload header: torn or foreign content", key, len(b))
	}
	if string(parts[0]) != key {
		return fmt.Errorf("%q holds a payload written under %q", key, parts[0])
	}
	w, err1 := strconv.Atoi(string(parts[1]))
	seq, err2 := strconv.Atoi(string(parts[2]))
	n, err3 := strconv.Atoi(string(parts[3]))
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("%q: bad payload header: %v", key, err)
	}
	if !bytes.Equal(parts[4], RandomBytes(payloadSeed(w, seq), n)) {
		return fmt.Errorf("%q: payload of writer %d seq %d is torn: %d body bytes, want %d", key, w, seq, len(parts[4]), n)
	}
	return nil
}

// attempts records every payload written to each key, so that Stat and
// List answers can be checked against them.
type attempts struct {
	mu    sync.Mutex
	sizes map[string]map[int64]bool
	sums  map[string]map[string]bool
}

func (a *attempts) add(key string, b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sizes == nil {
		a.sizes, a.sums = map[string]map[int64]bool{}, map[string]map[string]bool{}
	}
	if a.sizes[key] == nil {
		a.sizes[key], a.sums[key] = map[int64]bool{}, map[string]bool{}
	}
	a.sizes[key][int64(len(b))] = true
	a.sums[key][hashOf(b)] = true
}

func (a *attempts) check(info storage.Info) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.sizes[info.Key][info.Size] {
		return fmt.Errorf("%q has size %d, which no writer wrote", info.Key, info.Size)
	}
	if info.SHA256 != "" && !a.sums[info.Key][info.SHA256] {
		return fmt.Errorf("%q has SHA256 %s, which no writer wrote", info.Key, info.SHA256)
	}
	return nil
}

type errList struct {
	mu   sync.Mutex
	errs []error
}

func (e *errList) add(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (s *suite) testConcurrency(t *testing.T) {
	t.Run("Mixed", func(t *testing.T) {
		t.Parallel()
		s.mixed(t)
	})
	t.Run("AtomicOverwrite", func(t *testing.T) {
		t.Parallel()
		s.atomicOverwrite(t)
	})
	t.Run("DistinctKeys", func(t *testing.T) {
		t.Parallel()
		p := s.provider(t)
		const goroutines, each = 32, 4
		var wg sync.WaitGroup
		var errs errList
		var want []string
		for g := range goroutines {
			for i := range each {
				want = append(want, fmt.Sprintf("g%02d/%d", g, i))
			}
			wg.Go(func() {
				for i := range each {
					key := fmt.Sprintf("g%02d/%d", g, i)
					if _, err := p.Put(ctx(t), key, bytes.NewReader(payload(key, g, i, 100*i)), nil); err != nil {
						errs.add(err)
					}
				}
			})
		}
		within(t, "concurrent Puts", wg.Wait)
		require.Empty(t, errs.errs)
		require.Equal(t, sorted(want), listKeys(t, p, nil))
		for _, k := range want[:10] {
			b, _ := get(t, p, k)
			require.NoError(t, verifyPayload(k, b))
		}
	})
}

// mixed runs 32 goroutines of random Put, Get, Stat, Delete and List on four
// shared keys and checks that every answer is one whole payload.
func (s *suite) mixed(t *testing.T) {
	p := s.provider(t)
	const goroutines, ops = 32, 16
	keys := []string{"shared/0", "shared/1", "shared/2", "shared/3"}
	var tried attempts
	var errs errList
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for seq := range ops {
				key := keys[rng.IntN(len(keys))]
				if err := s.mixedOp(t, p, rng, &tried, key, g, seq); err != nil {
					errs.add(err)
				}
			}
		})
	}
	within(t, "the mixed workload", wg.Wait)
	require.Empty(t, errs.errs, "errors in the mixed workload")
	for _, key := range keys {
		rc, _, err := p.Get(ctx(t), key, nil)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		require.NoError(t, verifyPayload(key, readAll(t, rc)))
	}
}

func (s *suite) mixedOp(t *testing.T, p storage.Provider, rng *rand.Rand, tried *attempts, key string, g, seq int) error {
	c := ctx(t)
	switch op := rng.IntN(20); {
	case op < 7: // Put
		n := rng.IntN(4 << 10)
		if rng.IntN(8) == 0 {
			n = 200<<10 + rng.IntN(100<<10)
		}
		b := payload(key, g, seq, n)
		tried.add(key, b)
		var opts *storage.PutOptions
		if rng.IntN(2) == 0 {
			opts = &storage.PutOptions{Size: int64(len(b)), ContentType: "application/x-payload"}
		}
		info, err := p.Put(c, key, onlyReader{bytes.NewReader(b)}, opts)
		if err != nil {
			return fmt.Errorf("put %q: %w", key, err)
		}
		if info.Size != int64(len(b)) {
			return fmt.Errorf("put %q: Info.Size %d, wrote %d", key, info.Size, len(b))
		}
	case op < 14: // Get
		rc, info, err := p.Get(c, key, nil)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %q: %w", key, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("reading %q: %w", key, err)
		}
		if err := verifyPayload(key, b); err != nil {
			return err
		}
		if info.Size != int64(len(b)) {
			return fmt.Errorf("get %q: Info.Size %d but the body has %d bytes: Info and body describe different versions", key, info.Size, len(b))
		}
		if info.SHA256 != "" && info.SHA256 != hashOf(b) {
			return fmt.Errorf("get %q: Info.SHA256 is not the hash of the body: Info and body describe different versions", key)
		}
	case op < 16: // Stat
		info, err := p.Stat(c, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("stat %q: %w", key, err)
		}
		return tried.check(info)
	case op < 18: // Delete
		if err := p.Delete(c, key); err != nil {
			return fmt.Errorf("delete %q: %w", key, err)
		}
	default: // List
		last := ""
		for info, err := range p.List(c, &storage.ListOptions{Prefix: "shared/"}) {
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			if info.Key <= last {
				return fmt.Errorf("list yielded %q after %q", info.Key, last)
			}
			last = info.Key
			if !strings.HasPrefix(info.Key, "shared/") || len(info.Key) != len("shared/0") {
				return fmt.Errorf("list yielded %q, which nobody wrote", info.Key)
			}
			if err := tried.check(info); err != nil {
				return fmt.Errorf("list: %w", err)
			}
		}
	}
	return nil
}

// atomicOverwrite has one goroutine overwrite a key with two different
// large payloads in turn while four others read it: every read must be one
// whole payload, with an Info that describes that same payload.
func (s *suite) atomicOverwrite(t *testing.T) {
	p := s.provider(t)
	a, b := RandomBytes(31, 256<<10), RandomBytes(32, 256<<10+7)
	sums := map[string]int{hashOf(a): len(a), hashOf(b): len(b)}
	put(t, p, "atomic", a, nil)
	done := make(chan struct{})
	var errs errList
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		for i := range 8 {
			data := a
			if i%2 == 0 {
				data = b
			}
			if _, err := p.Put(ctx(t), "atomic", onlyReader{bytes.NewReader(data)}, nil); err != nil {
				errs.add(err)
				return
			}
		}
	})
	reads := make([]int, 4)
	for r := range reads {
		wg.Go(func() {
			for {
				select {
				case <-done:
					if reads[r] > 0 {
						return
					}
				default:
				}
				rc, info, err := p.Get(ctx(t), "atomic", nil)
				if err != nil {
					errs.add(fmt.Errorf("get during overwrites: %w", err))
					return
				}
				h := sha256.New()
				n, err := io.Copy(h, rc)
				rc.Close()
				if err != nil {
					errs.add(fmt.Errorf("reading during overwrites: %w", err))
					return
				}
				reads[r]++
				sum := hex.EncodeToString(h.Sum(nil))
				if _, ok := sums[sum]; !ok {
					errs.add(fmt.Errorf("read %d bytes that are neither the old nor the new object: a torn read", n))
					return
				}
				if info.Size != n {
					errs.add(fmt.Errorf("get Info.Size %d, body %d bytes: Info and body describe different versions", info.Size, n))
					return
				}
			}
		})
	}
	within(t, "reads during overwrites", wg.Wait)
	require.Empty(t, errs.errs)
}
