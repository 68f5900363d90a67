package s3

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// Defaults used when the corresponding Config field is zero. They are the
// minio package's too.
const (
	// DefaultPartSize is the size of each part of a multipart upload, and
	// the largest object Put sends in a single request.
	DefaultPartSize = s3proto.DefaultPartSize
	// DefaultConcurrency is how many parts of one upload are sent at once.
	DefaultConcurrency = s3proto.DefaultConcurrency
	// DefaultRegion is used when neither Config.Region nor the SDK's
	// configuration (AWS_REGION, ~/.aws/config) names a region.
	DefaultRegion = "us-east-1"

	// MinPartSize and MaxPartSize are S3's limits on the size of a part.
	MinPartSize = s3proto.MinPartSize
	MaxPartSize = s3proto.MaxPartSize
	// maxParts is S3's limit on the number of parts of one upload.
	maxParts = s3proto.MaxParts
	// maxCopySize is the largest object one CopyObject request can copy;
	// larger ones are copied part by part with UploadPartCopy.
	maxCopySize = 5 << 30
)

// PrefixCheck says whether Put and Copy refuse, with storage.ErrExist, to
// store an object under a key whose parent is an object ("a/b" when "a"
// exists) or that is a prefix of other keys ("d" when "d/e" exists). MinIO
// lays objects out as directories: it accepts both objects but then lists
// only one of them. AWS S3, R2 and B2 hold such keys side by side. It is
// the same type as minio.PrefixCheck.
type PrefixCheck = s3proto.PrefixCheck

const (
	// PrefixCheckAuto, the zero value, checks when the server is MinIO, as
	// the Server header of its first response says. Until a response has
	// been seen it checks; the check's own requests then tell.
	PrefixCheckAuto = s3proto.PrefixCheckAuto
	// PrefixCheckOn always checks.
	PrefixCheckOn = s3proto.PrefixCheckOn
	// PrefixCheckOff never checks.
	PrefixCheckOff = s3proto.PrefixCheckOff
)

// Addressing says how the bucket name goes into request URLs.
type Addressing int

const (
	// AddressingAuto, the zero value, uses path-style requests for a custom
	// Endpoint that is not an AWS host, and virtual-hosted requests for AWS.
	AddressingAuto Addressing = iota
	// AddressingPath puts the bucket in the path:
	// https://endpoint/bucket/key. MinIO, Ceph and most self-hosted S3
	// servers need it.
	AddressingPath
	// AddressingVirtualHost puts the bucket in the host name:
	// https://bucket.endpoint/key. AWS prefers it.
	AddressingVirtualHost
)

// String returns "auto", "path" or "virtual-host".
func (a Addressing) String() string {
	switch a {
	case AddressingAuto:
		return "auto"
	case AddressingPath:
		return "path"
	case AddressingVirtualHost:
		return "virtual-host"
	}
	return fmt.Sprintf("Addressing(%d)", int(a))
}

// SSEMode selects server-side encryption.
type SSEMode int

const (
	// SSENone, the zero value, sends no encryption headers: the bucket's
	// default encryption (if any) applies.
	SSENone SSEMode = iota
	// SSES3 asks the server to encrypt with keys it manages (AES256,
	// "SSE-S3"). MinIO needs a KMS for it (MINIO_KMS_SECRET_KEY).
	SSES3
	// SSEKMS encrypts with a key held in a key management service
	// ("aws:kms"), named by SSE.KMSKeyID or the account default when empty.
	SSEKMS
	// SSEC encrypts with a customer-provided 256-bit key (SSE.CustomerKey)
	// that the server does not keep. The key is sent with every request that
	// touches object data: Put (every part), Get (ranged or not), Stat, and
	// Copy (as both source and destination key). The server refuses SSE-C
	// over plain HTTP, and presigned URLs are not offered (a plain GET
	// cannot carry the key).
	SSEC
)

// String returns "none", "SSE-S3", "SSE-KMS" or "SSE-C".
func (m SSEMode) String() string {
	switch m {
	case SSENone:
		return "none"
	case SSES3:
		return "SSE-S3"
	case SSEKMS:
		return "SSE-KMS"
	case SSEC:
		return "SSE-C"
	}
	return fmt.Sprintf("SSEMode(%d)", int(m))
}

// SSE configures server-side encryption. The zero value is no encryption
// headers.
type SSE struct {
	// Mode selects the kind of encryption.
	Mode SSEMode
	// KMSKeyID is the KMS key for SSEKMS; empty means the default key.
	// Ignored for other modes.
	KMSKeyID string
	// CustomerKey is the 32-byte key for SSEC. Required for SSEC, ignored
	// for other modes. It never appears in errors or logs.
	CustomerKey []byte
}

// Config configures a Store. Only Bucket is required; every other field's
// zero value means the default described beside it.
//
// Config's String, GoString, Format and LogValue methods hide the secret
// fields (SecretAccessKey, SessionToken, SSE.CustomerKey), so a Config may
// be printed with any fmt verb or logged with log/slog.
type Config struct {
	// Bucket is the bucket to store objects in. Required. The bucket must
	// exist: New does not create it (Store.CreateBucket does).
	Bucket string

	// Region is the bucket's region. Empty means the SDK's configuration
	// (AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config), then DefaultRegion.
	// S3-compatible servers mostly accept any region; use "auto" for
	// Cloudflare R2 and the region in the endpoint name for Backblaze B2.
	Region string

	// Endpoint is the base URL of an S3-compatible server, such as
	// "http://127.0.0.1:9000" or "https://<account>.r2.cloudflarestorage.com".
	// Empty means AWS (or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set).
	// It must not carry user information, a query or a fragment.
	Endpoint string

	// Addressing selects path-style or virtual-hosted requests. The zero
	// value, AddressingAuto, is path-style for a non-AWS Endpoint and
	// virtual-hosted otherwise.
	Addressing Addressing

	// AccessKeyID, SecretAccessKey and SessionToken are static credentials.
	// When AccessKeyID is empty the SDK's default credential chain is used
	// (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
	// AWS_PROFILE and ~/.aws, web identity, ECS and EC2 instance roles).
	// The secret and the token never appear in errors or logs.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// StorageClass is sent with every write, such as "STANDARD_IA" or
	// "GLACIER_IR". Empty means the bucket's default (STANDARD on AWS).
	StorageClass string

	// SSE configures server-side encryption. The zero value sends no
	// encryption headers.
	SSE SSE

	// PartSize is the size of each part of a multipart upload, between
	// MinPartSize and MaxPartSize; objects up to PartSize bytes are sent in a
	// single PutObject. Zero means DefaultPartSize (16 MiB). An upload of
	// unknown length may have at most 10,000 parts, so PartSize also bounds
	// the size of such an upload (160 GiB at the default); when
	// PutOptions.Size is given the part size grows as needed.
	PartSize int64

	// Concurrency is how many parts of one upload are in flight at once.
	// Zero means DefaultConcurrency (4). An upload holds at most
	// (Concurrency+1) × PartSize bytes of memory.
	Concurrency int

	// MaxAttempts is how many times the SDK tries each request before it
	// gives up (1 means no retries). Zero means the SDK's default (3, or
	// AWS_MAX_ATTEMPTS).
	MaxAttempts int

	// RecordLargeSHA256 makes Put record the SHA-256 of streams too large
	// to be held in memory before they are sent (more than
	// (Concurrency+1) × PartSize bytes, 80 MiB by default; a file of known
	// size is hashed before its upload and needs no copy) by copying each
	// onto itself, after its upload, with the checksum added to its
	// metadata. The server copies the data to do so (AWS and MinIO alike;
	// over 5 GiB part by part), which about halves the throughput of large
	// uploads and, in a versioned bucket, keeps a second version. Without
	// it such objects report an empty SHA256 from Stat, Get and List, and
	// Put still returns the SHA-256 it computed. The minio package has the
	// same field, with the same default.
	RecordLargeSHA256 bool

	// PrefixCheck is the prefix-conflict check of Put and Copy (see
	// PrefixCheck). The zero value, PrefixCheckAuto, checks on MinIO only.
	// The check costs one HEAD per parent and one LIST of one key per
	// write, sent at once before the upload; it is not atomic with the
	// upload.
	PrefixCheck PrefixCheck

	// Deprecated: PrefixConflicts true is PrefixCheck PrefixCheckOn, and
	// applies only when PrefixCheck is PrefixCheckAuto.
	PrefixConflicts bool

	// SkipVerifyReads turns off the check of whole-object reads. By
	// default, a Get without a range of an object whose SHA-256 is recorded
	// (see Checksums in the package documentation) hashes the content as it
	// is read, and the Read that reaches its end returns an error matching
	// storage.ErrCorrupt, instead of io.EOF, when the size or the SHA-256
	// differ from what was recorded. Ranged reads and objects without a
	// recorded SHA-256 are never checked. The check costs client CPU (the
	// SHA-256 of every byte read); skip it when something else verifies the
	// content.
	SkipVerifyReads bool

	// HTTPClient sends the requests. Nil means the SDK's default transport
	// (with AWS_CA_BUNDLE applied, when set). Use it for custom TLS roots
	// (a MinIO with a self-signed certificate), proxies or timeouts; it is
	// used as it is.
	HTTPClient *http.Client

	// Logger receives the Store's own log lines (aborted uploads, cleanup
	// failures). Nil discards them. The SDK's request logging is never
	// enabled: it would log signatures.
	Logger *slog.Logger
}

// String returns the Config with its secrets hidden: SecretAccessKey,
// SessionToken and SSE.CustomerKey print as xxxxx when they are set.
func (c Config) String() string {
	return fmt.Sprintf("s3.Config{Bucket:%q Region:%q Endpoint:%q Addressing:%s AccessKeyID:%q SecretAccessKey:%s SessionToken:%s "+
		"StorageClass:%q SSE:%s PartSize:%d Concurrency:%d MaxAttempts:%d RecordLargeSHA256:%t PrefixCheck:%s PrefixConflicts:%t SkipVerifyReads:%t "+
		"HTTPClient:%s Logger:%s}",
		c.Bucket, c.Region, redactEndpoint(c.Endpoint), c.Addressing, c.AccessKeyID, hidden(c.SecretAccessKey), hidden(c.SessionToken),
		c.StorageClass, c.SSE, c.PartSize, c.Concurrency, c.MaxAttempts, c.RecordLargeSHA256, c.PrefixCheck, c.PrefixConflicts, c.SkipVerifyReads,
		isSet(c.HTTPClient != nil), isSet(c.Logger != nil))
}

// GoString returns the Config with its secrets hidden, for %#v. It is the
// same text as String.
func (c Config) GoString() string { return c.String() }

// Format implements fmt.Formatter so that every verb, not only %v, %+v, %s
// and %#v, prints the Config with its secrets hidden: %q prints a quoted
// String, anything else String. Without it %d or %x would print the fields
// one by one, secrets included.
func (c Config) Format(f fmt.State, verb rune) { format(f, verb, c.String()) }

// LogValue implements slog.LogValuer: a Config logged with log/slog is a
// group of its fields with the secrets hidden, as in String.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("bucket", c.Bucket),
		slog.String("region", c.Region),
		slog.String("endpoint", redactEndpoint(c.Endpoint)),
		slog.String("addressing", c.Addressing.String()),
		slog.String("access_key_id", c.AccessKeyID),
		slog.String("secret_access_key", hiddenValue(c.SecretAccessKey)),
		slog.String("session_token", hiddenValue(c.SessionToken)),
		slog.String("storage_class", c.StorageClass),
		slog.String("sse", c.SSE.String()),
		slog.Int64("part_size", c.PartSize),
		slog.Int("concurrency", c.Concurrency),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Bool("record_large_sha256", c.RecordLargeSHA256),
		slog.String("prefix_check", c.PrefixCheck.String()),
		slog.Bool("prefix_conflicts", c.PrefixConflicts),
		slog.Bool("skip_verify_reads", c.SkipVerifyReads),
		slog.Bool("http_client", c.HTTPClient != nil),
		slog.Bool("logger", c.Logger != nil),
	)
}

// String returns the SSE settings with the customer key hidden.
func (s SSE) String() string {
	switch s.Mode {
	case SSEKMS:
		return fmt.Sprintf("%s(key %q)", s.Mode, s.KMSKeyID)
	case SSEC:
		return fmt.Sprintf("%s(key %s)", s.Mode, hidden(string(s.CustomerKey)))
	}
	return s.Mode.String()
}

// GoString returns the SSE settings with the customer key hidden.
func (s SSE) GoString() string { return s.String() }

// Format implements fmt.Formatter, so that every verb prints String.
func (s SSE) Format(f fmt.State, verb rune) { format(f, verb, s.String()) }

// LogValue implements slog.LogValuer with String.
func (s SSE) LogValue() slog.Value { return slog.StringValue(s.String()) }

// format prints text, a value's String, for any verb: quoted for %q.
func format(f fmt.State, verb rune, text string) {
	if verb == 'q' {
		text = strconv.Quote(text)
	}
	io.WriteString(f, text)
}

// hiddenValue is what LogValue shows for a secret: xxxxx when it is set,
// empty when it is not.
func hiddenValue(secret string) string {
	if secret == "" {
		return ""
	}
	return "xxxxx"
}

// redactEndpoint hides user information and secret-looking query
// parameters in an endpoint that has some: New refuses such an endpoint,
// but a Config may be printed before New sees it.
func redactEndpoint(e string) string {
	if !strings.ContainsAny(e, "@?#") {
		return e
	}
	return storage.RedactString(e)
}

func isSet(b bool) string {
	if b {
		return "set"
	}
	return "<nil>"
}

func hidden(secret string) string {
	if secret == "" {
		return `""`
	}
	return "xxxxx"
}

// settings are a Config checked, with defaults filled in and deprecated
// fields folded into their successors: PartSize, Concurrency,
// MaxAttempts, RecordLargeSHA256, PrefixCheck and SkipVerifyReads are as
// s3proto.Tuning.Check made them.
type settings struct {
	Config
	endpoint *url.URL     // nil for AWS
	awsHost  bool         // the endpoint is AWS (or absent)
	sseC     *sseCustomer // non-nil for SSEC
	log      *slog.Logger
}

// tuning returns the settings c shares with the minio package, with the
// deprecated fields folded in.
func (c Config) tuning() s3proto.Tuning {
	t := s3proto.Tuning{
		PartSize: c.PartSize, Concurrency: c.Concurrency, MaxAttempts: c.MaxAttempts,
		RecordLargeSHA256: c.RecordLargeSHA256, PrefixCheck: c.PrefixCheck, SkipVerifyReads: c.SkipVerifyReads,
	}
	if t.PrefixCheck == PrefixCheckAuto && c.PrefixConflicts {
		t.PrefixCheck = PrefixCheckOn
	}
	return t
}

// sseCustomer holds the header values of an SSE-C key.
type sseCustomer struct {
	key    string // base64 of the key
	keyMD5 string // base64 of the key's MD5
}

// String hides the key when an sseCustomer is formatted by accident.
func (*sseCustomer) String() string { return "SSE-C(key xxxxx)" }

func (c Config) check() (*settings, error) {
	s := &settings{Config: c, log: c.Logger}
	if c.Bucket == "" {
		return nil, fmt.Errorf("Config.Bucket is required")
	}
	if strings.ContainsAny(c.Bucket, "/?#") {
		return nil, fmt.Errorf("Config.Bucket %q is not a bucket name", c.Bucket)
	}
	s.awsHost = true
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("Config.Endpoint must be an http or https URL such as https://host:port")
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("Config.Endpoint %s must not carry user information, a query or a fragment", u.Scheme+"://"+u.Host)
		}
		s.endpoint = u
		s.awsHost = isAWSHost(u.Hostname())
	}
	switch c.Addressing {
	case AddressingAuto, AddressingPath, AddressingVirtualHost:
	default:
		return nil, fmt.Errorf("Config.Addressing %d is not one of the Addressing values", int(c.Addressing))
	}
	if c.AccessKeyID == "" && (c.SecretAccessKey != "" || c.SessionToken != "") {
		return nil, fmt.Errorf("Config.SecretAccessKey or SessionToken is set without AccessKeyID")
	}
	if c.AccessKeyID != "" && c.SecretAccessKey == "" {
		return nil, fmt.Errorf("Config.AccessKeyID is set without SecretAccessKey")
	}
	switch c.SSE.Mode {
	case SSENone, SSES3, SSEKMS:
	case SSEC:
		if len(c.SSE.CustomerKey) != 32 {
			return nil, fmt.Errorf("Config.SSE.CustomerKey must be 32 bytes for SSE-C, not %d", len(c.SSE.CustomerKey))
		}
		sum := md5.Sum(c.SSE.CustomerKey)
		s.sseC = &sseCustomer{
			key:    base64.StdEncoding.EncodeToString(c.SSE.CustomerKey),
			keyMD5: base64.StdEncoding.EncodeToString(sum[:]),
		}
	default:
		return nil, fmt.Errorf("Config.SSE.Mode %d is not one of the SSEMode values", int(c.SSE.Mode))
	}
	t, err := c.tuning().Check()
	if err != nil {
		return nil, err
	}
	s.PartSize, s.Concurrency, s.MaxAttempts = t.PartSize, t.Concurrency, t.MaxAttempts
	s.RecordLargeSHA256, s.PrefixCheck, s.PrefixConflicts, s.SkipVerifyReads = t.RecordLargeSHA256, t.PrefixCheck, false, t.SkipVerifyReads
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// plainHTTP reports whether the endpoint is plain HTTP, where the SDK signs
// a request's body with its SHA-256 (over HTTPS it sends UNSIGNED-PAYLOAD).
func (s *settings) plainHTTP() bool {
	return s.endpoint != nil && s.endpoint.Scheme == "http"
}

// pathStyle reports whether requests put the bucket in the path.
func (s *settings) pathStyle() bool {
	switch s.Addressing {
	case AddressingPath:
		return true
	case AddressingVirtualHost:
		return false
	}
	return s.endpoint != nil && !s.awsHost
}

// compatibleEndpoint reports whether requests go to an S3-compatible
// server rather than AWS: Config.Endpoint, or else AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL, names a host that is not AWS's.
func (s *settings) compatibleEndpoint() bool {
	if s.endpoint != nil {
		return !s.awsHost
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			u, err := url.Parse(v)
			return err == nil && u.Host != "" && !isAWSHost(u.Hostname())
		}
	}
	return false
}

// isAWSHost reports whether host is an AWS S3 endpoint.
func isAWSHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn")
}
