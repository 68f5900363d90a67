package s3proto

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestKnobs(t *testing.T) {
	t.Parallel()
	assert.Equal(t, Knobs{}, KnobsFrom(context.Background()), "none given: the drivers' own")
	k := Knobs{ListPage: 3, CopyThreshold: 5 << 20, RetryUnit: time.Millisecond, RetryCap: time.Second, FoldDelimiter: true}
	ctx := WithKnobs(context.Background(), k)
	assert.Equal(t, k, KnobsFrom(ctx))
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	assert.Equal(t, k, KnobsFrom(child), "a derived context keeps them")
}
