package b2

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-storage/strata/storage"
)

// Defaults of Store.maxCopySize and Store.copyPartSize: b2_copy_file copies
// up to 5 GB in one call; larger files are copied in parts with
// b2_copy_part.
const (
	maxCopySize  = 5_000_000_000
	copyPartSize = 1_000_000_000
)

// Copy copies the object under src to dst inside B2, without the bytes
// passing through this process: b2_copy_file with metadataDirective COPY,
// or for objects over 5 GB a large file assembled with b2_copy_part. The
// copy keeps the content type, the user metadata, the HTTP attributes and
// the stored SHA-256.
// A missing src fails with storage.ErrNotFound.
func (st *Store) Copy(ctx context.Context, dst, src string) (storage.Info, error) {
	const op = "copy"
	if err := st.CheckKeys(ctx, op, dst, src); err != nil {
		return storage.Info{}, err
	}
	srcInfo, err := st.c.Stat(ctx, src)
	if err != nil {
		return storage.Info{}, st.Wrap(op, src, err)
	}
	info, err := st.c.copy(ctx, dst, srcInfo)
	return st.Result(op, dst, info, err)
}

// copy copies the object of srcInfo to dst.
func (c *client) copy(ctx context.Context, dst string, srcInfo storage.Info) (storage.Info, error) {
	if srcInfo.Size > c.maxCopySize {
		return c.copyLarge(ctx, dst, srcInfo)
	}
	var f copiedFile
	err := c.call(ctx, "b2_copy_file", func(ctx context.Context, s *session) error {
		return c.rawCall(ctx, s, "b2_copy_file", map[string]any{
			"sourceFileId": srcInfo.ETag, "fileName": dst, "metadataDirective": "COPY",
		}, &f)
	})
	if err != nil {
		return storage.Info{}, err
	}
	info := storage.Info{Key: dst, Size: f.ContentLength, ModTime: time.UnixMilli(f.UploadTimestamp), ETag: f.FileID, ContentType: f.ContentType}
	info.SHA256, info.Metadata = splitInfo(f.FileInfo)
	setAttrs(&info, f.FileInfo)
	return info, nil
}

type copiedFile struct {
	FileID          string            `json:"fileId"`
	ContentLength   int64             `json:"contentLength"`
	ContentType     string            `json:"contentType"`
	FileInfo        map[string]string `json:"fileInfo"`
	UploadTimestamp int64             `json:"uploadTimestamp"`
}

// copyLarge copies a file too large for b2_copy_file: a large file whose
// parts are copied ranges of the source.
func (c *client) copyLarge(ctx context.Context, dst string, srcInfo storage.Info) (storage.Info, error) {
	fileInfo := fileInfoOf(storage.PutOptionsOf(srcInfo), srcInfo.SHA256)
	var fileID string
	err := c.call(ctx, "b2_start_large_file", func(ctx context.Context, s *session) error {
		lf, err := s.bucket.StartLargeFile(ctx, dst, srcInfo.ContentType, fileInfo)
		if err == nil {
			fileID = lf.ID
		}
		return err
	})
	if err != nil {
		return storage.Info{}, err
	}
	finished := false
	defer func() {
		if !finished {
			c.cancelLarge(ctx, dst, fileID)
		}
	}()
	hashes := map[int]string{}
	n := 0
	for off := int64(0); off < srcInfo.Size; off += c.copyPartSize {
		n++
		end := min(off+c.copyPartSize, srcInfo.Size) - 1
		var p struct {
			ContentSha1 string `json:"contentSha1"`
		}
		err := c.call(ctx, "b2_copy_part", func(ctx context.Context, s *session) error {
			return c.rawCall(ctx, s, "b2_copy_part", map[string]any{
				"sourceFileId": srcInfo.ETag, "largeFileId": fileID, "partNumber": n,
				"range": fmt.Sprintf("bytes=%d-%d", off, end),
			}, &p)
		})
		if err != nil {
			return storage.Info{}, err
		}
		hashes[n] = p.ContentSha1
	}
	var info storage.Info
	err = c.call(ctx, "b2_finish_large_file", func(ctx context.Context, s *session) error {
		f, err := s.bucket.File(fileID, dst).CompileParts(srcInfo.Size, hashes).FinishLargeFile(ctx)
		if err == nil {
			info = storage.Info{Key: dst, Size: srcInfo.Size, ModTime: f.Timestamp, ETag: f.ID,
				SHA256: srcInfo.SHA256, ContentType: srcInfo.ContentType, Metadata: srcInfo.Metadata,
				CacheControl: srcInfo.CacheControl, ContentDisposition: srcInfo.ContentDisposition,
				ContentEncoding: srcInfo.ContentEncoding, ContentLanguage: srcInfo.ContentLanguage}
		}
		return err
	})
	if err != nil {
		return storage.Info{}, err
	}
	finished = true
	return info, nil
}

// rawCall makes a JSON API call that blazer does not wrap, with the
// session's token, and decodes a 200 answer into reply. Failures are
// *APIError or *netError values, as normalize makes them.
func (c *client) rawCall(ctx context.Context, s *session, name string, args, reply any) error {
	body, err := json.Marshal(args)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/b2api/v3/"+name, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", s.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &netError{msg: c.scrub(err.Error())}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &netError{msg: c.scrub(err.Error())}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		ae := &APIError{Status: resp.StatusCode, Code: e.Code, Message: c.scrub(e.Message)}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			ae.retryAfter = time.Duration(secs) * time.Second
		}
		return ae
	}
	if err := json.Unmarshal(data, reply); err != nil {
		return fmt.Errorf("%s: cannot decode the answer: %w", name, err)
	}
	return nil
}
