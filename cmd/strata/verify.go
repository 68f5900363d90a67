package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/internal/migrate"
	"github.com/strata-storage/strata/storage"
)

type verifyFlags struct {
	out      outputFlags
	workers  int
	prefix   string
	sizeOnly bool
}

func (f *verifyFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&f.workers, "workers", migrate.DefaultWorkers(), "number of objects compared at the same time")
	fs.StringVar(&f.prefix, "prefix", "", "only keys starting with this prefix")
	fs.BoolVar(&f.sizeOnly, "size-only", false, "compare sizes from the listings only; read no object")
	f.out.define(fs)
}

var verifyCommand = &command{
	name:    "verify",
	args:    "SRC DST [--prefix P] [--size-only] [--workers N] [--json] [-q]",
	summary: "Report objects of SRC missing or different at DST (size and SHA-256).",
	details: `
Every object of SRC is looked up at DST under the same key and compared: size,
then SHA-256 (from the listing or a Stat when the store keeps it, else by
reading the object). Each difference is printed on stdout, one line each:
"missing KEY", "size KEY ...", "checksum KEY ...". Objects only at DST are
counted, not reported as differences.

Exit status: 0 when every object matches, 1 when some are missing or differ,
2 on errors (a bad location, a listing that failed, an object that could not
be read), 130 when interrupted.`,
	examples: []string{
		"strata verify /var/lib/synapse/media_store 's3://media-bucket?region=eu-central-1'",
		"strata verify file:///srv/media minio://minio.internal:9000/media --prefix local_content/",
		"strata verify file:///srv/media b2://media --size-only -q && echo all there",
	},
	minPos:   2,
	maxPos:   2,
	newFlags: flagsOf[verifyFlags],
	run:      runVerify,
}

func runVerify(ctx context.Context, e *env, in *invocation) int {
	f, pos := in.flags.(*verifyFlags), in.pos
	if f.workers < 1 {
		return badWorkers(e, "verify")
	}
	// verify only reads: neither side may be a local directory it would
	// create, the destination included.
	for i, side := range []string{"source", "destination"} {
		u, err := locationURL(pos[i])
		if err != nil {
			return fail(e, exitError, "verify: %v", err)
		}
		if err := mustExist(u); err != nil {
			return fail(e, exitError, "verify: %s: %v", side, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src, dst, status, ok := openSrcDst(ctx, e, "verify", pos[0], pos[1])
	if !ok {
		return status
	}
	defer src.Close()
	defer dst.Close()

	mode := f.out.mode(e)
	res := new(migrate.VerifyResult)
	var total, totalBytes atomic.Int64
	var totalKnown atomic.Bool
	var wg sync.WaitGroup
	countCtx, stopCount := context.WithCancel(ctx)
	if mode != progressNone {
		wg.Go(func() {
			for info, err := range src.List(countCtx, &storage.ListOptions{Prefix: f.prefix}) {
				if err != nil {
					return
				}
				total.Add(1)
				totalBytes.Add(info.Size)
			}
			totalKnown.Store(true)
		})
	}
	prog := startProgress(e, mode, "verify", f.out.interval, func() snapshot {
		return snapshot{Objects: res.Checked.Load(), TotalObjects: total.Load(), Bytes: res.Bytes.Load(),
			TotalBytes: totalBytes.Load(), TotalKnown: totalKnown.Load()}
	})
	log := newLogger(prog, &f.out)
	var outMu sync.Mutex
	interrupted := false
	stopSignals := onSignals(e, func() { interrupted = true; cancel() }, func() { cancel() })
	_, runErr := migrate.Verify(ctx, src, dst, &migrate.VerifyOptions{
		Workers: f.workers, Prefix: f.prefix, SizeOnly: f.sizeOnly, Logger: log, Progress: res,
		OnDiff: func(d migrate.Diff) {
			if d.Kind == migrate.CompareError {
				return // logged
			}
			outMu.Lock()
			defer outMu.Unlock()
			printDiff(e.stdout, f.out.json, d)
		},
	})
	stopSignals()
	stopCount()
	wg.Wait()
	prog.Stop()

	if !f.out.quiet || f.out.json {
		printVerifySummary(e.stdout, f.out.json, res, runErr, interrupted)
	}
	switch {
	case interrupted:
		fmt.Fprintln(e.stderr, "strata: verify interrupted; the counts above cover only the objects compared")
		return exitInterrupted
	case runErr != nil:
		return fail(e, exitError, "verify: %v%s", runErr, hint(runErr, whichURL(runErr, pos[0], pos[1])))
	case res.Errors.Load() > 0:
		return fail(e, exitError, "verify: %d objects could not be compared", res.Errors.Load())
	case !res.OK():
		return fail(e, exitFailed, "verify: %d missing and %d different at the destination", res.Missing.Load(), res.Different.Load())
	}
	return exitOK
}

type diffJSON struct {
	Type      string `json:"type"`
	Diff      string `json:"diff"`
	Key       string `json:"key"`
	SrcSize   int64  `json:"src_size"`
	DstSize   int64  `json:"dst_size,omitempty"`
	SrcSHA256 string `json:"src_sha256,omitempty"`
	DstSHA256 string `json:"dst_sha256,omitempty"`
}

func printDiff(w io.Writer, asJSON bool, d migrate.Diff) {
	if asJSON {
		_ = json.NewEncoder(w).Encode(diffJSON{Type: "diff", Diff: d.Kind.String(), Key: d.Key,
			SrcSize: d.SrcSize, DstSize: d.DstSize, SrcSHA256: d.SrcSHA256, DstSHA256: d.DstSHA256})
		return
	}
	switch d.Kind {
	case migrate.Missing:
		fmt.Fprintf(w, "missing  %s (%d bytes)\n", d.Key, d.SrcSize)
	case migrate.SizeDiffers:
		fmt.Fprintf(w, "size     %s (source %d bytes, destination %d bytes)\n", d.Key, d.SrcSize, d.DstSize)
	case migrate.ChecksumDiffers:
		fmt.Fprintf(w, "checksum %s (source sha256 %s, destination %s)\n", d.Key, d.SrcSHA256, d.DstSHA256)
	}
}

type verifySummaryJSON struct {
	Type      string  `json:"type"`
	Command   string  `json:"command"`
	Checked   int64   `json:"checked"`
	Bytes     int64   `json:"bytes"`
	Matched   int64   `json:"matched"`
	Missing   int64   `json:"missing"`
	Different int64   `json:"different"`
	Errors    int64   `json:"errors"`
	Extra     int64   `json:"extra"`
	ElapsedS  float64 `json:"elapsed_s"`
	// OK is true only when the whole comparison ran and found every
	// object at the destination.
	OK bool `json:"ok"`
	// Interrupted and Error say why a comparison did not finish; the
	// counts then cover only the objects compared.
	Interrupted bool   `json:"interrupted,omitempty"`
	Error       string `json:"error,omitempty"`
}

// printVerifySummary prints the counts of r. runErr is the error that
// stopped the comparison, interrupted tells a Ctrl-C: either way the
// summary says it did not finish, and never "ok".
func printVerifySummary(w io.Writer, asJSON bool, r *migrate.VerifyResult, runErr error, interrupted bool) {
	if asJSON {
		j := verifySummaryJSON{Type: "summary", Command: "verify",
			Checked: r.Checked.Load(), Bytes: r.Bytes.Load(), Matched: r.Matched.Load(), Missing: r.Missing.Load(),
			Different: r.Different.Load(), Errors: r.Errors.Load(), Extra: r.Extra.Load(),
			ElapsedS: round3(r.Elapsed.Seconds()), Interrupted: interrupted,
			OK: r.OK() && runErr == nil && !interrupted}
		if runErr != nil && !interrupted {
			j.Error = runErr.Error()
		}
		_ = json.NewEncoder(w).Encode(j)
		return
	}
	switch {
	case interrupted:
		fmt.Fprint(w, "interrupted: ")
	case runErr != nil:
		fmt.Fprint(w, "stopped by an error: ")
	}
	fmt.Fprintf(w, "checked %d objects (%s) in %s: %d match, %d missing, %d different, %d errors; %d only at the destination\n",
		r.Checked.Load(), humanBytes(r.Bytes.Load()), r.Elapsed.Round(time.Millisecond), r.Matched.Load(),
		r.Missing.Load(), r.Different.Load(), r.Errors.Load(), r.Extra.Load())
}
