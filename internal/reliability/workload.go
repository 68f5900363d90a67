package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/strata-storage/strata/storage"
)

// Client is one way into the store under test.
type Client struct {
	// Name names the client in keys and reports ("s3", "minio", "tiered").
	Name string
	// P is the provider.
	P storage.Provider
	// Buffered is true for a client whose acknowledged writes reach the
	// remote later (a write-behind tiered store): other clients read its
	// keys only after a Flush.
	Buffered bool
}

// Tally counts the operations of one phase.
type Tally struct {
	Phase string
	// Attempted, Succeeded and Failed count operations; Failed counts
	// those that returned an error. Unclean counts the failures that
	// were not a clean error (storage.ErrUnavailable, a not-found of a key
	// being deleted, a deadline): they are in Failed too.
	Attempted, Succeeded, Failed, Unclean atomic.Int64
	// Writes and WritesAcked count Puts and the Puts that returned nil.
	Writes, WritesAcked atomic.Int64
	// False404 counts Gets and Stats of an acknowledged key, not being
	// deleted, answered with not-found.
	False404 atomic.Int64
	// Corrupt counts reads that returned bytes other than those written.
	Corrupt atomic.Int64
	// Lost counts this phase's acknowledged writes that the final check
	// could not read back with the right bytes; Resurrected the
	// acknowledged deletes sent in this phase whose key came back.
	Lost, Resurrected int64

	mu      sync.Mutex
	samples []string
}

func (t *Tally) sample(op string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.samples) < 5 {
		t.samples = append(t.samples, op+": "+err.Error())
	}
}

// Samples returns up to five error strings seen in the phase.
func (t *Tally) Samples() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.samples...)
}

// Workload runs a mixed media workload (puts, gets, stats, lists and
// deletes of media-sized objects) through its clients and records every
// acknowledged write in its Ledger.
type Workload struct {
	Clients []Client
	Ledger  *Ledger
	// Prefix starts every key.
	Prefix string
	// Sizes returns the size of the next object; nil means 4 KiB to
	// 512 KiB, with one in ten of 1 to 3 MiB.
	Sizes func(rng interface{ IntN(int) int }) int
	// OpTimeout bounds each operation; zero means one minute.
	OpTimeout time.Duration
	// Seed seeds the choices.
	Seed uint64
	// Logf, when not nil, receives a line for each corrupt read.
	Logf func(format string, args ...any)

	seq atomic.Int64
}

func (w *Workload) size(rng *rand.Rand) int {
	if w.Sizes != nil {
		return w.Sizes(rng)
	}
	if rng.IntN(10) == 0 {
		return 1<<20 + rng.IntN(2<<20)
	}
	return 4<<10 + rng.IntN(508<<10)
}

// Run runs a phase: workers goroutines run operations until ops have been
// attempted. When mid is not nil it is called, once, after a third of them,
// while the workers go on, and the phase lasts until it returns (up to
// 4×ops operations; past that the workers wait for it).
func (w *Workload) Run(ctx context.Context, phase string, ops, workers int, mid func()) *Tally {
	t := &Tally{Phase: phase}
	var midDone chan struct{}
	var once sync.Once
	if mid != nil {
		midDone = make(chan struct{})
	}
	startMid := func() {
		once.Do(func() {
			go func() { defer close(midDone); mid() }()
		})
	}
	var wg sync.WaitGroup
	var count atomic.Int64
	for wi := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(w.Seed, uint64(wi)+uint64(len(phase))<<32+uint64(w.seq.Add(1))))
			for ctx.Err() == nil {
				n := count.Add(1)
				if mid != nil && n == int64(ops/3)+1 {
					startMid()
				}
				if n > int64(ops) {
					if mid == nil {
						return
					}
					select {
					case <-midDone:
						return
					default:
					}
					if n > int64(4*ops) {
						<-midDone
						return
					}
				}
				w.op(ctx, rng, t, phase)
			}
		}()
	}
	wg.Wait()
	if mid != nil {
		startMid()
		<-midDone
	}
	return t
}

// clean reports whether err is an error a caller can act on: the store is
// unavailable, a deadline passed, or the key is not there.
func clean(err error) bool {
	return errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, storage.ErrNotFound) || strings.Contains(err.Error(), "cache full")
}

func (w *Workload) fail(t *Tally, op string, err error) {
	t.Failed.Add(1)
	if !clean(err) {
		t.Unclean.Add(1)
	}
	t.sample(op, err)
}

// readable reports whether a record written by writer may be read through c
// now.
func readable(c Client, writerBuffered map[string]bool) func(Record) bool {
	return func(r Record) bool { return r.Writer == c.Name || !writerBuffered[r.Writer] }
}

func (w *Workload) op(ctx context.Context, rng *rand.Rand, t *Tally, phase string) {
	c := w.Clients[rng.IntN(len(w.Clients))]
	buffered := map[string]bool{}
	for _, cl := range w.Clients {
		buffered[cl.Name] = cl.Buffered
	}
	timeout := w.OpTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t.Attempted.Add(1)
	switch p := rng.IntN(100); {
	case p < 40 || w.Ledger.Len() < 4:
		t.Writes.Add(1)
		key := fmt.Sprintf("%s/%s/%s/%06d", w.Prefix, c.Name, phase, w.seq.Add(1))
		data := Content(key, w.size(rng))
		_, err := c.P.Put(ctx, key, bytes.NewReader(data), &storage.PutOptions{
			Size: int64(len(data)), ContentType: "application/octet-stream",
		})
		if err != nil {
			w.fail(t, "put "+c.Name, err)
			return
		}
		w.Ledger.Ack(Record{Key: key, SHA256: SHA256(data), Size: int64(len(data)), Writer: c.Name, Phase: phase})
		t.WritesAcked.Add(1)
		t.Succeeded.Add(1)
	case p < 70:
		r, ok := w.Ledger.Pick(rng, readable(c, buffered))
		if !ok {
			t.Succeeded.Add(1)
			return
		}
		rc, _, err := c.P.Get(ctx, r.Key, nil)
		if err == nil {
			var b []byte
			b, err = io.ReadAll(rc)
			rc.Close()
			if err == nil && SHA256(b) != r.SHA256 {
				t.Corrupt.Add(1)
				if w.Logf != nil {
					w.Logf("%s: get %s through %s: %d bytes, wrong content", phase, r.Key, c.Name, len(b))
				}
				err = fmt.Errorf("get %s: wrong content", r.Key)
			}
		}
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) && w.Ledger.Has(r.Key) {
				t.False404.Add(1)
			}
			w.fail(t, "get "+c.Name, err)
			return
		}
		t.Succeeded.Add(1)
	case p < 80:
		r, ok := w.Ledger.Pick(rng, readable(c, buffered))
		if !ok {
			t.Succeeded.Add(1)
			return
		}
		info, err := c.P.Stat(ctx, r.Key)
		if err == nil && info.Size != r.Size {
			err = fmt.Errorf("stat %s: size %d, want %d", r.Key, info.Size, r.Size)
		}
		if err != nil {
			if errors.Is(err, storage.ErrNotFound) && w.Ledger.Has(r.Key) {
				t.False404.Add(1)
			}
			w.fail(t, "stat "+c.Name, err)
			return
		}
		t.Succeeded.Add(1)
	case p < 90:
		n := 0
		var err error
		for _, lerr := range c.P.List(ctx, &storage.ListOptions{Prefix: w.Prefix + "/" + c.Name + "/" + phase + "/"}) {
			if lerr != nil {
				err = lerr
				break
			}
			n++
		}
		if err != nil {
			w.fail(t, "list "+c.Name, err)
			return
		}
		t.Succeeded.Add(1)
	default:
		r, ok := w.Ledger.TakeForDelete(rng, func(r Record) bool { return r.Writer == c.Name })
		if !ok {
			t.Succeeded.Add(1)
			return
		}
		r.DeletePhase, r.DeleteStart = phase, time.Now()
		err := c.P.Delete(ctx, r.Key)
		r.DeleteEnd = time.Now()
		w.Ledger.DeleteDone(r, err == nil)
		if err != nil {
			w.fail(t, "delete "+c.Name, err)
			return
		}
		t.Succeeded.Add(1)
	}
}

// CheckOptions configure Check.
type CheckOptions struct {
	// Readers are the providers every acknowledged write is read through,
	// by name.
	Readers map[string]storage.Provider
	// Attempts is how many times a read failing with
	// storage.ErrUnavailable is tried in all; zero means once.
	Attempts int
	// OwnDeletesOnly maps a reader's name to a writer's: that reader is
	// checked only for the deletes that writer made (a tiered store keeps
	// serving its cached copy of a key another client deleted).
	OwnDeletesOnly map[string]string
	// ServerUndoesDeletes names the phases in which the store itself is
	// known to undo some acknowledged deletes (a MinIO node rejoining its
	// peers heals objects deleted meanwhile back): a key deleted in them
	// that is there again is counted as resurrected in the table but is
	// not a problem. A key deleted in any other phase that is there again
	// is one.
	ServerUndoesDeletes map[string]bool
	// NotFoundGrace is how long a reader that answers not-found for an
	// acknowledged write is asked again (once a second) before the write
	// counts as lost: a MinIO node that has just rejoined answers 404 for
	// objects written while it was away until it reconnects to its peers'
	// drives, every 15 seconds. Zero asks once.
	NotFoundGrace time.Duration
	// Logf, when not nil, gets a line for each such tolerated
	// resurrection.
	Logf func(format string, args ...any)
}

// Check reads every acknowledged write through every reader and stats every
// acknowledged delete, counting into the tallies (by phase) the
// writes not readable with the right bytes through any one of them (lost)
// and the deletes whose key is there again (resurrected). Reads that fail
// with storage.ErrUnavailable are tried again, up to Attempts times in all.
// It returns a description of each problem.
func Check(ctx context.Context, l *Ledger, tallies []*Tally, opts CheckOptions) []string {
	readers, attempts := opts.Readers, opts.Attempts
	byPhase := map[string]*Tally{}
	for _, t := range tallies {
		byPhase[t.Phase] = t
	}
	var problems []string
	read := func(p storage.Provider, key string) (string, error) {
		var err error
		for range max(attempts, 1) {
			var rc io.ReadCloser
			rc, _, err = p.Get(ctx, key, nil)
			if err == nil {
				var b []byte
				b, err = io.ReadAll(rc)
				rc.Close()
				if err == nil {
					return SHA256(b), nil
				}
			}
			if !errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil {
				return "", err
			}
		}
		return "", err
	}
	graceEnd := time.Now().Add(opts.NotFoundGrace)
	readGrace := func(p storage.Provider, key string) (string, error) {
		for {
			sum, err := read(p, key)
			if !errors.Is(err, storage.ErrNotFound) || time.Now().After(graceEnd) || ctx.Err() != nil {
				return sum, err
			}
			time.Sleep(time.Second)
		}
	}
	for _, r := range l.Acked() {
		lost := false
		for name, p := range readers {
			sum, err := readGrace(p, r.Key)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("lost %s (phase %s, by %s) through %s: %v", r.Key, r.Phase, r.Writer, name, err))
				lost = true
			case sum != r.SHA256:
				problems = append(problems, fmt.Sprintf("lost %s (phase %s, by %s) through %s: wrong content", r.Key, r.Phase, r.Writer, name))
				lost = true
			}
		}
		if lost && byPhase[r.Phase] != nil {
			byPhase[r.Phase].Lost++
		}
	}
	for _, r := range l.Deleted() {
		back := false
		var found []string
		for name, p := range readers {
			if w, ok := opts.OwnDeletesOnly[name]; ok && w != r.Writer {
				continue
			}
			_, err := p.Stat(ctx, r.Key)
			if !errors.Is(err, storage.ErrNotFound) {
				found = append(found, fmt.Sprintf("deleted %s (written in phase %s by %s, delete sent in phase %s at %s, answered after %v) through %s: %v",
					r.Key, r.Phase, r.Writer, r.DeletePhase, r.DeleteStart.Format("15:04:05.000"), r.DeleteEnd.Sub(r.DeleteStart).Round(time.Millisecond), name, err))
				back = true
			}
		}
		if back && byPhase[r.DeletePhase] != nil {
			byPhase[r.DeletePhase].Resurrected++
		}
		switch {
		case !opts.ServerUndoesDeletes[r.DeletePhase]:
			problems = append(problems, found...)
		case opts.Logf != nil:
			for _, f := range found {
				opts.Logf("server undid a delete (tolerated in phase %s): %s", r.DeletePhase, f)
			}
		}
	}
	return problems
}

// Table formats the tallies as a table, one row per phase and a total.
func Table(tallies []*Tally) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tattempted\tsucceeded\tfailed cleanly\tunclean\tlost\twrites acked/tried\tfalse 404\tcorrupt reads\tdeletes undone\t")
	var a, s, f, u, lo, wa, wt, f4, co, re int64
	for _, t := range tallies {
		row := []int64{t.Attempted.Load(), t.Succeeded.Load(), t.Failed.Load() - t.Unclean.Load(), t.Unclean.Load(), t.Lost,
			t.WritesAcked.Load(), t.Writes.Load(), t.False404.Load(), t.Corrupt.Load(), t.Resurrected}
		a, s, f, u, lo, wa, wt, f4, co, re = a+row[0], s+row[1], f+row[2], u+row[3], lo+row[4], wa+row[5], wt+row[6], f4+row[7], co+row[8], re+row[9]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%d\t%d\t%d\t\n", t.Phase, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d/%d\t%d\t%d\t%d\t\n", a, s, f, u, lo, wa, wt, f4, co, re)
	tw.Flush()
	return b.String()
}
