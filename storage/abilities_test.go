package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strata-storage/strata/memory"
	"github.com/strata-storage/strata/storage"
)

// plain wraps a provider and offers none of its abilities, as a user's
// decorator that only embeds the interface would.
type plain struct{ storage.Provider }

func (p plain) Unwrap() storage.Provider { return p.Provider }

type flushCounter interface{ Flush(context.Context) error }

func TestAsFollowsTheWrapperChain(t *testing.T) {
	m := memory.New()
	p := plain{plain{m}}
	var got *memory.Store
	if !storage.As(p, &got) || got != m {
		t.Fatalf("As did not find the wrapped *memory.Store")
	}
	var c storage.Copier
	if !storage.As(p, &c) {
		t.Fatal("As did not find the Copier two wrappers down")
	}
	var f flushCounter
	if storage.As(p, &f) {
		t.Fatal("As found a Flusher where there is none")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("As with a non-pointer target must panic")
		}
	}()
	storage.As(p, "not a pointer")
}

func TestCopyFallsBackToGetAndPut(t *testing.T) {
	ctx := context.Background()
	m := memory.New()
	if _, err := m.Put(ctx, "src", strings.NewReader("hello"), &storage.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	// plain hides memory's Copy: storage.Copy must still copy, with the
	// content type and metadata.
	info, err := storage.Copy(ctx, plain{m}, "dst", "src")
	if err != nil {
		t.Fatal(err)
	}
	b, got, err := storage.ReadAll(ctx, m, "dst")
	if err != nil || string(b) != "hello" || got.ContentType != "text/plain" || got.Metadata["a"] != "b" || info.Size != 5 {
		t.Fatalf("copy: %q %+v %v", b, got, err)
	}
	if _, err := storage.Copy(ctx, plain{m}, "dst2", "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("copy of a missing key: %v", err)
	}
}

func TestAbilityHelpersOnAProviderWithoutThem(t *testing.T) {
	ctx := context.Background()
	p := plain{memory.New()}
	if _, err := storage.PresignGet(ctx, p, "k", time.Minute); !errors.Is(err, storage.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("PresignGet: %v", err)
	}
	if err := storage.Flush(ctx, p); err != nil {
		t.Fatalf("Flush of a provider that does not buffer: %v", err)
	}
	if err := storage.CreateBucket(ctx, p); !errors.Is(err, storage.ErrUnsupported) {
		t.Fatalf("CreateBucket: %v", err)
	}
	if err := storage.CreateBucket(ctx, memory.New()); !errors.Is(err, storage.ErrExist) {
		t.Fatalf("CreateBucket of a memory store: %v", err)
	}
}
