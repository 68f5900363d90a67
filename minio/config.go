package minio

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// hidden stands for a secret in the printed and logged forms of a Config.
const hidden = "xxxxx"

// String returns the Config with its secrets hidden: SecretKey,
// SessionToken and SSECustomerKey print as xxxxx when set (as "" when
// not), Credentials and Transport only as set or not (a credential
// provider holds keys, a transport's TLS configuration a private key).
// AccessKey, which names the key without being secret, is shown.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("minio.Config{")
	field := func(name, v string) {
		if b.Len() > len("minio.Config{") {
			b.WriteByte(' ')
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(v)
	}
	field("Endpoint", strconv.Quote(redactEndpoint(c.Endpoint)))
	field("Secure", strconv.FormatBool(c.Secure))
	field("Region", strconv.Quote(c.Region))
	field("AccessKey", strconv.Quote(c.AccessKey))
	field("SecretKey", hide(c.SecretKey != ""))
	field("SessionToken", hide(c.SessionToken != ""))
	field("Credentials", set(c.Credentials != nil))
	field("Bucket", strconv.Quote(c.Bucket))
	field("StorageClass", strconv.Quote(c.StorageClass))
	field("SSECustomerKey", hide(c.SSECustomerKey != nil))
	field("PartSize", strconv.FormatInt(c.PartSize, 10))
	field("Concurrency", strconv.Itoa(c.Concurrency))
	field("NumThreads", strconv.Itoa(c.NumThreads))
	field("Transport", set(c.Transport != nil))
	field("MaxAttempts", strconv.Itoa(c.MaxAttempts))
	field("MaxRetries", strconv.Itoa(c.MaxRetries))
	field("RecordLargeSHA256", strconv.FormatBool(c.RecordLargeSHA256))
	field("SkipMultipartSHA256", strconv.FormatBool(c.SkipMultipartSHA256))
	field("PrefixCheck", c.PrefixCheck.String())
	field("SkipPrefixCheck", strconv.FormatBool(c.SkipPrefixCheck))
	field("SkipVerifyReads", strconv.FormatBool(c.SkipVerifyReads))
	field("Logger", set(c.Logger != nil))
	b.WriteByte('}')
	return b.String()
}

// GoString returns the Config with its secrets hidden, for %#v. It is the
// same text as String.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb, not only %v, %+v, %s
// and %#v, prints the Config with its secrets hidden: %#v prints GoString,
// %q a quoted String, anything else String. Without it %d or %x would print
// the fields one by one, secrets included.
func (c Config) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, c.GoString())
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(c.String()))
	default:
		fmt.Fprint(f, c.String())
	}
}

// LogValue implements slog.LogValuer: a Config logged with log/slog is a
// group of its fields with the secrets hidden, as in String.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", redactEndpoint(c.Endpoint)),
		slog.Bool("secure", c.Secure),
		slog.String("region", c.Region),
		slog.String("access_key", c.AccessKey),
		slog.String("secret_key", hideValue(c.SecretKey != "")),
		slog.String("session_token", hideValue(c.SessionToken != "")),
		slog.Bool("credentials", c.Credentials != nil),
		slog.String("bucket", c.Bucket),
		slog.String("storage_class", c.StorageClass),
		slog.String("sse_customer_key", hideValue(c.SSECustomerKey != nil)),
		slog.Int64("part_size", c.PartSize),
		slog.Int("concurrency", c.Concurrency),
		slog.Int("num_threads", c.NumThreads),
		slog.Bool("transport", c.Transport != nil),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Int("max_retries", c.MaxRetries),
		slog.Bool("record_large_sha256", c.RecordLargeSHA256),
		slog.Bool("skip_multipart_sha256", c.SkipMultipartSHA256),
		slog.String("prefix_check", c.PrefixCheck.String()),
		slog.Bool("skip_prefix_check", c.SkipPrefixCheck),
		slog.Bool("skip_verify_reads", c.SkipVerifyReads),
	)
}

// hide returns what String prints for a secret: xxxxx when it is set, ""
// when it is not.
func hide(isSet bool) string {
	if isSet {
		return hidden
	}
	return `""`
}

// hideValue is hide for a log attribute: xxxxx or empty.
func hideValue(isSet bool) string {
	if isSet {
		return hidden
	}
	return ""
}

func set(isSet bool) string {
	if isSet {
		return "set"
	}
	return "<nil>"
}

// redactEndpoint hides user information in an endpoint that has some
// (New refuses such an endpoint, but a Config may be printed before New
// sees it): "user:pass@host" prints as "xxxxx@host".
func redactEndpoint(e string) string {
	if i := strings.LastIndexByte(e, '@'); i >= 0 {
		return hidden + e[i:]
	}
	return e
}

// String returns "minio://endpoint/bucket", naming the Store without
// anything secret.
func (s *Store) String() string { return "minio://" + s.d.endpoint + "/" + s.d.bucket }

// Format implements fmt.Formatter: every verb prints String (quoted for
// %q), never the Store's fields, the SSE-C key among them.
func (s *Store) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}
