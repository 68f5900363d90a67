package miniotest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRetryFreezeOutlastsABusyCgroup: a pause that Docker refuses because
// the freezer stayed FREEZING is tried again until it holds; any other
// refusal is reported at once.
func TestRetryFreezeOutlastsABusyCgroup(t *testing.T) {
	busy := errors.New("Error response from daemon: Cannot pause container 249d: OCI runtime pause failed: unable to freeze: unknown")
	tries := 0
	err := retryFreeze(context.Background(), func(context.Context) error {
		if tries++; tries < 3 {
			return busy
		}
		return nil
	})
	if err != nil || tries != 3 {
		t.Fatalf("retryFreeze = %v after %d tries; want nil after 3", err, tries)
	}

	gone := errors.New("Error response from daemon: No such container: 249d")
	tries = 0
	err = retryFreeze(context.Background(), func(context.Context) error { tries++; return gone })
	if !errors.Is(err, gone) || tries != 1 {
		t.Fatalf("retryFreeze = %v after %d tries; want the first error, untried again", err, tries)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	tries = 0
	err = retryFreeze(ctx, func(context.Context) error { tries++; return busy })
	if !errors.Is(err, busy) || !errors.Is(err, context.DeadlineExceeded) || tries < 2 {
		t.Fatalf("retryFreeze = %v after %d tries; want the freeze error and the deadline after several", err, tries)
	}
}
