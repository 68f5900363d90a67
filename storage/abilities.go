package storage

import (
	"context"
	"errors"
	"io"
	"reflect"
	"time"
)

// Wrapper is implemented by a provider that wraps another one (a metrics
// decorator, a fault injector, a prefix view). Unwrap returns the provider
// it wraps. [As] follows the chain, so the abilities of a wrapped provider
// that the wrapper does not offer itself stay reachable, whatever wrappers
// are stacked on it; no wrapper needs to enumerate the combinations of
// abilities it might pass through.
type Wrapper interface {
	Unwrap() Provider
}

// As finds the first provider in the chain of p and the providers it wraps
// (through [Wrapper]) that is assignable to the value target points to,
// sets target to it and reports true. It reports false when none is. As
// works as errors.As does, for providers: target is a non-nil pointer to an
// interface type or to a type that implements Provider.
//
//	var t interface{ Status() tiered.Status }
//	if storage.As(p, &t) { ... t.Status() ... }
//
// As panics if target is not a non-nil pointer.
func As(p Provider, target any) bool {
	if target == nil {
		panic("storage: As target must be a non-nil pointer")
	}
	val := reflect.ValueOf(target)
	typ := val.Type()
	if typ.Kind() != reflect.Pointer || val.IsNil() {
		panic("storage: As target must be a non-nil pointer")
	}
	want := typ.Elem()
	for depth := 0; p != nil && depth < 100; depth++ {
		if reflect.TypeOf(p).AssignableTo(want) {
			val.Elem().Set(reflect.ValueOf(p))
			return true
		}
		w, ok := p.(Wrapper)
		if !ok {
			return false
		}
		p = w.Unwrap()
	}
	return false
}

// Copy copies the object under src to dst within p, with its content type
// and metadata. It asks p for a server-side copy when p is a [Copier], and
// falls back to a Get and a Put through p when p is not one or answers
// [ErrUnsupported] (a wrapper whose wrapped provider cannot copy). The
// fallback streams: it does not hold the object in memory.
func Copy(ctx context.Context, p Provider, dst, src string) (Info, error) {
	if c, ok := p.(Copier); ok {
		info, err := c.Copy(ctx, dst, src)
		if !errors.Is(err, ErrUnsupported) {
			return info, err
		}
	}
	rc, info, err := p.Get(ctx, src, nil)
	if err != nil {
		return Info{}, err
	}
	defer rc.Close()
	return p.Put(ctx, dst, rc, PutOptionsOf(info))
}

// PutOptionsOf returns the options that store an object as info describes
// it: its size, content type, HTTP attributes and metadata. Copies and
// migrations use it so that nothing the object carries is left behind.
func PutOptionsOf(info Info) *PutOptions {
	return &PutOptions{
		ContentType:        info.ContentType,
		Metadata:           info.Metadata,
		Size:               info.Size,
		CacheControl:       info.CacheControl,
		ContentDisposition: info.ContentDisposition,
		ContentEncoding:    info.ContentEncoding,
		ContentLanguage:    info.ContentLanguage,
	}
}

// PresignGet returns a URL that downloads the object under key from p
// without credentials until expiry has passed, when p is a [Presigner]. It
// fails with an error matching [ErrUnsupported] when p cannot hand out such
// URLs.
func PresignGet(ctx context.Context, p Provider, key string, expiry time.Duration) (string, error) {
	if ps, ok := p.(Presigner); ok {
		return ps.PresignGet(ctx, key, expiry)
	}
	return "", &Error{Op: "presign", Provider: providerName(p), Key: key, Kind: ErrUnsupported}
}

// PresignPut returns a request with which a client uploads an object under
// key of p without credentials, until expiry has passed, when p is a
// [PutPresigner]. It fails with an error matching [ErrUnsupported] when p
// cannot hand out such requests. opts may be nil.
func PresignPut(ctx context.Context, p Provider, key string, expiry time.Duration, opts *PresignPutOptions) (*PresignedRequest, error) {
	if ps, ok := p.(PutPresigner); ok {
		return ps.PresignPut(ctx, key, expiry, opts)
	}
	return nil, &Error{Op: "presign-put", Provider: providerName(p), Key: key, Kind: ErrUnsupported}
}

// Flush waits until every write p acknowledged before the call is stored in
// its final place, when p buffers writes (a [Flusher]). A provider that does
// not buffer has nothing to wait for, and Flush returns nil.
func Flush(ctx context.Context, p Provider) error {
	if f, ok := p.(Flusher); ok {
		err := f.Flush(ctx)
		if errors.Is(err, ErrUnsupported) {
			return nil
		}
		return err
	}
	return nil
}

// CreateBucket creates the bucket (or root directory) p was opened on, when
// p is a [BucketCreator], and fails with an error matching [ErrUnsupported]
// otherwise. An existing bucket of the caller's fails with [ErrExist].
func CreateBucket(ctx context.Context, p Provider) error {
	if b, ok := p.(BucketCreator); ok {
		return b.CreateBucket(ctx)
	}
	return &Error{Op: "create bucket", Provider: providerName(p), Kind: ErrUnsupported}
}

// ReadAll returns the whole object under key, as os.ReadFile returns a
// file's content.
func ReadAll(ctx context.Context, p Provider, key string) ([]byte, Info, error) {
	rc, info, err := p.Get(ctx, key, nil)
	if err != nil {
		return nil, Info{}, err
	}
	defer rc.Close()
	b := make([]byte, 0, max(0, min(info.Size, 64<<20))+1)
	for {
		n, err := rc.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, info, nil
		}
		if err != nil {
			return nil, Info{}, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// providerName names p in an error made on its behalf.
func providerName(p Provider) string {
	if p == nil {
		return "storage"
	}
	return reflect.TypeOf(p).String()
}
