package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/strata-storage/strata/local"
	"github.com/strata-storage/strata/storage"
)

// The benchmarks measure the cache against a baseline in the same run,
// alternating the two in each iteration so that a busy machine slows both
// alike, and report the ratio as a metric:
//
//	go test -run '^$' -bench . -benchtime 2s ./cache/
//	go test -run '^$' -bench 'ParallelHit' -cpu 1,2 ./cache/

// pair times cache and base alternately b.N times and reports the median
// time of each and the ratio of the medians as "ratio" (cache/base). The
// median keeps a busy machine's stalls out of the figure.
func pair(b *testing.B, name, baseName string, cache, base func()) (mc, mb time.Duration) {
	var tc, tb []time.Duration
	first := true
	for b.Loop() {
		// alternate which goes first, so neither gains from the other
		if first {
			t0 := time.Now()
			cache()
			t1 := time.Now()
			base()
			tb = append(tb, time.Since(t1))
			tc = append(tc, t1.Sub(t0))
		} else {
			t0 := time.Now()
			base()
			t1 := time.Now()
			cache()
			tc = append(tc, time.Since(t1))
			tb = append(tb, t1.Sub(t0))
		}
		first = !first
	}
	mc, mb = median(tc), median(tb)
	b.ReportMetric(float64(mc.Nanoseconds()), name+"-ns/op")
	b.ReportMetric(float64(mb.Nanoseconds()), baseName+"-ns/op")
	b.ReportMetric(float64(mc)/float64(mb), "ratio")
	return mc, mb
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// verifyModes are the two ways a hit can be read: verified against the
// object's CRC-32C (the default) and with Options.SkipVerify.
var verifyModes = []struct {
	name string
	skip bool
}{{"verified", false}, {"SkipVerify", true}}

// BenchmarkHitThroughput reads a whole cached object through Get against
// os.Open and io.Copy of the same file (the object's file in the cache's
// directory) to io.Discard. Throughput ratio = os time / cache time (goal
// >= 0.95), verified (the default) and with Options.SkipVerify.
//
// A verified read checksums every byte (CRC-32C, hardware-accelerated)
// on top of copying it from the page cache, which costs about as much
// again; it makes up for it by reading 256 KiB at a time, where io.Copy
// to io.Discard reads 8 KiB at a time (io.Discard's ReadFrom), so a
// fraction of the system calls. BenchmarkHitVerifyOverhead compares it
// with a raw read doing the same work.
func BenchmarkHitThroughput(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		for _, mode := range verifyModes {
			b.Run(fmt.Sprintf("%dMiB/%s", size>>20, mode.name), func(b *testing.B) {
				dir := b.TempDir()
				c := open(b, filepath.Join(dir, "c"), Options{MaxBytes: 1 << 30, SkipVerify: mode.skip})
				data := payload(1, size)
				put(b, c, "obj", data)
				plain := c.objPath(hashKey("obj"), false)
				ctx := context.Background()
				b.SetBytes(int64(size))
				mc, mb := pair(b, "cache", "os", func() {
					rc, _, err := c.Get(ctx, "obj", nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, rc); err != nil {
						b.Fatal(err)
					}
					rc.Close()
				}, func() {
					f, err := os.Open(plain)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, f); err != nil {
						b.Fatal(err)
					}
					f.Close()
				})
				b.ReportMetric(float64(size)/mc.Seconds()/1e6, "cache-MB/s")
				b.ReportMetric(float64(size)/mb.Seconds()/1e6, "os-MB/s")
				b.ReportMetric(float64(mb)/float64(mc), "throughput-ratio")
			})
		}
	}
}

// BenchmarkHitVerifyOverhead reads a whole cached object through Get
// (which checks its CRC-32C as it streams) against os.Open and a read of
// the same file in 256 KiB pieces, each added to a CRC-32C: the least a
// verified read can cost. Ratio = cache time / checksummed read time
// (goal <= 1.1): what the cache adds beyond the checksum itself.
func BenchmarkHitVerifyOverhead(b *testing.B) {
	for _, size := range []int{1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			dir := b.TempDir()
			c := open(b, filepath.Join(dir, "c"), Options{MaxBytes: 1 << 30})
			put(b, c, "obj", payload(4, size))
			plain := c.objPath(hashKey("obj"), false)
			ctx := context.Background()
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(size))
			pair(b, "cache", "os+crc32c", func() {
				rc, _, err := c.Get(ctx, "obj", nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}, func() {
				f, err := os.Open(plain)
				if err != nil {
					b.Fatal(err)
				}
				var crc uint32
				for left := size; left > 0; {
					n, err := f.Read(buf[:min(left, len(buf))])
					if err != nil {
						b.Fatal(err)
					}
					crc = crc32.Update(crc, castagnoli, buf[:n])
					left -= n
				}
				f.Close()
			})
		})
	}
}

// BenchmarkChecksum measures, on this machine, what the checksums cost
// against copying the same bytes in memory (256 KiB, in the CPU's cache):
// CRC-32C is what a verified read computes, SHA-256 what it computed
// before format 2 (and still does for a format 1 object).
func BenchmarkChecksum(b *testing.B) {
	src := payload(5, 256<<10)
	dst := make([]byte, len(src))
	for _, bm := range []struct {
		name string
		f    func()
	}{
		{"copy", func() { copy(dst, src) }},
		{"crc32c", func() { crc32.Checksum(src, castagnoli) }},
		{"sha256", func() { sha256.Sum256(src) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				bm.f()
			}
		})
	}
}

// BenchmarkHitLatency4KiB reads a 4 KiB cached object through Get against
// open, read of 4 KiB and close of the same file (the object's file in the
// cache's directory). Ratio = cache time / raw time (goal <= 1.5),
// verified (a CRC-32C of the 4 KiB) and with Options.SkipVerify.
func BenchmarkHitLatency4KiB(b *testing.B) {
	for _, mode := range verifyModes {
		b.Run(mode.name, func(b *testing.B) {
			dir := b.TempDir()
			c := open(b, filepath.Join(dir, "c"), Options{MaxBytes: 1 << 30, SkipVerify: mode.skip})
			data := payload(2, 4<<10)
			put(b, c, "media/ab/cd/small", data)
			plain := c.objPath(hashKey("media/ab/cd/small"), false)
			ctx := context.Background()
			buf := make([]byte, 8<<10)
			pair(b, "cache", "raw", func() {
				rc, _, err := c.Get(ctx, "media/ab/cd/small", nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(rc, buf[:4<<10]); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}, func() {
				f, err := os.Open(plain)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(f, buf[:4<<10]); err != nil {
					b.Fatal(err)
				}
				f.Close()
			})
		})
	}
}

// BenchmarkPut compares cache.Put with local's Put, both without fsync
// (cache's default, local with NoSync) and both with it (cache with
// Options.Sync, local's default). Ratio = cache time / local time (goal
// <= 1.2).
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dKiB/sync=%v", size>>10, sync), func(b *testing.B) {
				dir := b.TempDir()
				c := open(b, filepath.Join(dir, "c"), Options{MaxBytes: 1 << 40, Sync: sync})
				l, err := local.New(filepath.Join(dir, "l"), &local.Options{NoSync: !sync})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				data := payload(3, size)
				ctx := context.Background()
				b.SetBytes(int64(size))
				i := 0
				pair(b, "cache", "local", func() {
					if _, err := c.Put(ctx, "media/"+strconv.Itoa(i%64), bytes.NewReader(data), nil); err != nil {
						b.Fatal(err)
					}
				}, func() {
					if _, err := l.Put(ctx, "media/"+strconv.Itoa(i%64), bytes.NewReader(data), nil); err != nil {
						b.Fatal(err)
					}
					i++
				})
			})
		}
	}
}

// BenchmarkParallelHit reads 4 KiB objects from parallel goroutines; run
// it with -cpu 1,2 to see hits scale with cores. The raw case opens and
// reads the same files directly, to show how far the machine itself
// scales.
func BenchmarkParallelHit(b *testing.B) {
	c := open(b, b.TempDir(), Options{MaxBytes: 1 << 30})
	const n = 256
	keys := make([]string, n)
	paths := make([]string, n)
	for i := range n {
		keys[i] = "k/" + strconv.Itoa(i)
		put(b, c, keys[i], payload(uint64(i), 4<<10))
		paths[i] = c.objPath(hashKey(keys[i]), false)
	}
	ctx := context.Background()
	b.Run("cache", func(b *testing.B) {
		b.SetBytes(4 << 10)
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 8<<10)
			i := 0
			for pb.Next() {
				rc, _, err := c.Get(ctx, keys[i%n], nil)
				if err != nil {
					b.Fatal(err)
				}
				io.ReadFull(rc, buf[:4<<10])
				rc.Close()
				i += 7
			}
		})
	})
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(4 << 10)
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 8<<10)
			i := 0
			for pb.Next() {
				f, err := os.Open(paths[i%n])
				if err != nil {
					b.Fatal(err)
				}
				io.ReadFull(f, buf[:4<<10])
				f.Close()
				i += 7
			}
		})
	})
}

// ---- reopen time and memory per entry ----

// synthIndex writes an index of n entries (no object files: a clean Open
// reads only the index) with Synapse-like keys of 45 bytes.
func synthIndex(tb testing.TB, dir string, n int) {
	c, err := Open(dir, Options{MaxBytes: 1 << 50})
	if err != nil {
		tb.Fatal(err)
	}
	c.jmu.Lock()
	sw, err := c.newSnapWriter(c.jseq + 1)
	if err != nil {
		tb.Fatal(err)
	}
	var sha [32]byte
	now := time.Now().UnixNano()
	for i := range n {
		key := fmt.Sprintf("local_content/%02x/%02x/%020d", i&255, (i>>8)&255, i)
		e := entry{h: hashKey(key), size: int64(1000 + i%100000), gen: uint64(i + 1), access: now - int64(i), hdr: uint32(hdrFixed + len(key))}
		if i%100 == 0 {
			e.flags = flagPinned
		}
		if err := sw.add(&e, now, &sha, key); err != nil {
			tb.Fatal(err)
		}
	}
	c.nextGen.Store(uint64(n + 1))
	if err := sw.finishTmp(); err != nil {
		tb.Fatal(err)
	}
	seq := c.jseq + 1
	if err := os.WriteFile(c.journalPath(seq), jrnHead(seq), 0o640); err != nil {
		tb.Fatal(err)
	}
	if err := sw.install(); err != nil {
		tb.Fatal(err)
	}
	c.jf.Close()
	os.Remove(c.journalPath(c.jseq))
	os.Remove(c.indexPath("dirty"))
	c.jmu.Unlock()
	c.lockF.Close() // abandon c: its index no longer matches the files
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// scaleSizes are the index sizes TestReopenScale and TestIndexMemoryGrowth
// measure: 100k in a normal run, 100k and 1M with CACHE_SCALE=1m, none with
// -short or the race detector unless CACHE_SCALE is set.
func scaleSizes(t *testing.T) []int {
	switch {
	case os.Getenv("CACHE_SCALE") == "1m":
		return []int{100_000, 1_000_000}
	case os.Getenv("CACHE_SCALE") != "":
		return []int{100_000}
	case testing.Short() || raceEnabled:
		t.Skip("set CACHE_SCALE=100k or CACHE_SCALE=1m to measure; skipped with -short and -race")
	}
	return []int{100_000}
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestReopenScale measures Open of a cache of 100k and 1M entries: the
// time (wall clock and CPU), the heap held per entry, a List of one prefix
// and Close (which writes the snapshot again).
//
//	CACHE_SCALE=1m go test -run 'TestReopenScale|TestIndexMemoryGrowth' -v ./cache/
func TestReopenScale(t *testing.T) {
	sizes := scaleSizes(t)
	for _, n := range sizes {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			dir := t.TempDir()
			synthIndex(t, dir, n)
			fi, err := os.Stat(filepath.Join(dir, "index", "snapshot"))
			if err != nil {
				t.Fatal(err)
			}
			before := heapInUse()
			start, cpu0 := time.Now(), cpuTime()
			c, err := Open(dir, Options{MaxBytes: 1 << 50})
			took, cpu := time.Since(start), cpuTime()-cpu0
			if err != nil {
				t.Fatal(err)
			}
			after := heapInUse()
			if got := c.Usage().Entries; got != int64(n) {
				t.Fatalf("Open found %d entries, want %d", got, n)
			}
			perEntry := float64(after-before) / float64(n)
			// the index must answer after the reopen
			key := fmt.Sprintf("local_content/%02x/%02x/%020d", 7, 0, 7)
			if _, ok := c.idx.get(hashKey(key)); !ok {
				t.Fatal("entry missing after reopen")
			}
			// List reads the keys from the index files
			start = time.Now()
			nl := 0
			for _, err := range c.List(context.Background(), &storage.ListOptions{Prefix: "local_content/07/"}) {
				if err != nil {
					t.Fatal(err)
				}
				nl++
			}
			listTook := time.Since(start)
			start = time.Now()
			if err := c.compact(); err != nil {
				t.Fatal(err)
			}
			compactTook := time.Since(start)
			start = time.Now()
			// with no change since the compaction, Close writes nothing
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			closeTook := time.Since(start)
			runtime.KeepAlive(c)
			t.Logf("%d entries: snapshot %.1f MB, Open %v (CPU %v), heap %.1f bytes/entry, List of a prefix (%d keys) %v, compaction %v, Close %v",
				n, float64(fi.Size())/1e6, took.Round(time.Millisecond), cpu.Round(time.Millisecond), perEntry, nl, listTook.Round(time.Millisecond), compactTook.Round(time.Millisecond), closeTook.Round(time.Millisecond))
			if perEntry > 128 {
				t.Errorf("%.1f bytes per entry, more than 128", perEntry)
			}
		})
	}
}

// TestIndexMemoryGrowth measures the bytes per entry of an index grown one
// entry at a time (as Puts grow it), not sized at Open.
func TestIndexMemoryGrowth(t *testing.T) {
	sizes := scaleSizes(t)
	n := sizes[len(sizes)-1]
	before := heapInUse()
	ix := new(index)
	for i := range n {
		ix.set(entry{h: hashKey(strconv.Itoa(i)), size: 1, gen: uint64(i + 1)})
	}
	after := heapInUse()
	per := float64(after-before) / float64(n)
	t.Logf("%d entries added one by one: %.1f bytes/entry", n, per)
	if per > 128 {
		t.Errorf("%.1f bytes per entry, more than 128", per)
	}
	runtime.KeepAlive(ix)
}
