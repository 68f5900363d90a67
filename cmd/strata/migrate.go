package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/internal/migrate"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

type migrateFlags struct {
	out        outputFlags
	workers    int
	delete     bool
	dryRun     bool
	olderThan  durationValue
	prefix     string
	journal    string
	noJournal  bool
	ctFromName bool
}

func (f *migrateFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&f.workers, "workers", migrate.DefaultWorkers(), "number of objects transferred at the same time")
	fs.BoolVar(&f.delete, "delete", false, "delete each source object once its copy at DST is verified (size and SHA-256)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "compare and report what would be copied and deleted; change nothing")
	fs.Var(&f.olderThan, "older-than", "only objects last modified at least `DURATION` ago (such as 30d, 12h, 90m)")
	fs.StringVar(&f.prefix, "prefix", "", "only keys starting with this prefix (such as local_content/)")
	fs.StringVar(&f.journal, "journal", "", "the `FILE` that remembers what was sent, so a re-run skips it without a request per object (default: one per SRC and DST under $XDG_STATE_HOME/strata)")
	fs.BoolVar(&f.ctFromName, "content-type-from-name", false, "give objects stored without a content type the one their name's extension says (.png: image/png), as Zulip's uploads need")
	fs.BoolVar(&f.noJournal, "no-journal", false, "keep no journal: a re-run compares objects already at DST by checksum (a Stat each)")
	f.out.define(fs)
}

var migrateCommand = &command{
	name:    "migrate",
	args:    "SRC DST [--delete] [--dry-run] [--older-than D] [flags]",
	summary: "Copy every object of SRC to DST under the same key, resumably.",
	details: `
Every object of SRC is copied to DST under the same key: a Synapse
media_store directory becomes keys equal to its relative paths
(local_content/ab/cd/efgh...), the layout s3_media_upload produces.

Run it again after an interruption: it lists DST once, skips every object
already there with the same size and SHA-256, and sends only what is missing
or changed. A journal under $XDG_STATE_HOME/strata (or ~/.local/state/strata)
remembers the ETags of what was sent, so a re-run skips those objects with no
request per object; without it (--no-journal, or a journal lost), objects
already at DST are compared by checksum, one Stat each. A file's ETag is its
inode, size and modification time: the journal misses a file rewritten in
place with its time set back (touch -r, rsync --inplace); --no-journal or
'strata verify' finds it.

With --delete, a source object is deleted only when its bytes, read in this
run, equal its copy at DST: the object is hashed as it is sent, or, when it
is already there, read and hashed whatever the journal says; then a Stat of
the copy must show the same size and SHA-256 (a copy with no SHA-256 is read
back). An object that differs is sent again first; an object with any error
is never deleted.

A store that cannot hold both "a" and "a/b" (MinIO) checks each key for
such a neighbour with requests of its own. When DST is s3:// or minio://
and its URL does not set prefix_check, migrate opens it a second time with
prefix_check=false and writes through it the keys its listings show free
of conflicts; the others still go through the check.

A destination that refuses writes for a lasting reason (permission denied, a
read-only file system, no such bucket, no space left) stops the migration
after 5 such failures in a row; transient errors never do.

Ctrl-C stops taking new objects and lets those in flight finish, then says
how to resume; a second Ctrl-C aborts the objects in flight and exits.

migrate runs its Go code on half the CPUs (at least one): copying is mostly
waiting, and on a machine it shares with a server or a media server the rest
is theirs. GOMAXPROCS sets another number.

Exit status: 0 when every object was copied or already there, 1 when some
failed, 2 when the migration could not run or was stopped (bad location,
listing failed, destination refusing writes), 130 when interrupted.`,
	examples: []string{
		"strata migrate /var/lib/synapse/media_store 's3://media-bucket?region=eu-central-1'",
		"strata migrate file:///srv/media minio://minio.internal:9000/media --workers 32",
		"strata migrate file:///srv/media b2://media --older-than 30d --delete",
		"strata migrate file:///srv/media s3://media --prefix local_thumbnails/ --dry-run",
		"strata migrate file:///srv/media s3://media --json -q > summary.json",
	},
	minPos:   2,
	maxPos:   2,
	newFlags: flagsOf[migrateFlags],
	run:      runMigrate,
}

func runMigrate(ctx context.Context, e *env, in *invocation) int {
	f, pos := in.flags.(*migrateFlags), in.pos
	if f.workers < 1 {
		return badWorkers(e, "migrate")
	}
	srcURL, err := locationURL(pos[0])
	if err != nil {
		return fail(e, exitError, "migrate: %v", err)
	}
	dstURL, err := locationURL(pos[1])
	if err != nil {
		return fail(e, exitError, "migrate: %v", err)
	}
	if sameOrNested(srcURL, dstURL) {
		return fail(e, exitError, "migrate: source %s and destination %s are the same place or one is inside the other",
			storage.RedactString(srcURL), storage.RedactString(dstURL))
	}

	if e.procs != nil {
		e.procs(migrateProcs())
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	openDst := dstURL
	if f.dryRun && mustExist(dstURL) != nil {
		// A dry run changes nothing, so it does not create a missing
		// directory either: it compares with an empty destination.
		openDst = "mem://"
	}
	src, dst, status, ok := openSrcDst(ctx, e, "migrate", srcURL, openDst)
	if !ok {
		return status
	}
	defer src.Close()
	defer dst.Close()

	var journal migrate.Journal
	if !f.noJournal {
		path := f.journal
		if path == "" {
			path = defaultJournalPath(srcURL, dstURL)
		}
		if path != "" {
			j, err := openJournal(path, f.dryRun)
			if err != nil {
				return fail(e, exitError, "migrate: %v (or run with --no-journal)", err)
			}
			if j != nil {
				defer j.Close()
				journal = j
			}
		}
	}

	mode := f.out.mode(e)
	var running atomic.Pointer[migrate.Migrator] // set once the Migrator exists
	prog := startProgress(e, mode, "migrate", f.out.interval, func() snapshot {
		m := running.Load()
		if m == nil {
			return snapshot{}
		}
		s := m.Stats()
		return snapshot{Objects: s.Done(), TotalObjects: s.Total, Bytes: s.DoneBytes(), TotalBytes: s.TotalBytes, TotalKnown: s.TotalKnown,
			Sent: s.Streamed, RateOfSent: true}
	})
	log := newLogger(prog, &f.out)
	out := &objectPrinter{w: e.stdout, json: f.out.json, dryRun: f.dryRun, quiet: f.out.quiet}
	var onObject func(migrate.Event)
	switch {
	case f.dryRun:
		onObject = out.print
	case log.Enabled(ctx, slog.LevelDebug):
		onObject = func(ev migrate.Event) {
			if ev.Action != migrate.Failed {
				log.Debug(ev.Action.String(), "key", ev.Key, "size", ev.Size, "reason", ev.Reason, "deleted", ev.Deleted)
			}
		}
	}
	var unchecked storage.Provider
	if !f.dryRun {
		if unchecked = openUnchecked(ctx, dstURL, log); unchecked != nil {
			defer unchecked.Close()
		}
	}
	m := migrate.New(src, dst, &migrate.Options{
		Workers:             f.workers,
		Prefix:              f.prefix,
		OlderThan:           time.Duration(f.olderThan),
		Delete:              f.delete,
		DryRun:              f.dryRun,
		NoCount:             mode == progressNone,
		Journal:             journal,
		ContentTypeFromName: f.ctFromName,
		Logger:              log,
		OnObject:            onObject,
		Unchecked:           unchecked,
	})

	running.Store(m)

	interrupted := false
	stopSignals := onSignals(e, func() {
		interrupted = true
		m.Stop()
		fmt.Fprintf(prog, "strata: interrupted: finishing the objects in flight (Ctrl-C again to abort them now)\n")
	}, func() {
		fmt.Fprintf(prog, "strata: aborting the objects in flight\n")
		cancel()
		if e.exit != nil {
			// Transfers stop when their context ends; if one does not
			// within a moment, exit anyway.
			time.AfterFunc(abortGrace, func() { e.exit(exitInterrupted) })
		}
	})
	sum, runErr := m.Run(ctx)
	stopSignals()
	prog.Stop()
	interrupted = interrupted || sum.Stopped && ctx.Err() != nil

	res := migrateResult{Summary: sum, OK: runErr == nil && !interrupted && sum.Failed == 0, Ran: sum.Done() > 0 || sum.Excluded > 0}
	if runErr != nil && !interrupted {
		res.Err = fmt.Sprintf("%v%s", runErr, hint(runErr, whichURL(runErr, srcURL, dstURL)))
	}
	switch {
	case f.out.json:
		printMigrateSummary(e.stdout, true, srcURL, dstURL, res)
	case f.out.quiet, res.Err != "" && !res.Ran:
		// A migration that could not start has nothing to sum up: its
		// error says it all.
	default:
		printMigrateSummary(e.stdout, false, srcURL, dstURL, res)
	}
	switch {
	case res.Err != "":
		return fail(e, exitError, "migrate: %s", res.Err)
	case interrupted:
		fmt.Fprintf(e.stderr, "strata: stopped before the end; to resume, run the same command again:\n  strata migrate %s\n", shellArgs(in.args))
		return exitInterrupted
	case sum.Failed > 0:
		return fail(e, exitFailed, "migrate: %d objects failed and were left at the source; run the same command again to retry them", sum.Failed)
	}
	return exitOK
}

// migrateProcs is the number of CPUs a migration runs Go code on: half of
// those the process may use, at least one. A migration of small files
// spends most of its time waiting on the network, and with every CPU the Go
// scheduler spins between the many short requests: on two CPUs shared with
// MinIO, one cut the client's CPU per 32 KiB file by a quarter (0.44-0.49
// to 0.31-0.35 ms) at the same files/s; large files went as fast.
func migrateProcs() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// badWorkers reports a --workers flag below 1.
func badWorkers(e *env, cmd string) int {
	return fail(e, exitError, "%s: --workers must be at least 1", cmd)
}

// openSrcDst opens the source and the destination of cmd. On error it
// prints one line naming the side that failed and returns ok false with
// the exit status.
func openSrcDst(ctx context.Context, e *env, cmd, srcURL, dstURL string) (src, dst storage.Provider, status int, ok bool) {
	src, err := openExisting(ctx, srcURL)
	if err != nil {
		return nil, nil, fail(e, exitError, "%s: source: %v%s", cmd, err, hint(err, srcURL)), false
	}
	dst, err = openLocation(ctx, dstURL)
	if err != nil {
		_ = src.Close()
		return nil, nil, fail(e, exitError, "%s: destination: %v%s", cmd, err, hint(err, dstURL)), false
	}
	return src, dst, 0, true
}

// prefixCheckSchemes are the URL schemes whose drivers take the parameter
// prefix_check (auto, true or false): whether a Put first checks that the
// store holds no object under a parent of the key ("a" for "a/b") and none
// under the key as a prefix, for stores that cannot hold both.
var prefixCheckSchemes = []string{"s3", "minio"}

// uncheckedURL returns the destination URL of a migration with
// prefix_check=false added, and true, when its driver takes that parameter
// and the URL does not set it: the user's choice, whatever it is, is kept.
func uncheckedURL(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || !slices.ContainsFunc(prefixCheckSchemes, func(s string) bool { return strings.EqualFold(s, u.Scheme) }) {
		return "", false
	}
	if u.Query().Has("prefix_check") {
		return "", false
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "prefix_check=false"
	return u.String(), true
}

// openUnchecked opens the destination of a migration a second time, with
// prefix_check=false (see uncheckedURL), for the objects whose keys the
// migration's listings show free of prefix conflicts
// (migrate.Options.Unchecked): they need no requests to check them. It
// returns nil when the URL sets prefix_check or its driver has no such
// check, or when the store cannot be opened so (a driver that does not
// know the parameter): every object then goes through the destination as
// the user opened it, which checks those that need it.
func openUnchecked(ctx context.Context, dstURL string, log *slog.Logger) storage.Provider {
	u, ok := uncheckedURL(dstURL)
	if !ok {
		return nil
	}
	p, err := storage.Open(ctx, u)
	if err != nil {
		log.Debug("every object goes through the destination's own prefix check: it cannot be opened without it", "err", err)
		return nil
	}
	log.Debug("objects whose keys the listings show free of prefix conflicts are written without the destination's check", "destination", storage.RedactString(u))
	return p
}

// abortGrace is how long a second Ctrl-C waits for the transfers in flight
// to stop before the process exits regardless.
const abortGrace = 3 * time.Second

// objectPrinter prints the objects of a dry run, one line each.
type objectPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	json   bool
	dryRun bool
	quiet  bool
}

type objectJSON struct {
	Type   string `json:"type"`
	Action string `json:"action"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Reason string `json:"reason,omitempty"`
	Delete bool   `json:"delete,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (p *objectPrinter) print(ev migrate.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		j := objectJSON{Type: "object", Action: ev.Action.String(), Key: ev.Key, Size: ev.Size, Reason: ev.Reason, Delete: ev.Deleted, DryRun: p.dryRun}
		if p.dryRun && ev.Action == migrate.Copied {
			j.Action = "copy"
		}
		if ev.Err != nil {
			j.Error = ev.Err.Error()
		}
		_ = json.NewEncoder(p.w).Encode(j)
		return
	}
	if p.quiet {
		return
	}
	switch ev.Action {
	case migrate.Copied:
		fmt.Fprintf(p.w, "would copy %s (%s, %s)\n", ev.Key, humanBytes(ev.Size), ev.Reason)
	case migrate.Skipped:
		// Already there: nothing to say unless it is to be deleted.
	case migrate.Failed:
		// Logged on stderr.
	}
	if ev.Deleted {
		fmt.Fprintf(p.w, "would delete source %s\n", ev.Key)
	}
}

type migrateSummaryJSON struct {
	Type        string `json:"type"`
	Command     string `json:"command"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	DryRun      bool   `json:"dry_run"`
	// OK is true when the exit status is 0: every object was dealt with.
	OK bool `json:"ok"`
	// Ran is false when the migration could not start: no object was
	// looked at.
	Ran bool `json:"ran"`
	// Error says why the migration could not start or stopped before the
	// end, when it did.
	Error        string  `json:"error,omitempty"`
	Stopped      bool    `json:"stopped"`
	Copied       int64   `json:"copied"`
	CopiedBytes  int64   `json:"copied_bytes"`
	Skipped      int64   `json:"skipped"`
	SkippedBytes int64   `json:"skipped_bytes"`
	Failed       int64   `json:"failed"`
	FailedBytes  int64   `json:"failed_bytes"`
	Aborted      int64   `json:"aborted"`
	Deleted      int64   `json:"deleted"`
	Excluded     int64   `json:"excluded"`
	ChangeLog    int64   `json:"change_log,omitempty"`
	JournalHits  int64   `json:"journal_hits"`
	DstStats     int64   `json:"dst_stats"`
	HashedBytes  int64   `json:"hashed_bytes"`
	ElapsedS     float64 `json:"elapsed_s"`
	ObjectsPerS  float64 `json:"objects_per_s"`
	BytesPerS    float64 `json:"bytes_per_s"`
}

// migrateResult is what the summary of a migration reports.
type migrateResult struct {
	migrate.Summary
	// OK: every object was dealt with (exit status 0).
	OK bool
	// Ran: at least one object was looked at.
	Ran bool
	// Err is why the migration could not start or stopped early, or "".
	Err string
}

func printMigrateSummary(w io.Writer, asJSON bool, srcURL, dstURL string, res migrateResult) {
	sum := res.Summary
	secs := max(sum.Elapsed.Seconds(), 1e-9)
	if asJSON {
		j := migrateSummaryJSON{
			Type: "summary", Command: "migrate",
			Source: storage.RedactString(srcURL), Destination: storage.RedactString(dstURL),
			DryRun: sum.DryRun, OK: res.OK, Ran: res.Ran, Error: res.Err, Stopped: sum.Stopped,
			Copied: sum.Copied, CopiedBytes: sum.CopiedBytes,
			Skipped: sum.Skipped, SkippedBytes: sum.SkippedBytes,
			Failed: sum.Failed, FailedBytes: sum.FailedBytes, Aborted: sum.Aborted,
			Deleted: sum.Deleted, Excluded: sum.Excluded, ChangeLog: sum.ChangeLog,
			JournalHits: sum.JournalHits, DstStats: sum.DstStats, HashedBytes: sum.HashedBytes,
			ElapsedS: round3(sum.Elapsed.Seconds()),
		}
		if !sum.DryRun {
			// A dry run sends nothing: it has no throughput.
			j.ObjectsPerS = round3(float64(sum.Copied) / secs)
			j.BytesPerS = round3(float64(sum.CopiedBytes) / secs)
		}
		_ = json.NewEncoder(w).Encode(j)
		return
	}
	copied, deleted := "copied", "deleted"
	if sum.DryRun {
		copied, deleted = "to copy", "to delete"
		fmt.Fprintln(w, "dry run: nothing was changed")
	}
	fmt.Fprintf(w, "%-9s %8d objects  %s\n", copied+":", sum.Copied, humanBytes(sum.CopiedBytes))
	fmt.Fprintf(w, "%-9s %8d objects  %s (already at destination)\n", "skipped:", sum.Skipped, humanBytes(sum.SkippedBytes))
	fmt.Fprintf(w, "%-9s %8d objects  %s", "failed:", sum.Failed, humanBytes(sum.FailedBytes))
	switch {
	case sum.Failed == 0:
	case sum.Aborted == sum.Failed:
		fmt.Fprint(w, " (aborted in flight; kept at the source)")
	case sum.Aborted > 0:
		fmt.Fprintf(w, " (kept at the source; %d aborted in flight, the others logged above)", sum.Aborted)
	default:
		fmt.Fprint(w, " (kept at the source; see the errors above)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-9s %8d source objects\n", deleted+":", sum.Deleted)
	if sum.Excluded > 0 {
		fmt.Fprintf(w, "%-9s %8d objects newer than --older-than\n", "excluded:", sum.Excluded)
	}
	if sum.ChangeLog > 0 {
		fmt.Fprintf(w, "%-9s %8d entries of a tiered store's change log (%s), not objects\n", "left out:", sum.ChangeLog, tiered.ChangesPrefix)
	}
	if sum.DryRun {
		fmt.Fprintf(w, "elapsed %s\n", sum.Elapsed.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "elapsed %s, %.1f objects/s, %s/s\n", sum.Elapsed.Round(time.Millisecond),
			float64(sum.Copied)/secs, humanBytes(int64(float64(sum.CopiedBytes)/secs)))
	}
	if res.Err != "" {
		fmt.Fprintln(w, "stopped before the end by the error below: run the same command again once it is mended")
	}
}

// whichURL picks the URL an error of the engine is about: the
// destination's when it says so.
func whichURL(err error, src, dst string) string {
	if strings.Contains(err.Error(), "destination") {
		return dst
	}
	return src
}

// defaultJournalPath returns where the journal of a migration from src to
// dst lives: $XDG_STATE_HOME/strata/migrate-<hash>.journal (or under
// ~/.local/state), the hash taken of both URLs with secrets redacted. It
// returns "" when there is no home directory.
func defaultJournalPath(src, dst string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil || home == "" {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	h := sha256.Sum256([]byte(storage.RedactString(src) + "\n" + storage.RedactString(dst)))
	return filepath.Join(dir, "strata", "migrate-"+hex.EncodeToString(h[:8])+".journal")
}

// openJournal opens the journal at path. A dry run writes nothing, so it
// uses a journal only when one is already there.
func openJournal(path string, dryRun bool) (*migrate.FileJournal, error) {
	if dryRun {
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	return migrate.OpenJournal(path)
}

// shellArgs quotes args for a shell, with secrets in URLs redacted.
func shellArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if red := storage.RedactString(a); strings.Contains(a, ":") && strings.Contains(red, "xxxxx") {
			a = red
		}
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// onSignals calls first on the first SIGINT or SIGTERM and second on the
// next one, until the returned stop function is called.
func onSignals(e *env, first, second func()) (stop func()) {
	if e.signals == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		n := 0
		for {
			select {
			case <-done:
				return
			case <-e.signals:
				n++
				if n == 1 {
					first()
				} else {
					second()
					return
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// durationValue is a flag.Value for durations that also takes days ("30d")
// and weeks ("2w").
type durationValue time.Duration

func (d *durationValue) String() string {
	if d == nil || *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}

func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = durationValue(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("invalid duration %q (want such as 30d, 12h, 90m)", s)
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*float64(unit) > math.MaxInt64 {
				return 0, bad
			}
			return time.Duration(v * float64(unit)), nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, bad
	}
	return v, nil
}
