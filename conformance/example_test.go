package conformance_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// A provider's own test runs the whole suite in a few lines. Put this
// function, named TestConformance, in the provider package's _test.go file.
func Example() {
	TestConformance := func(t *testing.T) {
		conformance.Run(t, conformance.Harness{
			// A fresh, empty provider for every subtest.
			New: func(t *testing.T) storage.Provider {
				p := memory.New()
				t.Cleanup(func() { p.Close() })
				return p
			},
			Copy: true, // memory.Store implements storage.Copier
		})
	}
	_ = TestConformance
}

// RandomReader streams reproducible content of any size without holding it
// in memory, and hides its length from the provider.
func ExampleRandomReader() {
	r := conformance.RandomReader(1, 17<<20+3)
	n, _ := io.Copy(io.Discard, r)
	_, isSized := r.(interface{ Len() int })
	fmt.Println(n, isSized)
	// RandomSHA256 is the hash of what RandomReader yields.
	sum := sha256.Sum256(conformance.RandomBytes(1, 3))
	fmt.Println(conformance.RandomSHA256(1, 3) == hex.EncodeToString(sum[:]))
	// A shorter stream is a prefix of a longer one.
	fmt.Println(bytes.Equal(conformance.RandomBytes(1, 4), conformance.RandomBytes(1, 10)[:4]))
	// Output:
	// 17825795 false
	// true
	// true
}

// FoldKeys says what a listing by delimiter must yield, for a test of a
// provider's own delimiter listing to compare with.
func ExampleFoldKeys() {
	keys := []string{"thumbs/a/1.jpg", "media/b.mp4", "thumbs/a/2.jpg", "media/a.jpg", "index.json", "thumbs/b/1.jpg"}
	fmt.Println(conformance.FoldKeys(keys, "", ""))
	fmt.Println(conformance.FoldKeys(keys, "thumbs/", "thumbs/a/"))
	// Output:
	// [index.json media/ thumbs/]
	// [thumbs/b/]
}
