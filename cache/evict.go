package cache

import (
	"container/heap"
	"context"
)

// Eviction takes the least recently used unpinned entries first. Access
// times are atomic fields, so a hit never takes a write lock; to find the
// oldest entries without a list threaded through them, a scan collects the
// candBatch oldest unpinned entries into a sorted batch, and evictions pop
// from it, skipping entries touched, changed or pinned since the scan. Every
// entry outside the batch was newer than all of it at the scan, so the order
// is exact LRU.

const candBatch = 512

type cand struct {
	h      hkey
	gen    uint64
	access int64
}

// candHeap is a max-heap by access time, to keep the oldest entries.
type candHeap []cand

func (h candHeap) Len() int           { return len(h) }
func (h candHeap) Less(i, j int) bool { return h[i].access > h[j].access }
func (h candHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)        { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// refillCandsLocked rebuilds the batch of eviction candidates. The caller
// holds c.mu.
func (c *Cache) refillCandsLocked() {
	hp := candHeap(c.cands[:0])
	c.idx.each(func(e *entry) bool {
		if e.pinned() {
			return true
		}
		cd := cand{e.h, e.gen, e.access}
		if len(hp) < candBatch {
			heap.Push(&hp, cd)
		} else if cd.access < hp[0].access {
			hp[0] = cd
			heap.Fix(&hp, 0)
		}
		return true
	})
	// pop into ascending order
	out := make([]cand, len(hp))
	for i := len(hp) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&hp).(cand)
	}
	c.cands = out
	c.candStale = false
}

// evictOneLocked evicts the least recently used unpinned entry and reports
// whether there was one it could evict. The caller holds c.mu, which is
// released while the file is unlinked.
func (c *Cache) evictOneLocked(idle bool) bool {
	for round := 0; round < 2; round++ {
		if c.candStale {
			c.refillCandsLocked()
			round = 1
		}
		for len(c.cands) > 0 {
			cd := c.cands[0]
			c.cands = c.cands[1:]
			if c.evictCandLocked(cd, idle) {
				return true
			}
		}
		c.candStale = true
	}
	return false
}

// evictCandLocked evicts the candidate if it is still the same, unpinned
// and untouched version and nobody is changing it.
func (c *Cache) evictCandLocked(cd cand, idle bool) bool {
	st := c.stripe(cd.h)
	if !st.TryLock() {
		c.contended = true
		return false
	}
	defer st.Unlock()
	cur, ok := c.idx.get(cd.h)
	if !ok || cur.gen != cd.gen || cur.pinned() || cur.access != cd.access {
		return false
	}
	why := removeSize
	if idle {
		why = removeIdle
	}
	c.unindexLocked(cur)
	c.mu.Unlock()
	gone := c.unlink(cur)
	c.mu.Lock()
	c.settleLocked(cur, why, gone)
	return true
}

// Evict removes, now, the unpinned entries idle for longer than MaxIdle,
// then the least recently used ones until the cache is within its bounds
// (MaxBytes and MinFreeRatio). Pinned entries stay.
func (c *Cache) Evict(ctx context.Context) (EvictResult, error) {
	if err := c.CheckOpen(ctx, "evict"); err != nil {
		return EvictResult{}, err
	}
	if err := c.begin(); err != nil {
		return EvictResult{}, c.Wrap("evict", "", err)
	}
	defer c.end()
	before := c.Stats()
	var res EvictResult
	if c.opts.MaxIdle > 0 {
		cutoff := c.now().Add(-c.opts.MaxIdle).UnixNano()
		var idle []cand
		c.idx.each(func(e *entry) bool {
			if !e.pinned() && e.access < cutoff {
				idle = append(idle, cand{e.h, e.gen, e.access})
			}
			return true
		})
		c.mu.Lock()
		for i, cd := range idle {
			if i%64 == 0 && ctx.Err() != nil {
				break
			}
			c.evictCandLocked(cd, true)
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	c.evictToFitLocked(0)
	c.mu.Unlock()
	after := c.Stats()
	res.Idle = after.EvictedByIdle - before.EvictedByIdle
	res.Entries = res.Idle + after.EvictedBySize - before.EvictedBySize
	res.Bytes = after.EvictedBytes - before.EvictedBytes
	return res, ctx.Err()
}
