package tiered

import (
	"context"
)

// keyState exists for a key while someone uses it: a Put or Delete holding
// its lock, or a fetch of it from the remote. It lives in Store.keys,
// counted by refs, and is removed when the last user lets go, so memory
// does not grow with the number of keys ever touched.
type keyState struct {
	lock  chan struct{} // holds a token while the key is locked
	refs  int
	epoch uint64 // bumped each time a lock holder lets go; guarded by Store.kmu
	fill  *fill  // the fetch in progress, if any; guarded by Store.kmu
}

// ref returns key's state, creating it, and counts a user. The caller
// holds s.kmu.
func (s *Store) refLocked(key string) *keyState {
	ks := s.keys[key]
	if ks == nil {
		ks = &keyState{lock: make(chan struct{}, 1)}
		s.keys[key] = ks
	}
	ks.refs++
	return ks
}

// unref lets go of key's state. The caller holds s.kmu.
func (s *Store) unrefLocked(key string, ks *keyState) {
	ks.refs--
	if ks.refs == 0 {
		delete(s.keys, key)
	}
}

// lockKey locks key against other Puts and Deletes of it, and against a
// fetch committing it to the cache, until unlockKey. It waits for the lock
// until ctx ends.
func (s *Store) lockKey(ctx context.Context, key string) (*keyState, error) {
	s.kmu.Lock()
	ks := s.refLocked(key)
	s.kmu.Unlock()
	select {
	case ks.lock <- struct{}{}:
		return ks, nil
	case <-ctx.Done():
		s.kmu.Lock()
		s.unrefLocked(key, ks)
		s.kmu.Unlock()
		return nil, ctx.Err()
	}
}

// unlockKey unlocks key and bumps its epoch, so that a fetch that started
// before or during this holder's change does not commit what it read.
func (s *Store) unlockKey(key string, ks *keyState) {
	s.kmu.Lock()
	ks.epoch++
	<-ks.lock
	s.unrefLocked(key, ks)
	s.kmu.Unlock()
}
