package s3

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// endpointCache is the SDK's endpoint resolver with its answers kept. The
// SDK evaluates S3's endpoint rules (a few hundred conditions: ARNs,
// access points, FIPS, dual-stack, S3 Express) twice for every request,
// once to choose the signing scheme and once for the URL, and for one
// Store the parameters hardly ever change: the bucket, the region, the
// endpoint and the client's flags. Asked with parameters it has seen, it
// answers a copy of the earlier answer, and so saves about 5% of the
// client's CPU for each small object sent.
//
// The object's key, a listing's prefix and a copy's source are left out
// of what makes two requests' parameters the same: S3's rules do not read
// them (TestEndpointRulesIgnoreKey checks that against the SDK in go.mod),
// and keeping them would make every request a new entry.
type endpointCache struct {
	next s3.EndpointResolverV2

	mu   sync.RWMutex
	seen map[endpointKey]smithyendpoints.Endpoint
}

// maxEndpoints bounds the answers an endpointCache keeps; beyond it (a
// Store's requests have a handful of distinct parameters) it asks the
// rules every time.
const maxEndpoints = 64

// endpointKey is what of s3.EndpointParameters the rules read.
type endpointKey struct {
	bucket, region, endpoint string
	set                      [3]bool  // each of the three is not nil
	flags                    [11]int8 // each *bool: 0 nil, 1 false, 2 true
}

func newEndpointCache(next s3.EndpointResolverV2) *endpointCache {
	if next == nil {
		next = s3.NewDefaultEndpointResolverV2()
	}
	return &endpointCache{next: next, seen: make(map[endpointKey]smithyendpoints.Endpoint)}
}

// ResolveEndpoint implements s3.EndpointResolverV2.
func (c *endpointCache) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	k := keyOf(p)
	c.mu.RLock()
	e, ok := c.seen[k]
	c.mu.RUnlock()
	if ok {
		return copyEndpoint(e), nil
	}
	e, err := c.next.ResolveEndpoint(ctx, p)
	if err != nil {
		return e, err
	}
	c.mu.Lock()
	if len(c.seen) < maxEndpoints {
		c.seen[k] = copyEndpoint(e)
	}
	c.mu.Unlock()
	return e, nil
}

func keyOf(p s3.EndpointParameters) endpointKey {
	k := endpointKey{
		bucket: deref(p.Bucket), region: deref(p.Region), endpoint: deref(p.Endpoint),
		// A nil string and an empty one are different to the rules.
		set: [3]bool{p.Bucket != nil, p.Region != nil, p.Endpoint != nil},
	}
	for i, b := range [...]*bool{
		p.UseFIPS, p.UseDualStack, p.ForcePathStyle, p.Accelerate, p.UseGlobalEndpoint,
		p.UseObjectLambdaEndpoint, p.DisableAccessPoints, p.DisableMultiRegionAccessPoints,
		p.UseArnRegion, p.UseS3ExpressControlEndpoint, p.DisableS3ExpressSessionAuth,
	} {
		if b != nil {
			k.flags[i] = 1
			if *b {
				k.flags[i] = 2
			}
		}
	}
	return k
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// copyEndpoint returns e with its own properties, auth options and their
// properties: the SDK changes the options an answer holds while it signs a
// request (it merges its own signing properties into them), so requests
// must not share them. The URL is a value and the headers are only read.
func copyEndpoint(e smithyendpoints.Endpoint) smithyendpoints.Endpoint {
	var props smithy.Properties
	props.SetAll(&e.Properties)
	if opts, ok := smithyauth.GetAuthOptions(&e.Properties); ok {
		own := make([]*smithyauth.Option, len(opts))
		for i, o := range opts {
			c := &smithyauth.Option{SchemeID: o.SchemeID}
			c.IdentityProperties.SetAll(&o.IdentityProperties)
			c.SignerProperties.SetAll(&o.SignerProperties)
			own[i] = c
		}
		smithyauth.SetAuthOptions(&props, own)
	}
	e.Properties = props
	return e
}
