// Command servebench serves a 64 KiB JPEG and a 64 MiB MP4 over HTTP, for
// scripts/serve-bench.sh to measure with wrk: through http.FileServer
// (-mode fs), through httpserve over a local store (-mode local) or over
// a tiered store whose cache holds every object (-mode tiered). The files
// are written by strata, with their content type, or with -plain as plain
// files by another program (no metadata: httpserve sniffs the type). The
// media are under /media/img/small.jpg and /media/vid/big.mp4.
//
//	go run ./httpserve/internal/servebench -mode tiered -dir /tmp/sb -addr 127.0.0.1:8083
//
// It writes the files under -dir, which must be new or empty, prints
// "ready" once it listens and serves until it is stopped.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/httpserve"
	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

func main() {
	mode := flag.String("mode", "fs", "fs, local or tiered")
	dir := flag.String("dir", "", "new or empty directory for the files (required)")
	addr := flag.String("addr", "127.0.0.1:8080", "loopback address to listen on")
	plain := flag.Bool("plain", false, "write plain files with no metadata instead of through strata")
	flag.Parse()
	if err := run(*mode, *dir, *addr, *plain); err != nil {
		slog.Error("servebench", "err", err)
		os.Exit(1)
	}
}

// files returns the files served: the first bytes of each are those of a
// real JPEG and MP4, so that both servers serve them inline as the media
// they are. They are made afresh for each use, not kept: a server that
// held 64 MiB would have a heap that large, and collect garbage a
// fraction as often as a real one.
func files() map[string][]byte {
	return map[string][]byte{
		"img/small.jpg": media("\xff\xd8\xff\xe0\x00\x10JFIF\x00", 64<<10, 7),
		"vid/big.mp4":   media("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", 64<<20, 13),
	}
}

func media(magic string, n int, step byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) * step
	}
	copy(b, magic)
	return b
}

func run(mode, dir, addr string, plain bool) error {
	h, closeStore, err := setup(mode, dir, plain)
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

// setup writes the files under dir as mode and plain say and returns the
// handler serving them, and what closes its store.
func setup(mode, dir string, plain bool) (_ http.Handler, closeStore func(), err error) {
	if dir == "" {
		return nil, nil, fmt.Errorf("-dir is required")
	}
	if mode != "fs" && mode != "local" && mode != "tiered" {
		return nil, nil, fmt.Errorf("-mode %q: want fs, local or tiered", mode)
	}
	ctx := context.Background()
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, nil, fmt.Errorf("-dir %q is not empty: give a new or empty directory", dir)
	}
	data := filepath.Join(dir, "data")
	loc, err := local.New(data, &local.Options{NoSync: true})
	if err != nil {
		return nil, nil, err
	}
	closeStore = func() { loc.Close() }
	defer func() {
		if err != nil {
			closeStore()
		}
	}()
	var p storage.Provider = loc
	var ts *tiered.Store
	if mode == "tiered" {
		c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{MaxBytes: 512 << 20})
		if err != nil {
			return nil, nil, err
		}
		if ts, err = tiered.New(c, loc, tiered.Options{}); err != nil {
			c.Close()
			return nil, nil, err
		}
		closeStore = func() { ts.Close(); loc.Close() }
		p = ts
	}
	for key, b := range files() {
		if plain || mode == "fs" {
			path := filepath.Join(data, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, nil, err
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return nil, nil, err
			}
			continue
		}
		if _, err := p.Put(ctx, key, bytes.NewReader(b), &storage.PutOptions{ContentType: http.DetectContentType(b)}); err != nil {
			return nil, nil, err
		}
	}
	if ts != nil {
		// The first read fetches into the cache (a plain file written
		// to the remote's directory), the second must be a hit.
		for range 2 {
			for _, key := range []string{"img/small.jpg", "vid/big.mp4"} {
				rc, _, err := ts.Get(ctx, key, nil)
				if err != nil {
					return nil, nil, err
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					return nil, nil, err
				}
			}
		}
		if err := ts.Flush(ctx); err != nil {
			return nil, nil, err
		}
	}
	runtime.GC() // let the heap shrink to what a server keeps
	var h http.Handler
	if mode == "fs" {
		h = http.StripPrefix("/media/", http.FileServer(http.Dir(data)))
	} else {
		h = httpserve.New(p, &httpserve.Options{Prefix: "/media/"})
	}
	return h, closeStore, nil
}
