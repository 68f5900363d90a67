package minio

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGetBufferSizeClasses(t *testing.T) {
	for _, c := range []struct{ size, capacity int64 }{
		{1, 4 << 10}, {4 << 10, 4 << 10}, {4<<10 + 1, 8 << 10}, {32 << 10, 32 << 10},
		{32<<10 + 1, 64 << 10}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1},
	} {
		buf, release := getBuffer(c.size)
		assert.Len(t, buf, int(c.size))
		assert.Equal(t, int(c.capacity), cap(buf), "size %d", c.size)
		release()
	}
}
