package main

import (
	"bytes"
	"context"
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

	miniogo "github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/tiered"
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

// version is one state of a key, in the order the writer made them.
type version struct {
	data   []byte // nil: a delete
	server int    // the server it went through
	sure   bool   // the server acknowledged it (false: not yet, or never known)
	// landed is when the remote has the change: when a write-through
	// server acknowledged it, or, for the write-behind one, when the test
	// first saw the remote hold it. announced is when its entry in the
	// change log is on the remote: the acknowledgement again, or when
	// the test first saw the entry. Both are zero until then, and for
	// ever when the outcome is unknown.
	landed, announced time.Time
}

// object is what the writer did to a key. A key whose last change has
// an unknown outcome (no answer, an error) is changed no more: the
// version's bytes are accepted, and its bound never starts.
type object struct {
	versions []*version
}

func (o *object) last() *version { return o.versions[len(o.versions)-1] }

// match returns the index of the version whose bytes body is, or -1.
func (o *object) match(body []byte) int {
	for k := len(o.versions) - 1; k >= 0; k-- {
		if d := o.versions[k].data; d != nil && bytes.Equal(d, body) {
			return k
		}
	}
	return -1
}

func (o *object) hasDelete() bool {
	return slices.ContainsFunc(o.versions, func(v *version) bool { return v.data == nil })
}

// staleMeasure is when a server was first seen not serving the bytes a
// change replaced: its read began at.
type staleMeasure struct {
	v  *version
	at time.Time
}

// Three servers, each with its own cache, share one MinIO bucket; server 1
// writes behind, servers 0 and 2 write through. Uploads, overwrites (PUT
// /media/{key}) and deletes go through all three at random, while a
// checker reads every key through all three and fails on any read of
// bytes older than the bound allows: a read that began more than the bound
// after a newer version (an overwrite or a delete) was announced, and
// still got the older bytes.
//
// A write-through server announces a change before acknowledging it, so
// its changes count from the acknowledgement. The write-behind server
// announces one once its upload or delete has reached the remote, with
// one more small Put: the test watches MinIO directly (every 20 ms) for
// the change and then for its entry in the change log, and the checker
// counts from the entry: the store's promise is the bound from the
// announcement. The staleness figures are given both from the announcement
// (held to the bound, with slack for the length of the last stale read)
// and from when the remote had the change, which adds that one Put. The
// test sees each a little (at most the 20 ms period) after it truly
// happened.
//
// Server 1 is killed (-9) and restarted part way: a change of it that
// reached the remote shortly before the kill may not have been announced
// yet; the restart announces it (the checker waits for that), and its
// staleness from the remote counts from the restart (see crashWindow).
// Server 2 is cut off from MinIO for longer than the bound and then let
// back.
func TestThreeServersStaleness(t *testing.T) {
	if testing.Short() {
		t.Skip("a 40 s run of three servers on MinIO")
	}
	const bound = 2 * time.Second
	// A write-behind change that reached the remote within crashWindow
	// before its server was killed has its staleness from the remote
	// counted from the restart.
	const crashWindow = bound
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
	behind := [3]bool{false, true, false}
	const victim = 1 // killed and restarted
	args := func(i int) []string {
		mode := "through"
		if behind[i] {
			mode = "behind"
		}
		return []string{"-remote", remotes[i], "-write-mode", mode, "-staleness", bound.String(), "-max-bytes", "256MiB"}
	}

	var mu sync.Mutex // guards procs, the objects, the kill times and the results
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = start(t, dirs[i], env, args(i)...)
	}
	every := slices.Clone(procs) // and the victim's second run
	url := func(i int) string {
		mu.Lock()
		defer mu.Unlock()
		return procs[i].url
	}
	objects := map[string]*object{}
	var keys []string
	var killedAt, restartedAt time.Time
	var violations []string
	violated := map[string]bool{} // keys
	begun := time.Now()
	var measures []staleMeasure
	counts := map[string]int{}
	violate := func(format string, a ...any) {
		mu.Lock()
		violations = append(violations, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	// fromLanded returns when v's staleness is counted from: when it
	// landed, or, for a change of the victim that landed just before the
	// kill, the restart (zero until then). The caller holds mu.
	fromLanded := func(v *version) time.Time {
		if v.landed.IsZero() || v.server != victim || !behind[victim] || killedAt.IsZero() ||
			v.landed.Before(killedAt.Add(-crashWindow)) {
			return v.landed
		}
		if restartedAt.IsZero() {
			return time.Time{}
		}
		if v.landed.After(restartedAt) {
			return v.landed
		}
		return restartedAt
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
	// send makes an admin request through the writer's client.
	send := func(method, u string, body []byte) (int, error) {
		req, _ := http.NewRequest(method, u, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := writes.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// remoteHas reports whether MinIO holds v (its bytes, or for a
	// delete, nothing) under key, read directly; an error when it cannot
	// say.
	mc := srv.Client()
	// announcedSince reports whether the change log on MinIO holds an
	// entry for key stamped since (the announcing process's clock, which
	// is this host's).
	announcedSince := func(key string, since time.Time) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		from := fmt.Sprintf("%s%020d", tiered.ChangesPrefix, since.UnixNano())
		for info := range mc.ListObjects(ctx, bucket, miniogo.ListObjectsOptions{Prefix: tiered.ChangesPrefix, StartAfter: from, Recursive: true}) {
			if info.Err != nil {
				return false
			}
			if strings.HasSuffix(info.Key, "/"+key) {
				return true
			}
		}
		return false
	}
	remoteHas := func(key string, v *version) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		obj, err := mc.GetObject(ctx, bucket, key, miniogo.GetObjectOptions{})
		if err != nil {
			return false, err
		}
		defer obj.Close()
		b, err := io.ReadAll(obj)
		switch {
		case miniogo.ToErrorResponse(err).Code == "NoSuchKey":
			return v.data == nil, nil
		case err != nil:
			return false, err
		}
		return v.data != nil && bytes.Equal(b, v.data), nil
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup // the checkers and the measures
	var watchers sync.WaitGroup
	// measure follows, through every server but the writer's, how long
	// each goes on serving old (the bytes v replaced, nil if none) once v
	// has landed and been announced.
	measure := func(key string, v *version, old []byte) {
		for j := range 3 {
			if j == v.server {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for begun := time.Now(); time.Since(begun) < 10*time.Second; {
					t0 := time.Now()
					code, body, err := fetch(url(j) + "/media/" + key)
					// Anything but the old bytes (the new ones, a 404, a
					// 503 while cut off from MinIO, no answer while
					// restarting) no longer serves them.
					if err != nil || code != http.StatusOK || !bytes.Equal(body, old) {
						mu.Lock()
						measures = append(measures, staleMeasure{v, t0})
						mu.Unlock()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
	}
	// landed records that v (sent at sent, just acknowledged) landed and
	// was announced now, through a write-through server, or waits until
	// the remote holds it and then its entry in the change log
	// (write-behind); then it runs then.
	landed := func(key string, v *version, sent time.Time, then func()) {
		if !behind[v.server] {
			mu.Lock()
			v.landed = time.Now()
			v.announced = v.landed
			mu.Unlock()
			then()
			return
		}
		watchers.Add(1)
		go func() {
			defer watchers.Done()
			deadline := time.Now().Add(90 * time.Second)
			// The change reached the remote after it was sent and after
			// the last look that did not see it: its entry is stamped
			// after that. (The writer sends no other change of the key
			// before this one is announced.)
			missed := sent
			for ; ; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					violate("%s: a change acknowledged by write-behind server %d never reached the remote", key, v.server)
					return
				}
				look := time.Now()
				has, err := remoteHas(key, v)
				if has {
					break
				}
				if err == nil {
					missed = look
				}
			}
			mu.Lock()
			v.landed = time.Now()
			mu.Unlock()
			for ; !announcedSince(key, missed); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					violate("%s: a change of write-behind server %d reached the remote and was never announced", key, v.server)
					return
				}
			}
			mu.Lock()
			v.announced = time.Now()
			counts["behind announced"]++
			mu.Unlock()
			then()
		}()
	}

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
				counts["checks"]++
				switch code {
				case http.StatusOK:
					k := o.match(body)
					if k < 0 {
						violations = append(violations, fmt.Sprintf("server %d served bytes of %s that no version had", i, key))
						violated[key] = true
						break
					}
					for j := k + 1; j < len(o.versions); j++ {
						if e := o.versions[j].announced; !e.IsZero() && t0.After(e.Add(bound)) {
							what := "overwrite"
							if o.versions[j].data == nil {
								what = "delete"
							}
							violations = append(violations, fmt.Sprintf("%v into the run: server %d served version %d of %s, replaced by version %d (a %s through server %d) announced %v before the read began",
								t0.Sub(begun), i, k, key, j, what, o.versions[j].server, t0.Sub(e)))
							violated[key] = true
							break
						}
					}
				case http.StatusNotFound:
					if e := o.versions[0].landed; !o.hasDelete() && !e.IsZero() && t0.After(e) {
						violations = append(violations, fmt.Sprintf("%v into the run: server %d: 404 for %s, never deleted, %v after it landed", t0.Sub(begun), i, key, t0.Sub(e)))
						violated[key] = true
					}
				}
				mu.Unlock()
			}
		}()
	}

	// The writer: uploads through one server and reads through all three
	// (so that each caches it), overwrites and deletes through one, and
	// measures how long the other two go on serving the old bytes. It
	// changes only keys whose last change has landed and been announced,
	// so that the remote sees each key's changes in the order they were
	// made.
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		rnd := rand.New(rand.NewPCG(42, 2))
		var live []string // neither deleted nor of an unknown state
		for n := uint64(0); ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			i := rnd.IntN(3)
			mu.Lock()
			var ready []string
			for _, k := range live {
				if !objects[k].last().announced.IsZero() {
					ready = append(ready, k)
				}
			}
			mu.Unlock()
			op := rnd.IntN(10)
			if len(ready) < 5 || op < 4 {
				data := conformance.RandomBytes(n, 1000+rnd.IntN(20_000))
				sent := time.Now()
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
				v := &version{data: data, server: i, sure: true}
				mu.Lock()
				objects[u.Key] = &object{versions: []*version{v}}
				keys = append(keys, u.Key)
				counts["uploads"]++
				mu.Unlock()
				live = append(live, u.Key)
				landed(u.Key, v, sent, func() {
					for j := range 3 {
						fetch(url(j) + "/media/" + u.Key)
					}
				})
				continue
			}
			key := ready[rnd.IntN(len(ready))]
			v := &version{server: i}
			method, want, what := http.MethodDelete, http.StatusNoContent, "deletes"
			if op < 7 {
				v.data = conformance.RandomBytes(n, 1000+rnd.IntN(20_000))
				method, want, what = http.MethodPut, http.StatusOK, "overwrites"
			}
			mu.Lock()
			o := objects[key]
			old := o.last().data
			o.versions = append(o.versions, v)
			mu.Unlock()
			sent := time.Now()
			code, err := send(method, url(i)+"/media/"+key, v.data)
			mu.Lock()
			if err != nil || code != want {
				// It may or may not have happened: its bytes are
				// accepted, its bound never starts, and the key is
				// changed no more.
				counts[what+" unknown"]++
			} else {
				v.sure = true
				counts[what]++
			}
			mu.Unlock()
			if v.data == nil || !v.sure {
				live = slices.DeleteFunc(live, func(k string) bool { return k == key })
			}
			if v.sure {
				landed(key, v, sent, func() { measure(key, v, old) })
			}
			time.Sleep(time.Duration(rnd.IntN(50)) * time.Millisecond)
		}
	}()

	time.Sleep(10 * time.Second)
	// kill -9 the write-behind server and start it again on its cache.
	mu.Lock()
	killed := procs[victim]
	killedAt = time.Now()
	mu.Unlock()
	require.NoError(t, killed.cmd.Process.Kill())
	<-killed.done
	time.Sleep(3 * time.Second)
	restarted := start(t, dirs[victim], env, args(victim)...)
	mu.Lock()
	procs[victim] = restarted
	every = append(every, restarted)
	restartedAt = time.Now()
	mu.Unlock()

	time.Sleep(5 * time.Second)
	// Cut server 2 off from MinIO for three times the bound.
	proxy.setCut(true)
	time.Sleep(3 * bound)
	proxy.setCut(false)
	time.Sleep(10 * time.Second)
	close(stop)
	// The writer starts watchers and measures, and the watchers start
	// measures: each group is waited for once nothing adds to it.
	writer.Wait()
	watchers.Wait() // every write-behind change has landed and been announced (or failed the test)
	wg.Wait()

	mu.Lock()
	// staleness counts from the announcement (a write-through server's
	// acknowledgement), as the checker does; fromRemote from when the
	// remote had the change.
	var staleness, fromRemote, behindStale, behindFromRemote, gaps []time.Duration
	for _, m := range measures {
		d, r := max(m.at.Sub(m.v.announced), 0), max(m.at.Sub(fromLanded(m.v)), 0)
		staleness, fromRemote = append(staleness, d), append(fromRemote, r)
		if behind[m.v.server] {
			behindStale, behindFromRemote = append(behindStale, d), append(behindFromRemote, r)
		}
	}
	for _, o := range objects {
		for _, v := range o.versions {
			if behind[v.server] && !v.announced.IsZero() {
				gaps = append(gaps, max(v.announced.Sub(fromLanded(v)), 0))
			}
		}
	}
	dist := func(d []time.Duration) string {
		return fmt.Sprintf("p50 %v, p99 %v, max %v", percentile(d, 0.5).Round(time.Millisecond), percentile(d, 0.99).Round(time.Millisecond), percentile(d, 1).Round(time.Millisecond))
	}
	t.Logf("%d uploads, %d overwrites, %d deletes (%d and %d more unanswered), %d write-behind changes seen landing and announced, %d checked reads",
		counts["uploads"], counts["overwrites"], counts["deletes"], counts["overwrites unknown"], counts["deletes unknown"], counts["behind announced"], counts["checks"])
	t.Logf("staleness after an overwrite or a delete (%d measures): from its announcement %s; from when the remote had it %s",
		len(staleness), dist(staleness), dist(fromRemote))
	t.Logf("of the write-behind server's changes (%d measures): from the announcement %s; from when the remote had it %s; the remote had it before the announcement by (%d, as seen every 20 ms) %s",
		len(behindStale), dist(behindStale), dist(behindFromRemote), len(gaps), dist(gaps))
	if !assert.Empty(t, violations, "stale or wrong reads") {
		t.Logf("killed at %v, restarted at %v into the run", killedAt.Sub(begun), restartedAt.Sub(begun))
		for key := range violated {
			for n, p := range every {
				for _, line := range strings.Split(p.logs(), "\n") {
					if strings.Contains(line, key) {
						t.Logf("run %d: %s", n, line)
					}
				}
			}
		}
	}
	assert.GreaterOrEqual(t, counts["overwrites"], 10, "too few overwrites to say anything")
	assert.GreaterOrEqual(t, counts["deletes"], 10, "too few deletes to say anything")
	assert.GreaterOrEqual(t, len(behindStale), 5, "too few write-behind changes measured")
	// The store's promise: within the bound of the announcement. The slack
	// is the length of the last stale read (and the 10 ms between reads).
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
		t.Logf("server %d at rest: %.0f remote requests in %v (%.0f a minute); change log: %s", i, n, rest, perMin, changeLogMetrics(t, url(i)))
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

// changeLogMetrics returns the server's strata_tiered_changes_* metrics,
// short, for the log.
func changeLogMetrics(t *testing.T, base string) string {
	t.Helper()
	_, b := get(t, base+"/metrics", nil)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "strata_tiered_changes_"); ok {
			name, _, _ = strings.Cut(name, "{")
			out = append(out, name+"="+line[strings.LastIndexByte(line, ' ')+1:])
		}
	}
	return strings.Join(out, " ")
}
