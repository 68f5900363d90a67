package bounded_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/strata-storage/strata/internal/bounded"
)

// TestMap checks that a Map keeps what it is given, replaces a key's
// value in place (a full Map forgets nothing for it), and never holds more
// entries than the limit, under concurrent use too.
func TestMap(t *testing.T) {
	var m bounded.Map[string, int]
	_, ok := m.Get("a")
	assert.False(t, ok, "the zero Map is empty")
	m.Put("a", 1, 2)
	m.Put("b", 2, 2)
	m.Put("a", 3, 2)
	v, ok := m.Get("a")
	assert.True(t, ok)
	assert.Equal(t, 3, v)
	_, ok = m.Get("b")
	assert.True(t, ok, "replacing a key's value forgets no other entry")
	m.Put("c", 4, 2)
	assert.Equal(t, 2, m.Len())
	v, ok = m.Get("c")
	assert.True(t, ok, "the new entry is kept")
	assert.Equal(t, 4, v)

	var big bounded.Map[int, int]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				big.Put(g*1000+i, i, 100)
				big.Get(i)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 100, big.Len())
}
