package metrics_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/metrics"
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
