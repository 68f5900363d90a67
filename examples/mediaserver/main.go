// Command mediaserver is a small media server built on strata: it stores
// uploads under new unguessable keys and serves them with byte ranges,
// conditional requests and safe headers.
//
// With no flags it keeps everything on local disk under ./data:
//
//	go run ./examples/mediaserver
//
// then open http://127.0.0.1:8080/ to upload a file, or:
//
//	curl -F file=@cat.jpg http://127.0.0.1:8080/upload
//	curl -H 'Range: bytes=0-99' http://127.0.0.1:8080/media/2026/11/22/...
//
// With -remote it becomes a tiered store: a disk cache in -data (bounded by
// -max-bytes and -max-idle) in front of the remote, written through or
// behind (-write-mode). Credentials come from the environment variables each
// SDK uses (AWS_ACCESS_KEY_ID, MINIO_ACCESS_KEY, B2_APPLICATION_KEY, ...).
//
//	go run ./examples/mediaserver -remote 's3://media?region=eu-west-1' -write-mode behind
//
// Several servers may share one remote, each with its own -data: an object
// one of them overwrites (PUT) or deletes stops being served by the others
// within -staleness (2s by default) of the acknowledgement, or, for a
// server with -write-mode behind, of the change reaching the remote (plus
// one small Put), through a change log the servers keep on the remote
// itself (see package tiered, "Several processes, one remote"; /metrics
// has its figures as strata_tiered_changes_*). It costs each server one remote List per second at rest, and
// one small Put per upload, replacement or delete.
//
// Endpoints:
//
//	GET    /                a page to upload a file and see or play it
//	GET    /?v={key}&t={s}  that page playing the video {key}, seeking to {s} seconds once it is ready (t is optional)
//	POST   /upload          store the request body (or the "file" field of a form); 201 with JSON
//	GET    /media/{key}     the object, with ranges and conditional requests (HEAD too)
//	PUT    /media/{key}     replace its bytes (body or "file" field, as for /upload); 200 with JSON; needs the admin token
//	DELETE /media/{key}     remove it; needs "Authorization: Bearer $MEDIASERVER_ADMIN_TOKEN"
//	GET    /metrics         Prometheus metrics
//	GET    /healthz         200 while serving, with JSON: "status" is "ok", or "degraded" while the remote is unreachable
//
// A replacement is a moderator's tool: it swaps an object's bytes for
// others under the same media id (a redacted image, a photo stripped of
// its location data, a video re-encoded so that it plays), so that the
// messages linking to it show the new bytes. The type and file name
// follow the new body; the old file name stays when the body brings
// none. It answers 401 without the admin token, 400 for a key no store
// accepts, 404 when no object has the key (new media get new keys from
// POST /upload), 413 over -max-upload, and leaves the object as it was
// when it fails. A browser that already fetched the old bytes keeps them
// (they are sent as immutable, private): a replacement, like a delete,
// reaches the servers, not the copies clients hold.
//
//	curl -X PUT -H "Authorization: Bearer $MEDIASERVER_ADMIN_TOKEN" -F file=@redacted.jpg http://127.0.0.1:8080/media/2026/11/22/...
//
// The server starts while the remote is down (it logs a warning): it
// serves what its cache holds and, in write-behind mode, takes uploads,
// which are sent once the remote answers, after a restart too.
//
// An upload keeps the content type its client gave, unless that is none or
// application/octet-stream (what curl -F sends for a .mp4 or .mov file):
// then the server reads the type from the content, or else from the file
// name. /media/ serves images, audio and video inline, so a video link
// plays when opened directly, and whatever a browser could run (HTML, SVG,
// XML, unknown types) sandboxed and as an attachment; see package
// httpserve.
//
// Without -remote, -data is the store itself, a plain tree of files; with
// it, -data is the tiered store's cache, laid out differently. The server
// refuses a -data directory laid out for the other mode rather than hide
// its files. To move a local-only server onto a remote, copy its files
// first (strata migrate ./data 's3://media?region=eu-west-1'), then start
// it with -remote and a new, empty -data.
//
// SIGTERM or SIGINT shuts it down gracefully: it stops accepting, finishes
// requests in progress, flushes pending uploads (write-behind) for up to
// -flush-timeout and leaves the rest persisted for the next start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mediaserver:", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	return srv.serve(ctx, stdout)
}
