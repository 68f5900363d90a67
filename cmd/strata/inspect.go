package main

import (
	"context"
	"encoding/json"
	"errors"
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
	define: func(fs *flag.FlagSet) { new(lsFlags).define(fs) },
}

func init() { lsCommand.run = runLs }

func runLs(ctx context.Context, e *env, args []string) int {
	var f lsFlags
	pos, done, status := parseCommand(e, lsCommand, args, 1, 2, f.define)
	if done {
		return status
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	p, err := openLocation(ctx, pos[0])
	if err != nil {
		return fail(e, exitError, "ls: %v", err)
	}
	defer p.Close()
	opts := &storage.ListOptions{}
	if len(pos) == 2 {
		opts.Prefix = pos[1]
	}
	enc := json.NewEncoder(e.stdout)
	for info, err := range p.List(ctx, opts) {
		if err != nil {
			return opFailed(ctx, e, "ls", err, pos[0])
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
	define: func(fs *flag.FlagSet) { new(statFlags).define(fs) },
}

func init() { statCommand.run = runStat }

func runStat(ctx context.Context, e *env, args []string) int {
	var f statFlags
	pos, done, status := parseCommand(e, statCommand, args, 2, -1, f.define)
	if done {
		return status
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	p, err := openLocation(ctx, pos[0])
	if err != nil {
		return fail(e, exitError, "stat: %v", err)
	}
	defer p.Close()
	status = exitOK
	for i, key := range pos[1:] {
		info, err := p.Stat(ctx, key)
		if err != nil {
			status = opFailed(ctx, e, "stat", err, pos[0])
			if ctx.Err() != nil {
				return status
			}
			continue
		}
		if f.json {
			_ = json.NewEncoder(e.stdout).Encode(toJSON(info))
			continue
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
	}
	return status
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
	define: func(fs *flag.FlagSet) { new(catFlags).define(fs) },
}

func init() { catCommand.run = runCat }

func runCat(ctx context.Context, e *env, args []string) int {
	var f catFlags
	pos, done, status := parseCommand(e, catCommand, args, 2, 2, f.define)
	if done {
		return status
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	p, err := openLocation(ctx, pos[0])
	if err != nil {
		return fail(e, exitError, "cat: %v", err)
	}
	defer p.Close()
	var opts *storage.GetOptions
	if f.offset != 0 || f.length != 0 {
		opts = &storage.GetOptions{Range: &storage.Range{Offset: f.offset, Length: f.length}}
	}
	rc, _, err := p.Get(ctx, pos[1], opts)
	if err != nil {
		return opFailed(ctx, e, "cat", err, pos[0])
	}
	defer rc.Close()
	if _, err := io.Copy(e.stdout, rc); err != nil {
		return opFailed(ctx, e, "cat", err, pos[0])
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
	define: func(fs *flag.FlagSet) { new(cpFlags).define(fs) },
}

func init() { cpCommand.run = runCp }

func runCp(ctx context.Context, e *env, args []string) int {
	var f cpFlags
	pos, done, status := parseCommand(e, cpCommand, args, 3, 4, f.define)
	if done {
		return status
	}
	srcKey, dstKey := pos[1], pos[1]
	if len(pos) == 4 {
		dstKey = pos[3]
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
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
	if pos[0] == "-" {
		r = e.stdin
	} else {
		srcURL, err := locationURL(pos[0])
		if err != nil {
			return fail(e, exitError, "cp: %v", err)
		}
		dstURL, _ := locationURL(pos[2])
		src, err := openLocation(ctx, srcURL)
		if err != nil {
			return fail(e, exitError, "cp: source: %v", err)
		}
		defer src.Close()
		if c, ok := dst.(storage.Copier); ok && srcURL == dstURL && f.contentType == "" && !f.noClobber {
			if _, err := c.Copy(ctx, dstKey, srcKey); err == nil || !errors.Is(err, storage.ErrUnsupported) {
				if err != nil {
					return opFailed(ctx, e, "cp", err, pos[2])
				}
				return exitOK
			}
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
	got, err := dst.Put(ctx, dstKey, h, opts)
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
	define: func(fs *flag.FlagSet) { new(rmFlags).define(fs) },
}

func init() { rmCommand.run = runRm }

func runRm(ctx context.Context, e *env, args []string) int {
	var f rmFlags
	pos, done, status := parseCommand(e, rmCommand, args, 2, -1, f.define)
	if done {
		return status
	}
	ctx, stop := interruptible(ctx, e)
	defer stop()
	p, err := openLocation(ctx, pos[0])
	if err != nil {
		return fail(e, exitError, "rm: %v", err)
	}
	defer p.Close()
	status = exitOK
	for _, key := range pos[1:] {
		if !f.force {
			if _, err := p.Stat(ctx, key); err != nil {
				status = opFailed(ctx, e, "rm", err, pos[0])
				if ctx.Err() != nil {
					return status
				}
				continue
			}
		}
		if err := p.Delete(ctx, key); err != nil {
			status = opFailed(ctx, e, "rm", err, pos[0])
			if ctx.Err() != nil {
				return status
			}
		}
	}
	return status
}
