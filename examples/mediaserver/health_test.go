package main

import (
	"context"
	"errors"
	"testing"

	"github.com/strata-storage/strata/storage"
)

// /healthz tells a remote that does not answer from one that refuses this
// server (an operator's fix, not a wait).
func TestRemoteState(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&storage.Error{Op: "list", Provider: "minio", Kind: storage.ErrUnavailable}, "unreachable"},
		{context.DeadlineExceeded, "unreachable"},
		{errors.New("the remote did not answer within 3s"), "unreachable"},
		{&storage.Error{Op: "list", Provider: "minio", Kind: storage.ErrPermission}, "refused"},
		{&storage.Error{Op: "list", Provider: "s3", Kind: storage.ErrNoBucket}, "refused"},
	} {
		if got := remoteState(tc.err); got != tc.want {
			t.Errorf("remoteState(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
