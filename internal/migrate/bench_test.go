package migrate

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strata-storage/strata/memory"
)

// BenchmarkMigrateMemory measures the engine's own cost per object: 32 KiB
// objects from one memory store to another, so that no driver or network
// cost hides it. One op is one object.
func BenchmarkMigrateMemory(b *testing.B) {
	src := memory.New()
	data := make([]byte, 32<<10)
	for i := range b.N {
		if _, err := src.Put(b.Context(), fmt.Sprintf("local_content/%02x/%02x/m%08d", i%256, i/256%256, i), bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
	}
	dst := memory.New()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	sum, err := New(src, dst, &Options{Workers: 8, NoCount: true}).Run(b.Context())
	if err != nil || sum.Copied != int64(b.N) {
		b.Fatalf("copied %d of %d: %v", sum.Copied, b.N, err)
	}
}
