package migrate_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/strata-storage/strata/internal/migrate"
	"github.com/strata-storage/strata/memory"
)

// A media store moves to another store; a second run finds nothing to do.
func Example() {
	ctx := context.Background()
	src, dst := memory.New(), memory.New()
	for _, key := range []string{
		"local_content/ab/cd/efghij",
		"local_thumbnails/ab/cd/efghij/32-32-image-jpeg",
	} {
		if _, err := src.Put(ctx, key, strings.NewReader("bytes of "+key), nil); err != nil {
			panic(err)
		}
	}

	sum, err := migrate.New(src, dst, &migrate.Options{Workers: 4}).Run(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("copied %d, skipped %d, failed %d\n", sum.Copied, sum.Skipped, sum.Failed)

	sum, _ = migrate.New(src, dst, nil).Run(ctx)
	fmt.Printf("again: copied %d, skipped %d\n", sum.Copied, sum.Skipped)

	res, _ := migrate.Verify(ctx, src, dst, nil)
	fmt.Println("verified:", res.OK())
	// Output:
	// copied 2, skipped 0, failed 0
	// again: copied 0, skipped 2
	// verified: true
}
