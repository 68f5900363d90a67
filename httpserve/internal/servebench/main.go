// Command servebench serves a 64 KiB JPEG and a 64 MiB MP4 over HTTP, for
// scripts/serve-bench.sh to measure with wrk: through http.FileServer
// (-mode fs), through httpserve over a local store (-mode local) or over
// a tiered store whose cache holds every object (-mode tiered, or -mode
// tiered-noverify with cache.Options.SkipVerify). The files
// are written by strata, with their content type, or with -plain as plain
// files by another program (no metadata: httpserve sniffs the type). The
// media are under /media/img/small.jpg and /media/vid/big.mp4; package
// benchserver sets them up.
//
//	go run ./httpserve/internal/servebench -mode tiered -dir /tmp/sb -addr 127.0.0.1:8083
//
// It writes the files under -dir, which must be new or empty, prints
// "ready" once it listens and serves until it is stopped.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/strata-storage/strata/httpserve/internal/benchserver"
)

func main() {
	mode := flag.String("mode", "fs", "fs, local, tiered or tiered-noverify")
	dir := flag.String("dir", "", "new or empty directory for the files (required)")
	addr := flag.String("addr", "127.0.0.1:8080", "loopback address to listen on")
	plain := flag.Bool("plain", false, "write plain files with no metadata instead of through strata")
	flag.Parse()
	if err := run(*mode, *dir, *addr, *plain); err != nil {
		slog.Error("servebench", "err", err)
		os.Exit(1)
	}
}

func run(mode, dir, addr string, plain bool) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	h, _, closeStore, err := benchserver.New(mode, dir, plain)
	if err != nil {
		return err
	}
	defer closeStore()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("ready", mode, l.Addr())
	return http.Serve(l, h)
}
