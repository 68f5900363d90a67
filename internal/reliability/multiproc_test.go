package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/cache"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/tiered"
)

// The environment of a child process of TestSeveralProcesses.
const (
	envChild    = "STRATA_RELIABILITY_CHILD" // its id
	envPeers    = "STRATA_RELIABILITY_PEERS" // the other children's ids, comma separated
	envEndpoint = "STRATA_RELIABILITY_ENDPOINT"
	envBucket   = "STRATA_RELIABILITY_BUCKET"
	envAccess   = "STRATA_RELIABILITY_ACCESS"
	envSecret   = "STRATA_RELIABILITY_SECRET"
	envCacheDir = "STRATA_RELIABILITY_CACHE"
	envObjects  = "STRATA_RELIABILITY_OBJECTS"
)

// childReport is what a child prints on stdout as its last line.
type childReport struct {
	ID                       string
	Wrote, ReadOwn, ReadPeer int
	Hits, Misses, Fills      int64
	Errors                   []string
}

func mpKey(id string, i int) string { return fmt.Sprintf("mp/%s/%04d.bin", id, i) }

func mpSize(i int) int { return 1<<10 + (i*7919)%(300<<10) }

// childMain is a worker process: its own cache directory, the shared bucket
// through a write-behind tiered store. It writes its objects, flushes, then
// reads every peer's objects (fetch on miss, waiting for them to appear)
// twice, and its own, checking every byte.
func childMain() int {
	rep := childReport{ID: os.Getenv(envChild)}
	fail := func(format string, args ...any) {
		rep.Errors = append(rep.Errors, fmt.Sprintf(format, args...))
	}
	defer func() {
		b, _ := json.Marshal(rep)
		fmt.Println(string(b))
	}()
	n, _ := strconv.Atoi(os.Getenv(envObjects))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	remote, err := minio.New(ctx, minio.Config{
		Endpoint: os.Getenv(envEndpoint), Bucket: os.Getenv(envBucket), Region: miniotest.DefaultRegion,
		AccessKey: os.Getenv(envAccess), SecretKey: os.Getenv(envSecret), PrefixCheck: minio.PrefixCheckOff,
	})
	if err != nil {
		fail("minio: %v", err)
		return 1
	}
	c, err := cache.Open(os.Getenv(envCacheDir), cache.Options{MaxBytes: 256 << 20})
	if err != nil {
		fail("cache: %v", err)
		return 1
	}
	ts, err := tiered.New(c, remote, tiered.Options{Mode: tiered.WriteBehind, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		fail("tiered: %v", err)
		return 1
	}
	defer ts.Close()
	for i := range n {
		key := mpKey(rep.ID, i)
		data := Content(key, mpSize(i))
		if _, err := ts.Put(ctx, key, bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data)), IfNotExists: true}); err != nil {
			fail("put %s: %v", key, err)
			continue
		}
		rep.Wrote++
	}
	if err := ts.Flush(ctx); err != nil {
		fail("flush: %v", err)
	}
	read := func(key string, size int, wait bool) bool {
		for {
			rc, _, err := ts.Get(ctx, key, nil)
			if err == nil {
				b, rerr := io.ReadAll(rc)
				rc.Close()
				if rerr != nil {
					fail("read %s: %v", key, rerr)
					return false
				}
				if SHA256(b) != SHA256(Content(key, size)) {
					fail("read %s: stale or wrong content (%d bytes)", key, len(b))
					return false
				}
				return true
			}
			if !wait || !errors.Is(err, storage.ErrNotFound) || ctx.Err() != nil {
				fail("get %s: %v", key, err)
				return false
			}
			// The peer has not flushed this key yet: poll until it
			// appears or the deadline passes.
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	for _, peer := range strings.Split(os.Getenv(envPeers), ",") {
		for round := range 2 {
			for i := range n {
				if read(mpKey(peer, i), mpSize(i), true) && round == 0 {
					rep.ReadPeer++
				}
			}
		}
	}
	for i := range n {
		if read(mpKey(rep.ID, i), mpSize(i), false) {
			rep.ReadOwn++
		}
	}
	cn := ts.Counters()
	rep.Hits, rep.Misses, rep.Fills = cn.Hits, cn.Misses, cn.Fills
	if len(rep.Errors) > 0 {
		return 1
	}
	return 0
}

// TestSeveralProcesses runs three processes (this test binary, re-executed),
// each with its own cache directory, on one bucket: each writes its objects
// through a write-behind tiered store and reads all the others' through
// fetch on miss. Nothing may be missing, and no read may return other bytes
// than those written.
func TestSeveralProcesses(t *testing.T) {
	srv := miniotest.Start(t)
	bucket := srv.NewBucket(t)
	const procs, objects = 3, 40
	ids := make([]string, procs)
	for i := range ids {
		ids[i] = "w" + strconv.Itoa(i+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	reports := make([]childReport, procs)
	var wg sync.WaitGroup
	for i, id := range ids {
		var peers []string
		for _, p := range ids {
			if p != id {
				peers = append(peers, p)
			}
		}
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			envChild+"="+id, envPeers+"="+strings.Join(peers, ","),
			envEndpoint+"="+srv.Endpoint, envBucket+"="+bucket,
			envAccess+"="+srv.AccessKey, envSecret+"="+srv.SecretKey,
			envCacheDir+"="+filepath.Join(t.TempDir(), "cache-"+id),
			envObjects+"="+strconv.Itoa(objects))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Start())
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &reports[i]); jerr != nil {
				t.Errorf("process %s: no report (%v); exit: %v; stderr: %s", id, jerr, err, stderr.String())
				return
			}
			if err != nil {
				t.Errorf("process %s: %v: %q", id, err, reports[i].Errors)
			}
		}()
	}
	wg.Wait()
	for _, r := range reports {
		t.Logf("process %s: wrote %d, read %d own and %d of its peers' objects; %d hits, %d misses, %d fills",
			r.ID, r.Wrote, r.ReadOwn, r.ReadPeer, r.Hits, r.Misses, r.Fills)
		require.Equal(t, objects, r.Wrote, "process %s", r.ID)
		require.Equal(t, objects, r.ReadOwn, "process %s", r.ID)
		require.Equal(t, objects*(procs-1), r.ReadPeer, "process %s", r.ID)
		// Every peer object was fetched once (a miss), then served locally.
		require.GreaterOrEqual(t, r.Fills, int64(objects*(procs-1)), "process %s", r.ID)
		require.GreaterOrEqual(t, r.Hits, int64(objects*(procs-1)), "process %s", r.ID)
	}
	// And the bucket holds every object with its bytes.
	remote, err := minio.New(ctx, minio.Config{Endpoint: srv.Endpoint, Bucket: bucket, Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	require.NoError(t, err)
	defer remote.Close()
	for _, id := range ids {
		for i := range objects {
			rc, info, err := remote.Get(ctx, mpKey(id, i), nil)
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			require.Equal(t, SHA256(Content(mpKey(id, i), mpSize(i))), SHA256(b))
			require.Equal(t, SHA256(b), info.SHA256, "the remote holds strata's checksum")
		}
	}
}
