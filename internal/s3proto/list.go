package s3proto

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
)

// DelimitedStart returns the StartAfter to send for a listing of prefix
// with the delimiter "/" that resumes after after. When after lies in a
// common prefix (a "/" follows prefix in it: "a/x" in "a/"), or is one,
// the prefix was yielded already, or sorts before where the listing
// resumes: the listing starts after the common prefix itself, which the
// server then skips whole, rolled up, instead of listing the rest of it.
// The server may answer the common prefix again (AWS S3 does): it sorts at
// or before after, and the caller drops it as any entry at or before
// after.
func DelimitedStart(prefix, after string) string {
	if !strings.HasPrefix(after, prefix) {
		return after
	}
	i := strings.IndexByte(after[len(prefix):], '/')
	if i < 0 {
		return after
	}
	return after[:len(prefix)+i+1]
}

// PrefixListable reports whether the common prefix cp of a delimiter
// listing may hold keys strata could have written. A prefix none of whose
// keys is valid ("/" or "a//", from keys another tool wrote) is not
// yielded, as a listing without a delimiter skips such keys.
func PrefixListable(cp string) bool {
	return storage.ValidKey(cp+"x") == nil
}

// MergePage yields, in key order, the entries of one page of a delimiter
// listing: objs (the page's Contents) and prefixes (its CommonPrefixes as
// Infos with IsPrefix set), each sorted, as S3 returns them in two lists.
// It returns false when yield did.
func MergePage(objs, prefixes []storage.Info, yield func(storage.Info) bool) bool {
	for len(objs) > 0 || len(prefixes) > 0 {
		var next storage.Info
		if len(prefixes) == 0 || (len(objs) > 0 && objs[0].Key < prefixes[0].Key) {
			next, objs = objs[0], objs[1:]
		} else {
			next, prefixes = prefixes[0], prefixes[1:]
		}
		if !yield(next) {
			return false
		}
	}
	return true
}

type requestsKey struct{}

// CountRequests returns a context whose requests sent through a
// [Server.Transport] are counted in n. A driver whose SDK hides the pages
// of a listing (minio-go's ListObjectsIter) tells them apart by it: the
// SDK sends the request for the next page only after it has handed out
// the whole page before.
func CountRequests(ctx context.Context) (_ context.Context, n *atomic.Int64) {
	n = new(atomic.Int64)
	return context.WithValue(ctx, requestsKey{}, n), n
}

// VersionsRecheck is how long a [Versioning] trusts that a bucket keeps no
// versions before it asks again.
const VersionsRecheck = time.Minute

// Versioning tells whether a delimiter listing must confirm its common
// prefixes. MinIO rolls up a directory of a versioned bucket whose objects
// are all deleted (only delete markers left) into a common prefix, which
// a listing without delimiter would not show: on MinIO, a listing of a
// versioned (or suspended) bucket checks each common prefix with a listing
// of one key under it ([LivePrefixes]). AWS S3 rolls up only current
// objects. A bucket seen keeping versions is remembered (versioning, once
// on, can only be suspended); one seen without is asked again after
// [VersionsRecheck]. The zero value knows nothing. A Versioning is safe for
// concurrent use.
type Versioning struct {
	on    atomic.Bool
	offAt atomic.Int64 // UnixNano of the last answer "no versions", 0 for none
}

// Confirm reports whether the common prefixes of a delimiter listing must
// be confirmed, the server being as srv knows it: only on MinIO (or a
// server not known yet), when the bucket keeps versions as versioned says
// (a GetBucketVersioning; its error, except the context's, counts as
// "keeps versions", for a correct listing at the cost of requests).
func (v *Versioning) Confirm(ctx context.Context, srv *Server, versioned func(ctx context.Context) (bool, error)) (bool, error) {
	if minio, known := srv.MinIO(); known && !minio {
		return false, nil
	}
	if v.on.Load() {
		return true, nil
	}
	if at := v.offAt.Load(); at != 0 && time.Since(time.Unix(0, at)) < VersionsRecheck {
		return false, nil
	}
	on, err := versioned(ctx)
	switch {
	case err != nil && ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil:
		return true, nil
	case on:
		v.on.Store(true)
	default:
		v.offAt.Store(time.Now().UnixNano())
	}
	return on, nil
}

// LivePrefixes returns the prefixes under which live reports an object (a
// listing of at most one key under the prefix, without delimiter),
// reusing the slice.
func LivePrefixes(ctx context.Context, prefixes []storage.Info, live func(ctx context.Context, prefix string) (bool, error)) ([]storage.Info, error) {
	out := prefixes[:0]
	for _, p := range prefixes {
		ok, err := live(ctx, p.Key)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}
