package minio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	miniogo "github.com/minio/minio-go/v7"

	"github.com/strata-storage/strata/storage"
)

// checkPrefixes refuses, with ErrExist, to store an object under key when
// an object exists under one of key's parent "directories" (Put "a/b" over
// the object "a") or objects exist under key as a prefix (Put "d" over
// "d/e").
//
// MinIO lays objects out as directories, and when asked to hold both it
// accepts the second Put but then lists only one of the two (and a bucket
// holding the hidden one cannot be removed). The check costs one HEAD per
// parent and one LIST of at most one key, all sent at once; it is not
// atomic with the upload, so two racing writers of "a" and "a/b" can both
// pass it.
func (s *Store) checkPrefixes(ctx context.Context, op, key string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	conflict := func(format string, args ...any) error {
		return &storage.Error{Op: op, Provider: providerName, Key: key, Kind: storage.ErrExist, Err: fmt.Errorf(format, args...)}
	}
	for i := strings.IndexByte(key, '/'); i >= 0; i = nextSlash(key, i) {
		parent := key[:i]
		wg.Go(func() {
			_, err := s.core.StatObject(ctx, s.bucket, parent, miniogo.StatObjectOptions(s.getOptions()))
			if err == nil {
				fail(conflict("an object exists under %q, a parent of the key", parent))
				return
			}
			if err = mapErr(ctx, op, key, err); !errors.Is(err, storage.ErrNotFound) {
				fail(err)
			}
		})
	}
	if len(key)+1 >= storage.MaxKeyLen {
		// No key can be longer than MaxKeyLen, so none is under key+"/".
		wg.Wait()
		return firstErrOr(ctx, op, key, &mu, &firstErr)
	}
	wg.Go(func() {
		lo := miniogo.ListObjectsOptions{Prefix: key + "/", Recursive: true, MaxKeys: 1}
		noOwner := false
		lo.FetchOwner = &noOwner
		for oi := range s.core.ListObjectsIter(ctx, s.bucket, lo) {
			if oi.Err != nil {
				fail(mapErr(ctx, op, key, oi.Err))
			} else {
				fail(conflict("objects exist under the prefix %q, such as %q", key+"/", oi.Key))
			}
			return
		}
	})
	wg.Wait()
	return firstErrOr(ctx, op, key, &mu, &firstErr)
}

// firstErrOr returns *first, or ctx's error when there is none.
func firstErrOr(ctx context.Context, op, key string, mu *sync.Mutex, first *error) error {
	mu.Lock()
	defer mu.Unlock()
	if *first == nil {
		if err := ctx.Err(); err != nil {
			return storage.NewError(op, providerName, key, nil, err)
		}
	}
	return *first
}

func nextSlash(key string, i int) int {
	j := strings.IndexByte(key[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
