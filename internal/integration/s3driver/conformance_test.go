package s3driver_test

import (
	"sync"
	"testing"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// conformanceHarness runs the suite with a fresh bucket per subtest on the
// shared MinIO; change adjusts the Config, knobs the limits no Config
// offers.
func conformanceHarness(knobs s3proto.Knobs, change func(*s3.Config)) conformance.Harness {
	var stores sync.Map // *testing.T -> *Store
	// Pages of 100 keys, so that paging is tested with 250 keys rather
	// than the 1100 that S3's page of 1000 would need.
	knobs.ListPage = 100
	return conformance.Harness{
		New: func(t *testing.T) storage.Provider {
			st, _ := newKnobStore(t, knobs, func(c *s3.Config) {
				c.PrefixCheck = s3.PrefixCheckOn
				if change != nil {
					change(c)
				}
			})
			stores.Store(t, st)
			t.Cleanup(func() { stores.Delete(t) })
			return st
		},
		Presign:    true,
		PresignPut: true,
		Copy:       true,
		ManyKeys:   250,
		// MinIO keeps objects as directories: it cannot list "a" and "a/b"
		// together, so the Store is configured to refuse the second.
		PrefixConflicts: true,
		Leftovers: func(t *testing.T) []string {
			st, ok := stores.Load(t)
			if !ok {
				return nil
			}
			return incompleteUploads(t, st.(*s3.Store))
		},
	}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformanceHarness(s3proto.Knobs{}, nil))
}

// TestConformanceSmallParts runs the suite with the smallest part size S3
// allows, RecordLargeSHA256 and the lowest threshold for UploadPartCopy,
// so that the large subtests go through multipart uploads of many parts,
// the SHA-256 rewrite (a multipart copy of the object onto itself) and
// server-side copies part by part (Copy/Large's 6 MiB in two parts).
func TestConformanceSmallParts(t *testing.T) {
	h := conformanceHarness(s3proto.Knobs{CopyThreshold: s3.MinPartSize}, func(c *s3.Config) {
		c.PartSize = s3.MinPartSize
		// Put reads Concurrency+1 parts before it starts an upload (and
		// hashes what ends within them): 15 MiB, so that the 17 MiB
		// object streams and its SHA-256 is recorded afterwards.
		c.Concurrency = 2
		c.RecordLargeSHA256 = true
	})
	conformance.Run(t, h)
}
