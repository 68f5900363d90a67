package s3proto

import (
	"context"
	"io"
)

// PlainReader returns rc as a Get's body that is not verified, for a
// driver whose Store was made with Config.SkipVerifyReads (and so with
// driver.Options.ReadsChecked): it fails reads after ctx ended, and passes
// read errors other than io.EOF through wrap, as the shared layer's
// reader would, without hashing or counting.
func PlainReader(ctx context.Context, rc io.ReadCloser, wrap func(error) error) io.ReadCloser {
	return &plainReader{ctx: ctx, rc: rc, wrap: wrap}
}

type plainReader struct {
	ctx  context.Context
	rc   io.ReadCloser
	wrap func(error) error
}

func (r *plainReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, r.wrap(err)
	}
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.wrap(err)
	}
	return n, err
}

func (r *plainReader) Close() error { return r.wrap(r.rc.Close()) }
