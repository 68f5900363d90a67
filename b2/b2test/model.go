package b2test

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of B2 that the emulator enforces.
const (
	maxFileNameBytes = 1024
	maxInfoEntries   = 10
	maxInfoNameLen   = 50
	maxHeaderBytes   = 7000 // file name plus file info
	maxParts         = 10000
	maxListCount     = 10000
	maxUnfinished    = 100
	maxPartBytes     = 5_000_000_000
)

// bucket holds the files of one bucket. Its fields are guarded by
// Emulator.mu.
type bucket struct {
	id, name string
	names    []string           // sorted names that have at least one version
	versions map[string][]*file // newest first
	// unfinished large files, by file ID. They are not versions until
	// finished.
	unfinished map[string]*file
}

// file is one version of a name (an upload or a hide marker) or an
// unfinished large file.
type file struct {
	id, name    string
	bucketID    string
	action      string // "upload", "hide" or "start"
	contentType string
	sha1        string
	info        map[string]string
	data        []byte
	stamp       int64 // upload timestamp, ms
	parts       map[int]*part
}

type part struct {
	number int
	data   []byte
	sha1   string
	stamp  int64
}

// Version describes one stored file version or unfinished large file, as
// returned by Emulator.Versions and Emulator.Unfinished.
type Version struct {
	Name        string
	FileID      string
	Action      string // "upload", "hide" or "start"
	Size        int64
	ContentType string
	SHA1        string
	Info        map[string]string
	UploadTime  time.Time
}

func (f *file) version() Version {
	return Version{
		Name: f.name, FileID: f.id, Action: f.action, Size: int64(len(f.data)),
		ContentType: f.contentType, SHA1: f.sha1, Info: maps.Clone(f.info),
		UploadTime: time.UnixMilli(f.stamp),
	}
}

// Versions returns every version stored in the named bucket, hide markers
// included: names in ascending byte order, the versions of one name newest
// first. It returns nil if there is no such bucket.
func (e *Emulator) Versions(bucketName string) []Version {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.byName[bucketName]
	if !ok {
		return nil
	}
	var out []Version
	for _, n := range b.names {
		for _, f := range b.versions[n] {
			out = append(out, f.version())
		}
	}
	return out
}

// Unfinished returns the large files started in the named bucket and
// neither finished nor cancelled, ordered by file ID.
func (e *Emulator) Unfinished(bucketName string) []Version {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, ok := e.byName[bucketName]
	if !ok {
		return nil
	}
	var out []Version
	for _, f := range b.sortedUnfinished() {
		out = append(out, f.version())
	}
	return out
}

func (b *bucket) sortedUnfinished() []*file {
	fs := slices.Collect(maps.Values(b.unfinished))
	slices.SortFunc(fs, func(x, y *file) int { return strings.Compare(x.id, y.id) })
	return fs
}

// addVersion makes f the newest version of its name.
func (b *bucket) addVersion(f *file) {
	vs := b.versions[f.name]
	if len(vs) == 0 {
		i := sort.SearchStrings(b.names, f.name)
		b.names = slices.Insert(b.names, i, f.name)
	}
	b.versions[f.name] = append([]*file{f}, vs...)
}

// removeVersion removes f from the versions of its name.
func (b *bucket) removeVersion(f *file) {
	vs := slices.DeleteFunc(b.versions[f.name], func(g *file) bool { return g == f })
	if len(vs) > 0 {
		b.versions[f.name] = vs
		return
	}
	delete(b.versions, f.name)
	if i, ok := slices.BinarySearch(b.names, f.name); ok {
		b.names = slices.Delete(b.names, i, i+1)
	}
}

// visible returns the newest version of name if it is an upload.
func (b *bucket) visible(name string) *file {
	vs := b.versions[name]
	if len(vs) == 0 || vs[0].action != "upload" {
		return nil
	}
	return vs[0]
}

// newFileIDLocked returns a fresh file ID in the style of B2's. e.mu is
// held.
func (e *Emulator) newFileIDLocked(b *bucket) string {
	e.seq++
	return fmt.Sprintf("4_z%s_f%012x_d%s_c000_v0001000_t0000", b.id, e.seq, e.clock().UTC().Format("20060102_m150405"))
}

// fileJSON is a file object as B2 returns it from uploads, listings and
// b2_get_file_info.
type fileJSON struct {
	AccountID       string            `json:"accountId"`
	Action          string            `json:"action"`
	BucketID        string            `json:"bucketId"`
	ContentLength   int64             `json:"contentLength"`
	ContentMd5      *string           `json:"contentMd5"`
	ContentSha1     *string           `json:"contentSha1"`
	ContentType     *string           `json:"contentType"`
	FileID          string            `json:"fileId"`
	FileInfo        map[string]string `json:"fileInfo"`
	FileName        string            `json:"fileName"`
	UploadTimestamp int64             `json:"uploadTimestamp"`
}

func (e *Emulator) fileJSON(f *file) fileJSON {
	j := fileJSON{
		AccountID: e.accountID, Action: f.action, BucketID: f.bucketID,
		FileID: f.id, FileInfo: maps.Clone(f.info), FileName: f.name, UploadTimestamp: f.stamp,
	}
	if j.FileInfo == nil {
		j.FileInfo = map[string]string{}
	}
	switch f.action {
	case "upload":
		j.ContentLength = int64(len(f.data))
		sha, ct := f.sha1, f.contentType
		j.ContentSha1, j.ContentType = &sha, &ct
	case "start":
		sha, ct := "none", f.contentType
		j.ContentSha1, j.ContentType = &sha, &ct
	}
	return j
}

// folderJSON is the entry b2_list_file_names and b2_list_file_versions give
// for a "folder" when a delimiter is used.
func (e *Emulator) folderJSON(b *bucket, name string) fileJSON {
	return fileJSON{AccountID: e.accountID, Action: "folder", BucketID: b.id, FileName: name, FileInfo: map[string]string{}}
}

// checkFileName applies B2's rules for file names.
func checkFileName(name string) *apiError {
	switch {
	case name == "":
		return badRequest("file name is empty")
	case len(name) > maxFileNameBytes:
		return badRequest("file name is longer than %d bytes", maxFileNameBytes)
	case !utf8.ValidString(name):
		return badRequest("file name is not valid UTF-8")
	case strings.HasPrefix(name, "/"), strings.HasSuffix(name, "/"), strings.Contains(name, "//"):
		return badRequest("file names must not start or end with / or contain //: %q", name)
	}
	for _, r := range name {
		if r < 32 || r == 127 || r == '\\' {
			return badRequest("file name contains a forbidden character: %q", name)
		}
	}
	return nil
}

// checkInfo applies B2's rules for file info: at most ten entries, names of
// up to 50 letters, digits, "-" and "_", and names starting with "b2-" only
// for the headers B2 knows.
func checkInfo(name string, info map[string]string) *apiError {
	if len(info) > maxInfoEntries {
		return badRequest("too many file info entries: %d (at most %d)", len(info), maxInfoEntries)
	}
	total := len(name)
	for k, v := range info {
		if k == "" || len(k) > maxInfoNameLen {
			return badRequest("file info name %q must be 1 to %d characters", k, maxInfoNameLen)
		}
		for _, c := range k {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return badRequest("file info name %q may contain only letters, digits, - and _", k)
			}
		}
		if strings.HasPrefix(strings.ToLower(k), "b2-") && !knownB2Info[strings.ToLower(k)] {
			return badRequest("file info name %q uses the reserved prefix b2-", k)
		}
		if !utf8.ValidString(v) {
			return badRequest("file info value of %q is not valid UTF-8", k)
		}
		total += len(k) + len(v)
	}
	if total > maxHeaderBytes {
		return badRequest("file name and file info are %d bytes, more than %d", total, maxHeaderBytes)
	}
	return nil
}

var knownB2Info = map[string]bool{
	"b2-content-disposition": true, "b2-content-language": true, "b2-expires": true,
	"b2-cache-control": true, "b2-content-encoding": true,
}

// encodeHeader percent-encodes s for an HTTP header or a URL path the way
// B2's documentation describes: every byte except letters, digits and
// "-._~/" becomes %XX.
func encodeHeader(s string) string {
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

// decodeHeader undoes the percent-encoding of a header value or path,
// reading "+" as a space as B2 does.
func decodeHeader(s string) (string, error) {
	return url.QueryUnescape(s)
}
