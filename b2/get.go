package b2

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"maps"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	b2base "github.com/Backblaze/blazer/base"

	"github.com/strata-storage/strata/storage"
)

// download is a download by name, with the headers blazer does not return.
type download struct {
	fr     *b2base.FileReader
	header http.Header
	status int
}

// downloadByName calls b2_download_file_by_name (a HEAD when head is set)
// for length bytes from offset (0, 0: the whole file).
func (c *client) downloadByName(ctx context.Context, key string, offset, length int64, head bool) (*download, error) {
	var d *download
	var capt captured
	err := c.call(ctx, "b2_download_file_by_name", func(ctx context.Context, s *session) error {
		capt = captured{}
		fr, err := s.bucket.DownloadFileByName(context.WithValue(ctx, captureKey{}, &capt), key, offset, length, head)
		if err != nil {
			return err
		}
		d = &download{fr: fr, header: capt.header, status: capt.status}
		return nil
	})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestedRangeNotSatisfiable {
			// Say how big the object is, so Get can tell an empty object
			// from a range past the end.
			return nil, &rangeError{APIError: ae, size: contentRangeSize(capt.header)}
		}
		return nil, err
	}
	return d, nil
}

// rangeError is a 416 answer with the object's size from Content-Range
// (-1 when B2 did not say).
type rangeError struct {
	*APIError
	size int64
}

func (e *rangeError) Unwrap() error { return e.APIError }

// contentRangeSize returns the size after the "/" of a Content-Range
// header, or -1.
func contentRangeSize(h http.Header) int64 {
	cr := h.Get("Content-Range")
	i := strings.LastIndexByte(cr, '/')
	if i < 0 {
		return -1
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// info builds the Info of key from a download's headers.
func (d *download) info(key string) (storage.Info, error) {
	size := int64(d.fr.ContentLength)
	if d.status == http.StatusPartialContent {
		if size = contentRangeSize(d.header); size < 0 {
			return storage.Info{}, fmt.Errorf("b2 answered a range request without the object's size in Content-Range")
		}
	}
	var mtime time.Time
	if ms, err := strconv.ParseInt(d.header.Get("X-Bz-Upload-Timestamp"), 10, 64); err == nil {
		mtime = time.UnixMilli(ms)
	}
	info := storage.Info{Key: key, Size: size, ModTime: mtime, ETag: d.fr.ID, ContentType: d.fr.ContentType}
	info.SHA256, info.Metadata = splitInfo(d.fr.Info)
	setAttrs(&info, d.fr.Info)
	setAttrsFromHeader(&info, d.header)
	return info, nil
}

// splitInfo separates B2 file info into strata's SHA-256 and the user
// metadata (unpacking "strata-metadata"). Entries that are not valid strata
// metadata keys (B2's own, such as src_last_modified_millis or
// b2-cache-control, or other tools') are left out.
func splitInfo(fileInfo map[string]string) (sha string, md map[string]string) {
	for k, v := range fileInfo {
		k = strings.ToLower(k)
		if k == infoSHA256 {
			sha = v
			continue
		}
		if k == infoMetadata {
			if packed, err := unpackMetadata(v); err == nil && len(packed) > 0 {
				if md == nil {
					md = map[string]string{}
				}
				maps.Copy(md, packed)
			}
			continue
		}
		if strings.HasPrefix(k, "b2-") {
			continue // B2's own, such as the HTTP attributes
		}
		if storage.ValidMetadata(map[string]string{k: v}) != nil {
			continue
		}
		if md == nil {
			md = map[string]string{}
		}
		md[k] = v
	}
	return sha, md
}

// Stat implements driver.Driver: the Info of the object under key, from a
// HEAD of its download URL.
func (c *client) Stat(ctx context.Context, key string) (storage.Info, error) {
	d, err := c.downloadByName(ctx, key, 0, 0, true)
	if err != nil {
		return storage.Info{}, err
	}
	_ = d.fr.Close()
	return d.info(key)
}

// Get implements driver.Driver: it opens the object under key, or rng of
// it, with one download request. A missing key fails here, not at the
// first Read. The Store checks the length of what is read, and the
// SHA-256 of a whole object; an object with no SHA-256 (one a large
// upload or another tool wrote) is checked against B2's SHA1 when B2 has
// one.
func (c *client) Get(ctx context.Context, key string, rng *storage.Range) (io.ReadCloser, storage.Info, error) {
	var offset, length int64
	if rng != nil {
		offset, length = rng.Offset, max(rng.Length, 0)
	}
	d, err := c.downloadByName(ctx, key, offset, length, false)
	var re *rangeError
	if errors.As(err, &re) && offset == 0 && re.size == 0 {
		// A range of an empty object: there is nothing to read, which is
		// fine from offset 0.
		length = 0
		d, err = c.downloadByName(ctx, key, 0, 0, false)
	}
	if err != nil {
		return nil, storage.Info{}, err
	}
	if (offset > 0 || length > 0) && d.status != http.StatusPartialContent {
		_ = d.fr.Close()
		return nil, storage.Info{}, fmt.Errorf("b2 answered a range request with status %d, not 206", d.status)
	}
	info, err := d.info(key)
	if err != nil {
		_ = d.fr.Close()
		return nil, storage.Info{}, err
	}
	b := &body{ctx: ctx, rc: d.fr, c: c}
	if offset == 0 && d.status == http.StatusOK && info.SHA256 == "" {
		if sum, err := hex.DecodeString(strings.TrimPrefix(d.fr.SHA1, "unverified:")); err == nil && len(sum) == sha1.Size {
			b.h, b.sum = sha1.New(), sum
		}
	}
	return b, info, nil
}

// body is the reader Get returns to the Store. It turns a failure of the
// connection into a *netError, scrubbed, so that it matches
// storage.ErrUnavailable, and checks B2's SHA1 when it is set.
type body struct {
	ctx context.Context
	rc  io.ReadCloser
	c   *client
	h   hash.Hash // nil: nothing to check
	sum []byte
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.h != nil {
		b.h.Write(p[:n])
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		if b.h != nil && !bytes.Equal(b.h.Sum(nil), b.sum) {
			return n, fmt.Errorf("downloaded bytes do not match the SHA1 B2 stored with the object: %w", storage.ErrCorrupt)
		}
		return n, io.EOF
	case b.ctx.Err() != nil:
		return n, b.ctx.Err()
	}
	return n, &netError{msg: b.c.scrub(err.Error())}
}

func (b *body) Close() error { return b.rc.Close() }

// List implements driver.Driver: it yields the objects under opts.Prefix
// after opts.StartAfter, in byte-wise order, from b2_list_file_names pages
// of 1000 names. Hidden files are not listed. The Info has Key, Size,
// ModTime, ETag, ContentType, Metadata and, for small objects written by
// strata, SHA256.
//
// With opts.Delimiter ("/") it passes the delimiter to b2_list_file_names,
// which answers with one "folder" entry for all the names under a common
// prefix (and only for names that are visible): List yields it as an Info
// with IsPrefix set, and the names under it are neither sent nor billed. A
// listing that resumes inside a folder, after it or after a name under it,
// starts past its last possible name (the folder with its "/" turned into
// "0", as B2's own tools do), so the folder is not listed again.
func (c *client) List(ctx context.Context, opts storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		prefix, delim := opts.Prefix, opts.Delimiter
		last := opts.StartAfter // the last entry yielded, or StartAfter
		start := max(prefix, last)
		for {
			if delim != "" {
				start = pastFolder(start, prefix, last)
			}
			var files []*b2base.File
			var next string
			err := c.call(ctx, "b2_list_file_names", func(ctx context.Context, s *session) error {
				var err error
				files, next, err = s.bucket.ListFileNames(ctx, c.listPage, start, prefix, delim)
				return err
			})
			if err != nil {
				yield(storage.Info{}, err)
				return
			}
			for _, f := range files {
				if f.Name <= last || !strings.HasPrefix(f.Name, prefix) {
					continue
				}
				var info storage.Info
				switch {
				case f.Status == "upload":
					info = fileInfo(f)
				case f.Status == "folder" && delim != "" && strings.HasSuffix(f.Name, delim):
					info = storage.Info{Key: f.Name, IsPrefix: true}
				default:
					continue
				}
				if !yield(info, nil) {
					return
				}
				last = f.Name
			}
			if next == "" || len(files) == 0 {
				return
			}
			start = next
		}
	}
}

// pastFolder returns where a listing of prefix with the delimiter "/"
// that has yielded everything up to last resumes, given that it would
// resume at start: when start lies in a folder (a name with a "/" after
// prefix) that sorts at or before last, the folder was yielded already,
// or precedes StartAfter, and the listing resumes at the first name after
// everything in it, the folder with its closing "/" turned into "0" (the
// byte after "/").
func pastFolder(start, prefix, last string) string {
	if !strings.HasPrefix(start, prefix) {
		return start
	}
	i := strings.IndexByte(start[len(prefix):], '/')
	if i < 0 {
		return start
	}
	folder := start[:len(prefix)+i+1]
	if folder > last {
		return start
	}
	return folder[:len(folder)-1] + "0"
}

func fileInfo(f *b2base.File) storage.Info {
	info := storage.Info{Key: f.Name, Size: f.Size, ModTime: f.Timestamp, ETag: f.ID}
	if f.Info != nil {
		info.ContentType = f.Info.ContentType
		info.SHA256, info.Metadata = splitInfo(f.Info.Info)
		setAttrs(&info, f.Info.Info)
	}
	return info
}

// Delete implements driver.Driver: it removes key. With DeleteAllVersions (the default) it lists the
// versions of key with b2_list_file_versions and deletes each one, hide
// markers included, so nothing is left; with DeleteHide it hides the file
// with b2_hide_file. Deleting a missing key succeeds.
func (c *client) Delete(ctx context.Context, key string) error {
	if c.cfg.DeleteMode == DeleteHide {
		err := c.call(ctx, "b2_hide_file", func(ctx context.Context, s *session) error {
			_, err := s.bucket.HideFile(ctx, key)
			return err
		})
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Code == "already_hidden" || ae.Code == "no_such_file" || ae.Code == "file_not_present") {
			return nil
		}
		return err
	}
	// Versions written while this runs may survive it; that is a Put after
	// the Delete. Bound the rounds so a busy key cannot keep Delete going.
	for range 100 {
		versions, err := c.versions(ctx, key)
		if err != nil {
			return err
		}
		if len(versions) == 0 {
			return nil
		}
		for _, id := range versions {
			if err := c.deleteVersion(ctx, key, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// versions returns the IDs of up to 1000 versions (uploads and hide
// markers) of key, newest first.
func (c *client) versions(ctx context.Context, key string) ([]string, error) {
	var files []*b2base.File
	err := c.call(ctx, "b2_list_file_versions", func(ctx context.Context, s *session) error {
		var err error
		files, _, _, err = s.bucket.ListFileVersions(ctx, 1000, key, "", key, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range files {
		if f.Name != key {
			break
		}
		if f.Status == "upload" || f.Status == "hide" {
			ids = append(ids, f.ID)
		}
	}
	return ids, nil
}

// deleteVersion calls b2_delete_file_version; a version already gone is
// not an error.
func (c *client) deleteVersion(ctx context.Context, key, id string) error {
	err := c.call(ctx, "b2_delete_file_version", func(ctx context.Context, s *session) error {
		return s.bucket.File(id, key).DeleteFileVersion(ctx)
	})
	if kindOf(err) == storage.ErrNotFound {
		return nil
	}
	return err
}

// MaxPresignExpiry is the longest validity of a presigned URL: B2's limit
// for b2_get_download_authorization.
const MaxPresignExpiry = 7 * 24 * time.Hour

// PresignGet returns a URL that downloads key without credentials until
// expiry has passed (at most MaxPresignExpiry, rounded up to whole
// seconds). It carries a token from b2_get_download_authorization for the
// file name prefix key: B2 authorizes prefixes, so the token also reads any
// object whose key starts with key (such as "a/b1" for "a/b").
func (st *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	const op = "presign"
	if err := st.Check(ctx, op, key); err != nil {
		return "", err
	}
	secs := int64(math.Ceil(expiry.Seconds()))
	if expiry <= 0 || expiry > MaxPresignExpiry {
		return "", st.Wrap(op, key, fmt.Errorf("expiry %v is outside (0, %v]: %w", expiry, MaxPresignExpiry, storage.ErrInvalidArgument))
	}
	var tok, baseURL string
	err := st.c.call(ctx, "b2_get_download_authorization", func(ctx context.Context, s *session) error {
		var err error
		tok, err = s.bucket.GetDownloadAuthorization(ctx, key, time.Duration(secs)*time.Second, "")
		baseURL = s.bucket.BaseURL()
		return err
	})
	if err != nil {
		return "", st.Wrap(op, key, err)
	}
	return baseURL + "/file/" + escapePath(st.c.cfg.Bucket) + "/" + escapePath(key) + "?Authorization=" + url.QueryEscape(tok), nil
}

// escapePath percent-encodes s for a download URL: every byte but letters,
// digits and "-._~/" becomes %XX, so "+" and spaces cannot be misread.
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
