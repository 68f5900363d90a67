package b2

import (
	"context"
	"errors"
	"net/http"
	"time"

	b2base "github.com/Backblaze/blazer/base"
)

// UnfinishedUpload is a large file that was started and neither finished
// nor cancelled. B2 keeps (and bills) its parts until it is cancelled.
type UnfinishedUpload struct {
	Key     string
	FileID  string
	Started time.Time
}

// ListUnfinished lists the unfinished large files of the bucket, with
// b2_list_unfinished_large_files. Put cancels the large files it abandons;
// what remains comes from uploads in progress, processes that died during
// an upload, or other tools.
func (st *Store) ListUnfinished(ctx context.Context) ([]UnfinishedUpload, error) {
	if err := st.CheckOpen(ctx, "list-unfinished"); err != nil {
		return nil, err
	}
	var out []UnfinishedUpload
	next := ""
	for {
		var files []*b2base.File
		var cont string
		err := st.c.call(ctx, "b2_list_unfinished_large_files", func(ctx context.Context, s *session) error {
			var err error
			files, cont, err = s.bucket.ListUnfinishedLargeFiles(ctx, 100, next)
			return err
		})
		if err != nil {
			return nil, st.Wrap("list-unfinished", "", err)
		}
		for _, f := range files {
			out = append(out, UnfinishedUpload{Key: f.Name, FileID: f.ID, Started: f.Timestamp})
		}
		if cont == "" || len(files) == 0 {
			return out, nil
		}
		next = cont
	}
}

// CancelUnfinished cancels the unfinished large files of the bucket that
// were started more than olderThan ago, and returns how many it cancelled.
// Give olderThan well above the time your largest upload takes: a large
// file another process is still uploading would be cancelled too, and that
// upload would fail.
func (st *Store) CancelUnfinished(ctx context.Context, olderThan time.Duration) (int, error) {
	ups, err := st.ListUnfinished(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range ups {
		if time.Since(u.Started) < olderThan {
			continue
		}
		err := st.c.call(ctx, "b2_cancel_large_file", func(ctx context.Context, s *session) error {
			return s.bucket.File(u.FileID, u.Key).CompileParts(0, nil).CancelLargeFile(ctx)
		})
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && (ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound) {
				continue // finished or cancelled meanwhile
			}
			return n, st.Wrap("cancel-unfinished", u.Key, err)
		}
		n++
	}
	return n, nil
}
