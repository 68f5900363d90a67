package reliability

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-storage/strata/b2"
	_ "github.com/strata-storage/strata/local"
	_ "github.com/strata-storage/strata/memory"
	_ "github.com/strata-storage/strata/minio"
	_ "github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// openSentinels are the errors storage.Open may answer with.
var openSentinels = []error{storage.ErrInvalidArgument, storage.ErrInvalidKey, storage.ErrUnsupported,
	storage.ErrPermission, storage.ErrNotFound, storage.ErrUnavailable, storage.ErrExist}

// urlSecrets returns the secrets rawURL carries: its password and the values
// of query parameters whose names look secret, as storage.Redact hides them,
// both decoded and as written.
func urlSecrets(u *url.URL) []string {
	var out []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
	}
	for name, vals := range u.Query() {
		n := strings.ToLower(name)
		for _, s := range []string{"secret", "password", "key", "token", "credential", "sse_c", "sse-c", "signature"} {
			if strings.Contains(n, s) {
				out = append(out, vals...)
			}
		}
	}
	var raw []string
	for _, s := range out {
		raw = append(raw, s, url.QueryEscape(s), url.PathEscape(s))
	}
	return raw
}

// FuzzOpenURL opens arbitrary URLs with every driver registered: Open never
// panics, every error matches a storage sentinel, and no error string holds
// the URL's password or a secret query parameter.
//
// Two kinds of URL are parsed but not opened, as opening them would act on
// the world: file URLs outside the fuzzer's temporary directory (local.New
// creates its root) and valid b2 URLs (b2.New calls the B2 API); for b2 the
// URL's parser, b2.ConfigFromURL, is checked instead.
func FuzzOpenURL(f *testing.F) {
	tmp := f.TempDir()
	for _, s := range []string{
		"mem://", "mem://x?y=z",
		"file://" + tmp + "/root", "file://" + tmp + "/r?mode=0640&dir_mode=0750", "file:relative", "file://host/x",
		"s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1",
		"s3://AKIA:supersecretvalue@bucket?endpoint=http://127.0.0.1:9000",
		"s3://bucket?secret_key=supersecretvalue&access_key=AKIA&session_token=tokentokentoken",
		"s3://bucket?sse=sse-c&sse_c_key=MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE",
		"minio://127.0.0.1:9000/bucket?secure=false&region=us-east-1",
		"minio://user:hunter2hunter2@127.0.0.1:9000/bucket",
		"minio://127.0.0.1:9000/b?secret=xyzzyxyzzy&part_size=-1",
		"b2://keyid:applicationkeysecret@bucket", "b2://bucket?part_size=1KiB", "b2://bucket/path",
		"b2://k:appkeysecret@bucket?api_base=http://127.0.0.1:1&part_size=zz",
		"%gh://x", "://", "", "s3://[::1", "minio://u:p%zz@h/b", "S3://BUCKET?Endpoint=ftp://x",
		"unknown://u:passwordpassword@h", "mem://u:passwordpassword@h",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		u, perr := url.Parse(raw)
		if perr == nil {
			switch strings.ToLower(u.Scheme) {
			case "file":
				p := filepath.Clean(u.Path)
				if u.Host != "" || u.Opaque != "" || !strings.HasPrefix(p, tmp+string(filepath.Separator)) {
					return
				}
			case "b2":
				_, err := b2.ConfigFromURL(u)
				if err == nil {
					return
				}
				checkOpenErr(t, raw, u, err)
				return
			}
		}
		p, err := storage.Open(ctx, raw)
		if err == nil {
			p.Close()
			return
		}
		if perr != nil {
			u = nil
		}
		checkOpenErr(t, raw, u, err)
	})
}

func checkOpenErr(t *testing.T, raw string, u *url.URL, err error) {
	t.Helper()
	matched := false
	for _, s := range openSentinels {
		if errors.Is(err, s) {
			matched = true
		}
	}
	if !matched && !storage.IsContextError(err) {
		t.Errorf("Open(%q): error matches no storage sentinel: %v", storage.RedactString(raw), err)
	}
	if u == nil {
		// Unparsable: the whole input is treated as secret-bearing,
		// so its userinfo must not show.
		if i := strings.Index(raw, "@"); i > 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j+3 < i {
				user := raw[j+3 : i]
				if k := strings.Index(user, ":"); k >= 0 && len(user)-k-1 >= 6 && strings.Contains(err.Error(), user[k+1:]) {
					t.Errorf("Open(%q): error shows the password: %v", storage.RedactString(raw), err)
				}
			}
		}
		return
	}
	redacted := storage.Redact(u)
	for _, s := range urlSecrets(u) {
		// Short or common values appear by chance elsewhere; a value
		// that is also outside the secret fields of the URL is not one
		// the error could only have copied from them.
		if len(s) < 6 || strings.Contains(redacted, s) {
			continue
		}
		if strings.Contains(err.Error(), s) {
			t.Errorf("Open(%s): error shows the secret %q: %v", redacted, s, err)
		}
	}
}
