// Package bounded provides a map that holds a bounded number of entries,
// for the small caches the providers and the HTTP handler keep of what
// they worked out before (sniffed types, records read from files, the
// remote's ETags of fetched copies): memory stays bounded however many
// keys pass through, and an entry forgotten is only worked out again.
package bounded

import "sync"

// Map is a map of at most the limit each Put is given entries: to add an
// entry to a full Map, Put forgets one (the first Go's map iteration
// gives, which is at random). It is safe for concurrent use, reads in
// parallel, and the zero Map is empty and ready.
type Map[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// Get returns the value kept for k, and whether there is one.
func (b *Map[K, V]) Get(k K) (V, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v, ok := b.m[k]
	return v, ok
}

// Put keeps v for k. When k is new and the Map already holds limit
// entries or more, it forgets one first.
func (b *Map[K, V]) Put(k K, v V, limit int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = make(map[K]V)
	}
	if _, ok := b.m[k]; !ok && len(b.m) >= limit {
		for old := range b.m {
			delete(b.m, old)
			break
		}
	}
	b.m[k] = v
}

// Len returns the number of entries kept.
func (b *Map[K, V]) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.m)
}
