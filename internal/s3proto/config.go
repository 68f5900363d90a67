package s3proto

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The limits and defaults of the settings both drivers share.
const (
	// DefaultPartSize is the part size when Tuning.PartSize is zero.
	DefaultPartSize = 16 << 20
	// DefaultConcurrency is how many parts of one upload are sent at once
	// when Tuning.Concurrency is zero.
	DefaultConcurrency = 4
	// MinPartSize and MaxPartSize are S3's limits on the size of a part.
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	// MaxParts is S3's limit on the number of parts of one upload.
	MaxParts = 10000
	// maxConcurrency bounds Tuning.Concurrency.
	maxConcurrency = 256
)

// PrefixCheck says whether Put and Copy refuse, with storage.ErrExist, to
// store an object under a key whose parent is an object ("a/b" when "a"
// exists) or that is a prefix of other keys ("d" when "d/e" exists). MinIO
// lays objects out as directories: it accepts both objects but then lists
// only one of them. AWS S3, R2 and B2 hold such keys side by side.
type PrefixCheck int

const (
	// PrefixCheckAuto, the zero value, checks when the server is MinIO, as
	// the Server header of its responses says (MinIO sends "MinIO"). Until
	// a response has been seen, it checks: the check's own requests then
	// tell which server it is.
	PrefixCheckAuto PrefixCheck = iota
	// PrefixCheckOn always checks.
	PrefixCheckOn
	// PrefixCheckOff never checks.
	PrefixCheckOff
)

// String returns "auto", "true" or "false", the values of the prefix_check
// URL parameter.
func (p PrefixCheck) String() string {
	switch p {
	case PrefixCheckAuto:
		return "auto"
	case PrefixCheckOn:
		return "true"
	case PrefixCheckOff:
		return "false"
	}
	return "PrefixCheck(" + strconv.Itoa(int(p)) + ")"
}

// ParsePrefixCheck parses the value of the prefix_check URL parameter:
// auto, or a boolean as strconv.ParseBool reads it.
func ParsePrefixCheck(v string) (PrefixCheck, error) {
	if strings.EqualFold(v, "auto") {
		return PrefixCheckAuto, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return 0, fmt.Errorf("prefix_check must be auto, true or false")
	}
	if b {
		return PrefixCheckOn, nil
	}
	return PrefixCheckOff, nil
}

// Tuning is what the Config of both drivers says alike, under the same
// names: the s3 and minio packages copy it out of their Config (old names
// included) and check it with Check.
type Tuning struct {
	// PartSize is the size of one part of a multipart upload, and the
	// largest object sent in one request. Zero: DefaultPartSize.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight at once.
	// Zero: DefaultConcurrency.
	Concurrency int
	// MaxAttempts is how many times a request is tried (1: no retries).
	// Zero: the SDK's default.
	MaxAttempts int
	// RecordLargeSHA256 records the SHA-256 of objects too large to be
	// held before they are sent, with a server-side copy of the object
	// onto itself after its upload.
	RecordLargeSHA256 bool
	// PrefixCheck is the prefix-conflict check of Put and Copy.
	PrefixCheck PrefixCheck
	// SkipVerifyReads turns off the verification of whole-object reads.
	SkipVerifyReads bool
}

// Check returns t with its defaults filled in, or an error naming the
// Config field that is out of range.
func (t Tuning) Check() (Tuning, error) {
	if t.PartSize == 0 {
		t.PartSize = DefaultPartSize
	}
	if t.PartSize < MinPartSize || t.PartSize > MaxPartSize {
		return t, fmt.Errorf("Config.PartSize %d is outside [%d, %d]", t.PartSize, MinPartSize, MaxPartSize)
	}
	if t.Concurrency == 0 {
		t.Concurrency = DefaultConcurrency
	}
	if t.Concurrency < 1 || t.Concurrency > maxConcurrency {
		return t, fmt.Errorf("Config.Concurrency %d is outside [1, %d]", t.Concurrency, maxConcurrency)
	}
	if t.MaxAttempts < 0 {
		return t, fmt.Errorf("Config.MaxAttempts %d is negative", t.MaxAttempts)
	}
	switch t.PrefixCheck {
	case PrefixCheckAuto, PrefixCheckOn, PrefixCheckOff:
	default:
		return t, fmt.Errorf("Config.PrefixCheck %d is not one of the PrefixCheck values", int(t.PrefixCheck))
	}
	return t, nil
}

// URLParams are the query parameters of both drivers' URLs that set a
// Tuning, by their names.
var URLParams = []string{"part_size", "concurrency", "max_attempts", "record_large_sha256", "prefix_check", "skip_verify_reads"}

// deprecatedParams are the older names of URLParams that are still
// accepted, with the parameter each stands for.
var deprecatedParams = map[string]string{
	"threads":               "concurrency",
	"max_retries":           "max_attempts",
	"skip_multipart_sha256": "record_large_sha256",
	"prefix_conflicts":      "prefix_check",
	"skip_prefix_check":     "prefix_check",
}

// TuningFromURL takes the parameters that set a Tuning out of q, the query
// of an s3:// or minio:// URL, deleting them from q, and returns the
// Tuning they say. It accepts the deprecated names of older releases:
// threads (concurrency), max_retries (max_attempts),
// skip_multipart_sha256 (its negation is record_large_sha256),
// prefix_conflicts (true is prefix_check=true) and skip_prefix_check (true
// is prefix_check=false). A parameter given twice, under one name or under
// a new and an old one, is an error.
func TuningFromURL(q url.Values) (Tuning, error) {
	var t Tuning
	given := map[string]string{} // parameter -> the name it was given under
	take := func(name string) (string, bool, error) {
		vals, ok := q[name]
		if !ok {
			return "", false, nil
		}
		delete(q, name)
		if len(vals) != 1 {
			return "", false, fmt.Errorf("parameter %q is given %d times", name, len(vals))
		}
		param := name
		if p, old := deprecatedParams[name]; old {
			param = p
		}
		if other, dup := given[param]; dup {
			return "", false, fmt.Errorf("give %s or %s, not both", other, name)
		}
		given[param] = name
		return vals[0], true, nil
	}
	boolean := func(name, v string) (bool, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s must be true or false", name)
		}
		return b, nil
	}
	positive := func(name, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s must be a positive integer", name)
		}
		return n, nil
	}
	// The new names first, so that a clash names the new one first.
	for _, name := range []string{"part_size", "concurrency", "threads", "max_attempts", "max_retries",
		"record_large_sha256", "skip_multipart_sha256", "prefix_check", "prefix_conflicts", "skip_prefix_check", "skip_verify_reads"} {
		v, ok, err := take(name)
		if err != nil {
			return Tuning{}, err
		}
		if !ok {
			continue
		}
		switch name {
		case "part_size":
			t.PartSize, err = ParseSize(v)
			if err != nil {
				err = fmt.Errorf("part_size: %w", err)
			}
		case "concurrency", "threads":
			t.Concurrency, err = positive(name, v)
		case "max_attempts", "max_retries":
			t.MaxAttempts, err = positive(name, v)
		case "record_large_sha256":
			t.RecordLargeSHA256, err = boolean(name, v)
		case "skip_multipart_sha256":
			var skip bool
			skip, err = boolean(name, v)
			t.RecordLargeSHA256 = !skip
		case "prefix_check":
			t.PrefixCheck, err = ParsePrefixCheck(v)
		case "prefix_conflicts":
			var on bool
			if on, err = boolean(name, v); on {
				t.PrefixCheck = PrefixCheckOn
			}
		case "skip_prefix_check":
			var skip bool
			if skip, err = boolean(name, v); skip {
				t.PrefixCheck = PrefixCheckOff
			}
		case "skip_verify_reads":
			t.SkipVerifyReads, err = boolean(name, v)
		}
		if err != nil {
			return Tuning{}, err
		}
	}
	return t, nil
}

// KnownURLParams returns the parameters a driver's URL accepts, its own
// (driverParams) and the shared ones, for the error about an unknown one.
// The deprecated names are left out.
func KnownURLParams(driverParams ...string) string {
	return strings.Join(append(driverParams, URLParams...), ", ")
}

// ParseSize parses a byte count with an optional binary suffix: 16777216,
// 16MiB, 16M, 1GiB.
func ParseSize(v string) (int64, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, suf.s) {
			s, mult = strings.TrimSuffix(s, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 16MiB", v)
	}
	return n * mult, nil
}
