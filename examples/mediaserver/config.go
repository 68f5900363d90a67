package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

type config struct {
	addr         string
	dataDir      string
	remote       string
	maxBytes     int64
	maxIdle      time.Duration
	writeMode    string
	staleness    time.Duration
	maxUpload    int64
	adminToken   string
	flushTimeout time.Duration
	logLevel     slog.Level
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("mediaserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.dataDir, "data", "./data", "directory for local files: the store itself, or the cache when -remote is set")
	fs.StringVar(&cfg.remote, "remote", "", "remote store URL (s3://, minio://, b2://, file://, mem://); empty keeps everything on local disk")
	maxBytes := fs.String("max-bytes", "10GiB", "needs -remote: the cache's bound in bytes; suffixes KiB, MiB, GiB, TiB")
	fs.DurationVar(&cfg.maxIdle, "max-idle", 30*24*time.Hour, "needs -remote: evict cached copies not read for this long; 0 keeps them")
	fs.StringVar(&cfg.writeMode, "write-mode", "through", "needs -remote: through (upload before answering) or behind (answer once durable on local disk, upload in the background)")
	fs.DurationVar(&cfg.staleness, "staleness", 2*time.Second, "needs -remote: how long after another server on the same remote overwrites or deletes an object this one may still serve its cached copy (a change log on the remote, read every half of it; see package tiered); 0 turns it off, for a server alone on its remote")
	maxUpload := fs.String("max-upload", "100MiB", "largest upload accepted")
	fs.DurationVar(&cfg.flushTimeout, "flush-timeout", 30*time.Second, "on shutdown, how long to wait for pending uploads")
	verbose := fs.Bool("v", false, "log every request")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mediaserver [flags]\n\nA media server on strata. With no flags it keeps uploads under ./data.\nDELETE needs the bearer token in $MEDIASERVER_ADMIN_TOKEN.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	if cfg.remote == "" {
		// These shape the tiered store; without -remote there is none, and
		// a flag silently ignored is a setting the user thinks they have.
		var ignored []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "write-mode", "max-bytes", "max-idle", "staleness":
				ignored = append(ignored, "-"+f.Name)
			}
		})
		if len(ignored) > 0 {
			return cfg, fmt.Errorf("%s needs -remote: without it everything stays on local disk in -data (see -h)", strings.Join(ignored, " and "))
		}
	}
	var err error
	if cfg.maxBytes, err = parseBytes(*maxBytes); err != nil {
		return cfg, fmt.Errorf("-max-bytes: %w", err)
	}
	if cfg.maxUpload, err = parseBytes(*maxUpload); err != nil {
		return cfg, fmt.Errorf("-max-upload: %w", err)
	}
	if cfg.staleness < 0 {
		return cfg, fmt.Errorf("-staleness must not be negative, not %v", cfg.staleness)
	}
	if cfg.writeMode != "through" && cfg.writeMode != "behind" {
		return cfg, fmt.Errorf("-write-mode must be through or behind, not %q", cfg.writeMode)
	}
	cfg.adminToken = os.Getenv("MEDIASERVER_ADMIN_TOKEN")
	cfg.logLevel = slog.LevelWarn
	if *verbose {
		cfg.logLevel = slog.LevelInfo
	}
	return cfg, nil
}

// parseBytes reads "512", "64KiB", "100MiB", "10GiB", "1TiB" (also KB, MB,
// GB, TB as powers of 1000).
func parseBytes(in string) (int64, error) {
	s := strings.TrimSpace(in)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a positive size such as 100MiB, got %q", in)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", in)
	}
	return n * mult, nil
}
