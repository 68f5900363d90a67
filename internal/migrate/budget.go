package migrate

import (
	"context"
	"slices"
	"sync"
)

// budget is a weighted semaphore: it lets through at most size units at a
// time, in the order asked.
type budget struct {
	size int64

	mu      sync.Mutex
	used    int64     // guarded by mu
	waiters []*waiter // guarded by mu, first come first served
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the units are granted
}

func newBudget(size int64) *budget { return &budget{size: size} }

// acquire takes n units (at most size), waiting for them until ctx ends.
// It returns the number of units to give back with release.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 1), b.size)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.size {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
		default:
			b.waiters = slices.DeleteFunc(b.waiters, func(x *waiter) bool { return x == w })
		}
		b.grant()
		return 0, ctx.Err()
	}
}

// tryAcquire takes n units (at most size) if they are free and nobody is
// waiting, and reports whether it did.
func (b *budget) tryAcquire(n int64) bool {
	n = min(max(n, 1), b.size)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.size {
		return false
	}
	b.used += n
	return true
}

// release gives back n units from acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	b.grant()
}

// grant hands units to the waiters in order while they fit. b.mu is held.
func (b *budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.size {
			return
		}
		b.used += w.n
		b.waiters = b.waiters[1:]
		close(w.ready)
	}
}
