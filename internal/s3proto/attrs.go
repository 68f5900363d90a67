package s3proto

import (
	"net/http"

	"github.com/strata-storage/strata/storage"
)

// The HTTP attributes of an object, as S3 stores them: each is a header of
// the object's own (not user metadata), sent with PutObject,
// CreateMultipartUpload and CopyObject (with the REPLACE directive), and
// returned by GetObject and HeadObject under the same name. ListObjectsV2
// returns none of them.
const (
	HeaderCacheControl       = "Cache-Control"
	HeaderContentDisposition = "Content-Disposition"
	HeaderContentEncoding    = "Content-Encoding"
	HeaderContentLanguage    = "Content-Language"
)

// Attrs are the HTTP attributes of an object (storage.PutOptions and
// storage.Info name them the same); "" means none.
type Attrs struct {
	CacheControl       string
	ContentDisposition string
	ContentEncoding    string
	ContentLanguage    string
}

// PutAttrs returns the attributes opts asks Put to store.
func PutAttrs(opts *storage.PutOptions) Attrs {
	if opts == nil {
		return Attrs{}
	}
	return Attrs{
		CacheControl:       opts.CacheControl,
		ContentDisposition: opts.ContentDisposition,
		ContentEncoding:    opts.ContentEncoding,
		ContentLanguage:    opts.ContentLanguage,
	}
}

// InfoAttrs returns the attributes info describes, for a copy of the
// object.
func InfoAttrs(info storage.Info) Attrs {
	return Attrs{
		CacheControl:       info.CacheControl,
		ContentDisposition: info.ContentDisposition,
		ContentEncoding:    info.ContentEncoding,
		ContentLanguage:    info.ContentLanguage,
	}
}

// HeaderAttrs returns the attributes of an object from the headers of a
// GetObject or HeadObject response (or minio-go's ObjectInfo.Metadata,
// which keeps them).
func HeaderAttrs(h http.Header) Attrs {
	return Attrs{
		CacheControl:       h.Get(HeaderCacheControl),
		ContentDisposition: h.Get(HeaderContentDisposition),
		ContentEncoding:    h.Get(HeaderContentEncoding),
		ContentLanguage:    h.Get(HeaderContentLanguage),
	}
}

// SetInfo sets the attributes of info to a.
func (a Attrs) SetInfo(info *storage.Info) {
	info.CacheControl = a.CacheControl
	info.ContentDisposition = a.ContentDisposition
	info.ContentEncoding = a.ContentEncoding
	info.ContentLanguage = a.ContentLanguage
}
