package main

// BenchmarkMigrate measures "strata migrate" from a directory to MinIO,
// through minio:// and s3://, against plain copy loops written with the
// SDKs under those URLs, and against mc mirror and rclone copy when
// STRATA_BENCH_MC and STRATA_BENCH_RCLONE name their binaries (see
// benchTools), in the same run:
//
//	STRATA_BENCH_MC=/tmp/tools/mc STRATA_BENCH_RCLONE=/tmp/tools/rclone \
//	  go test ./cmd/strata -run '^$' -bench Migrate -benchtime 1x -timeout 60m
//
// Workloads: 20,000 files of 32 KiB in a Synapse media_store layout, and
// 10 files of 64 MiB. Each strata run is the binary, as users run it, with
// --workers 1, 8 and 32; its CPU time comes from the child's rusage, its
// peak RSS from /proc/PID/status (VmHWM); mc, rclone and the SDK loops are
// child processes measured the same way. Metrics: files/s, MB/s (10^6
// bytes), cpu-ms/file (user+system), maxrss-MiB, and server-cpu-ms/file,
// the MinIO process's own CPU time per file (from /proc/PID/stat).
//
// Three baselines, each an SDK called directly with its default options,
// as a user's own script would (see sdkBaseline): walk the tree and PUT
// each file. sdk-sequential is minio-go's plain loop, one PUT at a time;
// sdk-parallel32 the same from 32 goroutines, which is what the server can
// take from a client that does nothing else; sdk-s3-parallel32 the same
// with aws-sdk-go-v2, the SDK of s3://; and sdk-http-parallel32 no SDK at
// all, net/http's PUT signed over the content's SHA-256 (what any client
// must do over plain HTTP): the floor under every Go client's CPU per
// object, strata's included. They run with strata migrate's
// GOMAXPROCS. On a small machine where MinIO shares the CPUs with the
// client, the server's own CPU per PUT bounds every client: files/s cannot
// pass CPUs / (server-cpu + client-cpu per file).
//
// MinIO is a miniotest container of the benchmark's own (a 12 GB tmpfs
// unless STRATA_MINIO_TMPFS says otherwise; after each run the benchmark
// waits until the server has freed the run's bucket and is idle, see
// settle), or the server named by
// STRATA_BENCH_MINIO=host:port with STRATA_BENCH_MINIO_ACCESS_KEY and
// STRATA_BENCH_MINIO_SECRET_KEY (and STRATA_BENCH_MINIO_PID, its process
// ID as this machine sees it, for server-cpu-ms/file): a MinIO whose /data
// is a tmpfs measures the client rather than the disk's fsync latency.
// STRATA_BENCH_SMALL and STRATA_BENCH_BIG change the number of files.
// STRATA_BENCH_BASELINE_BIN names other strata binaries (such as one built
// from the commit before a change), separated by colons: each strata
// variant runs each of them too, back to back with the binary under test
// ("current"), named by its file name. STRATA_BENCH_ROUNDS=N runs every
// variant of every binary, the SDK baselines, mc and rclone, N times,
// round by round, so that a change in the load of a shared machine falls
// on all of them alike. The default worker count (--workers) is 32 on this machine.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strata-storage/strata/conformance/miniotest"
)

type benchTarget struct {
	endpoint, access, secret, region string
	client                           *miniogo.Client
	pid                              int // the server's process, or 0 when unknown
}

func benchMinio(b *testing.B) benchTarget {
	if ep := os.Getenv("STRATA_BENCH_MINIO"); ep != "" {
		t := benchTarget{endpoint: ep, access: os.Getenv("STRATA_BENCH_MINIO_ACCESS_KEY"),
			secret: os.Getenv("STRATA_BENCH_MINIO_SECRET_KEY"), region: "us-east-1"}
		c, err := miniogo.New(ep, &miniogo.Options{Creds: credentials.NewStaticV4(t.access, t.secret, ""), Region: t.region})
		if err != nil {
			b.Fatal(err)
		}
		t.client = c
		t.pid, _ = strconv.Atoi(os.Getenv("STRATA_BENCH_MINIO_PID"))
		return t
	}
	// A server of the benchmark's own, its tmpfs large enough for every
	// run: each leaves 655 MB behind until MinIO has freed what the
	// bucket's cleanup removed, more than the shared server's 4 GB take.
	if _, set := os.LookupEnv(miniotest.EnvTmpfs); !set {
		b.Setenv(miniotest.EnvTmpfs, "12g")
	}
	// MinIO moves a removed object to .minio.sys/tmp/.trash and frees it
	// every 5 minutes by default: during some later run, whose server CPU
	// it then doubles, and too late for the tmpfs not to fill. At a
	// second, a removed bucket is freed before the next run (see settle).
	srv := miniotest.StartFresh(b, &miniotest.Options{Tmpfs: true, Env: map[string]string{"MINIO_API_DELETE_CLEANUP_INTERVAL": "1s"}})
	t := benchTarget{endpoint: srv.Endpoint, access: srv.AccessKey, secret: srv.SecretKey, region: srv.Region, client: srv.Client()}
	if info, err := srv.Container.Inspect(context.Background()); err == nil && info.State != nil {
		t.pid = info.State.Pid
	}
	return t
}

// serverCPU returns the CPU time the process pid has used so far, or 0
// when it cannot be read.
func serverCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them, in
	// clock ticks (100 per second on Linux).
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

var benchTrees struct {
	once       sync.Once
	small, big string
	nSmall     int
	nBig       int
	err        error
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// makeBenchTrees writes the two source trees once per test binary.
func makeBenchTrees(b *testing.B) (small, big string, nSmall, nBig int) {
	benchTrees.once.Do(func() {
		dir, err := os.MkdirTemp("", "strata-bench-trees-")
		if err != nil {
			benchTrees.err = err
			return
		}
		benchTrees.small, benchTrees.big = filepath.Join(dir, "small"), filepath.Join(dir, "big")
		benchTrees.nSmall, benchTrees.nBig = envInt("STRATA_BENCH_SMALL", 20000), envInt("STRATA_BENCH_BIG", 10)
		buf := make([]byte, 32<<10)
		for i := range benchTrees.nSmall {
			for j := range buf[:64] {
				buf[j] = byte(i >> (j % 4 * 8))
			}
			p := filepath.Join(benchTrees.small, "local_content", fmt.Sprintf("%02x", i%256), fmt.Sprintf("%02x", i/256%256), fmt.Sprintf("media%08d", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				benchTrees.err = err
				return
			}
			if err := os.WriteFile(p, buf, 0o640); err != nil {
				benchTrees.err = err
				return
			}
		}
		big := make([]byte, 64<<20)
		for i := range big {
			big[i] = byte(i*31 + i>>11)
		}
		for i := range benchTrees.nBig {
			big[0] = byte(i)
			p := filepath.Join(benchTrees.big, "local_content", "vi", "de", fmt.Sprintf("video%02d", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
				benchTrees.err = err
				return
			}
			if err := os.WriteFile(p, big, 0o640); err != nil {
				benchTrees.err = err
				return
			}
		}
	})
	if benchTrees.err != nil {
		b.Fatal(benchTrees.err)
	}
	return benchTrees.small, benchTrees.big, benchTrees.nSmall, benchTrees.nBig
}

func BenchmarkMigrate(b *testing.B) {
	target := benchMinio(b)
	small, big, nSmall, nBig := makeBenchTrees(b)
	for _, wl := range []struct {
		name  string
		dir   string
		files int
		bytes int64
	}{
		{"small-32KiB", small, nSmall, int64(nSmall) * 32 << 10},
		{"big-64MiB", big, nBig, int64(nBig) * 64 << 20},
	} {
		type variant struct {
			name    string
			workers int
			scheme  string // "minio" or "s3"
			params  string
			env     []string
		}
		// The URLs are the plain ones a user types: the driver's check
		// for "a" beside "a/b" is on, and the migration writes the keys
		// its listings show free of conflicts (all of them here) through
		// the bucket opened a second time with prefix_check=false.
		variants := []variant{
			{"strata-w1", 1, "minio", "", nil},
			{"strata-w8", 8, "minio", "", nil},
			{"strata-w32", 32, "minio", "", nil},
			// s3:// is the URL users are told to use for AWS.
			{"strata-s3-w32", 32, "s3", "", nil},
			// strata migrate runs Go code on half the CPUs; this is
			// with all of them.
			{"strata-w32-allcpus", 32, "minio", "", []string{"GOMAXPROCS=" + strconv.Itoa(runtime.NumCPU())}},
		}
		if strings.HasPrefix(wl.name, "big") {
			variants = append(variants,
				variant{"strata-s3-w1", 1, "s3", "", nil},
				// Recording the SHA-256 of multipart uploads (a
				// server-side copy of each object after its upload).
				variant{"strata-w1-sha", 1, "minio", "&record_large_sha256=true", nil})
		}
		// Round by round, so that a change in the load of a shared
		// machine falls on strata, the SDK baselines and the other tools
		// alike.
		for range envInt("STRATA_BENCH_ROUNDS", 1) {
			// The SDK baselines, in child processes (see sdkBaseline).
			for _, sdk := range []struct {
				name, sdk string
				workers   int
			}{{"sdk-sequential", sdkMinio, 1}, {"sdk-parallel32", sdkMinio, 32}, {"sdk-s3-parallel32", sdkAWS, 32}, {"sdk-http-parallel32", sdkHTTP, 32}} {
				b.Run(wl.name+"/"+sdk.name, func(b *testing.B) {
					for range b.N {
						bucket := newBenchBucket(b, target)
						runChild(b, sdkBaseline(b, sdk.sdk, target, wl.dir, bucket, sdk.workers), target, wl.files, wl.bytes)
						if n := countObjects(b, target, bucket); n != wl.files {
							b.Fatalf("%s left %d objects in the bucket, want %d", sdk.name, n, wl.files)
						}
					}
				})
			}
			for _, v := range variants {
				for _, bin := range benchBins() {
					name := wl.name + "/" + v.name + "/" + bin.name
					b.Run(name, func(b *testing.B) {
						for range b.N {
							bucket := newBenchBucket(b, target)
							dst := fmt.Sprintf("minio://%s/%s?secure=false&region=%s%s", target.endpoint, bucket, target.region, v.params)
							if v.scheme == "s3" {
								dst = fmt.Sprintf("s3://%s?endpoint=http://%s&region=%s%s", bucket, target.endpoint, target.region, v.params)
							}
							cmd := exec.Command(bin.path, "migrate", "file://"+wl.dir, dst, "--workers", strconv.Itoa(v.workers), "-q")
							cmd.Env = append([]string{
								"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "XDG_STATE_HOME=" + b.TempDir(),
								"MINIO_ACCESS_KEY=" + target.access, "MINIO_SECRET_KEY=" + target.secret,
								"AWS_ACCESS_KEY_ID=" + target.access, "AWS_SECRET_ACCESS_KEY=" + target.secret,
								"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
							}, v.env...)
							runChild(b, cmd, target, wl.files, wl.bytes)
						}
					})
				}
			}
			for _, tool := range benchTools(target) {
				b.Run(wl.name+"/"+tool.name, func(b *testing.B) {
					if tool.path == "" {
						b.Skipf("%s: set %s to its binary (built with go install) to compare with it", tool.name, tool.envVar)
					}
					for range b.N {
						bucket := newBenchBucket(b, target)
						cmd := exec.Command(tool.path, tool.args(wl.dir, bucket)...)
						cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir()}, tool.env...)
						runChild(b, cmd, target, wl.files, wl.bytes)
						if n := countObjects(b, target, bucket); n != wl.files {
							b.Fatalf("%s left %d objects in the bucket, want %d", tool.name, n, wl.files)
						}
					}
				})
			}
		}
	}
}

// runChild runs cmd, a copy of files files (bytes in all) to the target,
// and reports its throughput, CPU time, peak RSS and the server's CPU.
func runChild(b *testing.B, cmd *exec.Cmd, target benchTarget, files int, bytes int64) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	srvBefore := serverCPU(target.pid)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	elapsed := time.Since(start)
	rss := peak()
	if err != nil {
		b.Fatalf("%s: %v\n%s", filepath.Base(cmd.Path), err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	report(b, files, bytes, elapsed, cpuOf(ru), rss)
	reportServer(b, files, srvBefore, serverCPU(target.pid))
}

// benchTool is another program that copies a directory to a bucket: what
// a user would run instead of strata migrate.
type benchTool struct {
	name, envVar, path string
	env                []string
	args               func(dir, bucket string) []string
}

// benchTools returns mc mirror and rclone copy, each with its default
// options, configured for the target through its environment (no file,
// nothing dialled but the target). Their binaries come from
// STRATA_BENCH_MC and STRATA_BENCH_RCLONE:
//
//	GOBIN=/tmp/tools go install github.com/minio/mc@latest
//	GOBIN=/tmp/tools go install github.com/rclone/rclone@latest
func benchTools(t benchTarget) []benchTool {
	return []benchTool{
		{
			name: "mc-mirror", envVar: "STRATA_BENCH_MC", path: os.Getenv("STRATA_BENCH_MC"),
			env: []string{"MC_HOST_bench=http://" + t.access + ":" + t.secret + "@" + t.endpoint},
			args: func(dir, bucket string) []string {
				return []string{"mirror", "--quiet", dir, "bench/" + bucket}
			},
		},
		{
			name: "rclone-copy", envVar: "STRATA_BENCH_RCLONE", path: os.Getenv("STRATA_BENCH_RCLONE"),
			env: []string{
				"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Minio",
				"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=" + t.access, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=" + t.secret,
				"RCLONE_CONFIG_BENCH_ENDPOINT=http://" + t.endpoint, "RCLONE_CONFIG_BENCH_REGION=" + t.region,
				"RCLONE_CONFIG=/dev/null",
			},
			args: func(dir, bucket string) []string { return []string{"copy", "-q", dir, "bench:" + bucket} },
		},
	}
}

// countObjects returns the number of objects in bucket.
func countObjects(b *testing.B, t benchTarget, bucket string) int {
	n := 0
	for o := range t.client.ListObjects(context.Background(), bucket, miniogo.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			b.Fatal(o.Err)
		}
		n++
	}
	return n
}

// benchBin is a strata binary a benchmark runs.
type benchBin struct{ name, path string }

// benchBins returns the binaries of STRATA_BENCH_BASELINE_BIN, then the
// one under test.
func benchBins() []benchBin {
	var bins []benchBin
	for p := range strings.SplitSeq(os.Getenv("STRATA_BENCH_BASELINE_BIN"), string(os.PathListSeparator)) {
		if p != "" {
			bins = append(bins, benchBin{filepath.Base(p), p})
		}
	}
	return append(bins, benchBin{"current", binPath})
}

// watchPeakRSS polls the peak resident set size (VmHWM) of the process
// pid until the returned function is called, and returns it in bytes.
// (The child's rusage maxrss cannot be used: after fork and exec it counts
// the parent's resident pages too.)
func watchPeakRSS(pid int) func() int64 {
	var peak int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if data, err := os.ReadFile(path); err == nil {
				for line := range strings.SplitSeq(string(data), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
						peak = max(peak, kb*1024)
					}
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return peak
	}
}

func cpuOf(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, files int, bytes int64, elapsed, cpu time.Duration, maxRSS int64) {
	b.ReportMetric(float64(files)/elapsed.Seconds(), "files/s")
	b.ReportMetric(float64(bytes)/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(cpu.Seconds()*1000/float64(files), "cpu-ms/file")
	if maxRSS > 0 {
		b.ReportMetric(float64(maxRSS)/(1<<20), "maxrss-MiB")
	}
	b.ReportMetric(0, "ns/op") // the run is one op; the metrics above say it all
}

// reportServer reports the server's CPU time per file between two readings
// of serverCPU, when both were taken.
func reportServer(b *testing.B, files int, before, after time.Duration) {
	if before > 0 && after > before {
		b.ReportMetric((after-before).Seconds()*1000/float64(files), "server-cpu-ms/file")
	}
}

// newBenchBucket makes an empty bucket, removed with all it holds after
// the benchmark.
func newBenchBucket(b *testing.B, t benchTarget) string {
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	name := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), os.Getpid())
	if err := t.client.MakeBucket(ctx, name, miniogo.MakeBucketOptions{Region: t.region}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		objs := t.client.ListObjects(ctx, name, miniogo.ListObjectsOptions{Recursive: true})
		for e := range t.client.RemoveObjects(ctx, name, objs, miniogo.RemoveObjectsOptions{}) {
			b.Errorf("remove %s: %v", e.ObjectName, e.Err)
		}
		if err := t.client.RemoveBucket(ctx, name); err != nil {
			b.Error(err)
		}
		settle(t.pid)
	})
	return name
}

// settle waits, up to two minutes, until the server process pid has
// freed what a removed bucket held and used less than 20 ms of CPU in a
// second: MinIO frees removed objects in the background, and that work
// would otherwise fall on the next run's server CPU and time (and, on a
// tmpfs, its free space). Its trash is looked at through /proc/PID/root,
// where this process may read it (root, the server on this machine).
func settle(pid int) {
	if pid <= 0 {
		return
	}
	trash := fmt.Sprintf("/proc/%d/root/data/.minio.sys/tmp/.trash", pid)
	last := serverCPU(pid)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		now := serverCPU(pid)
		entries, err := os.ReadDir(trash)
		if now-last < 20*time.Millisecond && (err != nil || len(entries) == 0) {
			return
		}
		last = now
	}
}

// BenchmarkMigrateDelete measures "strata migrate --delete" on the small
// workload (20,000 files of 32 KiB) to MinIO, in two cases:
//
//   - sent: every file is already in the bucket, sent by an earlier run
//     whose journal is there (the daily "--older-than 30d --delete" of the
//     README): the run deletes, and sends nothing;
//   - copy: the bucket is empty: each file is sent, then deleted.
//
// Each case runs the binary under test and, when STRATA_BENCH_BASELINE_BIN
// names another strata binary (such as one built from the commit before
// a change), that one too, back to back, in the same run:
//
//	STRATA_BENCH_BIG=1 STRATA_BENCH_BASELINE_BIN=/tmp/strata-old \
//	  go test ./cmd/strata -run '^$' -bench MigrateDelete -benchtime 1x -timeout 60m
//
// Before each timed run (not timed): a fresh copy of the tree, a fresh
// bucket, and for "sent" a run without --delete that fills the bucket and
// the journal. The files are then in the page cache: the figures are those
// of a warm cache, where reading a file costs CPU, not disk.
func BenchmarkMigrateDelete(b *testing.B) {
	target := benchMinio(b)
	small, _, nSmall, _ := makeBenchTrees(b)
	bins := []struct{ name, path string }{{"current", binPath}}
	if p := os.Getenv("STRATA_BENCH_BASELINE_BIN"); p != "" {
		bins = append([]struct{ name, path string }{{"baseline", p}}, bins...)
	}
	for _, c := range []string{"sent", "copy"} {
		for _, bin := range bins {
			b.Run("small-32KiB/"+c+"/"+bin.name, func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					dir := filepath.Join(b.TempDir(), "media")
					if out, err := exec.Command("cp", "-a", small, dir).CombinedOutput(); err != nil {
						b.Fatalf("cp: %v: %s", err, out)
					}
					bucket := newBenchBucket(b, target)
					b.StopTimer()
					dst := fmt.Sprintf("minio://%s/%s?secure=false&region=%s", target.endpoint, bucket, target.region)
					env := []string{
						"PATH=" + os.Getenv("PATH"), "HOME=" + b.TempDir(), "XDG_STATE_HOME=" + b.TempDir(),
						"MINIO_ACCESS_KEY=" + target.access, "MINIO_SECRET_KEY=" + target.secret,
					}
					run := func(args ...string) *exec.Cmd {
						cmd := exec.Command(bin.path, append([]string{"migrate", "file://" + dir, dst, "-q"}, args...)...)
						cmd.Env = env
						return cmd
					}
					if c == "sent" {
						if out, err := run().CombinedOutput(); err != nil {
							b.Fatalf("first run: %v: %s", err, out)
						}
					}
					cmd := run("--delete")
					var out strings.Builder
					cmd.Stdout, cmd.Stderr = &out, &out
					srvBefore := serverCPU(target.pid)
					b.StartTimer()
					start := time.Now()
					err := cmd.Run()
					elapsed := time.Since(start)
					b.StopTimer()
					if err != nil {
						b.Fatalf("strata --delete: %v: %s", err, out.String())
					}
					left := 0
					_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
						if err == nil && d.Type().IsRegular() {
							left++
						}
						return nil
					})
					if left != 0 {
						b.Fatalf("%d files left at the source", left)
					}
					report(b, nSmall, int64(nSmall)*32<<10, elapsed, cpuOf(cmd.ProcessState.SysUsage().(*syscall.Rusage)), 0)
					reportServer(b, nSmall, srvBefore, serverCPU(target.pid))
					b.StartTimer()
				}
			})
		}
	}
}
