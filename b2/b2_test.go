package b2

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/b2/b2test"
	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/testlog"
	"github.com/strata-storage/strata/storage"
)

// testTimeout bounds each test's calls: a hang fails the test instead of
// the whole run.
const testTimeout = 60 * time.Second

// bucketSeq makes bucket names unique within the test binary.
var bucketSeq atomic.Int64

// env is an emulator bucket and a key restricted to it.
type env struct {
	srv    *b2test.Server
	bucket string
	keyID  string
	key    string
	logs   *logBuffer
}

// newEnv makes a fresh bucket on srv with a key restricted to it.
func newEnv(t testing.TB, srv *b2test.Server) *env {
	t.Helper()
	name := fmt.Sprintf("bucket-%d", bucketSeq.Add(1))
	srv.CreateBucket(name)
	id, key := srv.CreateKey(name)
	return &env{srv: srv, bucket: name, keyID: id, key: key, logs: &logBuffer{}}
}

// config returns a Config for the env's bucket, with the retry waits
// shortened so that fault tests run in milliseconds.
func (e *env) config() Config {
	return Config{
		KeyID: e.keyID, ApplicationKey: e.key, Bucket: e.bucket, APIBase: e.srv.URL,
		PartSize: MinPartSize, Concurrency: 3,
		MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// open returns a Store on the env's bucket, closed when t ends.
func (e *env) open(t testing.TB, change ...func(*Config)) *Store {
	t.Helper()
	cfg := e.config()
	for _, f := range change {
		f(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	st, err := New(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// logBuffer is a buffer a test reads while others write to it.
type logBuffer = testlog.Buffer

// requireNoSecrets checks that s holds neither the application key nor any
// token the emulator handed out.
func requireNoSecrets(t *testing.T, e *env, s string) {
	t.Helper()
	require.NotContains(t, s, e.key, "the application key leaked")
	for _, tok := range e.srv.IssuedTokens() {
		require.NotContains(t, s, tok, "an authorization token leaked")
	}
}

// TestConformance runs the whole contract suite against the emulator, each
// subtest on its own bucket with a key restricted to that bucket.
func TestConformance(t *testing.T) {
	srv := b2test.NewServer(t, nil)
	var mu sync.Mutex
	stores := map[*testing.T]*Store{}
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			e := newEnv(t, srv)
			mu.Lock()
			// A second store on the bucket looks for leftovers: the suite
			// closes the first one in some subtests.
			stores[t] = e.open(t)
			mu.Unlock()
			return e.open(t)
		},
		Presign: true,
		Copy:    true,
		Leftovers: func(t *testing.T) []string {
			mu.Lock()
			st := stores[t]
			mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			// Through b2_list_unfinished_large_files, as a user would.
			ups, err := st.ListUnfinished(ctx)
			require.NoError(t, err)
			var left []string
			for _, u := range ups {
				left = append(left, "unfinished large file "+u.Key)
			}
			return left
		},
	})
}

// TestLive runs the conformance suite against real B2 when credentials and
// a test bucket are in the environment.
func TestLive(t *testing.T) {
	keyID, key, bucket := getenv(EnvKeyID), getenv(EnvApplicationKey), getenv("B2_TEST_BUCKET")
	if keyID == "" || key == "" || bucket == "" {
		t.Skip("live B2 test skipped: set B2_APPLICATION_KEY_ID, B2_APPLICATION_KEY and B2_TEST_BUCKET to run it")
	}
	var seq atomic.Int64
	run := fmt.Sprintf("strata-live-%d", time.Now().UnixNano())
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			st, err := New(ctx, Config{KeyID: keyID, ApplicationKey: key, Bucket: bucket, MaxRetries: 8})
			require.NoError(t, err)
			return &prefixed{Store: st, prefix: fmt.Sprintf("%s/%d/", run, seq.Add(1))}
		},
		Presign: true,
		Copy:    true,
	})
}

func TestPackageDocMentionsEmulatorAndLiveTest(t *testing.T) {
	// The README promise of the issue: the package doc says CI tests
	// through an emulator and how to run the live test.
	doc := readDoc(t)
	require.Contains(t, doc, "CI tests this package against")
	require.Contains(t, doc, "b2test")
	require.Contains(t, doc, "B2_TEST_BUCKET")
	require.Contains(t, doc, "go test -run TestLive")
}

// onlyReader hides every method of a reader but Read, so Put cannot learn
// its length.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func reader(s string) io.Reader { return onlyReader{strings.NewReader(s)} }
