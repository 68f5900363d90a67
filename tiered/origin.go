package tiered

import (
	"github.com/strata-storage/strata/internal/bounded"
	"github.com/strata-storage/strata/storage"
)

// maxOrigins bounds the origins table: past it, an entry chosen at random
// makes room, and a hit on that key answers with the cache's ETag until
// the key is fetched again.
const maxOrigins = 1 << 16

// origins remembers, for each copy the store fetched from the remote, the
// ETag the remote gave the version fetched, by key, with the ETag of the
// cached copy it became. A cache hit on that copy answers with the
// remote's ETag, so that an object keeps one ETag when it becomes cached:
// an HTTP client's If-None-Match or If-Range still matches, and a
// storage.ObjectReader opened from the remote on an object whose SHA-256
// the remote does not know (another program wrote it) reads on from the
// cache without taking the copy for another version. A copy written
// through the store, or replaced since, has no entry that matches its
// ETag, and answers with the cache's own.
type origins struct {
	m bounded.Map[string, origin] // read on every cache hit, written on every fill
}

type origin struct{ cached, remote string }

// set records that the copy of key with ETag cached was fetched from the
// remote's version with ETag remote.
func (o *origins) set(key, cached, remote string) {
	if cached == "" || remote == "" || cached == remote {
		return
	}
	o.m.Put(key, origin{cached: cached, remote: remote}, maxOrigins)
}

// apply gives info, the cache's answer for key, the remote's ETag when
// the cached copy is one the store fetched.
func (o *origins) apply(key string, info *storage.Info) {
	e, ok := o.m.Get(key)
	if ok && sameETag(e.cached, info.ETag) {
		info.ETag = e.remote
	}
}
