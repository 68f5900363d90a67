package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/strata-storage/strata/storage"
)

var mbCommand = &command{
	name:    "mb",
	args:    "URL",
	summary: "Make the bucket a location names, so that a first migration can write to it.",
	details: `
mb creates the bucket of an s3:// or minio:// location (in the URL's
region), a private b2:// bucket, and the directory of a file:// location
with its parents, as mkdir -p does. A bucket or directory that already exists and is yours is
not an error: mb says so and exits 0. A bucket name another account holds
is (exit 1). A location whose driver cannot create buckets is refused
(exit 2).`,
	examples: []string{
		"strata mb 's3://media-bucket?region=eu-central-1'",
		"strata mb 'minio://127.0.0.1:9000/media?secure=false'",
		"strata mb b2://media-bucket",
		"strata mb /srv/media",
	},
	minPos: 1,
	maxPos: 1,
	run:    runMb,
}

func runMb(ctx context.Context, e *env, in *invocation) int {
	ctx, stop := interruptible(ctx, e)
	defer stop()
	raw := in.pos[0]
	shown := shownLocation(raw)
	var bc storage.BucketCreator
	p, err := openLocation(ctx, raw)
	switch {
	case err == nil:
		defer p.Close()
		var ok bool
		if bc, ok = p.(storage.BucketCreator); !ok {
			scheme, _, _ := strings.Cut(shown, ":")
			return fail(e, exitError, "mb: %s: %s:// locations cannot create a bucket; create it with the store's own tools", shown, scheme)
		}
	case errors.Is(err, storage.ErrNoBucket) && errors.As(err, &bc):
		// A driver that looks its bucket up as it opens (b2) offers the
		// ability in its error.
	default:
		return fail(e, exitError, "mb: %v", err)
	}
	err = bc.CreateBucket(ctx)
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "created %s\n", shown)
	case errors.Is(err, storage.ErrExist):
		fmt.Fprintf(e.stdout, "%s already exists\n", shown)
	default:
		return opFailed(ctx, e, "mb", err, raw)
	}
	return exitOK
}

// shownLocation is a command-line location as messages show it: a URL,
// as typed unless it holds secrets, which are redacted.
func shownLocation(raw string) string {
	u, err := locationURL(raw)
	if err != nil {
		return storage.RedactString(raw)
	}
	red := storage.RedactString(u)
	orig, err1 := url.Parse(u)
	redu, err2 := url.Parse(red)
	if err1 != nil || err2 != nil || orig.User != nil ||
		!maps.EqualFunc(orig.Query(), redu.Query(), slices.Equal) {
		return red
	}
	return u
}

// missingBucketHint is what hint advises for an error that means the
// location's bucket does not exist (the error says so): "strata mb"
// makes it.
func missingBucketHint(rawURL string) string {
	return " (create it with: strata mb '" + shownLocation(rawURL) + "')"
}
