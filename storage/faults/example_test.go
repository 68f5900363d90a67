package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
	"github.com/strata-storage/strata/storage/faults"
)

func Example() {
	ctx := context.Background()
	fp := faults.Wrap(memory.New(), faults.WithSeed(1))
	defer fp.Close()
	if _, err := fp.Put(ctx, "media/a", strings.NewReader(strings.Repeat("x", 1000)), nil); err != nil {
		panic(err)
	}

	// Every Stat fails as if the store were down; Put and Get still work.
	fp.Set(faults.Fault{FailRate: 1}, faults.OpStat)
	_, err := fp.Stat(ctx, "media/a")
	fmt.Println(errors.Is(err, storage.ErrUnavailable))

	// Get bodies are cut off after 100 bytes.
	fp.Set(faults.Fault{Cut: true, CutAfter: 100}, faults.OpGet)
	rc, _, err := fp.Get(ctx, "media/a", nil)
	if err != nil {
		panic(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	fmt.Println(len(b), errors.Is(err, io.ErrUnexpectedEOF))

	// Heal the store and count the calls.
	fp.Clear()
	_, err = fp.Stat(ctx, "media/a")
	fmt.Println(err, fp.Calls(faults.OpStat), fp.Calls(faults.OpGet))
	// Output:
	// true
	// 100 true
	// <nil> 2 1
}
