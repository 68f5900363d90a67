package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// snapshot is what a progress report shows.
type snapshot struct {
	Objects, TotalObjects int64
	Bytes, TotalBytes     int64
	// TotalKnown reports that the totals are final (the counting pass has
	// finished); before that they are what was found so far.
	TotalKnown bool
	// BytesLabel, when not empty, says what Bytes counts ("uploaded") in
	// a plain line; a bar then advances by objects, not bytes.
	BytesLabel string
	// RateOfSent makes the byte rate of plain and JSON lines that of Sent,
	// the bytes actually sent (Bytes also counts the objects found already
	// there), and leaves it out of plain lines while nothing was sent (a
	// dry run, a run that only deletes).
	RateOfSent bool
	Sent       int64
}

// rate returns the bytes per second a line reports, and whether a plain
// line shows it.
func (s snapshot) rate(secs float64) (float64, bool) {
	if s.RateOfSent {
		return float64(s.Sent) / secs, s.Sent > 0
	}
	return float64(s.Bytes) / secs, true
}

type progressMode int

const (
	progressNone  progressMode = iota
	progressBar                // a live bar on a terminal
	progressPlain              // a plain line every interval
	progressJSON               // a JSON line every interval
)

// outputFlags are the flags every long-running command shares.
type outputFlags struct {
	quiet    bool
	json     bool
	verbose  bool
	interval time.Duration
}

func (o *outputFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&o.quiet, "q", false, "quiet: no progress and no summary (but the JSON one with --json), only errors")
	fs.BoolVar(&o.json, "json", false, "print progress, logs and the summary as JSON lines")
	fs.BoolVar(&o.verbose, "v", false, "verbose: log every object")
	fs.DurationVar(&o.interval, "progress-interval", 10*time.Second, "how often to print a progress line when stderr is not a terminal")
}

func (o *outputFlags) mode(e *env) progressMode {
	switch {
	case o.quiet:
		return progressNone
	case o.json:
		return progressJSON
	case e.tty:
		return progressBar
	default:
		return progressPlain
	}
}

// progress reports a command's advance on stderr until Stop. It also owns
// stderr while it runs: log lines go through Writer, which clears the bar
// before writing.
type progress struct {
	w        io.Writer
	mode     progressMode
	label    string
	interval time.Duration
	snap     func() snapshot
	start    time.Time

	mu  sync.Mutex // guards bar and writes to w
	bar *progressbar.ProgressBar
	// byObjects makes the bar count objects rather than bytes.
	byObjects bool

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// startProgress starts reporting snap every interval (or continuously as a
// bar that advances by bytes). Call Stop to end it.
func startProgress(e *env, mode progressMode, label string, interval time.Duration, snap func() snapshot) *progress {
	return newProgress(e, mode, label, interval, snap, false)
}

// startObjectProgress is startProgress for a command whose work is counted
// in objects: its bar advances by objects.
func startObjectProgress(e *env, mode progressMode, label string, interval time.Duration, snap func() snapshot) *progress {
	return newProgress(e, mode, label, interval, snap, true)
}

func newProgress(e *env, mode progressMode, label string, interval time.Duration, snap func() snapshot, byObjects bool) *progress {
	p := &progress{
		w: e.stderr, mode: mode, label: label, interval: interval, snap: snap, byObjects: byObjects,
		start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if p.interval <= 0 {
		p.interval = 10 * time.Second
	}
	tick := p.interval
	if mode == progressBar {
		tick = 200 * time.Millisecond
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowBytes(!byObjects),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSpinnerType(14),
		}
		if byObjects {
			opts = append(opts, progressbar.OptionSetItsString("objects"), progressbar.OptionShowIts())
		}
		p.bar = progressbar.NewOptions64(1, opts...)
	}
	if mode == progressNone {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.report()
			}
		}
	}()
	return p
}

// Stop ends the reports and clears the bar. It waits for the reporting
// goroutine to end.
func (p *progress) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Exit()
		_ = p.bar.Clear()
		p.bar = nil
	}
}

// Write writes a log line to stderr, clearing the bar first.
func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	return p.w.Write(b)
}

func (p *progress) report() {
	s := p.snap()
	elapsed := time.Since(p.start)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case progressBar:
		if p.bar == nil {
			return
		}
		done, total := s.Bytes, max(s.TotalBytes, s.Bytes, 1)
		desc := fmt.Sprintf("%s %s objects", p.label, objectsOf(s))
		if p.byObjects {
			done, total = s.Objects, max(s.TotalObjects, s.Objects, 1)
			desc = p.label
			if s.BytesLabel != "" {
				desc += fmt.Sprintf(" (%s %s)", humanBytes(s.Bytes), s.BytesLabel)
			}
		}
		if p.bar.GetMax64() != total {
			p.bar.ChangeMax64(total)
		}
		p.bar.Describe(desc)
		_ = p.bar.Set64(done)
	case progressPlain:
		fmt.Fprintln(p.w, plainLine(p.label, s, elapsed))
	case progressJSON:
		_ = json.NewEncoder(p.w).Encode(jsonLine(p.label, s, elapsed))
	}
}

// objectsOf formats "done/total", with "+" after a total still counted.
func objectsOf(s snapshot) string {
	if s.TotalObjects == 0 && !s.TotalKnown {
		return fmt.Sprintf("%d", s.Objects)
	}
	plus := ""
	if !s.TotalKnown {
		plus = "+"
	}
	return fmt.Sprintf("%d/%d%s", s.Objects, max(s.TotalObjects, s.Objects), plus)
}

// eta estimates the time left from the average rate so far, by bytes when
// there are any, else by objects. ok is false when it cannot be told yet.
func eta(s snapshot, elapsed time.Duration) (time.Duration, bool) {
	if !s.TotalKnown || elapsed <= 0 {
		return 0, false
	}
	var done, total int64
	if s.TotalBytes > 0 {
		done, total = s.Bytes, s.TotalBytes
	} else {
		done, total = s.Objects, s.TotalObjects
	}
	if done <= 0 {
		return 0, false
	}
	left := float64(total-done) / (float64(done) / elapsed.Seconds())
	if left < 0 || math.IsInf(left, 0) || math.IsNaN(left) {
		return 0, false
	}
	return time.Duration(left * float64(time.Second)).Round(time.Second), true
}

func plainLine(label string, s snapshot, elapsed time.Duration) string {
	secs := max(elapsed.Seconds(), 1e-9)
	line := fmt.Sprintf("%s: %s objects, %s", label, objectsOf(s), humanBytes(s.Bytes))
	if s.TotalKnown && s.TotalBytes > 0 {
		line += "/" + humanBytes(s.TotalBytes)
	}
	if s.BytesLabel != "" {
		line += " " + s.BytesLabel
	}
	if rate, ok := s.rate(secs); ok {
		line += fmt.Sprintf(", %s/s", humanBytes(int64(rate)))
		if s.RateOfSent {
			line += " sent"
		}
	}
	line += fmt.Sprintf(", %.1f objects/s, elapsed %s", float64(s.Objects)/secs, elapsed.Round(time.Second))
	if d, ok := eta(s, elapsed); ok {
		line += ", ETA " + d.String()
	}
	return line
}

// progressJSONLine is the JSON form of a progress line.
type progressJSONLine struct {
	Type         string  `json:"type"`
	Command      string  `json:"command"`
	Objects      int64   `json:"objects"`
	ObjectsTotal int64   `json:"objects_total"`
	Bytes        int64   `json:"bytes"`
	BytesTotal   int64   `json:"bytes_total"`
	TotalKnown   bool    `json:"total_known"`
	ElapsedS     float64 `json:"elapsed_s"`
	BytesPerS    float64 `json:"bytes_per_s"`
	ObjectsPerS  float64 `json:"objects_per_s"`
	ETAS         float64 `json:"eta_s,omitempty"`
}

func jsonLine(label string, s snapshot, elapsed time.Duration) progressJSONLine {
	secs := max(elapsed.Seconds(), 1e-9)
	rate, _ := s.rate(secs)
	l := progressJSONLine{
		Type: "progress", Command: label,
		Objects: s.Objects, ObjectsTotal: s.TotalObjects, Bytes: s.Bytes, BytesTotal: s.TotalBytes,
		TotalKnown: s.TotalKnown, ElapsedS: round3(elapsed.Seconds()),
		BytesPerS: round3(rate), ObjectsPerS: round3(float64(s.Objects) / secs),
	}
	if d, ok := eta(s, elapsed); ok {
		l.ETAS = d.Seconds()
	}
	return l
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// humanBytes formats n bytes with IEC units: "512 B", "37.5 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for math.Abs(f) >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// newLogger returns the command's logger: text or JSON lines on w, at
// Info level, Debug with -v, Error only with -q.
func newLogger(w io.Writer, o *outputFlags) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case o.quiet:
		level = slog.LevelError
	case o.verbose:
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if o.json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
