package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/internal/migrate"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

type offloadFlags struct {
	out         outputFlags
	workers     int
	olderThan   durationValue
	keepLocal   bool
	skipMissing bool
	dryRun      bool
}

func (f *offloadFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&f.workers, "workers", migrate.DefaultWorkers(), "number of cache entries checked and uploaded at the same time")
	fs.Var(&f.olderThan, "older-than", "drop only the local copies not read for at least `DURATION` (such as 30d, 12h); the others are uploaded if needed and kept")
	fs.BoolVar(&f.keepLocal, "keep-local", false, "upload what the remote lacks, but drop no verified local copy")
	fs.BoolVar(&f.skipMissing, "skip-missing", false, "leave alone the local copies already uploaded once that the remote no longer has, instead of uploading them again (set it when other processes delete from the same remote)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "compare with the remote and report what would be uploaded and dropped; change nothing")
	f.out.define(fs)
}

var offloadCommand = &command{
	name:    "offload",
	args:    "CACHE_DIR REMOTE [--older-than DURATION] [--keep-local] [--skip-missing] [--dry-run] [--workers N] [--json] [-q]",
	summary: "Upload what only a tiered store's cache holds, then drop verified local copies.",
	details: `
CACHE_DIR is the cache directory of a tiered store (package tiered) and
REMOTE its remote, the same URL the server uses. For every object in the
cache, offload makes sure REMOTE holds the same content: it uploads the
pending uploads (objects written but not yet sent) and the objects the remote
does not have. It then drops the local copies, each only after a Stat of the
remote copy shows the same size and SHA-256; with --older-than only those not
read for that long, with --keep-local none. A local copy that differs from
the remote's is an older version another process replaced: it is dropped
(never uploaded), whatever the flags. Remote deletes still pending in the
cache's journal are sent too (for up to a minute; the rest stay pending).

The cache directory must not be open in another process: stop the server
that uses it first (or call Store.Offload from inside the server). A failed
object stays in the cache as it was.

Ctrl-C aborts the uploads in flight (nothing partial is left at REMOTE) and
stops; run the same command again to finish.

Exit status: 0 when every object is safe at REMOTE, 1 when some failed
(they are kept locally), 2 when offload could not run (bad location, cache
in use), 130 when interrupted.`,
	examples: []string{
		"strata offload /var/cache/strata 's3://media-bucket?region=eu-central-1'",
		"strata offload /var/cache/strata minio://minio.internal:9000/media --older-than 30d",
		"strata offload /var/cache/strata b2://media --keep-local --workers 16",
		"strata offload /var/cache/strata s3://media --dry-run",
		"strata offload /var/cache/strata s3://media --json -q > summary.json",
	},
	minPos:   2,
	maxPos:   2,
	newFlags: flagsOf[offloadFlags],
	run:      runOffload,
}

func runOffload(ctx context.Context, e *env, in *invocation) int {
	f, pos := in.flags.(*offloadFlags), in.pos
	if f.workers < 1 {
		return badWorkers(e, "offload")
	}
	if f.keepLocal && f.olderThan != 0 {
		return fail(e, exitError, "offload: --keep-local and --older-than do not go together: one drops no local copy, the other some")
	}
	dir, err := cacheDir(pos[0])
	if err != nil {
		return fail(e, exitError, "offload: %v", err)
	}
	remoteURL, err := locationURL(pos[1])
	if err != nil {
		return fail(e, exitError, "offload: %v", err)
	}
	if sameOrNested((&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String(), remoteURL) {
		return fail(e, exitError, "offload: the remote %s is the cache directory or inside it, or holds it", storage.RedactString(remoteURL))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	mode := f.out.mode(e)
	var (
		counts atomic.Pointer[tiered.OffloadResult]
		logW   = &lazyWriter{w: e.stderr}
		log    = newLogger(logW, &f.out)
	)

	// The remote first: a bad URL must not touch the cache.
	remote, err := openLocation(ctx, remoteURL)
	if err == nil {
		if err = probe(ctx, remote); err != nil {
			_ = remote.Close()
		}
	}
	if err != nil {
		return fail(e, exitError, "offload: remote: %v%s", err, hint(err, remoteURL))
	}
	c, err := cache.Open(dir, cache.Options{MaxBytes: noBound, EvictInterval: -1, Logger: log})
	if err != nil {
		_ = remote.Close()
		if errors.Is(err, cache.ErrLocked) {
			return fail(e, exitError, "offload: %v; stop the process using the cache first", err)
		}
		return fail(e, exitError, "offload: cache %s: %v", dir, err)
	}

	counts.Store(&tiered.OffloadResult{Total: c.Usage().Entries})
	sent := &countingRemote{Provider: remote}
	prog := startObjectProgress(e, mode, "offload", f.out.interval, func() snapshot {
		r := counts.Load()
		b := r.UploadedBytes
		if !f.dryRun {
			b = sent.bytes.Load()
		}
		return snapshot{Objects: r.Scanned, TotalObjects: r.Total, Bytes: b, TotalKnown: true, BytesLabel: "uploaded"}
	})
	logW.set(prog)

	interrupted := false
	stopSignals := onSignals(e, func() {
		interrupted = true
		cancel()
		fmt.Fprintf(prog, "strata: interrupted: aborting the uploads in flight\n")
	}, func() {
		if e.exit != nil {
			e.exit(exitInterrupted)
		}
	})
	idle := time.Duration(f.olderThan)
	if f.keepLocal {
		idle = -1
	}
	start := time.Now()
	var (
		res     tiered.OffloadResult
		runErr  error
		pending tiered.Status
	)
	// A dry run's store starts no uploader: it sends nothing, not even the
	// pending uploads it finds.
	uploaders := f.workers
	if f.dryRun {
		uploaders = -1
	}
	store, runErr := tiered.New(c, sent, tiered.Options{Uploaders: uploaders, Logger: log})
	if runErr != nil {
		_ = c.Close()
		_ = remote.Close()
		stopSignals()
		prog.Stop()
		return fail(e, exitError, "offload: %v", runErr)
	}
	oo := &tiered.OffloadOptions{
		IdleFor: idle, SkipMissing: f.skipMissing, Concurrency: f.workers, DryRun: f.dryRun,
		Progress: func(r tiered.OffloadResult) { counts.Store(&r) },
	}
	if f.dryRun {
		out := &objectPrinter{w: e.stdout, json: f.out.json, dryRun: true, quiet: f.out.quiet}
		oo.OnAction = out.printOffload
	}
	res, runErr = store.Offload(ctx, oo)
	if !f.dryRun {
		// The store's uploaders send the pending uploads it found as
		// Offload does: count what reached the remote either way.
		res.Uploaded, res.UploadedBytes = sent.puts.Load(), sent.bytes.Load()
		if runErr == nil {
			// Send the remote deletes left pending in the cache's journal
			// too; what does not go in time stays pending, safely.
			fctx, fcancel := context.WithTimeout(ctx, flushWait)
			_ = store.Flush(fctx)
			fcancel()
		}
		pending = store.Status()
	}
	if err := store.Close(); err != nil && runErr == nil {
		runErr = err
	}
	elapsed := time.Since(start)
	stopSignals()
	prog.Stop()
	interrupted = interrupted || ctx.Err() != nil

	for _, err := range entryErrors(res.Err) {
		if !errors.Is(err, context.Canceled) {
			log.Error("object failed; local copy kept", "err", err)
		}
	}
	if !f.out.quiet || f.out.json {
		printOffloadSummary(e.stdout, f.out.json, offloadSummary{
			OffloadResult: res, cache: dir, remote: remoteURL, keptWhy: keptWhy(f), dryRun: f.dryRun, stopped: interrupted,
			elapsed: elapsed, pendingUploads: pending.PendingUploads, pendingDeletes: pending.PendingDeletes,
		})
	}
	switch {
	case interrupted:
		fmt.Fprintf(e.stderr, "strata: stopped before the end; to finish, run the same command again:\n  strata offload %s\n", shellArgs(in.args))
		return exitInterrupted
	case res.Failed > 0:
		return fail(e, exitFailed, "offload: %d objects failed and were kept in the cache; run the same command again to retry them", res.Failed)
	case runErr != nil:
		return fail(e, exitFailed, "offload: %v%s", runErr, hint(runErr, remoteURL))
	}
	return exitOK
}

// keptWhy says why offload kept verified local copies.
func keptWhy(f *offloadFlags) string {
	switch {
	case f.keepLocal:
		return "--keep-local"
	case f.olderThan != 0:
		return "read within --older-than " + f.olderThan.String()
	}
	return "read while offload ran"
}

// noBound is the byte bound the cache is opened with: offload writes
// nothing to it, and a smaller bound than the server's would evict entries
// at once, some perhaps not yet safe at the remote.
const noBound = 1 << 62

// flushWait bounds the wait for remote deletes left pending in the cache.
const flushWait = time.Minute

// cacheDir returns the cache directory a command-line argument names (a
// path or a file:// URL), after checking that it is one.
func cacheDir(raw string) (string, error) {
	dir := raw
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil || !strings.EqualFold(u.Scheme, "file") || (u.Host != "" && u.Host != "localhost") {
			return "", fmt.Errorf("CACHE_DIR %s must be a local directory", storage.RedactString(raw))
		}
		dir = filepath.FromSlash(u.Path)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("cache directory %q: %w", raw, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "index"))
	if err != nil || !fi.IsDir() {
		if _, err := os.Stat(dir); err != nil {
			return "", fmt.Errorf("cache directory: %w", err)
		}
		return "", fmt.Errorf("%s is not a cache directory (it has no index/)", dir)
	}
	return dir, nil
}

// probe checks that p can be listed, which takes one request: a missing
// bucket or wrong credentials show at once, not as one failure per object.
func probe(ctx context.Context, p storage.Provider) error {
	for _, err := range p.List(ctx, nil) {
		return err
	}
	return nil
}

// lazyWriter writes to w until set gives it another writer: the logger
// exists before the progress display that owns stderr.
type lazyWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lazyWriter) set(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w = w
}

func (l *lazyWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	w := l.w
	l.mu.Unlock()
	return w.Write(b)
}

// countingRemote counts the objects stored through it and their bytes.
type countingRemote struct {
	storage.Provider
	puts, bytes atomic.Int64
}

func (c *countingRemote) Put(ctx context.Context, key string, r io.Reader, opts *storage.PutOptions) (storage.Info, error) {
	info, err := c.Provider.Put(ctx, key, r, opts)
	if err == nil {
		c.puts.Add(1)
		c.bytes.Add(info.Size)
	}
	return info, err
}

// entryErrors splits the joined errors of the failed entries.
func entryErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// printOffload prints one action of a dry run of offload.
func (p *objectPrinter) printOffload(a tiered.OffloadAction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		_ = json.NewEncoder(p.w).Encode(objectJSON{Type: "object", Action: a.Op, Key: a.Key, Size: a.Size, Reason: a.Reason, DryRun: p.dryRun})
		return
	}
	if p.quiet {
		return
	}
	if a.Reason != "" {
		fmt.Fprintf(p.w, "would %s %s (%s, %s)\n", a.Op, a.Key, humanBytes(a.Size), a.Reason)
		return
	}
	fmt.Fprintf(p.w, "would %s %s (%s)\n", a.Op, a.Key, humanBytes(a.Size))
}

// offloadSummary is what printOffloadSummary shows.
type offloadSummary struct {
	tiered.OffloadResult
	cache, remote                  string
	keptWhy                        string // why verified copies were kept
	dryRun, stopped                bool
	elapsed                        time.Duration
	pendingUploads, pendingDeletes int
}

type offloadSummaryJSON struct {
	Type           string  `json:"type"`
	Command        string  `json:"command"`
	Cache          string  `json:"cache"`
	Remote         string  `json:"remote"`
	DryRun         bool    `json:"dry_run"`
	Stopped        bool    `json:"stopped"`
	Entries        int64   `json:"entries"`
	Scanned        int64   `json:"scanned"`
	Uploaded       int64   `json:"uploaded"`
	UploadedBytes  int64   `json:"uploaded_bytes"`
	Verified       int64   `json:"verified"`
	Dropped        int64   `json:"dropped"`
	DroppedBytes   int64   `json:"dropped_bytes"`
	Kept           int64   `json:"kept"`
	Stale          int64   `json:"stale"`
	Missing        int64   `json:"missing"`
	Unverified     int64   `json:"unverified"`
	Failed         int64   `json:"failed"`
	PendingUploads int     `json:"pending_uploads"`
	PendingDeletes int     `json:"pending_deletes"`
	ElapsedS       float64 `json:"elapsed_s"`
	BytesPerS      float64 `json:"bytes_per_s"`
}

func printOffloadSummary(w io.Writer, asJSON bool, s offloadSummary) {
	secs := max(s.elapsed.Seconds(), 1e-9)
	kept := max(s.Verified-s.Dropped, 0)
	if asJSON {
		_ = json.NewEncoder(w).Encode(offloadSummaryJSON{
			Type: "summary", Command: "offload", Cache: s.cache, Remote: storage.RedactString(s.remote),
			DryRun: s.dryRun, Stopped: s.stopped, Entries: s.Total, Scanned: s.Scanned,
			Uploaded: s.Uploaded, UploadedBytes: s.UploadedBytes, Verified: s.Verified,
			Dropped: s.Dropped, DroppedBytes: s.DroppedBytes, Kept: kept, Stale: s.Stale,
			Missing: s.Missing, Unverified: s.Unverified, Failed: s.Failed,
			PendingUploads: s.pendingUploads, PendingDeletes: s.pendingDeletes,
			ElapsedS: round3(s.elapsed.Seconds()), BytesPerS: round3(float64(s.UploadedBytes) / secs),
		})
		return
	}
	uploaded, dropped, freed := "uploaded:", "dropped:", "freed"
	if s.dryRun {
		uploaded, dropped, freed = "to upload:", "to drop:", "to free"
		fmt.Fprintln(w, "dry run: nothing was changed")
	}
	fmt.Fprintf(w, "%-11s %8d objects  %s\n", uploaded, s.Uploaded, humanBytes(s.UploadedBytes))
	fmt.Fprintf(w, "%-11s %8d objects (same size and SHA-256 at the remote)\n", "verified:", s.Verified)
	fmt.Fprintf(w, "%-11s %8d local copies  %s %s\n", dropped, s.Dropped, humanBytes(s.DroppedBytes), freed)
	if kept > 0 {
		fmt.Fprintf(w, "%-11s %8d local copies (%s)\n", "kept:", kept, s.keptWhy)
	}
	for _, l := range []struct {
		label string
		n     int64
		what  string
	}{
		{"stale:", s.Stale, "local copies of an older version than the remote's, " + dropped[:len(dropped)-1]},
		{"missing:", s.Missing, "local copies the remote no longer has, left alone (--skip-missing)"},
		{"unverified:", s.Unverified, "objects kept locally: the remote reports no SHA-256 to compare with"},
	} {
		if l.n > 0 {
			fmt.Fprintf(w, "%-11s %8d %s\n", l.label, l.n, l.what)
		}
	}
	fmt.Fprintf(w, "%-11s %8d objects", "failed:", s.Failed)
	if s.Failed > 0 {
		fmt.Fprint(w, " (kept in the cache; see the errors above)")
	}
	fmt.Fprintln(w)
	if s.pendingUploads > 0 || s.pendingDeletes > 0 {
		fmt.Fprintf(w, "still pending: %d uploads, %d remote deletes (sent when the cache is next opened)\n", s.pendingUploads, s.pendingDeletes)
	}
	fmt.Fprintf(w, "elapsed %s, %d of %d entries checked", s.elapsed.Round(time.Millisecond), s.Scanned, s.Total)
	if !s.dryRun {
		fmt.Fprintf(w, ", %s/s uploaded", humanBytes(int64(float64(s.UploadedBytes)/secs)))
	}
	fmt.Fprintln(w)
}
