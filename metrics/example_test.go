package metrics_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/metrics"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// Wrap a provider so every call is counted and timed.
func Example() {
	reg := prometheus.NewRegistry()
	store := metrics.New(reg).Wrap(memory.New(), "uploads")
	defer store.Close()

	_, _ = store.Put(context.Background(), "2026/11/cat.jpg", strings.NewReader("meow"), nil)
	_, _ = store.Stat(context.Background(), "2026/11/dog.jpg")

	n, _ := testutil.GatherAndCount(reg, "strata_operations_total")
	fmt.Println("series:", n)
	// Output:
	// series: 2
}

// A wrapped tiered store keeps its abilities: Flush through the wrapper
// (counted like any call), Status and Offload through storage.As.
func ExampleMetrics_Wrap_tiered() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "cache")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	c, err := cache.Open(dir, cache.Options{MaxBytes: 1 << 20})
	if err != nil {
		panic(err)
	}
	ts, err := tiered.New(c, memory.New(), tiered.Options{Mode: tiered.WriteBehind})
	if err != nil {
		panic(err)
	}
	store := metrics.New(prometheus.NewRegistry()).Wrap(ts, "media")
	defer store.Close()

	_, _ = store.Put(ctx, "2026/11/cat.jpg", strings.NewReader("meow"), nil)
	if err := storage.Flush(ctx, store); err != nil {
		panic(err)
	}
	var tier *tiered.Store
	if storage.As(store, &tier) {
		fmt.Println("pending uploads:", tier.Status().PendingUploads)
	}
	// Output:
	// pending uploads: 0
}
