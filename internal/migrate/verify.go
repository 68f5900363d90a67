package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-storage/strata/storage"
)

// VerifyOptions configure Verify. The zero value compares sizes and
// checksums of every object with DefaultWorkers workers.
type VerifyOptions struct {
	// Workers is the number of objects compared at the same time. Zero
	// means DefaultWorkers().
	Workers int
	// Prefix restricts the comparison to keys starting with it.
	Prefix string
	// SizeOnly compares sizes only, from the two listings, without reading
	// or stating any object.
	SizeOnly bool
	// Logger receives a line per object that could not be compared. Nil
	// discards.
	Logger *slog.Logger
	// OnDiff, when not nil, is called for every object missing or
	// different at the destination, or that could not be compared. It is
	// called from worker goroutines, concurrently.
	OnDiff func(Diff)
	// Progress, when not nil, is updated as objects are compared.
	Progress *VerifyResult
}

// DiffKind says how an object differs.
type DiffKind int

// The kinds of Diff.
const (
	// Missing: the destination has no object under the key.
	Missing DiffKind = iota + 1
	// SizeDiffers: the destination's object has another size.
	SizeDiffers
	// ChecksumDiffers: the sizes match, the SHA-256 checksums do not.
	ChecksumDiffers
	// CompareError: the object could not be read or stated; Err says why.
	CompareError
)

func (k DiffKind) String() string {
	return enumName("DiffKind", int(k), "missing", "size differs", "checksum differs", "error")
}

// Diff is one object missing or different at the destination.
type Diff struct {
	Key              string
	Kind             DiffKind
	SrcSize, DstSize int64
	// SrcSHA256 and DstSHA256 are set for ChecksumDiffers.
	SrcSHA256, DstSHA256 string
	Err                  error
}

// VerifyResult counts what Verify found. Its fields are updated atomically
// while Verify runs, so a caller may read them for progress reports.
type VerifyResult struct {
	// Checked is the number of source objects compared, and Bytes their
	// size.
	Checked, Bytes atomic.Int64
	// Matched objects are at the destination with the same size and
	// checksum.
	Matched atomic.Int64
	// Missing, Different and Errors count the objects of each Diff kind
	// (Different counts both size and checksum differences).
	Missing, Different, Errors atomic.Int64
	// Extra is the number of destination objects with no source object
	// (not a difference: a destination may hold more).
	Extra atomic.Int64
	// Elapsed is the wall time of Verify, set when it returns.
	Elapsed time.Duration
}

// OK reports whether every object matched.
func (r *VerifyResult) OK() bool {
	return r.Missing.Load() == 0 && r.Different.Load() == 0 && r.Errors.Load() == 0
}

// Verify compares every object of src (under opts.Prefix) with the object
// of the same key in dst: present, same size, same SHA-256. Checksums come
// from the listings, or a Stat, or by reading the object when a provider
// does not know it. It returns an error only when a listing fails or ctx
// ends; objects that cannot be compared are counted as Errors.
func Verify(ctx context.Context, src, dst storage.Provider, opts *VerifyOptions) (*VerifyResult, error) {
	var o VerifyOptions
	if opts != nil {
		o = *opts
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	res := o.Progress
	if res == nil {
		res = new(VerifyResult)
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	report := func(d Diff) {
		switch d.Kind {
		case Missing:
			res.Missing.Add(1)
		case SizeDiffers, ChecksumDiffers:
			res.Different.Add(1)
		default:
			res.Errors.Add(1)
			o.Logger.Error("cannot compare", "key", d.Key, "err", d.Err)
		}
		if o.OnDiff != nil {
			o.OnDiff(d)
		}
	}

	jobs := make(chan job)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			for j := range jobs {
				d, ok := compare(ctx, src, dst, j, o.SizeOnly)
				if ok {
					res.Matched.Add(1)
				} else if ctx.Err() == nil {
					report(d)
				}
				res.Checked.Add(1)
				res.Bytes.Add(j.src.Size)
			}
		})
	}

	err := func() error {
		dc := newCursor(ctx, dst, o.Prefix, "destination")
		defer func() { res.Extra.Store(dc.passed) }()
		defer dc.close()
		prev := ""
		for info, err := range src.List(ctx, &storage.ListOptions{Prefix: o.Prefix}) {
			if err != nil {
				return fmt.Errorf("list source: %w", err)
			}
			if prev != "" && info.Key <= prev {
				return fmt.Errorf("list source: key %q came after %q: listing is not in key order", info.Key, prev)
			}
			prev = info.Key
			d, err := dc.seek(info.Key)
			if err != nil {
				return err
			}
			select {
			case jobs <- job{src: info, dst: d}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return dc.drain()
	}()
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	if err == nil {
		err = ctx.Err()
	}
	return res, err
}

// compare checks one object; ok reports a match, otherwise d says how it
// differs.
func compare(ctx context.Context, src, dst storage.Provider, j job, sizeOnly bool) (d Diff, ok bool) {
	d = Diff{Key: j.src.Key, SrcSize: j.src.Size}
	if j.dst == nil {
		d.Kind = Missing
		return d, false
	}
	d.DstSize = j.dst.Size
	if j.dst.Size != j.src.Size {
		d.Kind = SizeDiffers
		return d, false
	}
	if sizeOnly {
		return d, true
	}
	dstSum, err := checksumOf(ctx, dst, *j.dst)
	if errors.Is(err, storage.ErrNotFound) {
		d.Kind = Missing
		return d, false
	}
	if err != nil {
		d.Kind, d.Err = CompareError, fmt.Errorf("destination: %w", err)
		return d, false
	}
	srcSum, err := checksumOf(ctx, src, j.src)
	if err != nil {
		d.Kind, d.Err = CompareError, fmt.Errorf("source: %w", err)
		return d, false
	}
	if srcSum != dstSum {
		d.Kind, d.SrcSHA256, d.DstSHA256 = ChecksumDiffers, srcSum, dstSum
		return d, false
	}
	return d, true
}

// checksumOf returns the SHA-256 of the listed object: from the listing,
// else from a Stat, else by reading it.
func checksumOf(ctx context.Context, p storage.Provider, listed storage.Info) (string, error) {
	if listed.SHA256 != "" {
		return listed.SHA256, nil
	}
	info, err := p.Stat(ctx, listed.Key)
	if err != nil {
		return "", err
	}
	if info.SHA256 != "" {
		if info.Size != listed.Size {
			return "", fmt.Errorf("changed while verifying (%d bytes, listed %d)", info.Size, listed.Size)
		}
		return info.SHA256, nil
	}
	sum, n, _, err := hashObject(ctx, p, listed.Key)
	if err != nil {
		return "", err
	}
	if n != listed.Size {
		return "", fmt.Errorf("changed while verifying (read %d bytes, listed %d)", n, listed.Size)
	}
	return sum, nil
}
