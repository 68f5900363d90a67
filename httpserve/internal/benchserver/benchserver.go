// Package benchserver sets up the servers that httpserve's benchmarks
// compare: http.FileServer, and httpserve over a local store and over a
// tiered store's cache hit, serving the same JPEG and MP4. BenchmarkServe
// uses it in process; the servebench command serves one of them for
// scripts/serve-bench.sh.
package benchserver

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// The keys of the files served, under the handler's /media/ prefix.
const (
	Image = "img/small.jpg" // a 64 KiB JPEG
	Video = "vid/big.mp4"   // a 64 MiB MP4
)

// Files returns the files served, by key: the first bytes of each are
// those of a real JPEG and MP4, so that every server serves them inline as
// the media they are. They are made afresh for each call, not kept: a
// server that held 64 MiB would have a heap that large, and collect
// garbage a fraction as often as a real one.
func Files() map[string][]byte {
	return map[string][]byte{
		Image: media("\xff\xd8\xff\xe0\x00\x10JFIF\x00", 64<<10, 7),
		Video: media("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", 64<<20, 13),
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

// New writes Files under dir, which must be new or empty, and returns a
// handler serving them under /media/: http.FileServer (mode "fs"), or
// httpserve over a local store ("local") or over a tiered store whose
// cache holds every file ("tiered"; "tiered-noverify" with
// cache.Options.SkipVerify, which measures what checking a hit's bytes
// costs). With plain the files are written as
// plain files, as another program would write them (no metadata:
// httpserve sniffs the type), else through strata with their type. It
// also returns the directory holding the files as plain files (what
// http.FileServer serves) and what closes the store.
func New(mode, dir string, plain bool) (_ http.Handler, data string, closeStore func(), err error) {
	if dir == "" {
		return nil, "", nil, fmt.Errorf("no directory given")
	}
	if mode != "fs" && mode != "local" && mode != "tiered" && mode != "tiered-noverify" {
		return nil, "", nil, fmt.Errorf("mode %q: want fs, local, tiered or tiered-noverify", mode)
	}
	ctx := context.Background()
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, "", nil, fmt.Errorf("directory %q is not empty: give a new or empty one", dir)
	}
	data = filepath.Join(dir, "data")
	loc, err := local.New(data, &local.Options{NoSync: true})
	if err != nil {
		return nil, "", nil, err
	}
	closeStore = func() { loc.Close() }
	defer func() {
		if err != nil {
			closeStore()
		}
	}()
	var p storage.Provider = loc
	var ts *tiered.Store
	if mode == "tiered" || mode == "tiered-noverify" {
		c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{MaxBytes: 512 << 20, SkipVerify: mode == "tiered-noverify"})
		if err != nil {
			return nil, "", nil, err
		}
		if ts, err = tiered.New(c, loc, tiered.Options{}); err != nil {
			c.Close()
			return nil, "", nil, err
		}
		closeStore = func() { ts.Close(); loc.Close() }
		p = ts
	}
	for key, b := range Files() {
		if plain || mode == "fs" {
			path := filepath.Join(data, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, "", nil, err
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return nil, "", nil, err
			}
			continue
		}
		if _, err := p.Put(ctx, key, bytes.NewReader(b), &storage.PutOptions{ContentType: http.DetectContentType(b)}); err != nil {
			return nil, "", nil, err
		}
	}
	if ts != nil {
		// The first read fetches into the cache (a plain file written
		// to the remote's directory), the second must be a hit.
		for range 2 {
			for _, key := range []string{Image, Video} {
				rc, _, err := ts.Get(ctx, key, nil)
				if err != nil {
					return nil, "", nil, err
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					return nil, "", nil, err
				}
			}
		}
		if err := ts.Flush(ctx); err != nil {
			return nil, "", nil, err
		}
	}
	runtime.GC() // let the heap shrink to what a server keeps
	var h http.Handler
	if mode == "fs" {
		h = http.StripPrefix("/media/", http.FileServer(http.Dir(data)))
	} else {
		h = httpserve.New(p, &httpserve.Options{Prefix: "/media/"})
	}
	return h, data, closeStore, nil
}
