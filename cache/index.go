package cache

import (
	"sync"
	"sync/atomic"
)

// The in-memory index holds one fixed-size entry per object and no key
// strings: object files are named by the key's hash, and keys are read
// from the index files on disk when List or Entries need them. Entries live
// in one slice per shard, found through an open-addressing table of 32-bit
// slots (entry position and 8 bits of the hash) (linear probing, backward-shift deletion, so no tombstones).
// A shard's RWMutex is held for reading by lookups, which bump the last
// access time with an atomic store, and for writing by the few places that
// add, remove or move entries.

const (
	shardBits = 6
	nShards   = 1 << shardBits

	flagPinned  = 1 << 0
	flagEmitted = 1 << 1 // set on entries already written by the running compaction
)

// entry is one object in the index: 48 bytes.
type entry struct {
	h      hkey
	size   int64 // content bytes
	gen    uint64
	access int64 // last access, Unix ns; atomic while the shard is read-locked
	hdr    uint32
	flags  uint32
}

// charge is the number of disk bytes the entry's file holds.
func (e *entry) charge() int64 { return int64(e.hdr) + e.size }

// load copies an entry whose access time other goroutines may be storing.
func load(p *entry) entry {
	return entry{h: p.h, size: p.size, gen: p.gen, access: atomic.LoadInt64(&p.access), hdr: p.hdr, flags: p.flags}
}

func (e *entry) pinned() bool { return e.flags&flagPinned != 0 }

type shard struct {
	mu    sync.RWMutex
	ents  []entry
	slots []uint32 // 0 = empty, else tag<<24 | (index into ents + 1)
	mask  uint64

	_ [24]byte
	// counters kept per shard so that hits on different keys do not share
	// a cache line
	hits, misses, bytesRead atomic.Int64
	_                       [40]byte
}

type index struct {
	shards  [nShards]shard
	count   atomic.Int64
	npinned atomic.Int64
}

func shardOf(h hkey) int { return int(h.a & (nShards - 1)) }

func (s *shard) home(h hkey) uint64 { return (h.a >> shardBits) & s.mask }

// A slot keeps 8 more bits of the hash beside the entry's position, so a
// probe rarely has to look at an entry that is not the one it seeks.
const (
	slotBits = 24
	slotMask = 1<<slotBits - 1
	// maxShardEntries bounds a shard's entries; 64 shards hold about a
	// billion.
	maxShardEntries = slotMask - 1
)

func tag(h hkey) uint32 { return uint32(h.a>>56) << slotBits }

func slotOf(h hkey, pos int) uint32 { return tag(h) | uint32(pos+1) }

// find returns the slot holding h and the entry's position, or -1.
// The caller holds s.mu.
func (s *shard) find(h hkey) (slot uint64, pos int) {
	if len(s.slots) == 0 {
		return 0, -1
	}
	t := tag(h)
	for i := s.home(h); ; i = (i + 1) & s.mask {
		v := s.slots[i]
		if v == 0 {
			return i, -1
		}
		if v&^slotMask == t {
			if p := int(v&slotMask) - 1; s.ents[p].h == h {
				return i, p
			}
		}
	}
}

func (s *shard) grow(min int) {
	n := 16
	for n*3 < min*4 { // keep the load at most 3/4
		n *= 2
	}
	if n <= len(s.slots) {
		return
	}
	s.slots = make([]uint32, n)
	s.mask = uint64(n - 1)
	for p := range s.ents {
		i := s.home(s.ents[p].h)
		for s.slots[i] != 0 {
			i = (i + 1) & s.mask
		}
		s.slots[i] = slotOf(s.ents[p].h, p)
	}
}

// reserve makes room for n more entries without growing again.
func (ix *index) reserve(n int) {
	per := n/nShards + n/nShards/16 + 16
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		if cap(s.ents) < per {
			ne := make([]entry, len(s.ents), per)
			copy(ne, s.ents)
			s.ents = ne
		}
		s.grow(per)
		s.mu.Unlock()
	}
}

// get returns a copy of the entry for h.
func (ix *index) get(h hkey) (entry, bool) {
	s := &ix.shards[shardOf(h)]
	s.mu.RLock()
	_, p := s.find(h)
	if p < 0 {
		s.mu.RUnlock()
		return entry{}, false
	}
	e := load(&s.ents[p])
	s.mu.RUnlock()
	return e, true
}

// touch returns a copy of the entry for h and records an access at now.
func (ix *index) touch(h hkey, now int64) (entry, bool) {
	s := &ix.shards[shardOf(h)]
	s.mu.RLock()
	_, p := s.find(h)
	if p < 0 {
		s.mu.RUnlock()
		return entry{}, false
	}
	e := load(&s.ents[p])
	if a := &s.ents[p].access; atomic.LoadInt64(a) < now {
		atomic.StoreInt64(a, now)
	}
	s.mu.RUnlock()
	return e, true
}

// full reports whether the shard of h can take no more entries.
func (ix *index) full(h hkey) bool {
	s := &ix.shards[shardOf(h)]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.ents) >= maxShardEntries
}

// set adds e or replaces the entry with e's hash, returning the old one.
// A full shard (see full) is the caller's to avoid.
func (ix *index) set(e entry) (old entry, existed bool) {
	s := &ix.shards[shardOf(e.h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p := s.find(e.h)
	if p >= 0 {
		old = s.ents[p]
		s.ents[p] = e
		ix.npinned.Add(int64(pinDelta(old.flags, e.flags)))
		return old, true
	}
	if len(s.ents)+1 > len(s.slots)*3/4 {
		s.grow(len(s.ents) + 1)
	}
	if len(s.ents) == cap(s.ents) {
		// grow by a quarter rather than double: less slack at a million entries
		ne := make([]entry, len(s.ents), cap(s.ents)+cap(s.ents)/4+16)
		copy(ne, s.ents)
		s.ents = ne
	}
	s.ents = append(s.ents, e)
	slot, _ := s.find(e.h)
	s.slots[slot] = slotOf(e.h, len(s.ents)-1)
	ix.count.Add(1)
	if e.pinned() {
		ix.npinned.Add(1)
	}
	return entry{}, false
}

func pinDelta(old, new uint32) int {
	switch {
	case old&flagPinned == 0 && new&flagPinned != 0:
		return 1
	case old&flagPinned != 0 && new&flagPinned == 0:
		return -1
	}
	return 0
}

// update applies f to the entry for h if its generation is gen (any
// generation when gen is 0) and reports whether it did.
func (ix *index) update(h hkey, gen uint64, f func(e *entry)) (entry, bool) {
	s := &ix.shards[shardOf(h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p := s.find(h)
	if p < 0 || (gen != 0 && s.ents[p].gen != gen) {
		return entry{}, false
	}
	e := &s.ents[p]
	before := e.flags
	f(e)
	ix.npinned.Add(int64(pinDelta(before, e.flags)))
	return *e, true
}

// remove deletes the entry for h if its generation is gen (any generation
// when gen is 0).
func (ix *index) remove(h hkey, gen uint64) (entry, bool) {
	s := &ix.shards[shardOf(h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	slot, p := s.find(h)
	if p < 0 || (gen != 0 && s.ents[p].gen != gen) {
		return entry{}, false
	}
	old := s.ents[p]
	// backward-shift deletion of the slot
	i, j := slot, slot
	for {
		j = (j + 1) & s.mask
		v := s.slots[j]
		if v == 0 {
			break
		}
		k := s.home(s.ents[v&slotMask-1].h)
		// the entry at j stays unless its home lies cyclically outside (i, j]
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			s.slots[i] = v
			i = j
		}
	}
	s.slots[i] = 0
	// move the last entry into the hole
	last := len(s.ents) - 1
	if p != last {
		ls, _ := s.find(s.ents[last].h)
		s.ents[p] = s.ents[last]
		s.slots[ls] = slotOf(s.ents[p].h, p)
	}
	s.ents[last] = entry{}
	s.ents = s.ents[:last]
	ix.count.Add(-1)
	if old.pinned() {
		ix.npinned.Add(-1)
	}
	return old, true
}

// each calls f with a copy of every entry, shard by shard, holding each
// shard's read lock only while it copies a batch.
func (ix *index) each(f func(e *entry) bool) {
	var buf []entry
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.RLock()
		buf = buf[:0]
		for j := range s.ents {
			buf = append(buf, load(&s.ents[j]))
		}
		s.mu.RUnlock()
		for j := range buf {
			if !f(&buf[j]) {
				return
			}
		}
	}
}

// eachLocked calls f with a pointer to every entry while holding each
// shard's write lock; f may change flags but not the hash.
func (ix *index) eachLocked(f func(e *entry)) {
	for i := range ix.shards {
		s := &ix.shards[i]
		s.mu.Lock()
		for j := range s.ents {
			f(&s.ents[j])
		}
		s.mu.Unlock()
	}
}
