package storage

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Driver opens a Provider from a parsed URL. Drivers register themselves with
// Register under their URL scheme.
type Driver func(ctx context.Context, u *url.URL) (Provider, error)

var (
	driversMu sync.RWMutex
	drivers   = map[string]Driver{}
)

// Register makes a driver available to Open under scheme (such as "file" or
// "s3"). It panics if scheme is empty, d is nil, or a driver is already
// registered under scheme, as database/sql.Register does; drivers call it
// from init.
func Register(scheme string, d Driver) {
	scheme = strings.ToLower(scheme)
	if scheme == "" || d == nil {
		panic("storage: Register needs a scheme and a driver")
	}
	driversMu.Lock()
	defer driversMu.Unlock()
	if _, dup := drivers[scheme]; dup {
		panic("storage: Register called twice for scheme " + scheme)
	}
	drivers[scheme] = d
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	driversMu.RLock()
	defer driversMu.RUnlock()
	out := make([]string, 0, len(drivers))
	for s := range drivers {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open opens the Provider that rawURL names, with the driver registered for
// its scheme. The driver's package must be imported (often for its side
// effect only) for its scheme to be known.
//
// Errors match ErrInvalidArgument for a malformed URL or an unknown scheme.
// Error strings never contain the URL's password or secret query
// parameters; see Redact.
func Open(ctx context.Context, rawURL string) (Provider, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse puts the whole URL, password included, in its error.
		return nil, &Error{Op: "open", Provider: "storage", Kind: ErrInvalidArgument, Err: fmt.Errorf("cannot parse URL %s", RedactString(rawURL))}
	}
	if u.Scheme == "" {
		return nil, &Error{Op: "open", Provider: "storage", Kind: ErrInvalidArgument,
			Err: fmt.Errorf("URL %s has no scheme (want one of %s, such as file:///srv/media)", Redact(u), strings.Join(Schemes(), ", "))}
	}
	driversMu.RLock()
	d := drivers[strings.ToLower(u.Scheme)]
	driversMu.RUnlock()
	if d == nil {
		return nil, &Error{Op: "open", Provider: "storage", Kind: ErrInvalidArgument,
			Err: fmt.Errorf("unknown URL scheme %q in %s (registered: %s; is the driver package imported?)", u.Scheme, Redact(u), strings.Join(Schemes(), ", "))}
	}
	return d(ctx, u)
}

// secretParams are query parameter names whose values Redact hides.
var secretParams = []string{"secret", "password", "key", "token", "credential", "sse_c", "sse-c", "signature"}

func isSecretParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range secretParams {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Redact returns u as a string with its user name, password and the values of query
// parameters that look secret (names containing "secret", "key", "token",
// "password", ...) replaced by "xxxxx". Drivers use it whenever a URL goes
// into an error or a log line.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	if c.User != nil {
		// The user name of a storage URL is usually an access key ID:
		// hide it as well as the password.
		if _, has := c.User.Password(); has {
			c.User = url.UserPassword("xxxxx", "xxxxx")
		} else {
			c.User = url.User("xxxxx")
		}
	}
	if c.RawQuery != "" {
		q := c.Query()
		for name := range q {
			if isSecretParam(name) {
				q[name] = []string{"xxxxx"}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// RedactString is Redact for a URL that may not parse: when it does not, it
// returns only its scheme, or "(unparsable URL)".
func RedactString(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		return Redact(u)
	}
	if i := strings.Index(raw, "://"); i > 0 && !strings.ContainsAny(raw[:i], "@:/?") {
		return raw[:i] + "://(unparsable URL)"
	}
	return "(unparsable URL)"
}
