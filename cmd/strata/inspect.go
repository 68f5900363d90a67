package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/strata-storage/strata/storage"
)

// infoJSON is the JSON form of a storage.Info.
type infoJSON struct {
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	ModTime     *time.Time        `json:"mod_time,omitempty"`
	ETag        string            `json:"etag,omitempty"`
	SHA256      string            `json:"sha256,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
}

func toJSON(i storage.Info) infoJSON {
	j := infoJSON{Key: i.Key, Size: i.Size, ETag: i.ETag, SHA256: i.SHA256, ContentType: i.ContentType, Metadata: i.Metadata}
	if !i.ModTime.IsZero() {
		t := i.ModTime.UTC()
		j.ModTime = &t
	}
	return j
}

// interruptible returns a context cancelled by the first SIGINT or
// SIGTERM, and a function to call when done.
func interruptible(ctx context.Context, e *env) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := onSignals(e, cancel, cancel)
	return ctx, func() { stop(); cancel() }
}

// opFailed prints err for a command and returns the exit status: 130 when
// the command was interrupted, 1 otherwise.
func opFailed(ctx context.Context, e *env, cmd string, err error, rawURL string) int {
	if ctx.Err() != nil {
		return fail(e, exitInterrupted, "%s: interrupted", cmd)
	}
	return fail(e, exitFailed, "%s: %v%s", cmd, err, hint(err, rawURL))
}

// session is a command that works on one location, the first of its
// positional arguments, opened by invocation.open.
type session struct {
	e    *env
	name string
	// ctx ends on the first SIGINT or SIGTERM.
	ctx context.Context
	p   storage.Provider
	pos []string
	// stop releases the signal handler.
	stop func()
}

// open opens the location the first positional argument names, for a
// command that works on one; a local directory must exist. When ok is
// false the command returns status at once (the location was wrong);
// otherwise it calls close when done.
func (in *invocation) open(ctx context.Context, e *env) (s *session, status int, ok bool) {
	ctx, stop := interruptible(ctx, e)
	p, err := openExisting(ctx, in.pos[0])
	if err != nil {
		stop()
		return nil, fail(e, exitError, "%s: %v%s", in.cmd.name, err, hint(err, in.pos[0])), false
	}
	return &session{e: e, name: in.cmd.name, ctx: ctx, p: p, pos: in.pos, stop: stop}, 0, true
}

// close closes the location and releases the signal handler.
func (s *session) close() {
	_ = s.p.Close()
	s.stop()
}

// failed prints err of an operation on the location and returns the exit
// status, as opFailed.
func (s *session) failed(err error) int {
	return opFailed(s.ctx, s.e, s.name, err, s.pos[0])
}

// eachKey calls do for each key given after the location, the i-th key
// with i, and returns the exit status: 1 when some failed (each error
// printed), 130 at once when interrupted.
func (s *session) eachKey(do func(i int, key string) error) int {
	status := exitOK
	for i, key := range s.pos[1:] {
		if err := do(i, key); err != nil {
			status = s.failed(err)
			if s.ctx.Err() != nil {
				return status
			}
		}
	}
	return status
}

type lsFlags struct {
	long, json bool
}

func (f *lsFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&f.long, "long", false, "also print size, modification time and SHA-256 (or ETag)")
	fs.BoolVar(&f.long, "l", false, "short for --long")
	fs.BoolVar(&f.json, "json", false, "print one JSON object per object")
}

var lsCommand = &command{
	name:    "ls",
	args:    "URL [PREFIX] [--long] [--json]",
	summary: "List the keys of a location, or those starting with PREFIX.",
	details: `
Keys are printed one per line in key order. With --long, each line is
"SIZE  MODIFIED  SHA256-OR-ETAG  KEY", the size in bytes and the time in UTC.`,
	examples: []string{
		"strata ls file:///var/lib/synapse/media_store local_content/ab/",
		"strata ls 's3://media-bucket?region=eu-central-1' --long",
		"strata ls minio://127.0.0.1:9000/media --json | jq .size",
	},
	minPos:   1,
	maxPos:   2,
	newFlags: flagsOf[lsFlags],
	run:      runLs,
}

func runLs(ctx context.Context, e *env, in *invocation) int {
	f := in.flags.(*lsFlags)
	s, status, ok := in.open(ctx, e)
	if !ok {
		return status
	}
	defer s.close()
	opts := &storage.ListOptions{}
	if len(s.pos) == 2 {
		opts.Prefix = s.pos[1]
	}
	enc := json.NewEncoder(e.stdout)
	for info, err := range s.p.List(s.ctx, opts) {
		if err != nil {
			return s.failed(err)
		}
		switch {
		case f.json:
			if err := enc.Encode(toJSON(info)); err != nil {
				return exitFailed // stdout closed, as by "| head"
			}
		case f.long:
			sum := info.SHA256
			if sum == "" {
				sum = info.ETag
			}
			if sum == "" {
				sum = "-"
			}
			_, err = fmt.Fprintf(e.stdout, "%12d  %s  %s  %s\n", info.Size, info.ModTime.UTC().Format(time.RFC3339), sum, info.Key)
		default:
			_, err = fmt.Fprintln(e.stdout, info.Key)
		}
		if err != nil {
			return exitFailed
		}
	}
	return exitOK
}

type statFlags struct{ json bool }

func (f *statFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&f.json, "json", false, "print one JSON object per key")
}

var statCommand = &command{
	name:    "stat",
	args:    "URL KEY... [--json]",
	summary: "Print the size, times, checksums, content type and metadata of objects.",
	examples: []string{
		"strata stat file:///var/lib/synapse/media_store local_content/ab/cd/efghijklmnop",
		"strata stat 's3://media-bucket?region=eu-central-1' local_content/ab/cd/efgh --json",
	},
	minPos:   2,
	maxPos:   -1,
	newFlags: flagsOf[statFlags],
	run:      runStat,
}

func runStat(ctx context.Context, e *env, in *invocation) int {
	f := in.flags.(*statFlags)
	s, status, ok := in.open(ctx, e)
	if !ok {
		return status
	}
	defer s.close()
	return s.eachKey(func(i int, key string) error {
		info, err := s.p.Stat(s.ctx, key)
		if err != nil {
			return err
		}
		if f.json {
			_ = json.NewEncoder(e.stdout).Encode(toJSON(info))
			return nil
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "key:          %s\n", info.Key)
		fmt.Fprintf(e.stdout, "size:         %d (%s)\n", info.Size, humanBytes(info.Size))
		if !info.ModTime.IsZero() {
			fmt.Fprintf(e.stdout, "modified:     %s\n", info.ModTime.UTC().Format(time.RFC3339Nano))
		}
		fmt.Fprintf(e.stdout, "sha256:       %s\n", orDash(info.SHA256))
		fmt.Fprintf(e.stdout, "etag:         %s\n", orDash(info.ETag))
		fmt.Fprintf(e.stdout, "content-type: %s\n", orDash(info.ContentType))
		for _, k := range slices.Sorted(maps.Keys(info.Metadata)) {
			fmt.Fprintf(e.stdout, "metadata:     %s=%s\n", k, info.Metadata[k])
		}
		return nil
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type catFlags struct{ offset, length int64 }

func (f *catFlags) define(fs *flag.FlagSet) {
	fs.Int64Var(&f.offset, "offset", 0, "start reading at this byte")
	fs.Int64Var(&f.length, "length", 0, "read at most this many bytes (0: to the end)")
}

var catCommand = &command{
	name:    "cat",
	args:    "URL KEY [--offset N] [--length N]",
	summary: "Write an object (or a byte range of it) to stdout.",
	examples: []string{
		"strata cat file:///var/lib/synapse/media_store local_content/ab/cd/efghijklmnop > photo.jpg",
		"strata cat 's3://media-bucket?region=eu-central-1' local_content/ab/cd/efgh --length 16 | xxd",
	},
	minPos:   2,
	maxPos:   2,
	newFlags: flagsOf[catFlags],
	run:      runCat,
}

func runCat(ctx context.Context, e *env, in *invocation) int {
	f := in.flags.(*catFlags)
	if f.offset < 0 || f.length < 0 {
		return fail(e, exitError, "cat: --offset %d --length %d: neither may be negative (--length 0 reads to the end)", f.offset, f.length)
	}
	s, status, ok := in.open(ctx, e)
	if !ok {
		return status
	}
	defer s.close()
	var opts *storage.GetOptions
	if f.offset != 0 || f.length != 0 {
		opts = &storage.GetOptions{Range: &storage.Range{Offset: f.offset, Length: f.length}}
	}
	rc, _, err := s.p.Get(s.ctx, s.pos[1], opts)
	if err != nil {
		return s.failed(err)
	}
	defer rc.Close()
	if _, err := io.Copy(e.stdout, rc); err != nil {
		return s.failed(err)
	}
	return exitOK
}

type cpFlags struct {
	contentType string
	noClobber   bool
}

func (f *cpFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&f.contentType, "content-type", "", "content type to store (default: the source's)")
	fs.BoolVar(&f.noClobber, "n", false, "do not replace an object already at the destination")
}

var cpCommand = &command{
	name:    "cp",
	args:    "SRC-URL SRC-KEY DST-URL [DST-KEY] [--content-type T] [-n]",
	summary: "Copy one object, to the same key or to DST-KEY.",
	details: `
The object is streamed from SRC-URL to DST-URL with its content type and
metadata, and its SHA-256 checked on arrival. When both URLs are the same
store and it can copy on the server side, no bytes pass through strata.
SRC-URL "-" reads the object from stdin.`,
	examples: []string{
		"strata cp file:///srv/media local_content/ab/cd/efgh 's3://media-bucket?region=eu-central-1'",
		"strata cp minio://127.0.0.1:9000/media a/b minio://127.0.0.1:9000/media a/c",
		"curl -s https://example.org/logo.png | strata cp - logo.png file:///srv/media --content-type image/png",
	},
	minPos:   3,
	maxPos:   4,
	newFlags: flagsOf[cpFlags],
	run:      runCp,
}

func runCp(ctx context.Context, e *env, in *invocation) int {
	f, pos := in.flags.(*cpFlags), in.pos
	srcKey, dstKey := pos[1], pos[1]
	if len(pos) == 4 {
		dstKey = pos[3]
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	// The source first: a source that is not there must leave nothing
	// created at the destination.
	var src storage.Provider
	if pos[0] != "-" {
		var err error
		if src, err = openExisting(ctx, pos[0]); err != nil {
			return fail(e, exitError, "cp: source: %v", err)
		}
		defer src.Close()
	}
	dst, err := openLocation(ctx, pos[2])
	if err != nil {
		return fail(e, exitError, "cp: destination: %v", err)
	}
	defer dst.Close()

	var (
		r    io.Reader
		opts = &storage.PutOptions{ContentType: f.contentType, IfNotExists: f.noClobber}
		want storage.Info
	)
	if src == nil {
		r = e.stdin
	} else {
		srcURL, _ := locationURL(pos[0])
		dstURL, _ := locationURL(pos[2])
		if srcURL == dstURL && f.contentType == "" && !f.noClobber {
			// Within one store: a copy on the store's side when it can,
			// a Get and a Put through it otherwise.
			if _, err := storage.Copy(ctx, dst, dstKey, srcKey); err != nil {
				return opFailed(ctx, e, "cp", err, pos[2])
			}
			return exitOK
		}
		rc, info, err := src.Get(ctx, srcKey, nil)
		if err != nil {
			return opFailed(ctx, e, "cp", err, pos[0])
		}
		defer rc.Close()
		want = info
		r = rc
		if opts.ContentType == "" {
			opts.ContentType = info.ContentType
		}
		opts.Metadata = info.Metadata
		opts.Size = info.Size
	}
	h := storage.NewHashingReader(r)
	var body io.Reader = h
	if want.SHA256 != "" {
		body = &checkedReader{h: h, key: srcKey, size: want.Size, want: want.SHA256}
	}
	got, err := dst.Put(ctx, dstKey, body, opts)
	if err != nil {
		return opFailed(ctx, e, "cp", err, pos[2])
	}
	sum := h.SHA256()
	switch {
	case want.SHA256 != "" && want.SHA256 != sum:
		return fail(e, exitFailed, "cp: %s: source content does not match its stored SHA-256", srcKey)
	case got.SHA256 != "" && got.SHA256 != sum:
		return fail(e, exitFailed, "cp: %s: destination stored SHA-256 %s, sent %s", dstKey, got.SHA256, sum)
	}
	return exitOK
}

// checkedReader reads an object whose stored SHA-256 is want, and fails
// with storage.ErrCorrupt at its last byte when what was read does not
// have it: the Put it feeds then fails and stores nothing, rather than
// replacing the destination's object with damaged bytes. It checks at the
// size too, for a Put that stops reading there without waiting for EOF.
type checkedReader struct {
	h    *storage.HashingReader
	key  string
	size int64
	want string
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.h.Read(p)
	if (err == io.EOF || (c.size > 0 && c.h.N() >= c.size)) && c.h.SHA256() != c.want {
		return n, fmt.Errorf("source %q does not match its stored SHA-256: %w", c.key, storage.ErrCorrupt)
	}
	return n, err
}

type rmFlags struct{ force bool }

func (f *rmFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&f.force, "f", false, "say nothing about keys that are not there")
}

var rmCommand = &command{
	name:    "rm",
	args:    "URL KEY... [-f]",
	summary: "Delete objects.",
	details: `
A key that is not there is reported on stderr (exit status 1) unless -f is
given; deleting it is not an error for the store.`,
	examples: []string{
		"strata rm file:///srv/media local_content/ab/cd/efgh local_thumbnails/ab/cd/efgh/32-32-image-jpeg",
		"strata rm 's3://media-bucket?region=eu-central-1' tmp/upload-1 -f",
	},
	minPos:   2,
	maxPos:   -1,
	newFlags: flagsOf[rmFlags],
	run:      runRm,
}

func runRm(ctx context.Context, e *env, in *invocation) int {
	f := in.flags.(*rmFlags)
	s, status, ok := in.open(ctx, e)
	if !ok {
		return status
	}
	defer s.close()
	return s.eachKey(func(_ int, key string) error {
		if !f.force {
			if _, err := s.p.Stat(s.ctx, key); err != nil {
				return err
			}
		}
		return s.p.Delete(s.ctx, key)
	})
}
