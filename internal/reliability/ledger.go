package reliability

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// Content returns size bytes that depend only on key, so a reader can check
// an object without the writer's help: two processes agree on what key holds.
func Content(key string, size int) []byte {
	h := fnv.New64a()
	h.Write([]byte(key))
	seed := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, size+8)
	for i := 0; i < size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return b[:size]
}

// SHA256 returns the lowercase hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Record is one acknowledged write: a Put that returned nil.
type Record struct {
	Key    string
	SHA256 string
	Size   int64
	// Writer names the client that wrote it; Phase the phase it was
	// acknowledged in.
	Writer, Phase string
	// DeletePhase is the phase a delete of the key was sent in, and
	// DeleteStart and DeleteEnd when it was sent and answered; all are
	// empty for a write not deleted.
	DeletePhase            string
	DeleteStart, DeleteEnd time.Time
}

// Ledger tracks every acknowledged write and every acknowledged delete, so
// that a run can check at its end that nothing acknowledged was lost and
// nothing deleted came back. It is safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	acked   map[string]int // key -> index in list
	list    []Record
	deleted map[string]Record
	unsure  map[string]Record // deletes that failed: either state is valid
}

// NewLedger returns an empty Ledger.
func NewLedger() *Ledger {
	return &Ledger{acked: map[string]int{}, deleted: map[string]Record{}, unsure: map[string]Record{}}
}

// Ack records an acknowledged write.
func (l *Ledger) Ack(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i, ok := l.acked[r.Key]; ok {
		l.list[i] = r
		return
	}
	l.acked[r.Key] = len(l.list)
	l.list = append(l.list, r)
	delete(l.deleted, r.Key)
	delete(l.unsure, r.Key)
}

// Has reports whether key is an acknowledged write not being deleted.
func (l *Ledger) Has(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.acked[key]
	return ok
}

// Pick returns a random acknowledged record for which ok holds, trying a
// few times.
func (l *Ledger) Pick(rng *rand.Rand, ok func(Record) bool) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 16 {
		if len(l.list) == 0 {
			return Record{}, false
		}
		r := l.list[rng.IntN(len(l.list))]
		if ok == nil || ok(r) {
			return r, true
		}
	}
	return Record{}, false
}

// PickFunc returns a record chosen by pick from the acknowledged records
// (pick gets their count and returns an index).
func (l *Ledger) PickFunc(pick func(n int) int) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) == 0 {
		return Record{}, false
	}
	return l.list[pick(len(l.list))], true
}

// TakeForDelete removes a random record for which ok holds from the
// acknowledged set, before its delete is sent, so that no reader counts the
// delete's effect as a loss. Settle it with DeleteDone.
func (l *Ledger) TakeForDelete(rng *rand.Rand, ok func(Record) bool) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range 16 {
		if len(l.list) == 0 {
			return Record{}, false
		}
		i := rng.IntN(len(l.list))
		r := l.list[i]
		if ok != nil && !ok(r) {
			continue
		}
		last := len(l.list) - 1
		l.list[i] = l.list[last]
		l.acked[l.list[i].Key] = i
		l.list = l.list[:last]
		delete(l.acked, r.Key)
		return r, true
	}
	return Record{}, false
}

// DeleteDone settles a delete taken with TakeForDelete: acknowledged
// (the key must stay gone) or failed (either state is valid).
func (l *Ledger) DeleteDone(r Record, acked bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if acked {
		l.deleted[r.Key] = r
	} else {
		l.unsure[r.Key] = r
	}
}

// Acked returns the acknowledged writes, sorted by key.
func (l *Ledger) Acked() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]Record(nil), l.list...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Deleted returns the acknowledged deletes, sorted by key.
func (l *Ledger) Deleted() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Record, 0, len(l.deleted))
	for _, r := range l.deleted {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Len returns the number of acknowledged writes held.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.list)
}
