package b2

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/strata-storage/strata/storage"
)

// Environment variables New reads when Config leaves the credentials empty.
// They are the names the b2 command-line tool uses.
const (
	EnvKeyID          = "B2_APPLICATION_KEY_ID"
	EnvApplicationKey = "B2_APPLICATION_KEY"
)

// Defaults and limits of Config.
const (
	// DefaultPartSize is the size of the parts of a large file, and the size
	// above which Put switches to the large-file API.
	DefaultPartSize = 16 << 20
	// MinPartSize is B2's absoluteMinimumPartSize: every part of a large
	// file but the last must be at least this long.
	MinPartSize = 5_000_000
	// MaxPartSize is the largest part B2 accepts.
	MaxPartSize = 5_000_000_000
	// DefaultConcurrency is the number of parts of one large file uploaded
	// at the same time.
	DefaultConcurrency = 4
	// DefaultMaxRetries is how many times one request is retried after a
	// transient failure.
	DefaultMaxRetries = 6
	// DefaultRetryTimeout bounds the time spent retrying one request.
	DefaultRetryTimeout = 2 * time.Minute
	// DefaultAttemptTimeout bounds one attempt of one request.
	DefaultAttemptTimeout = 5 * time.Minute
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between two
	// attempts; it doubles from the first to the second.
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 20 * time.Second
)

// DeleteMode says what Delete does to a file's versions.
type DeleteMode int

const (
	// DeleteAllVersions deletes every version of the file (and any hide
	// marker) with b2_delete_file_version, so nothing of it is left in the
	// bucket and nothing keeps being billed. It is the default: a deleted
	// media file is really gone.
	DeleteAllVersions DeleteMode = iota
	// DeleteHide only hides the file with b2_hide_file, as B2's own tools
	// and S3 API do: it disappears from Get, Stat and List, but its versions
	// stay (and cost) until the bucket's lifecycle rules remove them. Choose
	// it to keep history, or when the key lacks the deleteFiles capability.
	DeleteHide
)

// String returns "all-versions" or "hide".
func (m DeleteMode) String() string {
	switch m {
	case DeleteAllVersions:
		return "all-versions"
	case DeleteHide:
		return "hide"
	}
	return "DeleteMode(" + strconv.Itoa(int(m)) + ")"
}

// Config configures a Store. Only Bucket is required when the credentials
// are in the environment; every other zero value means the default given.
//
// A Config may be printed and logged: its String, GoString, Format and
// LogValue methods hide ApplicationKey, and user information or secret
// parameters in APIBase, with every fmt verb and log/slog handler.
type Config struct {
	// KeyID and ApplicationKey are the B2 application key. When both are
	// empty they are read from B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY.
	// A key restricted to Bucket is enough.
	KeyID          string
	ApplicationKey string

	// Bucket is the name of the bucket holding the objects.
	Bucket string

	// PartSize is the size of each part of a large file, from MinPartSize
	// (5 MB) to MaxPartSize. Objects larger than PartSize go through B2's
	// large-file API. Default: DefaultPartSize (16 MiB).
	PartSize int64
	// Concurrency is how many parts of one large file are uploaded at once.
	// A Put holds at most (Concurrency+1) × PartSize bytes in memory.
	// Default: DefaultConcurrency.
	Concurrency int

	// MaxRetries is how many times one request is retried after a
	// transient failure (a network error, 408, 429, 5xx, an expired token,
	// a busy upload URL). Negative means no retry. Default:
	// DefaultMaxRetries.
	MaxRetries int
	// RetryTimeout bounds the time spent retrying one request: no attempt
	// starts after it has passed since the first. The caller's context
	// bounds everything as well. Default: DefaultRetryTimeout.
	RetryTimeout time.Duration
	// AttemptTimeout bounds one attempt of one request, so that a B2 that
	// accepts connections and never answers fails the attempt (which is
	// then retried) even when the caller's context has no deadline. For a
	// download it bounds the wait for the answer's headers, not the reading
	// of the body, which the caller's context governs. It must leave time to
	// send one part: PartSize bytes at the slowest upload speed expected.
	// Default: DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles after each one (a Retry-After from B2 wins, up to MaxBackoff).
	// Defaults: DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// DeleteMode says what Delete does. Default: DeleteAllVersions.
	DeleteMode DeleteMode

	// APIBase is the URL b2_authorize_account is called on. Default:
	// https://api.backblazeb2.com. Tests set it to a b2test emulator.
	APIBase string
	// HTTPClient's Transport carries the requests. Its Timeout is not used:
	// bound calls with their context. Default: a clone of
	// http.DefaultTransport.
	HTTPClient *http.Client
	// Logger receives retries and re-authorizations. It never sees a key or
	// a token. Default: discard.
	Logger *slog.Logger
}

// hidden stands for a secret in the printed and logged forms of a Config.
const hidden = "xxxxx"

// String returns the Config with its secrets hidden: ApplicationKey prints
// as xxxxx when set (as "" when not), APIBase without user information or
// secret query parameters, HTTPClient and Logger only as set or not.
// KeyID, which names the key without being secret, is shown.
func (cfg Config) String() string {
	return fmt.Sprintf("b2.Config{KeyID:%q ApplicationKey:%s Bucket:%q PartSize:%d Concurrency:%d MaxRetries:%d "+
		"RetryTimeout:%s AttemptTimeout:%s MinBackoff:%s MaxBackoff:%s DeleteMode:%s APIBase:%q HTTPClient:%s Logger:%s}",
		cfg.KeyID, hideSecret(cfg.ApplicationKey != "", `""`), cfg.Bucket, cfg.PartSize, cfg.Concurrency, cfg.MaxRetries,
		cfg.RetryTimeout, cfg.AttemptTimeout, cfg.MinBackoff, cfg.MaxBackoff, cfg.DeleteMode, redactAPIBase(cfg.APIBase),
		setOrNil(cfg.HTTPClient != nil), setOrNil(cfg.Logger != nil))
}

// GoString returns the Config with its secrets hidden, for %#v. It is the
// same text as String.
func (cfg Config) GoString() string { return cfg.String() }

// Format implements fmt.Formatter so that every verb, not only %v, %+v, %s
// and %#v, prints the Config with its secrets hidden: %#v prints GoString,
// %q a quoted String, anything else String. Without it %d or %x would print
// the fields one by one, the application key among them.
func (cfg Config) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, cfg.GoString())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(cfg.String()))
	default:
		fmt.Fprint(f, cfg.String())
	}
}

// LogValue implements slog.LogValuer: a Config logged with log/slog is a
// group of its fields with the secrets hidden, as in String.
func (cfg Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key_id", cfg.KeyID),
		slog.String("application_key", hideSecret(cfg.ApplicationKey != "", "")),
		slog.String("bucket", cfg.Bucket),
		slog.Int64("part_size", cfg.PartSize),
		slog.Int("concurrency", cfg.Concurrency),
		slog.Int("max_retries", cfg.MaxRetries),
		slog.Duration("retry_timeout", cfg.RetryTimeout),
		slog.Duration("attempt_timeout", cfg.AttemptTimeout),
		slog.Duration("min_backoff", cfg.MinBackoff),
		slog.Duration("max_backoff", cfg.MaxBackoff),
		slog.String("delete_mode", cfg.DeleteMode.String()),
		slog.String("api_base", redactAPIBase(cfg.APIBase)),
		slog.Bool("http_client", cfg.HTTPClient != nil),
	)
}

// hideSecret returns xxxxx for a secret that is set, unset otherwise.
func hideSecret(isSet bool, unset string) string {
	if isSet {
		return hidden
	}
	return unset
}

func setOrNil(isSet bool) string {
	if isSet {
		return "set"
	}
	return "<nil>"
}

// redactAPIBase returns the API base URL with user information and secret
// query parameters hidden (storage.RedactString).
func redactAPIBase(u string) string {
	if u == "" {
		return ""
	}
	return storage.RedactString(u)
}

// withDefaults returns cfg with its defaults filled in and checked.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.KeyID == "" && cfg.ApplicationKey == "" {
		cfg.KeyID = os.Getenv(EnvKeyID)
		cfg.ApplicationKey = os.Getenv(EnvApplicationKey)
	}
	switch {
	case cfg.Bucket == "":
		return cfg, configError("Config.Bucket is empty")
	case cfg.KeyID == "" || cfg.ApplicationKey == "":
		return cfg, configError("no B2 application key: set Config.KeyID and Config.ApplicationKey, or " + EnvKeyID + " and " + EnvApplicationKey)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize || cfg.PartSize > MaxPartSize {
		return cfg, configError(fmt.Sprintf("Config.PartSize %d is outside %d to %d", cfg.PartSize, MinPartSize, MaxPartSize))
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryTimeout <= 0 {
		cfg.RetryTimeout = DefaultRetryTimeout
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.DeleteMode != DeleteAllVersions && cfg.DeleteMode != DeleteHide {
		return cfg, configError(fmt.Sprintf("unknown Config.DeleteMode %d", cfg.DeleteMode))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

func configError(msg string) error {
	return &storage.Error{Op: "open", Provider: provider, Kind: storage.ErrInvalidArgument, Err: plainError(msg)}
}

type plainError string

func (e plainError) Error() string { return string(e) }

func init() {
	storage.Register("b2", openURL)
}

// openURL opens a Store from a b2:// URL; see the package documentation.
func openURL(ctx context.Context, u *url.URL) (storage.Provider, error) {
	cfg, err := ConfigFromURL(u)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg)
}

// ConfigFromURL returns the Config a b2:// URL describes:
//
//	b2://BUCKET[?part_size=16MiB&concurrency=4&max_retries=6&retry_timeout=2m&attempt_timeout=5m&min_backoff=500ms&max_backoff=20s&delete=all-versions|hide&api_base=URL]
//
// Credentials never come from the URL, which is too easily logged: a URL
// with user information (b2://KEYID:APPLICATIONKEY@BUCKET) is refused, and
// New reads them from B2_APPLICATION_KEY_ID and B2_APPLICATION_KEY. Sizes
// take a unit (B, KB, MB, GB, KiB, MiB, GiB); durations are Go durations.
// Errors match storage.ErrInvalidArgument and never contain the key ID or
// the application key.
func ConfigFromURL(u *url.URL) (Config, error) {
	var cfg Config
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, &storage.Error{Op: "open", Provider: provider, Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("URL %s: "+format, append([]any{storage.Redact(u)}, args...)...)}
	}
	if !strings.EqualFold(u.Scheme, "b2") {
		return bad("scheme is not b2")
	}
	cfg.Bucket = u.Host
	if cfg.Bucket == "" || (u.Path != "" && u.Path != "/") {
		return bad("want b2://BUCKET with no path")
	}
	if u.User != nil {
		// storage.Redact has hidden them in the message.
		return bad("credentials do not go in the URL; set %s and %s", EnvKeyID, EnvApplicationKey)
	}
	for name, vals := range u.Query() {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "part_size":
			cfg.PartSize, err = parseSize(v)
		case "concurrency":
			cfg.Concurrency, err = strconv.Atoi(v)
		case "max_retries":
			cfg.MaxRetries, err = strconv.Atoi(v)
		case "retry_timeout":
			cfg.RetryTimeout, err = time.ParseDuration(v)
		case "attempt_timeout":
			cfg.AttemptTimeout, err = time.ParseDuration(v)
		case "min_backoff":
			cfg.MinBackoff, err = time.ParseDuration(v)
		case "max_backoff":
			cfg.MaxBackoff, err = time.ParseDuration(v)
		case "delete":
			switch v {
			case "all-versions", "all":
				cfg.DeleteMode = DeleteAllVersions
			case "hide":
				cfg.DeleteMode = DeleteHide
			default:
				return bad("delete=%q: want all-versions or hide", v)
			}
		case "api_base":
			cfg.APIBase = v
		default:
			return bad("unknown parameter %q", name)
		}
		if err != nil {
			return bad("parameter %s: %v", name, err)
		}
	}
	return cfg, nil
}

// parseSize parses "16MiB", "5MB", "5000000" and the like.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
