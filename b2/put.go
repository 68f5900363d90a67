package b2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	b2base "github.com/Backblaze/blazer/base"

	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/driver"
)

// Names of the B2 file info entries strata keeps for itself (with
// infoMetadata); fileInfoOf keeps them within B2's ten entries.
const (
	infoSHA256 = "strata-sha256"
)

// defaultContentType is stored when Put is given none; B2 needs one.
const defaultContentType = "application/octet-stream"

// maxParts is the most parts a B2 large file may have.
const maxParts = 10000

// uploaded describes a file version Put created.
type uploaded struct {
	id    string
	stamp time.Time
}

// Put implements driver.Driver: it stores what body yields under key.
//
// Up to Config.PartSize bytes are read into memory and sent with
// b2_upload_file, with their SHA1 for B2 to check. A longer stream goes
// through the large-file API: parts of Config.PartSize bytes, each checked
// by its SHA1, Config.Concurrency of them in flight, so at most
// (Concurrency+1) × PartSize bytes are held. If the reader fails, the
// context ends or a part cannot be stored, the large file is cancelled with
// b2_cancel_large_file and nothing is stored.
//
// The content type, user metadata and HTTP attributes become B2 file info
// (see fileInfoOf); the SHA-256 of
// small objects is kept as file info "strata-sha256" (a large file's info is
// fixed before its content is read, so large objects have no SHA256 in
// Stat, Get and List; Put still returns it).
//
// With IfNotExists, see the package documentation for what B2 allows.
func (c *client) Put(ctx context.Context, key string, body *driver.Body, opts *storage.PutOptions) (storage.Info, error) {
	if opts.IfNotExists {
		switch _, err := c.Stat(ctx, key); {
		case err == nil:
			return storage.Info{}, storage.ErrExist
		case kindOf(err) != storage.ErrNotFound:
			return storage.Info{}, err
		}
	}

	ct := opts.ContentType
	if ct == "" {
		ct = defaultContentType
	}

	br := bufio.NewReader(body)
	buf, err := readUpTo(br, int(c.cfg.PartSize), opts.Size)
	small := false
	switch {
	case errors.Is(err, io.EOF):
		small = true
	case err != nil:
		return storage.Info{}, readFailure(err)
	default:
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			small = true
		} else if err != nil {
			return storage.Info{}, readFailure(err)
		}
	}

	var up uploaded
	if small {
		// body has reached its end: it checked the size and has the hash.
		up, err = c.uploadSmall(ctx, key, buf, ct, fileInfoOf(opts, body.SHA256()))
	} else {
		up, err = c.uploadLarge(ctx, key, br, buf, ct, fileInfoOf(opts, ""))
	}
	if err != nil {
		return storage.Info{}, err
	}

	if opts.IfNotExists {
		if err := c.settleRace(ctx, key, up.id); err != nil {
			return storage.Info{}, err
		}
	}
	return storage.Info{
		Key: key, Size: body.N(), ModTime: up.stamp, ETag: up.id, SHA256: body.SHA256(),
		ContentType: ct, Metadata: maps.Clone(opts.Metadata),
		CacheControl: opts.CacheControl, ContentDisposition: opts.ContentDisposition,
		ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage,
	}, nil
}

// readUpTo reads from r until it has limit bytes (and returns them with a
// nil error) or r ends (io.EOF) or fails. The buffer grows as data comes,
// from sizeHint+1 bytes when the size is known, so a small object does not
// cost a whole part; a full buffer has exactly limit bytes of capacity.
func readUpTo(r io.Reader, limit int, sizeHint int64) ([]byte, error) {
	size := 64 << 10
	if sizeHint > 0 && sizeHint < int64(limit) {
		size = int(sizeHint) + 1
	}
	buf := make([]byte, 0, min(size, limit))
	for {
		if len(buf) == cap(buf) {
			if len(buf) == limit {
				return buf, nil
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
}

// readFailure wraps an error of the caller's reader (or the size mismatch
// the Body found).
func readFailure(err error) error {
	return fmt.Errorf("reading the object: %w", err)
}

// uploadURL takes an idle upload URL or asks B2 for a new one.
func (c *client) uploadURL(ctx context.Context, s *session) (*b2base.URL, error) {
	select {
	case u := <-c.urls:
		return u, nil
	default:
	}
	return s.bucket.GetUploadURL(ctx)
}

// forgetURLs drops every idle upload URL.
func (c *client) forgetURLs() {
	for {
		select {
		case <-c.urls:
		default:
			return
		}
	}
}

// isUnauthorized reports whether err, from blazer's base package or
// normalized, is B2's 401: an expired or bad token.
func isUnauthorized(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusUnauthorized
	}
	code, _ := b2base.Code(err)
	return code == http.StatusUnauthorized
}

// releaseURL keeps an upload URL that worked for the next upload.
func (c *client) releaseURL(u *b2base.URL) {
	if c.p.Closed() {
		return
	}
	select {
	case c.urls <- u:
	default:
	}
}

func (c *client) uploadSmall(ctx context.Context, key string, data []byte, ct string, info map[string]string) (uploaded, error) {
	sum := sha1.Sum(data)
	sha1hex := hex.EncodeToString(sum[:])
	var f *b2base.File
	err := c.call(ctx, "b2_upload_file", func(ctx context.Context, s *session) error {
		u, err := c.uploadURL(ctx, s)
		if err != nil {
			return err
		}
		f, err = u.UploadFile(ctx, bytes.NewReader(data), len(data), key, ct, sha1hex, info)
		if err != nil {
			// Whatever went wrong, B2 advises a fresh upload URL. An
			// expired token expired the idle URLs' tokens too: drop them,
			// or the retries would take one expired URL after another.
			if isUnauthorized(err) {
				c.forgetURLs()
			}
			return err
		}
		c.releaseURL(u)
		return nil
	})
	if err != nil {
		return uploaded{}, err
	}
	return uploaded{id: f.ID, stamp: f.Timestamp}, nil
}

// part is one part of a large file on its way to B2.
type part struct {
	number int
	buf    []byte // owns a buffer of PartSize bytes
	size   int
}

// uploadLarge sends first (a full part already read) and the rest of r as
// a large file.
func (c *client) uploadLarge(ctx context.Context, key string, r io.Reader, first []byte, ct string,
	info map[string]string) (uploaded, error) {
	var fileID string
	err := c.call(ctx, "b2_start_large_file", func(ctx context.Context, s *session) error {
		lf, err := s.bucket.StartLargeFile(ctx, key, ct, info)
		if err == nil {
			fileID = lf.ID
		}
		return err
	})
	if err != nil {
		return uploaded{}, err
	}
	finished := false
	defer func() {
		if !finished {
			c.cancelLarge(ctx, key, fileID)
		}
	}()

	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu     sync.Mutex
		hashes = map[int]string{}
		total  int64
	)
	jobs := make(chan part)
	free := make(chan []byte, c.cfg.Concurrency+1)
	var wg sync.WaitGroup
	for range c.cfg.Concurrency {
		wg.Go(func() {
			var chunk *b2base.FileChunk // this worker's upload part URL
			for p := range jobs {
				data := p.buf[:p.size]
				sum := sha1.Sum(data)
				sha1hex := hex.EncodeToString(sum[:])
				err := c.call(pctx, "b2_upload_part", func(ctx context.Context, s *session) error {
					if chunk == nil {
						c, err := s.bucket.File(fileID, key).CompileParts(0, nil).GetUploadPartURL(ctx)
						if err != nil {
							return err
						}
						chunk = c
					}
					if _, err := chunk.UploadPart(ctx, bytes.NewReader(data), sha1hex, len(data), p.number); err != nil {
						chunk = nil // B2 advises a fresh URL after any failure
						return err
					}
					return nil
				})
				if err != nil {
					cancel(err)
				} else {
					mu.Lock()
					hashes[p.number] = sha1hex
					total += int64(p.size)
					mu.Unlock()
				}
				free <- p.buf
			}
		})
	}

	// Feed the workers. At most Concurrency+1 buffers exist: one being
	// filled here, the others being uploaded.
	buffers := 1
	readErr := func() error {
		next := part{number: 1, buf: first, size: len(first)}
		for {
			select {
			case jobs <- next:
			case <-pctx.Done():
				return nil
			}
			if next.size < len(next.buf) {
				return nil // that was the last, short part
			}
			var buf []byte
			select {
			case buf = <-free:
			default:
				if buffers <= c.cfg.Concurrency {
					buf = make([]byte, c.cfg.PartSize)
					buffers++
				} else {
					select {
					case buf = <-free:
					case <-pctx.Done():
						return nil
					}
				}
			}
			n, err := io.ReadFull(r, buf)
			if n == 0 && errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return readFailure(err)
			}
			if next.number == maxParts {
				return fmt.Errorf("object is larger than %d parts of %d bytes; raise Config.PartSize: %w",
					maxParts, c.cfg.PartSize, storage.ErrTooLarge)
			}
			next = part{number: next.number + 1, buf: buf, size: n}
		}
	}()
	close(jobs)
	wg.Wait()
	if c.testPartBuffers != nil {
		c.testPartBuffers(buffers)
	}

	switch {
	case readErr != nil:
		return uploaded{}, readErr
	case ctx.Err() != nil:
		return uploaded{}, ctx.Err()
	case context.Cause(pctx) != nil:
		return uploaded{}, context.Cause(pctx)
	}

	var f *b2base.File
	err = c.call(ctx, "b2_finish_large_file", func(ctx context.Context, s *session) error {
		var err error
		f, err = s.bucket.File(fileID, key).CompileParts(total, hashes).FinishLargeFile(ctx)
		return err
	})
	if err != nil {
		// If an earlier attempt finished the file but its answer was lost,
		// the retry is refused although the file is there.
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			return uploaded{}, err
		}
		fi, ierr := c.fileInfo(ctx, key, fileID)
		if ierr != nil || fi.Status != "upload" || fi.Name != key {
			return uploaded{}, err
		}
		finished = true
		return uploaded{id: fileID, stamp: fi.Timestamp}, nil
	}
	finished = true
	return uploaded{id: f.ID, stamp: f.Timestamp}, nil
}

// fileInfo calls b2_get_file_info.
func (c *client) fileInfo(ctx context.Context, name, id string) (*b2base.FileInfo, error) {
	var fi *b2base.FileInfo
	err := c.call(ctx, "b2_get_file_info", func(ctx context.Context, s *session) error {
		var err error
		fi, err = s.bucket.File(id, name).GetFileInfo(ctx)
		return err
	})
	return fi, err
}

// cancelLarge cancels an unfinished large file, even when ctx has ended.
func (c *client) cancelLarge(ctx context.Context, key, fileID string) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RetryTimeout)
	defer cancel()
	err := c.call(cctx, "b2_cancel_large_file", func(ctx context.Context, s *session) error {
		return s.bucket.File(fileID, key).CompileParts(0, nil).CancelLargeFile(ctx)
	})
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "b2: could not cancel an abandoned large file; it stays unfinished in the bucket",
			slog.String("key", key), slog.String("file_id", fileID), slog.String("error", err.Error()))
	}
}

// settleRace decides, after a Put with IfNotExists stored version myID of
// key, whether this Put won. B2 has no conditional write, so every racing
// writer uploads and then lists the versions of key: among the uploads
// newer than the newest hide marker, the oldest wins. The others delete
// their own version and report storage.ErrExist.
func (c *client) settleRace(ctx context.Context, key, myID string) error {
	var run []*b2base.File // uploads newer than the newest hide marker, newest first
	startName, startID := key, ""
	for done := false; !done; {
		var files []*b2base.File
		var nextName, nextID string
		err := c.call(ctx, "b2_list_file_versions", func(ctx context.Context, s *session) error {
			var err error
			files, nextName, nextID, err = s.bucket.ListFileVersions(ctx, 100, startName, startID, key, "")
			return err
		})
		if err != nil {
			return err
		}
		for _, f := range files {
			if f.Name != key || f.Status == "hide" {
				done = true
				break
			}
			if f.Status == "upload" {
				run = append(run, f)
			}
		}
		if nextName != key || len(files) == 0 {
			done = true
		}
		startName, startID = nextName, nextID
	}
	if len(run) == 0 || run[len(run)-1].ID == myID {
		return nil
	}
	mine := false
	for _, f := range run {
		mine = mine || f.ID == myID
	}
	if !mine {
		return nil // our version was hidden or deleted since: it was written
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RetryTimeout)
	defer cancel()
	if err := c.deleteVersion(cctx, key, myID); err != nil {
		return fmt.Errorf("lost an IfNotExists race and could not remove the version just written (%s): %w", myID, err)
	}
	return fmt.Errorf("another writer stored the key first: %w", storage.ErrExist)
}
