package local

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"

	"github.com/strata-storage/strata/storage"
)

// Scheme is the URL scheme this package registers with storage.Register.
const Scheme = "file"

func init() {
	storage.Register(Scheme, func(ctx context.Context, u *url.URL) (storage.Provider, error) {
		return OpenURL(u)
	})
}

// OpenURL opens the Store a file URL names; storage.Open calls it for the
// "file" scheme. See the package documentation, section URLs, for the
// forms it takes. Errors match storage.ErrInvalidArgument for a URL it
// does not take.
func OpenURL(u *url.URL) (*Store, error) {
	root, opts, err := parseURL(u)
	if err != nil {
		return nil, openError(storage.ErrInvalidArgument, err)
	}
	return New(root, opts)
}

func parseURL(u *url.URL) (string, *Options, error) {
	if u == nil {
		return "", nil, fmt.Errorf("nil URL")
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return "", nil, fmt.Errorf("URL %s: scheme is not %q", storage.Redact(u), Scheme)
	}
	if u.User != nil {
		return "", nil, fmt.Errorf("URL %s: a file URL takes no user name or password", storage.Redact(u))
	}
	if u.Fragment != "" {
		return "", nil, fmt.Errorf("URL %s: a file URL takes no fragment", storage.Redact(u))
	}
	var root string
	switch {
	case u.Opaque != "":
		// file:relative/dir
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", nil, fmt.Errorf("URL %s: %v", storage.Redact(u), err)
		}
		root = p
	case u.Host == "." || u.Host == "..":
		return "", nil, fmt.Errorf("URL %s: for a directory relative to the working directory write file:%s%s (no //)", storage.Redact(u), u.Host, u.Path)
	case u.Host != "" && !strings.EqualFold(u.Host, "localhost"):
		return "", nil, fmt.Errorf("URL %s: host %q: a file URL names a local directory, as file:///srv/media", storage.Redact(u), u.Host)
	default:
		root = u.Path
	}
	if root == "" {
		return "", nil, fmt.Errorf("URL %s names no directory (want file:///srv/media or file:relative/dir)", storage.Redact(u))
	}
	opts := &Options{}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("URL %s: query: %v", storage.Redact(u), err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return "", nil, fmt.Errorf("URL %s: parameter %q given %d times", storage.Redact(u), name, len(vals))
		}
		v := vals[0]
		switch name {
		case "file_mode", "dir_mode":
			m, err := strconv.ParseUint(v, 8, 32)
			if err != nil || m == 0 || m > 0o777 {
				return "", nil, fmt.Errorf("URL %s: %s=%q: want octal permission bits such as 0640", storage.Redact(u), name, v)
			}
			if name == "file_mode" {
				opts.FileMode = fs.FileMode(m)
			} else {
				opts.DirMode = fs.FileMode(m)
			}
		case "metadata":
			switch v {
			case "auto":
				opts.Metadata = MetadataAuto
			case "xattr":
				opts.Metadata = MetadataXattr
			case "sidecar":
				opts.Metadata = MetadataSidecar
			default:
				return "", nil, fmt.Errorf("URL %s: metadata=%q: want auto, xattr or sidecar", storage.Redact(u), v)
			}
		case "sync":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return "", nil, fmt.Errorf("URL %s: sync=%q: want true or false", storage.Redact(u), v)
			}
			opts.NoSync = !b
		default:
			return "", nil, fmt.Errorf("URL %s: unknown parameter %q (known: file_mode, dir_mode, metadata, sync)", storage.Redact(u), name)
		}
	}
	return root, opts, nil
}
