package migrate

import (
	"context"
	"fmt"
	"iter"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// cursor walks a listing forward, for pairing it with another listing in
// the same key order.
type cursor struct {
	name string
	next func() (storage.Info, error, bool)
	stop func()
	// ahead holds entries read from the listing and not yet passed, in key
	// order: the one seek stopped at, and those anyUnder read beyond it.
	ahead []storage.Info
	done  bool // the listing has ended
	prev  string
	// passed counts the entries passed over without being asked for;
	// onPass, when set, is called with each of their keys.
	passed int64
	onPass func(key string)
}

func newCursor(ctx context.Context, p storage.Provider, prefix, name string) *cursor {
	next, stop := iter.Pull2(p.List(ctx, &storage.ListOptions{Prefix: prefix}))
	return &cursor{name: name, next: next, stop: stop}
}

func (c *cursor) close() { c.stop() }

// read appends the listing's next entry to c.ahead, and returns false when
// the listing has ended.
func (c *cursor) read() (bool, error) {
	if c.done {
		return false, nil
	}
	info, err, ok := c.next()
	if !ok {
		c.done = true
		return false, nil
	}
	if err != nil {
		c.done = true
		return false, fmt.Errorf("list %s: %w", c.name, err)
	}
	if c.prev != "" && info.Key <= c.prev {
		c.done = true
		return false, fmt.Errorf("list %s: key %q came after %q: listing is not in key order", c.name, info.Key, c.prev)
	}
	c.prev = info.Key
	c.ahead = append(c.ahead, info)
	return true, nil
}

// pass drops the first entry of c.ahead, which was not asked for.
func (c *cursor) pass() {
	key := c.ahead[0].Key
	c.ahead = c.ahead[1:]
	c.passed++
	if c.onPass != nil {
		c.onPass(key)
	}
}

// seek returns the listed entry with the given key, or nil when the listing
// has none. Keys passed to seek must increase.
func (c *cursor) seek(key string) (*storage.Info, error) {
	for {
		if len(c.ahead) == 0 {
			if ok, err := c.read(); !ok {
				return nil, err
			}
		}
		switch e := c.ahead[0]; {
		case e.Key < key:
			c.pass() // not asked for: nothing to do with it
		case e.Key == key:
			c.ahead = c.ahead[1:]
			return &e, nil
		default:
			return nil, nil
		}
	}
}

// anyUnder reports whether the listing holds a key starting with prefix
// among the entries not yet passed, reading ahead of the position of the
// last seek by at most limit entries. known is false when it would have to
// read further to tell. The entries read stay for the next seeks.
func (c *cursor) anyUnder(prefix string, limit int) (found, known bool, err error) {
	for i := 0; ; i++ {
		if i == len(c.ahead) {
			if i >= limit {
				return false, false, nil
			}
			ok, err := c.read()
			if err != nil {
				return false, false, err
			}
			if !ok {
				return false, true, nil
			}
		}
		if k := c.ahead[i].Key; k >= prefix {
			return strings.HasPrefix(k, prefix), true, nil
		}
	}
}

// drain passes over the rest of the listing and returns the error that
// ended it, if any.
func (c *cursor) drain() error {
	for {
		for len(c.ahead) > 0 {
			c.pass()
		}
		if ok, err := c.read(); !ok {
			return err
		}
	}
}

// parentStack holds keys of a listing walked in key order whose
// "directory", the keys starting with key+"/", may still hold keys to come.
// Those keys sort in one run, from key+"/" to just before key+"0" ('0'
// follows '/'), and a key pushed later has a run that ends no later than
// those of the keys below it, so the keys whose run has ended are always
// on top.
type parentStack []string

// push adds key, the latest key of the walk.
func (s *parentStack) push(key string) {
	s.prune(key)
	*s = append(*s, key)
}

// prune drops the keys whose run ends at or before pos, where the walk now
// is.
func (s *parentStack) prune(pos string) {
	for n := len(*s); n > 0 && runEnded(pos, (*s)[n-1]); n-- {
		*s = (*s)[:n-1]
	}
}

// runEnded reports whether pos >= key+"0", without building that string:
// the walk at pos has passed every key starting with key+"/".
func runEnded(pos, key string) bool {
	if strings.HasPrefix(pos, key) {
		return len(pos) > len(key) && pos[len(key)] >= '0'
	}
	return pos > key
}

// hasParentOf reports whether a key of the stack is a parent of key (key
// starts with it and a "/"), after pruning the stack at key.
func (s *parentStack) hasParentOf(key string) bool {
	s.prune(key)
	for _, p := range *s {
		if len(key) > len(p) && key[len(p)] == '/' && strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
