package faults

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/storage"
)

// OpenURL opens the location named by the URL parameter inner with
// storage.Open and wraps it in a Provider with the faults the other
// parameters describe. The scheme and host of u are not looked at, so a
// program registers OpenURL under the scheme it likes:
//
//	storage.Register("test", faults.OpenURL)
//	p, err := storage.Open(ctx, "test://?inner="+url.QueryEscape("file:///srv/media")+"&fail_puts_after=100")
//
// The parameters:
//
//   - inner (required): the location wrapped.
//   - delay: a duration added before each Put and Get (Fault.Latency).
//   - fail_puts_after: Puts after the first N fail as unavailable
//     (Fault.After with FailRate 1).
//   - fail_get: Gets, Stats and Deletes of keys containing this substring
//     fail as unavailable (Fault.Keys with FailRate 1).
//   - log: a file that gets a line "start KEY" as each Put starts and
//     "put KEY" as each Put that succeeded returns, appended as they
//     happen, so that a test can read what a program it runs wrote, or
//     began to write before it was interrupted.
//
// delay applies to every Put and Get, including those that then fail.
func OpenURL(ctx context.Context, u *url.URL) (storage.Provider, error) {
	bad := func(format string, args ...any) error {
		return &storage.Error{Op: "open", Provider: providerName, Kind: storage.ErrInvalidArgument, Err: fmt.Errorf(format, args...)}
	}
	q := u.Query()
	innerURL := q.Get("inner")
	if innerURL == "" {
		return nil, bad("%s:// needs inner=<URL>", u.Scheme)
	}
	var delay time.Duration
	if d := q.Get("delay"); d != "" {
		v, err := time.ParseDuration(d)
		if err != nil {
			return nil, bad("delay: %w", err)
		}
		delay = v
	}
	failAfter := int64(-1)
	if n := q.Get("fail_puts_after"); n != "" {
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil || v < 0 {
			return nil, bad("fail_puts_after: %q is not a count", n)
		}
		failAfter = v
	}
	var observe func(Call)
	if path := q.Get("log"); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, bad("log: %w", err)
		}
		f.Close()
		observe = putLog(path)
	}
	inner, err := storage.Open(ctx, innerURL)
	if err != nil {
		return nil, err
	}

	var failures []Option
	if failAfter >= 0 {
		failures = append(failures, WithFault(Fault{FailRate: 1, After: failAfter}, OpPut))
	}
	if sub := q.Get("fail_get"); sub != "" {
		keys := func(key string) bool { return strings.Contains(key, sub) }
		failures = append(failures, WithFault(Fault{FailRate: 1, Keys: keys}, OpGet, OpStat, OpDelete))
	}
	p := inner
	if len(failures) > 0 {
		p = Wrap(p, failures...)
	}
	// The delay applies to every call, including those that fail: a
	// second Provider, over the first, adds it.
	outer := []Option{WithObserver(observe)}
	if delay > 0 {
		outer = append(outer, WithFault(Fault{Latency: delay}, OpPut, OpGet))
	}
	return Wrap(p, outer...), nil
}

// putLog returns an observer that appends "start KEY" to the file at path
// as each Put starts and "put KEY" as each successful Put returns. Each
// line is one append, so lines of concurrent Puts do not mix, and the
// file is never held open.
func putLog(path string) func(Call) {
	return func(c Call) {
		if c.Op != OpPut || (c.Done && c.Err != nil) {
			return
		}
		verb := "start"
		if c.Done {
			verb = "put"
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return
		}
		_, _ = f.WriteString(verb + " " + c.Key + "\n")
		f.Close()
	}
}
