package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// checkPrefixes implements Config.PrefixConflicts for a write of key: it
// fails with ErrExist when an object exists under one of key's parents or
// objects exist under key+"/". The requests run in parallel; the first
// conflict or error cancels the rest.
func (s *Store) checkPrefixes(ctx context.Context, op, key string) error {
	if !s.set.PrefixConflicts {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	fail := func(err error) {
		once.Do(func() {
			first = err
			cancel()
		})
	}
	conflict := func(format string, args ...any) error {
		return newErr(op, key, storage.ErrExist, fmt.Errorf(format, args...))
	}
	for i := strings.IndexByte(key, '/'); i >= 0; {
		parent := key[:i]
		wg.Go(func() {
			in := &s3.HeadObjectInput{Bucket: &s.set.Bucket, Key: aws.String(parent)}
			s.sseCHead(in)
			_, err := s.client.HeadObject(ctx, in)
			switch {
			case err == nil:
				fail(conflict("an object exists under %q, a parent of the key", parent))
			case !errors.Is(kindOf(s3proto.OpStat, err), storage.ErrNotFound) && ctx.Err() == nil:
				fail(mapErr(ctx, op, key, err))
			}
		})
		j := strings.IndexByte(key[i+1:], '/')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	wg.Go(func() {
		out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &s.set.Bucket, Prefix: aws.String(key + "/"), MaxKeys: aws.Int32(1),
		})
		switch {
		case err != nil && ctx.Err() == nil:
			fail(mapErr(ctx, op, key, err))
		case err == nil && len(out.Contents) > 0:
			fail(conflict("objects exist under the prefix %q, such as %q", key+"/", aws.ToString(out.Contents[0].Key)))
		}
	})
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		// Only the caller's context can have ended: cancel runs on failure.
		return newErr(op, key, nil, ctx.Err())
	}
	return first
}
