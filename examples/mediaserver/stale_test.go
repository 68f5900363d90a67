package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
)

// cutProxy forwards TCP connections to target until cut, which closes
// every connection, and holds new ones unanswered until the cut is
// healed, when it closes them: a partition between one server and the
// remote.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	healed chan struct{} // closed when the cut ends
	conns  map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.setCut(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		healed := p.healed
		p.mu.Unlock()
		<-healed // no answer while cut
		p.mu.Lock()
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *cutProxy) serve(c net.Conn) {
	defer c.Close()
	if !p.track(c) {
		return
	}
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	if !p.track(u) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cut == p.cut {
		return
	}
	p.cut = cut
	if cut {
		p.healed = make(chan struct{})
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	} else {
		close(p.healed)
	}
}

// remoteRequests sums the server's remote calls of every kind, from its
// metrics.
func remoteRequests(t *testing.T, base string) float64 {
	t.Helper()
	_, b := get(t, base+"/metrics", nil)
	var n float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "strata_operations_total{") && strings.Contains(line, `provider="remote"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err)
			n += v
		}
	}
	return n
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Three servers, each with its own cache, share one MinIO bucket: uploads
// and deletes go through all three at random while a checker reads every
// key through all three and fails on any read that serves a deleted
// object more than the bound after its delete was acknowledged. One server
// is killed (-9) and restarted part way, and another is cut off from
// MinIO for longer than the bound and then let back.
func TestThreeServersStaleness(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40 s run of three servers on MinIO")
	}
	const bound = 2 * time.Second
	srv := miniotest.StartFresh(t, nil)
	bucket := srv.NewBucket(t)
	remoteURL := func(endpoint string) string {
		return fmt.Sprintf("minio://%s/%s?secure=false&region=%s", endpoint, bucket, srv.Region)
	}
	const token = "staleness-admin-token"
	env := []string{"MINIO_ACCESS_KEY=" + srv.AccessKey, "MINIO_SECRET_KEY=" + srv.SecretKey, "MEDIASERVER_ADMIN_TOKEN=" + token}
	proxy := startCutProxy(t, srv.Endpoint)
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	remotes := []string{remoteURL(srv.Endpoint), remoteURL(srv.Endpoint), remoteURL(proxy.ln.Addr().String())}
	args := func(i int) []string {
		return []string{"-remote", remotes[i], "-staleness", bound.String(), "-max-bytes", "256MiB"}
	}
	var mu sync.Mutex // guards procs and the key records
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = start(t, dirs[i], env, args(i)...)
	}
	url := func(i int) string {
		mu.Lock()
		defer mu.Unlock()
		return procs[i].url
	}

	type object struct {
		data     []byte
		deleting bool      // a delete was sent
		deleted  time.Time // when the delete was acknowledged; zero until then
	}
	objects := map[string]*object{}
	var keys []string
	var violations []string
	var staleness []time.Duration
	violate := func(format string, a ...any) {
		mu.Lock()
		violations = append(violations, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	client := &http.Client{Timeout: 40 * time.Second}
	// The writer gives up sooner on the server cut off from MinIO.
	writes := &http.Client{Timeout: 3 * time.Second}
	fetch := func(u string) (int, []byte, error) {
		resp, err := client.Get(u)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	// The checker.
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(c), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				if len(keys) == 0 {
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				key := keys[rnd.IntN(len(keys))]
				o := objects[key]
				mu.Unlock()
				i := rnd.IntN(3)
				t0 := time.Now()
				code, body, err := fetch(url(i) + "/media/" + key)
				if err != nil {
					continue // a server being restarted
				}
				mu.Lock()
				deleted, deleting := o.deleted, o.deleting
				mu.Unlock()
				switch {
				case code == http.StatusOK && !bytes.Equal(body, o.data):
					violate("server %d served other bytes for %s", i, key)
				case code == http.StatusOK && !deleted.IsZero() && t0.After(deleted.Add(bound)):
					violate("server %d served %s, deleted %v before the read began", i, key, t0.Sub(deleted))
				case code == http.StatusNotFound && !deleting:
					violate("server %d: 404 for the live key %s", i, key)
				}
			}
		}()
	}

	// The writer: uploads through one server, reads through all three (so
	// that each caches it), deletes through one, and measures how long
	// the other two go on serving it.
	wg.Add(1)
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewPCG(42, 2))
		var live []string
		for n := uint64(0); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			i := rnd.IntN(3)
			if len(live) < 5 || rnd.IntN(10) < 6 {
				data := conformance.RandomBytes(n, 1000+rnd.IntN(20_000))
				resp, err := writes.Post(url(i)+"/upload", "application/octet-stream", bytes.NewReader(data))
				if err != nil {
					continue
				}
				var u uploaded
				ok := resp.StatusCode == http.StatusCreated
				if ok {
					ok = json.NewDecoder(resp.Body).Decode(&u) == nil
				}
				resp.Body.Close()
				if !ok {
					continue
				}
				mu.Lock()
				objects[u.Key] = &object{data: data}
				keys = append(keys, u.Key)
				mu.Unlock()
				live = append(live, u.Key)
				for j := range 3 {
					fetch(url(j) + "/media/" + u.Key)
				}
				continue
			}
			k := rnd.IntN(len(live))
			key := live[k]
			mu.Lock()
			objects[key].deleting = true
			mu.Unlock()
			req, _ := http.NewRequest(http.MethodDelete, url(i)+"/media/"+key, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := writes.Do(req)
			if err != nil {
				continue // left marked deleting: it may or may not be gone
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				continue
			}
			acked := time.Now()
			mu.Lock()
			objects[key].deleted = acked
			mu.Unlock()
			live = slices.Delete(live, k, k+1)
			for j := range 3 {
				if j == i {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Since(acked) < 10*time.Second {
						t0 := time.Now()
						code, _, err := fetch(url(j) + "/media/" + key)
						// Anything but a 200 (a 404, a 503 while cut off
						// from MinIO, no answer while restarting) no
						// longer serves the deleted object.
						if err != nil || code != http.StatusOK {
							mu.Lock()
							staleness = append(staleness, max(t0.Sub(acked), 0))
							mu.Unlock()
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			time.Sleep(time.Duration(rnd.IntN(50)) * time.Millisecond)
		}
	}()

	time.Sleep(10 * time.Second)
	// kill -9 server 1 and start it again on its cache.
	mu.Lock()
	victim := procs[1]
	mu.Unlock()
	require.NoError(t, victim.cmd.Process.Kill())
	<-victim.done
	time.Sleep(3 * time.Second)
	restarted := start(t, dirs[1], env, args(1)...)
	mu.Lock()
	procs[1] = restarted
	mu.Unlock()

	time.Sleep(5 * time.Second)
	// Cut server 2 off from MinIO for three times the bound.
	proxy.setCut(true)
	time.Sleep(3 * bound)
	proxy.setCut(false)
	time.Sleep(10 * time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	deletes := 0
	for _, o := range objects {
		if !o.deleted.IsZero() {
			deletes++
		}
	}
	t.Logf("%d objects, %d deletes; staleness after a delete (%d measures): p50 %v, p99 %v, max %v",
		len(objects), deletes, len(staleness), percentile(staleness, 0.5), percentile(staleness, 0.99), percentile(staleness, 1))
	assert.Empty(t, violations, "stale or wrong reads")
	assert.Greater(t, deletes, 20, "too few deletes to say anything")
	if len(staleness) > 0 {
		assert.LessOrEqual(t, percentile(staleness, 1), bound+500*time.Millisecond)
	}
	mu.Unlock()

	// At rest: the remote requests each server makes in 15 s.
	time.Sleep(3 * time.Second)
	var before [3]float64
	for i := range 3 {
		before[i] = remoteRequests(t, url(i))
	}
	const rest = 15 * time.Second
	time.Sleep(rest)
	for i := range 3 {
		n := remoteRequests(t, url(i)) - before[i]
		perMin := n * float64(time.Minute) / float64(rest)
		t.Logf("server %d at rest: %.0f remote requests in %v (%.0f a minute)", i, n, rest, perMin)
		assert.LessOrEqual(t, perMin, 2*float64(time.Minute/bound)+10, "server %d at rest", i)
	}
	for i := range 3 {
		procs[i].stop(t)
		var errs []string
		for _, line := range strings.Split(procs[i].logs(), "\n") {
			// Server 2 answers 503 (logged at ERROR) while cut off.
			if strings.Contains(line, "level=ERROR") && (i != 2 || !strings.Contains(line, "status=503")) {
				errs = append(errs, line)
			}
		}
		assert.Empty(t, errs, "server %d logged errors", i)
	}
}
