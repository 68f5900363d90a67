package b2

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Backblaze/blazer/base"

	"github.com/strata-storage/strata/storage"
)

// download is a download by name, with the headers blazer does not return.
type download struct {
	fr     *base.FileReader
	header http.Header
	status int
}

// downloadByName calls b2_download_file_by_name (a HEAD when head is set)
// for length bytes from offset (0, 0: the whole file).
func (st *Store) downloadByName(ctx context.Context, key string, offset, length int64, head bool) (*download, error) {
	var d *download
	var c captured
	err := st.call(ctx, "b2_download_file_by_name", func(ctx context.Context, s *session) error {
		c = captured{}
		fr, err := s.bucket.DownloadFileByName(context.WithValue(ctx, captureKey{}, &c), key, offset, length, head)
		if err != nil {
			return err
		}
		d = &download{fr: fr, header: c.header, status: c.status}
		return nil
	})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusRequestedRangeNotSatisfiable {
			// Say how big the object is, so Get can tell an empty object
			// from a range past the end.
			return nil, &rangeError{APIError: ae, size: contentRangeSize(c.header)}
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
	return info, nil
}

// splitInfo separates B2 file info into strata's SHA-256 and the user
// metadata. Entries that are not valid strata metadata keys (B2's own, such
// as src_last_modified_millis, or other tools') are left out.
func splitInfo(fileInfo map[string]string) (sha string, md map[string]string) {
	for k, v := range fileInfo {
		k = strings.ToLower(k)
		if k == infoSHA256 {
			sha = v
			continue
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

// Stat returns the Info of the object under key, from a HEAD of its
// download URL.
func (st *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := st.checkOpen("stat", key); err != nil {
		return storage.Info{}, err
	}
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, st.wrap("stat", key, err)
	}
	d, err := st.downloadByName(ctx, key, 0, 0, true)
	if err != nil {
		return storage.Info{}, st.wrap("stat", key, err)
	}
	_ = d.fr.Close()
	info, err := d.info(key)
	return info, st.wrap("stat", key, err)
}

// Get opens the object under key, or opts.Range of it, with one download
// request. A missing key fails here, not at the first Read. When the whole
// object is read, its SHA-256 (or B2's SHA1) is checked at the end and a
// mismatch fails the last Read with storage.ErrCorrupt.
func (st *Store) Get(ctx context.Context, key string, opts *storage.GetOptions) (io.ReadCloser, storage.Info, error) {
	if err := st.checkOpen("get", key); err != nil {
		return nil, storage.Info{}, err
	}
	if err := storage.ValidKey(key); err != nil {
		return nil, storage.Info{}, st.wrap("get", key, err)
	}
	var offset, length int64
	if opts != nil && opts.Range != nil {
		offset, length = opts.Range.Offset, max(opts.Range.Length, 0)
		if offset < 0 {
			return nil, storage.Info{}, &storage.Error{Op: "get", Provider: provider, Key: key, Kind: storage.ErrInvalidRange}
		}
	}
	d, err := st.downloadByName(ctx, key, offset, length, false)
	var re *rangeError
	if errors.As(err, &re) && offset == 0 && re.size == 0 {
		// A range of an empty object: there is nothing to read, which is
		// fine from offset 0.
		length = 0
		d, err = st.downloadByName(ctx, key, 0, 0, false)
	}
	if err != nil {
		return nil, storage.Info{}, st.wrap("get", key, err)
	}
	if (offset > 0 || length > 0) && d.status != http.StatusPartialContent {
		_ = d.fr.Close()
		return nil, storage.Info{}, st.wrap("get", key, fmt.Errorf("b2 answered a range request with status %d, not 206", d.status))
	}
	info, err := d.info(key)
	if err != nil {
		_ = d.fr.Close()
		return nil, storage.Info{}, st.wrap("get", key, err)
	}
	body := &body{ctx: ctx, rc: d.fr, st: st, key: key, want: int64(d.fr.ContentLength)}
	if offset == 0 && d.status == http.StatusOK {
		// The whole object: check what arrives against a known hash.
		if len(info.SHA256) == 64 {
			body.h, body.sum = sha256.New(), info.SHA256
		} else if sha := strings.TrimPrefix(d.fr.SHA1, "unverified:"); len(sha) == 40 {
			body.h, body.sum = sha1.New(), sha
		}
	}
	return body, info, nil
}

// body is the reader Get returns.
type body struct {
	ctx  context.Context
	rc   io.ReadCloser
	st   *Store
	key  string
	want int64 // bytes expected
	got  int64
	h    hash.Hash
	sum  string
}

func (b *body) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := b.rc.Read(p)
	b.got += int64(n)
	if b.h != nil {
		b.h.Write(p[:n])
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF):
		if b.got != b.want {
			return n, b.st.wrap("get", b.key, fmt.Errorf("download ended after %d of %d bytes: %w", b.got, b.want, io.ErrUnexpectedEOF))
		}
		if b.h != nil && hex.EncodeToString(b.h.Sum(nil)) != b.sum {
			return n, &storage.Error{Op: "get", Provider: provider, Key: b.key, Kind: storage.ErrCorrupt,
				Err: plainError("downloaded bytes do not match the checksum stored with the object")}
		}
		return n, io.EOF
	case b.ctx.Err() != nil:
		return n, b.ctx.Err()
	}
	return n, b.st.wrap("get", b.key, &netError{msg: b.st.scrub(err.Error())})
}

func (b *body) Close() error { return b.rc.Close() }

// List yields the objects under opts.Prefix after opts.StartAfter, in
// byte-wise order, from b2_list_file_names pages of 1000 names. Hidden
// files are not listed. The Info has Key, Size, ModTime, ETag,
// ContentType, Metadata and, for small objects written by strata, SHA256.
func (st *Store) List(ctx context.Context, opts *storage.ListOptions) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		if err := st.checkOpen("list", ""); err != nil {
			yield(storage.Info{}, err)
			return
		}
		var prefix, after string
		if opts != nil {
			prefix, after = opts.Prefix, opts.StartAfter
		}
		start := prefix
		if after > prefix {
			start = after
		}
		for {
			var files []*base.File
			var next string
			err := st.call(ctx, "b2_list_file_names", func(ctx context.Context, s *session) error {
				var err error
				files, next, err = s.bucket.ListFileNames(ctx, 1000, start, prefix, "")
				return err
			})
			if err == nil && st.closed.Load() {
				err = &storage.Error{Op: "list", Provider: provider, Kind: storage.ErrClosed}
			}
			if err != nil {
				yield(storage.Info{}, st.wrap("list", "", err))
				return
			}
			for _, f := range files {
				if f.Name <= after || !strings.HasPrefix(f.Name, prefix) || f.Status != "upload" {
					continue
				}
				if !yield(fileInfo(f), nil) {
					return
				}
			}
			if next == "" || len(files) == 0 {
				return
			}
			start = next
		}
	}
}

func fileInfo(f *base.File) storage.Info {
	info := storage.Info{Key: f.Name, Size: f.Size, ModTime: f.Timestamp, ETag: f.ID}
	if f.Info != nil {
		info.ContentType = f.Info.ContentType
		info.SHA256, info.Metadata = splitInfo(f.Info.Info)
	}
	return info
}

// Delete removes key. With DeleteAllVersions (the default) it lists the
// versions of key with b2_list_file_versions and deletes each one, hide
// markers included, so nothing is left; with DeleteHide it hides the file
// with b2_hide_file. Deleting a missing key succeeds.
func (st *Store) Delete(ctx context.Context, key string) error {
	if err := st.checkOpen("delete", key); err != nil {
		return err
	}
	if err := storage.ValidKey(key); err != nil {
		return st.wrap("delete", key, err)
	}
	if st.cfg.DeleteMode == DeleteHide {
		err := st.call(ctx, "b2_hide_file", func(ctx context.Context, s *session) error {
			_, err := s.bucket.HideFile(ctx, key)
			return err
		})
		var ae *APIError
		if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Code == "already_hidden" || ae.Code == "no_such_file" || ae.Code == "file_not_present") {
			return nil
		}
		return st.wrap("delete", key, err)
	}
	// Versions written while this runs may survive it; that is a Put after
	// the Delete. Bound the rounds so a busy key cannot keep Delete going.
	for range 100 {
		versions, err := st.versions(ctx, key)
		if err != nil {
			return st.wrap("delete", key, err)
		}
		if len(versions) == 0 {
			return nil
		}
		for _, id := range versions {
			if err := st.deleteVersion(ctx, key, id); err != nil {
				return st.wrap("delete", key, err)
			}
		}
	}
	return nil
}

// versions returns the IDs of up to 1000 versions (uploads and hide
// markers) of key, newest first.
func (st *Store) versions(ctx context.Context, key string) ([]string, error) {
	var files []*base.File
	err := st.call(ctx, "b2_list_file_versions", func(ctx context.Context, s *session) error {
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
func (st *Store) deleteVersion(ctx context.Context, key, id string) error {
	err := st.call(ctx, "b2_delete_file_version", func(ctx context.Context, s *session) error {
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
	if err := st.checkOpen("presign", key); err != nil {
		return "", err
	}
	if err := storage.ValidKey(key); err != nil {
		return "", st.wrap("presign", key, err)
	}
	secs := int64(math.Ceil(expiry.Seconds()))
	if expiry <= 0 || expiry > MaxPresignExpiry {
		return "", &storage.Error{Op: "presign", Provider: provider, Key: key, Kind: storage.ErrInvalidArgument,
			Err: fmt.Errorf("expiry %v is outside (0, %v]", expiry, MaxPresignExpiry)}
	}
	var tok, baseURL string
	err := st.call(ctx, "b2_get_download_authorization", func(ctx context.Context, s *session) error {
		var err error
		tok, err = s.bucket.GetDownloadAuthorization(ctx, key, time.Duration(secs)*time.Second, "")
		baseURL = s.bucket.BaseURL()
		return err
	})
	if err != nil {
		return "", st.wrap("presign", key, err)
	}
	return baseURL + "/file/" + escapePath(st.cfg.Bucket) + "/" + escapePath(key) + "?Authorization=" + url.QueryEscape(tok), nil
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
