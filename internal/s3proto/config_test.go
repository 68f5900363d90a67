package s3proto

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/storage"
)

func TestTuningFromURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  Tuning
		rest  url.Values // what is left for the driver
	}{
		{"", Tuning{}, url.Values{}},
		{"part_size=64MiB&concurrency=8&max_attempts=2&record_large_sha256=true&prefix_check=false&skip_verify_reads=1&region=x",
			Tuning{PartSize: 64 << 20, Concurrency: 8, MaxAttempts: 2, RecordLargeSHA256: true, PrefixCheck: PrefixCheckOff, SkipVerifyReads: true},
			url.Values{"region": {"x"}}},
		{"prefix_check=auto", Tuning{PrefixCheck: PrefixCheckAuto}, url.Values{}},
		{"prefix_check=true", Tuning{PrefixCheck: PrefixCheckOn}, url.Values{}},
		// The deprecated names.
		{"threads=3&max_retries=5", Tuning{Concurrency: 3, MaxAttempts: 5}, url.Values{}},
		{"skip_multipart_sha256=false", Tuning{RecordLargeSHA256: true}, url.Values{}},
		{"skip_multipart_sha256=true", Tuning{}, url.Values{}},
		{"skip_prefix_check=true", Tuning{PrefixCheck: PrefixCheckOff}, url.Values{}},
		{"skip_prefix_check=false", Tuning{}, url.Values{}},
		{"prefix_conflicts=true", Tuning{PrefixCheck: PrefixCheckOn}, url.Values{}},
		{"part_size=5242880", Tuning{PartSize: 5 << 20}, url.Values{}},
	} {
		q, err := url.ParseQuery(tc.query)
		require.NoError(t, err)
		got, err := TuningFromURL(q)
		require.NoError(t, err, tc.query)
		assert.Equal(t, tc.want, got, tc.query)
		assert.Equal(t, tc.rest, q, "%s: the shared parameters are taken out", tc.query)
	}
	for _, bad := range []string{
		"concurrency=0", "concurrency=x", "threads=-1", "max_attempts=0", "part_size=big",
		"prefix_check=maybe", "record_large_sha256=yes", "skip_verify_reads=2",
		"concurrency=2&concurrency=3",                  // twice
		"concurrency=2&threads=3",                      // new and old name
		"prefix_check=true&skip_prefix_check=true",     // new and old name
		"prefix_conflicts=true&skip_prefix_check=true", // two old names of one setting
		"record_large_sha256=true&skip_multipart_sha256=false",
	} {
		q, err := url.ParseQuery(bad)
		require.NoError(t, err)
		_, err = TuningFromURL(q)
		assert.Error(t, err, bad)
	}
}

func TestTuningCheck(t *testing.T) {
	t.Parallel()
	got, err := Tuning{}.Check()
	require.NoError(t, err)
	assert.Equal(t, Tuning{PartSize: DefaultPartSize, Concurrency: DefaultConcurrency}, got, "the defaults of both drivers")
	for _, bad := range []Tuning{
		{PartSize: MinPartSize - 1}, {PartSize: MaxPartSize + 1}, {Concurrency: -1}, {Concurrency: 257},
		{MaxAttempts: -1}, {PrefixCheck: PrefixCheck(7)},
	} {
		_, err := bad.Check()
		assert.Error(t, err, "%+v", bad)
	}
}

func TestPrefixCheckAuto(t *testing.T) {
	t.Parallel()
	var unknown, minio, other, noHeader Server
	minio.Observe(http.Header{"Server": {"MinIO"}})
	other.Observe(http.Header{"Server": {"AmazonS3"}})
	noHeader.Observe(http.Header{})
	assert.True(t, PrefixCheckAuto.On(&unknown), "checks until the server is known")
	assert.True(t, PrefixCheckAuto.On(&noHeader), "a response without the header says nothing")
	assert.True(t, PrefixCheckAuto.On(&minio))
	assert.False(t, PrefixCheckAuto.On(&other))
	assert.True(t, PrefixCheckOn.On(&other))
	assert.False(t, PrefixCheckOff.On(&minio))
	// Detected once: a later response does not change it.
	other.Observe(http.Header{"Server": {"MinIO"}})
	assert.False(t, PrefixCheckAuto.On(&other))

	var srv Server
	rt := srv.Transport(roundTripper(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 404, Header: http.Header{"Server": {"MinIO"}}}, nil
	}))
	_, err := rt.RoundTrip(&http.Request{})
	require.NoError(t, err)
	isMinIO, known := srv.MinIO()
	assert.True(t, isMinIO && known, "an error response tells too")
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCheckPrefixes(t *testing.T) {
	t.Parallel()
	objects := map[string]bool{"a": true, "d/e": true}
	var mu sync.Mutex
	var heads []string
	exists := func(_ context.Context, key string) (bool, error) {
		mu.Lock()
		heads = append(heads, key)
		mu.Unlock()
		return objects[key], nil
	}
	first := func(_ context.Context, prefix string) (string, error) {
		for k := range objects {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				return k, nil
			}
		}
		return "", nil
	}
	ctx := t.Context()
	assert.ErrorIs(t, CheckPrefixes(ctx, "a/b/c", exists, first), storage.ErrExist, "a parent is an object")
	assert.ErrorIs(t, CheckPrefixes(ctx, "d", exists, first), storage.ErrExist, "a prefix of other keys")
	heads = nil
	assert.NoError(t, CheckPrefixes(ctx, "x/y/z", exists, first))
	assert.ElementsMatch(t, []string{"x", "x/y"}, heads, "one HEAD per parent")
	assert.NoError(t, CheckPrefixes(ctx, "plain", exists, first))

	boom := errors.New("boom")
	err := CheckPrefixes(ctx, "x/y", func(context.Context, string) (bool, error) { return false, boom }, first)
	assert.ErrorIs(t, err, boom, "the driver's error is returned as it is")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = CheckPrefixes(cancelled, "x/y", func(ctx context.Context, _ string) (bool, error) { return false, ctx.Err() }, first)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestSettle(t *testing.T) {
	t.Parallel()
	live := t.Context()
	ended, cancel := context.WithCancel(live)
	cancel()
	reset := errors.New("connection reset")

	assert.Nil(t, Settle(live, nil, nil))
	assert.Same(t, reset, Settle(live, reset, storage.ErrUnavailable), "a live call's error stays")

	err := Settle(live, context.DeadlineExceeded, nil)
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the transport's timeout is not the caller's deadline")
	assert.Equal(t, storage.ErrUnavailable, NoResponseKind(err))
	err = Settle(live, context.Canceled, nil)
	assert.NotErrorIs(t, err, context.Canceled, "a cancellation the caller did not make")
	assert.Equal(t, storage.ErrUnavailable, NoResponseKind(err))

	err = Settle(ended, reset, storage.ErrUnavailable)
	assert.ErrorIs(t, err, context.Canceled, "the caller gave up")
	assert.ErrorIs(t, err, reset, "and what the transport saw stays reachable")
	notFound := errors.New("404")
	assert.Same(t, notFound, Settle(ended, notFound, storage.ErrNotFound), "a definite answer stays")
	se := &storage.Error{Op: "get", Err: context.Canceled}
	assert.Same(t, se, Settle(live, se, nil).(*storage.Error), "a *storage.Error passes")

	k := WithKind(storage.ErrNoBucket, reset)
	assert.ErrorIs(t, k, storage.ErrNoBucket)
	assert.ErrorIs(t, k, reset)
	assert.Equal(t, reset.Error(), k.Error())
}

// Ask asks a server that has not said what it is once, however many
// uploads want to know, and not at all once it has said.
func TestServerAskOnce(t *testing.T) {
	t.Parallel()
	var srv Server
	probes := 0
	silent := func(context.Context) { probes++; srv.Observe(http.Header{}) } // no Server header
	srv.Ask(t.Context(), silent)
	srv.Ask(t.Context(), silent)
	assert.Equal(t, 1, probes, "a server that does not say is asked once")

	var minio Server
	minio.Observe(http.Header{"Server": {"MinIO"}})
	minio.Ask(t.Context(), func(context.Context) { t.Error("a known server is asked") })

	var answers Server
	answers.Ask(t.Context(), func(context.Context) { answers.Observe(http.Header{"Server": {"MinIO"}}) })
	isMinIO, known := answers.MinIO()
	assert.True(t, isMinIO && known, "the probe's answer tells")
}
