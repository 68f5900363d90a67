package s3proto

import (
	"context"
	"strings"
	"sync/atomic"

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
