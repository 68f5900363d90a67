// Command strata-soak runs a mixed media workload against a write-behind
// tiered store over a remote object store for a given time, checking
// invariants throughout, and exits non-zero when one breaks:
//
//   - the cache's usage is never over its byte bound;
//   - every acknowledged write is readable, with the bytes written (reads of
//     the workload, a sample of cold keys every interval, and at the end,
//     after a Flush, a Stat of every key on the remote comparing size and
//     SHA-256);
//   - the heap in use (after a GC) and the number of goroutines do not grow
//     without bound: after a warm-up they must stay under a multiple of
//     their warm-up peak.
//
// Reads are skewed as a media server's are: keys are drawn from a Zipf
// distribution, so a few objects are hot and most are cold. A line of
// figures is printed every -interval.
//
// Usage:
//
//	MINIO_ROOT_USER=... MINIO_ROOT_PASSWORD=... strata-soak \
//	    -remote 'minio://127.0.0.1:9000/soak?secure=false' -create-bucket -duration 30m
//
// The remote is any storage.Open URL (minio://, s3://, file://, mem://);
// credentials come from the environment as the driver documents. `make soak`
// starts a MinIO container on loopback and runs this for two minutes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("strata-soak", flag.ExitOnError)
	cfg.flags(fs)
	fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "strata-soak: FAIL:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stdout, "strata-soak: PASS:", res)
}
