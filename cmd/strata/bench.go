package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-storage/strata/internal/bench"
)

type benchFlags struct {
	largeSize, smallSize sizeValue
	largeCount           int
	smallCount           int
	conc, largeConc      intsValue
	json, quiet          bool
}

func (f *benchFlags) define(fs *flag.FlagSet) {
	f.largeSize, f.smallSize = 64<<20, 4<<10
	f.conc, f.largeConc = intsValue{1, 8, 32}, intsValue{1, 4}
	fs.Var(&f.largeSize, "large-size", "size of the large objects (such as 64MiB; 0 skips them)")
	fs.IntVar(&f.largeCount, "large-count", 4, "large objects written and read at each large concurrency (0 skips them)")
	fs.Var(&f.largeConc, "large-concurrency", "comma-separated numbers of large transfers at the same time")
	fs.Var(&f.smallSize, "small-size", "size of the small objects (8 bytes to 64MiB)")
	fs.IntVar(&f.smallCount, "small-count", 500, "small objects written, read and deleted at each concurrency (0 skips them)")
	fs.Var(&f.conc, "concurrency", "comma-separated numbers of small operations at the same time")
	fs.BoolVar(&f.json, "json", false, "print the results as JSON lines")
	fs.BoolVar(&f.quiet, "q", false, "quiet: print the table only")
}

var benchCommand = &command{
	name:    "bench",
	args:    "URL [--large-size S] [--large-count N] [--small-size S] [--small-count N] [--concurrency 1,8,32] [--json]",
	summary: "Measure a location: large-object throughput, small-object ops/s and latency.",
	details: `
The standard workload writes and reads large objects (4 x 64 MiB, one at a
time and 4 at a time), then writes, reads and deletes small ones (500 x 4 KiB
at concurrencies 1, 8 and 32), and prints a table of operations per second,
MiB/s and latency percentiles. Everything goes under a fresh prefix
strata-bench/<random>/, deleted at the end, also after an error or Ctrl-C.
A local directory must already exist. --large-size 0 or --large-count 0
skips the large objects, --small-count 0 the small ones; a measurement
that failed prints no row.`,
	examples: []string{
		"strata bench 's3://media-bucket?region=eu-central-1'",
		"strata bench file:///var/lib/synapse/media_store",
		"strata bench minio://127.0.0.1:9000/media --large-size 0 --concurrency 1,16,64",
	},
	minPos:   1,
	maxPos:   1,
	newFlags: flagsOf[benchFlags],
	run:      runBench,
}

// Bounds of bench's flags. A count costs memory per operation (its key and
// latency), each small object in flight is held in memory, and a large one
// is generated as it is sent.
const (
	maxBenchCount       = 1_000_000
	maxBenchConcurrency = 1000
	minSmallSize        = 8 // each small object starts with its index
	maxSmallSize        = 64 << 20
	maxSmallInFlight    = 1 << 30 // small size times the highest concurrency
	maxLargeSize        = 5 << 40 // the largest object S3 takes
)

// check returns what is wrong with the flags, or nil: every value is
// either honoured as given or refused, none silently replaced.
func (f *benchFlags) check() error {
	count := func(name string, n int) error {
		if n < 0 || n > maxBenchCount {
			return fmt.Errorf("--%s %d: want 0 (skip) to %d", name, n, maxBenchCount)
		}
		return nil
	}
	if err := count("large-count", f.largeCount); err != nil {
		return err
	}
	if err := count("small-count", f.smallCount); err != nil {
		return err
	}
	if f.largeSize > maxLargeSize {
		return fmt.Errorf("--large-size %s: want at most %s", humanBytes(int64(f.largeSize)), humanBytes(maxLargeSize))
	}
	if f.smallSize < minSmallSize || f.smallSize > maxSmallSize {
		return fmt.Errorf("--small-size %s: want %d bytes to %s", humanBytes(int64(f.smallSize)), minSmallSize, humanBytes(maxSmallSize))
	}
	for name, l := range map[string]intsValue{"concurrency": f.conc, "large-concurrency": f.largeConc} {
		for _, n := range l {
			if n > maxBenchConcurrency {
				return fmt.Errorf("--%s %d: want at most %d", name, n, maxBenchConcurrency)
			}
		}
	}
	if inFlight := int64(f.smallSize) * int64(slices.Max(f.conc)); f.smallCount > 0 && inFlight > maxSmallInFlight {
		return fmt.Errorf("--small-size %s at --concurrency %d holds %s in memory: want at most %s",
			humanBytes(int64(f.smallSize)), slices.Max(f.conc), humanBytes(inFlight), humanBytes(maxSmallInFlight))
	}
	if (f.largeSize == 0 || f.largeCount == 0) && f.smallCount == 0 {
		return errors.New("nothing to measure: the large objects and the small ones are both skipped")
	}
	return nil
}

func runBench(ctx context.Context, e *env, in *invocation) int {
	f := in.flags.(*benchFlags)
	if err := f.check(); err != nil {
		return fail(e, exitError, "bench: %v; run 'strata help bench'", err)
	}
	s, status, ok := in.open(ctx, e)
	if !ok {
		return status
	}
	defer s.close()
	cfg := bench.Config{
		LargeSize: int64(f.largeSize), LargeCount: f.largeCount, LargeConcurrency: f.largeConc,
		SmallSize: int64(f.smallSize), SmallCount: f.smallCount, Concurrency: f.conc,
	}
	cfg.SkipLarge = f.largeSize == 0 || f.largeCount == 0
	cfg.SkipSmall = f.smallCount == 0
	if !f.quiet && !f.json {
		cfg.OnPhase = func(op string, size int64, conc, n int) {
			fmt.Fprintf(e.stderr, "bench: %s %d x %s, %d at a time\n", op, n, humanBytes(size), conc)
		}
	}
	res, err := bench.Run(s.ctx, s.p, cfg)
	printBench(e.stdout, f.json, res)
	if err != nil {
		return s.failed(err)
	}
	return exitOK
}

type benchJSON struct {
	Type        string  `json:"type"`
	Op          string  `json:"op"`
	Size        int64   `json:"size"`
	Concurrency int     `json:"concurrency"`
	Ops         int     `json:"ops"`
	ElapsedS    float64 `json:"elapsed_s"`
	OpsPerS     float64 `json:"ops_per_s"`
	BytesPerS   float64 `json:"bytes_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P90ms       float64 `json:"p90_ms"`
	P99ms       float64 `json:"p99_ms"`
}

func printBench(w io.Writer, asJSON bool, res []bench.Result) {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, r := range res {
			_ = enc.Encode(benchJSON{Type: "bench", Op: r.Op, Size: r.Size, Concurrency: r.Concurrency, Ops: r.Ops,
				ElapsedS: round3(r.Elapsed.Seconds()), OpsPerS: round3(r.OpsPerSec()), BytesPerS: round3(r.BytesPerSec()),
				P50ms: ms(r.P50), P90ms: ms(r.P90), P99ms: ms(r.P99)})
		}
		return
	}
	if len(res) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "OP\tSIZE\tCONC\tOPS\tOPS/S\tMiB/S\tP50\tP90\tP99\t")
	for _, r := range res {
		mib := "-"
		if r.Op != "DELETE" {
			mib = fmt.Sprintf("%.1f", r.BytesPerSec()/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", r.Op, humanBytes(r.Size), r.Concurrency, r.Ops,
			r.OpsPerSec(), mib, latency(r.P50), latency(r.P90), latency(r.P99))
	}
	_ = tw.Flush()
}

func ms(d time.Duration) float64 { return round3(d.Seconds() * 1000) }

// latency formats d for the table: "850µs", "12.3ms", "1.52s".
func latency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", d.Seconds()*1000)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// sizeValue is a flag.Value for byte sizes: 4096, 32KiB, 64MiB, 1GiB, 1TiB, 10MB.
type sizeValue int64

func (s *sizeValue) String() string {
	if s == nil {
		return "0"
	}
	return humanBytes(int64(*s))
}

func (s *sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeValue(n)
	return nil
}

func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (want such as 4096, 32KiB, 64MiB)", v)
	}
	return n * mult, nil
}

// intsValue is a flag.Value for a comma-separated list of positive
// integers.
type intsValue []int

func (l *intsValue) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, n := range *l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (l *intsValue) Set(v string) error {
	var out []int
	for part := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return fmt.Errorf("invalid list %q (want positive numbers such as 1,8,32)", v)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}
