package b2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/storage"
)

// faultDeadline is the context deadline of each call in the fault tests.
const faultDeadline = 30 * time.Second

// deadlineCtx returns a context that ends after d.
func deadlineCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// returnsWithin runs f and fails the test if it has not returned by the
// deadline of ctx plus a grace period: the property under test is that
// calls stop when their context says so, not how fast they are.
func returnsWithin(t *testing.T, ctx context.Context, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	dl, ok := ctx.Deadline()
	require.True(t, ok, "returnsWithin needs a context with a deadline")
	grace := time.NewTimer(time.Until(dl) + 5*time.Second)
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		t.Fatalf("%s did not return within its context deadline (plus 5 s)", what)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readAll(t *testing.T, st *Store, ctx context.Context, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(ctx, key, nil)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// largeData is more than two parts at MinPartSize.
var largeData = conformance.RandomBytes(7, 2*MinPartSize+123_456)

func TestExpiredTokenIsReauthorized(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	_, err := st.Put(ctx, "k", reader("v1"), nil)
	require.NoError(t, err)

	// Many goroutines meet the expired token at once; one authorization
	// serves them all.
	srv.ExpireTokens()
	auths := srv.Calls("b2_authorize_account")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = st.Stat(ctx, "k")
		})
	}
	returnsWithin(t, ctx, "Stat after the tokens expired", wg.Wait)
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, auths+1, srv.Calls("b2_authorize_account"), "one re-authorization for all goroutines")

	// Every kind of call survives an expiry, uploads included: their pooled
	// upload URL's token has expired too.
	calls := []struct {
		name string
		f    func() error
	}{
		{"Put", func() error { _, err := st.Put(ctx, "k2", reader("v2"), nil); return err }},
		{"PutLarge", func() error { _, err := st.Put(ctx, "big", bytes.NewReader(largeData), nil); return err }},
		{"Get", func() error { require.Equal(t, "v2", string(readAll(t, st, ctx, "k2"))); return nil }},
		{"List", func() error {
			for _, err := range st.List(ctx, nil) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"Delete", func() error { return st.Delete(ctx, "k") }},
		{"Presign", func() error { _, err := st.PresignGet(ctx, "k2", time.Minute); return err }},
		{"Copy", func() error { _, err := st.Copy(ctx, "k3", "k2"); return err }},
	}
	for _, c := range calls {
		srv.ExpireTokens()
		before := srv.Calls("b2_authorize_account")
		var err error
		returnsWithin(t, ctx, c.name, func() { err = c.f() })
		require.NoError(t, err, c.name)
		require.Equal(t, before+1, srv.Calls("b2_authorize_account"), "%s re-authorized once", c.name)
	}
	require.Equal(t, sha256Hex(largeData), sha256Hex(readAll(t, st, ctx, "big")))
	require.Contains(t, e.logs.String(), "re-authorized")
	requireNoSecrets(t, e, e.logs.String())
}

func TestBusyUploadURLIsReplaced(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	_, err := st.Put(ctx, "warm", reader("w"), nil) // leaves an upload URL in the pool
	require.NoError(t, err)

	srv.ResetCalls()
	srv.FailUploads(1)
	var info storage.Info
	returnsWithin(t, ctx, "Put with a busy upload URL", func() {
		info, err = st.Put(ctx, "k", reader("value"), nil)
	})
	require.NoError(t, err)
	require.Equal(t, int64(5), info.Size)
	require.Equal(t, 2, srv.Calls(b2test.APIUploadFile), "one 503, then one upload to a new URL")
	require.Equal(t, 1, srv.Calls("b2_get_upload_url"), "the busy URL was replaced")
	require.Equal(t, "value", string(readAll(t, st, ctx, "k")))

	// The busy URL answers 503 for ever; it must never be used again.
	srv.ResetCalls()
	for i := range 5 {
		_, err := st.Put(ctx, "again", reader(strings.Repeat("x", i)), nil)
		require.NoError(t, err)
	}
	require.Equal(t, 5, srv.Calls(b2test.APIUploadFile), "no upload went to the busy URL")

	// Parts of a large file: each busy part URL is replaced at once.
	srv.ResetCalls()
	srv.FailUploads(2)
	returnsWithin(t, ctx, "large Put with busy part URLs", func() {
		_, err = st.Put(ctx, "big", bytes.NewReader(largeData), nil)
	})
	require.NoError(t, err)
	require.Equal(t, 3+2, srv.Calls(b2test.APIUploadPart), "three parts, two of them sent twice")
	require.Equal(t, sha256Hex(largeData), sha256Hex(readAll(t, st, ctx, "big")))
	require.Empty(t, srv.Unfinished(e.bucket))
	require.Contains(t, e.logs.String(), "service_unavailable")
	requireNoSecrets(t, e, e.logs.String())
}

func TestPersistentFailureEndsInError(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t, func(c *Config) { c.MaxRetries = 3 })
	ctx := deadlineCtx(t, faultDeadline)
	_, err := st.Put(ctx, "k", reader("v"), nil)
	require.NoError(t, err)
	unbounded := e.open(t, func(c *Config) { c.MaxRetries, c.RetryTimeout = 1_000_000, time.Hour })
	impatient := e.open(t, func(c *Config) { c.MaxRetries, c.AttemptTimeout = 2, 100*time.Millisecond })
	// With a caller's transport (no ResponseHeaderTimeout of ours), the
	// attempt's own deadline is what ends it.
	impatientCustom := e.open(t, func(c *Config) {
		c.MaxRetries, c.AttemptTimeout = 2, 100*time.Millisecond
		c.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	})
	timed := e.open(t, func(c *Config) { c.MaxRetries, c.RetryTimeout = 1_000_000, 200*time.Millisecond })

	srv.FailAll(http.StatusServiceUnavailable)
	t.Cleanup(func() { srv.FailAll(0) })
	ops := []struct {
		name string
		apis []string
		f    func() error
	}{
		{"Stat", []string{b2test.APIDownloadByName}, func() error { _, err := st.Stat(ctx, "k"); return err }},
		{"Get", []string{b2test.APIDownloadByName}, func() error { _, _, err := st.Get(ctx, "k", nil); return err }},
		// The first attempt uses the pooled upload URL; the others ask for
		// a new one.
		{"Put", []string{b2test.APIUploadFile, "b2_get_upload_url"}, func() error { _, err := st.Put(ctx, "k2", reader("v"), nil); return err }},
		{"List", []string{"b2_list_file_names"}, func() error {
			for _, err := range st.List(ctx, nil) {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"Delete", []string{"b2_list_file_versions"}, func() error { return st.Delete(ctx, "k") }},
	}
	var msgs []string
	for _, op := range ops {
		srv.ResetCalls()
		var err error
		returnsWithin(t, ctx, op.name, func() { err = op.f() })
		require.ErrorIs(t, err, storage.ErrUnavailable, op.name)
		require.Contains(t, err.Error(), "gave up after 4 attempts", op.name)
		calls := 0
		for _, api := range op.apis {
			calls += srv.Calls(api)
		}
		require.Equal(t, 4, calls, "%s: one attempt and MaxRetries retries", op.name)
		msgs = append(msgs, err.Error())
	}

	// Without a retry limit, the context deadline ends the call.
	short := deadlineCtx(t, 2*time.Second)
	returnsWithin(t, short, "Get with unbounded retries", func() { _, _, err = unbounded.Get(short, "k", nil) })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, storage.ErrUnavailable, "the error says B2 was failing")
	require.Contains(t, err.Error(), "service_unavailable", "the error keeps B2's last answer")
	msgs = append(msgs, err.Error())

	// RetryTimeout alone ends it too.
	returnsWithin(t, deadlineCtx(t, 5*time.Second), "Stat with a RetryTimeout", func() { _, err = timed.Stat(ctx, "k") })
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Contains(t, err.Error(), "gave up")

	// New cannot authorize either.
	newCtx := deadlineCtx(t, faultDeadline)
	cfg := e.config()
	cfg.MaxRetries = 2
	returnsWithin(t, newCtx, "New", func() { _, err = New(newCtx, cfg) })
	require.ErrorIs(t, err, storage.ErrUnavailable)
	msgs = append(msgs, err.Error())

	// A server that stops answering: latency past the deadline.
	srv.FailAll(0)
	srv.SetLatency(time.Hour)
	t.Cleanup(func() { srv.SetLatency(0) })
	short = deadlineCtx(t, 300*time.Millisecond)
	returnsWithin(t, short, "Stat of a server that does not answer", func() { _, err = st.Stat(short, "k") })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// Even with no deadline from the caller, AttemptTimeout ends each
	// attempt: downloads by the wait for headers, other calls as a whole.
	noDeadline := context.WithoutCancel(ctx)
	returnsWithin(t, ctx, "Stat with AttemptTimeout", func() { _, err = impatient.Stat(noDeadline, "k") })
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Contains(t, err.Error(), "gave up after 3 attempts")
	returnsWithin(t, ctx, "Delete with AttemptTimeout", func() { err = impatientCustom.Delete(noDeadline, "k") })
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Contains(t, err.Error(), "no answer within 100ms")
	srv.SetLatency(0)

	requireNoSecrets(t, e, strings.Join(msgs, "\n")+e.logs.String())
}

func TestFailedPartCancelsLargeFile(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t, func(c *Config) { c.MaxRetries = 2 })
	ctx := deadlineCtx(t, faultDeadline)
	srv.InjectFault(b2test.APIUploadPart, 1000, b2test.Fault{Status: http.StatusInternalServerError})
	t.Cleanup(srv.ClearFaults)
	var err error
	returnsWithin(t, ctx, "large Put whose parts keep failing", func() {
		_, err = st.Put(ctx, "big", bytes.NewReader(largeData), nil)
	})
	require.ErrorIs(t, err, storage.ErrUnavailable)
	require.Empty(t, srv.Unfinished(e.bucket), "the large file was cancelled")
	require.Equal(t, 1, srv.Calls("b2_cancel_large_file"))
	_, err = st.Stat(ctx, "big")
	require.ErrorIs(t, err, storage.ErrNotFound)
}

func TestTransientErrorsAreRetried(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	_, err := st.Put(ctx, "k", reader("v"), nil)
	require.NoError(t, err)

	for _, status := range []int{408, 429, 500, 502, 503} {
		srv.ResetCalls()
		srv.InjectFault("b2_list_file_names", 2, b2test.Fault{Status: status, RetryAfter: time.Second})
		var keys []string
		for info, err := range st.List(ctx, nil) {
			require.NoError(t, err, "status %d", status)
			keys = append(keys, info.Key)
		}
		require.Equal(t, []string{"k"}, keys)
		require.Equal(t, 3, srv.Calls("b2_list_file_names"), "status %d: two failures, then success", status)
	}

	// A network failure (the connection closes without an answer) is
	// retried too.
	srv.SetLatency(time.Hour)
	short := deadlineCtx(t, 200*time.Millisecond)
	_, err = st.Stat(short, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	srv.SetLatency(0)
	_, err = st.Stat(ctx, "k")
	require.NoError(t, err)
}

func TestPermanentErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	_, err := st.Put(ctx, "k", reader("v"), nil)
	require.NoError(t, err)
	cases := []struct {
		fault b2test.Fault
		kind  error
	}{
		{b2test.Fault{Status: 400, Code: "bad_request"}, storage.ErrInvalidArgument},
		{b2test.Fault{Status: 401, Code: "unauthorized"}, storage.ErrPermission},
		{b2test.Fault{Status: 403, Code: "access_denied"}, storage.ErrPermission},
		{b2test.Fault{Status: 404, Code: "not_found"}, storage.ErrNotFound},
	}
	for _, c := range cases {
		srv.ResetCalls()
		srv.InjectFault(b2test.APIDownloadByName, 1, c.fault)
		_, _, err := st.Get(ctx, "k", nil)
		require.ErrorIs(t, err, c.kind, "%d %s", c.fault.Status, c.fault.Code)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, c.fault.Status, ae.Status)
		require.Equal(t, 1, srv.Calls(b2test.APIDownloadByName), "%d %s is not retried", c.fault.Status, c.fault.Code)
	}

	// A HEAD answer has no body, so a 401 there cannot say whether the
	// token expired: the store authorizes again once, and gives up if the
	// fresh token is refused too.
	srv.ResetCalls()
	srv.InjectFault(b2test.APIDownloadByName, 2, b2test.Fault{Status: 401, Code: "unauthorized"})
	_, err = st.Stat(ctx, "k")
	require.ErrorIs(t, err, storage.ErrPermission)
	require.Equal(t, 2, srv.Calls(b2test.APIDownloadByName))
	require.Equal(t, 1, srv.Calls("b2_authorize_account"))
}

func TestAbandonedLargeFileIsCancelled(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	_, err := st.Put(ctx, "k", reader("old"), nil)
	require.NoError(t, err)

	// The reader fails after more than one part.
	errBroken := errors.New("reader broke")
	r := io.MultiReader(bytes.NewReader(largeData[:MinPartSize+10]), &failReader{err: errBroken})
	_, err = st.Put(ctx, "k", r, nil)
	require.ErrorIs(t, err, errBroken)
	require.Empty(t, srv.Unfinished(e.bucket), "the large file was cancelled")
	require.Equal(t, "old", string(readAll(t, st, ctx, "k")), "the old object is untouched")

	// The context is cancelled half way; the reader then ends normally.
	cctx, cancel := context.WithCancel(ctx)
	r = io.MultiReader(bytes.NewReader(largeData[:2*MinPartSize]), &cancelReader{cancel: cancel}, bytes.NewReader(largeData[2*MinPartSize:]))
	_, err = st.Put(cctx, "k", r, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, srv.Unfinished(e.bucket))
	require.Equal(t, "old", string(readAll(t, st, ctx, "k")))
	require.Equal(t, 2, srv.Calls("b2_cancel_large_file"))

	// What a crashed process leaves behind is found and cancelled.
	var fileID string
	require.NoError(t, st.c.call(ctx, "b2_start_large_file", func(ctx context.Context, s *session) error {
		lf, err := s.bucket.StartLargeFile(ctx, "crashed", "text/plain", nil)
		if err == nil {
			fileID = lf.ID
		}
		return err
	}))
	ups, err := st.ListUnfinished(ctx)
	require.NoError(t, err)
	require.Len(t, ups, 1)
	require.Equal(t, "crashed", ups[0].Key)
	require.Equal(t, fileID, ups[0].FileID)
	n, err := st.CancelUnfinished(ctx, time.Hour)
	require.NoError(t, err)
	require.Zero(t, n, "a large file younger than olderThan is left alone")
	n, err = st.CancelUnfinished(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, srv.Unfinished(e.bucket))
}

type failReader struct{ err error }

func (f *failReader) Read([]byte) (int, error) { return 0, f.err }

// cancelReader cancels a context when first read, and yields nothing.
type cancelReader struct{ cancel context.CancelFunc }

func (c *cancelReader) Read([]byte) (int, error) {
	c.cancel()
	return 0, io.EOF
}

func TestLargeUploadMemoryIsBounded(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	for _, conc := range []int{1, 3} {
		st := e.open(t, func(c *Config) { c.Concurrency = conc })
		peak := 0
		st.c.testPartBuffers = func(n int) { peak = n }
		data := conformance.RandomBytes(9, 4*MinPartSize+1)
		ctx := deadlineCtx(t, faultDeadline)
		_, err := st.Put(ctx, "big", onlyReader{bytes.NewReader(data)}, nil)
		require.NoError(t, err)
		require.LessOrEqual(t, peak, conc+1, "Concurrency %d: at most Concurrency+1 part buffers", conc)
		require.Equal(t, sha256Hex(data), sha256Hex(readAll(t, st, ctx, "big")))
	}
}

func TestRestrictedKeys(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	a, b := newEnv(t, srv), newEnv(t, srv)
	ctx := deadlineCtx(t, faultDeadline)

	// The store never lists all buckets: one filtered b2_list_buckets,
	// which the emulator refuses to a restricted key without a filter.
	srv.ResetCalls()
	st := a.open(t)
	require.Equal(t, 1, srv.Calls("b2_list_buckets"))
	_, err := st.Put(ctx, "k", reader("v"), nil)
	require.NoError(t, err)

	// A key restricted to bucket a cannot open bucket b.
	cfg := a.config()
	cfg.Bucket = b.bucket
	_, err = New(ctx, cfg)
	require.ErrorIs(t, err, storage.ErrPermission)
	require.NotContains(t, err.Error(), a.key)

	// A wrong key fails at once, without retries.
	srv.ResetCalls()
	cfg = a.config()
	cfg.ApplicationKey = "wrong-key"
	_, err = New(ctx, cfg)
	require.ErrorIs(t, err, storage.ErrPermission)
	require.Equal(t, 1, srv.Calls("b2_authorize_account"))
	require.NotContains(t, err.Error(), "wrong-key")

	// A bucket that does not exist.
	id, key := srv.MasterKey()
	_, err = New(ctx, Config{KeyID: id, ApplicationKey: key, Bucket: "no-such-bucket", APIBase: srv.URL})
	require.ErrorIs(t, err, storage.ErrNoBucket)
	require.ErrorIs(t, err, storage.ErrInvalidArgument)
	require.NotErrorIs(t, err, storage.ErrNotFound, "a missing bucket is not a missing key")
}

func TestDeleteModes(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	ctx := deadlineCtx(t, faultDeadline)

	t.Run("AllVersions", func(t *testing.T) {
		e := newEnv(t, srv)
		st := e.open(t)
		for _, v := range []string{"v1", "v2", "v3"} {
			_, err := st.Put(ctx, "k", reader(v), nil)
			require.NoError(t, err)
		}
		_, err := st.Put(ctx, "k/other", reader("x"), nil)
		require.NoError(t, err)
		require.Len(t, srv.Versions(e.bucket), 4)
		require.NoError(t, st.Delete(ctx, "k"))
		vs := srv.Versions(e.bucket)
		require.Len(t, vs, 1, "nothing of k is left, not even a hide marker")
		require.Equal(t, "k/other", vs[0].Name)
		require.NoError(t, st.Delete(ctx, "k"), "deleting a missing key succeeds")
	})
	t.Run("Hide", func(t *testing.T) {
		e := newEnv(t, srv)
		st := e.open(t, func(c *Config) { c.DeleteMode = DeleteHide })
		for _, v := range []string{"v1", "v2"} {
			_, err := st.Put(ctx, "k", reader(v), nil)
			require.NoError(t, err)
		}
		require.NoError(t, st.Delete(ctx, "k"))
		_, err := st.Stat(ctx, "k")
		require.ErrorIs(t, err, storage.ErrNotFound)
		vs := srv.Versions(e.bucket)
		require.Len(t, vs, 3, "the history stays")
		require.Equal(t, "hide", vs[0].Action)
		require.NoError(t, st.Delete(ctx, "k"), "deleting a hidden key succeeds")
		require.NoError(t, st.Delete(ctx, "never"), "deleting a missing key succeeds")
		require.Len(t, srv.Versions(e.bucket), 3)
	})
}

func TestIfNotExistsRaceIsSettledByVersionOrder(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)

	// Two writers both passed the existence check; first stored first.
	first, err := st.c.uploadSmall(ctx, "k", []byte("first"), "text/plain", nil)
	require.NoError(t, err)
	second, err := st.c.uploadSmall(ctx, "k", []byte("second"), "text/plain", nil)
	require.NoError(t, err)

	err = st.c.settleRace(ctx, "k", second.id)
	require.ErrorIs(t, err, storage.ErrExist, "the later writer loses")
	require.NoError(t, st.c.settleRace(ctx, "k", first.id), "the earlier writer wins")
	vs := srv.Versions(e.bucket)
	require.Len(t, vs, 1, "the loser removed its version")
	require.Equal(t, first.id, vs[0].FileID)

	// Versions older than a hide marker do not count.
	hider := e.open(t, func(c *Config) { c.DeleteMode = DeleteHide })
	require.NoError(t, hider.Delete(ctx, "k"))
	third, err := st.c.uploadSmall(ctx, "k", []byte("third"), "text/plain", nil)
	require.NoError(t, err)
	require.NoError(t, st.c.settleRace(ctx, "k", third.id))
	require.Equal(t, "third", string(readAll(t, st, ctx, "k")))
}

func TestMetadataIsFileInfo(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	md := map[string]string{}
	for i := range storage.MaxMetadataEntries {
		md[string(rune('a'+i))+"-key"] = "value with spaces, + and % and ~!"
	}
	_, err := st.Put(ctx, "dir/name with spaces+plus%.txt", reader("x"), &storage.PutOptions{ContentType: "text/plain; charset=utf-8", Metadata: md})
	require.NoError(t, err)
	info, err := st.Stat(ctx, "dir/name with spaces+plus%.txt")
	require.NoError(t, err)
	require.Equal(t, md, info.Metadata, "strata's own entries are not metadata")
	require.Equal(t, "text/plain; charset=utf-8", info.ContentType)
	require.Equal(t, sha256Hex([]byte("x")), info.SHA256)
	vs := srv.Versions(e.bucket)
	require.Len(t, vs, 1)
	require.Len(t, vs[0].Info, storage.MaxMetadataEntries+1, "eight user entries and strata-sha256: within B2's ten")
	require.Equal(t, info.SHA256, vs[0].Info["strata-sha256"])
}

func TestGetDetectsCorruption(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)
	// An object whose stored SHA-256 does not match its bytes.
	_, err := st.c.uploadSmall(ctx, "k", []byte("content"), "text/plain", map[string]string{infoSHA256: sha256Hex([]byte("other"))})
	require.NoError(t, err)
	rc, _, err := st.Get(ctx, "k", nil)
	require.NoError(t, err)
	_, err = io.ReadAll(rc)
	require.ErrorIs(t, err, storage.ErrCorrupt)
	require.NoError(t, rc.Close())
	// A range cannot be checked, and is not.
	rc, _, err = st.Get(ctx, "k", &storage.GetOptions{Range: &storage.Range{Offset: 1}})
	require.NoError(t, err)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, "ontent", string(b))
	require.NoError(t, rc.Close())
}

func TestCopyLargeByParts(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	st.c.maxCopySize, st.c.copyPartSize = MinPartSize, MinPartSize
	ctx := deadlineCtx(t, faultDeadline)
	md := map[string]string{"owner": "alice"}
	_, err := st.Put(ctx, "src", bytes.NewReader(largeData), &storage.PutOptions{ContentType: "video/mp4", Metadata: md})
	require.NoError(t, err)
	info, err := st.Copy(ctx, "dst", "src")
	require.NoError(t, err)
	require.Equal(t, int64(len(largeData)), info.Size)
	require.Equal(t, 3, srv.Calls("b2_copy_part"))
	require.Zero(t, srv.Calls("b2_copy_file"))
	got, err := st.Stat(ctx, "dst")
	require.NoError(t, err)
	require.Equal(t, "video/mp4", got.ContentType)
	require.Equal(t, md, got.Metadata)
	require.Equal(t, sha256Hex(largeData), sha256Hex(readAll(t, st, ctx, "dst")))
	require.Empty(t, srv.Unfinished(e.bucket))
}

// hookReader calls hook once, after n bytes have been read.
type hookReader struct {
	r    io.Reader
	n    int64
	hook func()
	done bool
}

func (h *hookReader) Read(p []byte) (int, error) {
	if !h.done && h.n <= 0 {
		h.done = true
		h.hook()
	}
	if !h.done && int64(len(p)) > h.n {
		p = p[:h.n]
	}
	n, err := h.r.Read(p)
	h.n -= int64(n)
	return n, err
}

func TestConcurrentUploadsUnderFaults(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)

	// Tokens expire and upload URLs get busy in the middle of a large
	// upload and of many small ones running at once.
	var wg sync.WaitGroup
	errs := make([]error, 16)
	start := make(chan struct{})
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = st.Put(ctx, "small/"+string(rune('a'+i)), reader(strings.Repeat("x", i)), nil)
		})
	}
	var bigErr error
	wg.Go(func() {
		<-start
		r := &hookReader{r: bytes.NewReader(largeData), n: MinPartSize + 1, hook: func() {
			srv.ExpireTokens()
			srv.FailUploads(3)
		}}
		_, bigErr = st.Put(ctx, "big", r, nil)
	})
	close(start)
	returnsWithin(t, ctx, "concurrent Puts", wg.Wait)
	for i, err := range errs {
		require.NoError(t, err, "small Put %d", i)
	}
	require.NoError(t, bigErr)
	require.Equal(t, sha256Hex(largeData), sha256Hex(readAll(t, st, ctx, "big")))
	for i := range errs {
		require.Equal(t, strings.Repeat("x", i), string(readAll(t, st, ctx, "small/"+string(rune('a'+i)))))
	}
	require.Empty(t, srv.Unfinished(e.bucket))
}

// TestExpiredTokenWithManyIdleUploadURLs: after many uploads at once the
// Store keeps many idle upload URLs; when the tokens expire, every one of
// them is dead, and a Put must not spend its attempts on them one by one.
func TestExpiredTokenWithManyIdleUploadURLs(t *testing.T) {
	t.Parallel()
	srv := b2test.NewServer(t, nil)
	e := newEnv(t, srv)
	st := e.open(t)
	ctx := deadlineCtx(t, faultDeadline)

	// Many uploads at once, so that many upload URLs go back to the pool.
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 24 {
		wg.Go(func() {
			<-start
			_, err := st.Put(ctx, fmt.Sprintf("warm/%02d", i), reader("warm"), nil)
			assert.NoError(t, err)
		})
	}
	close(start)
	wg.Wait()

	srv.ExpireTokens()
	_, err := st.Put(ctx, "after-expiry.jpg", reader("jpeg"), nil)
	require.NoError(t, err, "a Put after the tokens expired succeeds")
	require.Equal(t, "jpeg", string(readAll(t, st, ctx, "after-expiry.jpg")))
}
