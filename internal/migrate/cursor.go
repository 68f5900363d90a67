package migrate

import (
	"context"
	"fmt"
	"iter"

	"github.com/strata-storage/strata/storage"
)

// cursor walks a listing forward, for pairing it with another listing in
// the same key order.
type cursor struct {
	name string
	next func() (storage.Info, error, bool)
	stop func()
	cur  storage.Info
	have bool // cur holds an entry not yet passed
	done bool // the listing has ended
	prev string
	// passed counts the entries passed over without being asked for.
	passed int64
}

func newCursor(ctx context.Context, p storage.Provider, prefix, name string) *cursor {
	next, stop := iter.Pull2(p.List(ctx, &storage.ListOptions{Prefix: prefix}))
	return &cursor{name: name, next: next, stop: stop}
}

func (c *cursor) close() { c.stop() }

// seek returns the listed entry with the given key, or nil when the listing
// has none. Keys passed to seek must increase.
func (c *cursor) seek(key string) (*storage.Info, error) {
	for {
		if !c.have {
			if c.done {
				return nil, nil
			}
			info, err, ok := c.next()
			if !ok {
				c.done = true
				return nil, nil
			}
			if err != nil {
				c.done = true
				return nil, fmt.Errorf("list %s: %w", c.name, err)
			}
			if c.prev != "" && info.Key <= c.prev {
				c.done = true
				return nil, fmt.Errorf("list %s: key %q came after %q: listing is not in key order", c.name, info.Key, c.prev)
			}
			c.prev = info.Key
			c.cur, c.have = info, true
		}
		switch {
		case c.cur.Key < key:
			c.have = false // not asked for: nothing to do with it
			c.passed++
		case c.cur.Key == key:
			c.have = false
			info := c.cur
			return &info, nil
		default:
			return nil, nil
		}
	}
}

// drain passes over the rest of the listing and returns the error that
// ended it, if any.
func (c *cursor) drain() error {
	for {
		if c.have {
			c.have = false
			c.passed++
		}
		if c.done {
			return nil
		}
		info, err, ok := c.next()
		if !ok {
			c.done = true
			return nil
		}
		if err != nil {
			c.done = true
			return fmt.Errorf("list %s: %w", c.name, err)
		}
		c.cur, c.have = info, true
	}
}
