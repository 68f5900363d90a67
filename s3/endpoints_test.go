package s3

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// endpointCases are parameters as the SDK binds them for AWS and for
// S3-compatible servers, path-style and virtual-hosted, and one the rules
// refuse.
func endpointCases() map[string]s3.EndpointParameters {
	base := func(bucket, region string) s3.EndpointParameters {
		return s3.EndpointParameters{
			Bucket: aws.String(bucket), Region: aws.String(region),
			UseFIPS: aws.Bool(false), UseDualStack: aws.Bool(false), ForcePathStyle: aws.Bool(false),
			Accelerate: aws.Bool(false), UseGlobalEndpoint: aws.Bool(false),
			DisableMultiRegionAccessPoints: aws.Bool(false), UseArnRegion: aws.Bool(false),
		}
	}
	aws1 := base("media-bucket", "eu-west-1")
	dotted := base("media.example.com", "us-east-1")
	pathStyle := base("media", "us-east-1")
	pathStyle.Endpoint, pathStyle.ForcePathStyle = aws.String("http://127.0.0.1:9000"), aws.Bool(true)
	virtual := base("media", "us-east-1")
	virtual.Endpoint = aws.String("https://objects.example.net")
	fips := pathStyle
	fips.UseFIPS = aws.Bool(true)
	noBucket := base("", "us-east-1")
	noBucket.Bucket = nil
	return map[string]s3.EndpointParameters{
		"aws": aws1, "aws dotted bucket": dotted, "custom path-style": pathStyle,
		"custom virtual-hosted": virtual, "custom with FIPS (refused)": fips, "no bucket": noBucket,
	}
}

type countingResolver struct {
	next  s3.EndpointResolverV2
	calls atomic.Int64
}

func (r *countingResolver) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	r.calls.Add(1)
	return r.next.ResolveEndpoint(ctx, p)
}

// The cache answers what the SDK's rules answer, asking them once for
// each set of parameters whatever the key, and never for an answer it
// keeps; a refusal is not kept.
func TestEndpointCacheAnswersAsTheRules(t *testing.T) {
	ctx := context.Background()
	rules := s3.NewDefaultEndpointResolverV2()
	for name, p := range endpointCases() {
		t.Run(name, func(t *testing.T) {
			want, wantErr := rules.ResolveEndpoint(ctx, p)
			counted := &countingResolver{next: rules}
			c := newEndpointCache(counted)
			for i, key := range []string{"a", "media/2026/12/x.jpg", "b", "a"} {
				p.Key = aws.String(key)
				got, err := c.ResolveEndpoint(ctx, p)
				if wantErr != nil {
					require.Error(t, err)
					assert.Equal(t, wantErr.Error(), err.Error())
					assert.EqualValues(t, i+1, counted.calls.Load(), "a refusal is not kept")
					continue
				}
				require.NoError(t, err)
				assert.True(t, reflect.DeepEqual(want, got), "answer %d differs from the rules':\n%+v\n%+v", i, want, got)
				assert.EqualValues(t, 1, counted.calls.Load(), "rules asked again for parameters seen before")
				// What the SDK does to an answer while signing.
				got.URI.RawPath = "/changed"
				if opts, ok := smithyauth.GetAuthOptions(&got.Properties); ok {
					for _, o := range opts {
						o.SignerProperties.Set("changed", true)
						o.SchemeID = "changed"
					}
				}
				got.Properties.Set("changed", true)
			}
		})
	}
}

// The cache leaves the key, the prefix and the copy source out of its
// parameters, which is right only while S3's rules do not read them; and
// it must know every parameter the rules are given. An SDK upgrade that
// changes either fails here.
func TestEndpointRulesIgnoreKey(t *testing.T) {
	ctx := context.Background()
	rules := s3.NewDefaultEndpointResolverV2()
	for name, p := range endpointCases() {
		want, wantErr := rules.ResolveEndpoint(ctx, p)
		for _, vary := range []func(*s3.EndpointParameters){
			func(p *s3.EndpointParameters) { p.Key = aws.String("photos/cat.jpg") },
			func(p *s3.EndpointParameters) { p.Prefix = aws.String("photos/") },
			func(p *s3.EndpointParameters) { p.CopySource = aws.String("other/photos/cat.jpg") },
		} {
			q := p
			vary(&q)
			got, err := rules.ResolveEndpoint(ctx, q)
			if wantErr != nil {
				assert.Error(t, err, name)
				continue
			}
			require.NoError(t, err, name)
			assert.True(t, reflect.DeepEqual(want, got), "%s: the rules' answer depends on %+v", name, q)
		}
	}
	known := map[string]bool{
		"Bucket": true, "Region": true, "Endpoint": true, "UseFIPS": true, "UseDualStack": true,
		"ForcePathStyle": true, "Accelerate": true, "UseGlobalEndpoint": true, "UseObjectLambdaEndpoint": true,
		"DisableAccessPoints": true, "DisableMultiRegionAccessPoints": true, "UseArnRegion": true,
		"UseS3ExpressControlEndpoint": true, "DisableS3ExpressSessionAuth": true,
		"Key": true, "Prefix": true, "CopySource": true, // left out on purpose
	}
	ty := reflect.TypeFor[s3.EndpointParameters]()
	for i := range ty.NumField() {
		assert.True(t, known[ty.Field(i).Name], "s3.EndpointParameters.%s is new: add it to endpointKey", ty.Field(i).Name)
	}
	assert.Equal(t, len(known)-3, 3+len(endpointKey{}.flags), "endpointKey covers every parameter but three")
}

// Requests resolving and changing their answers at once share nothing
// (run with -race).
func TestEndpointCacheConcurrentRequests(t *testing.T) {
	c := newEndpointCache(nil)
	p := endpointCases()["custom path-style"]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				e, err := c.ResolveEndpoint(context.Background(), p)
				if !assert.NoError(t, err) {
					return
				}
				opts, _ := smithyauth.GetAuthOptions(&e.Properties)
				for _, o := range opts {
					o.SignerProperties.Set("n", 1)
				}
				e.Properties.Set("n", 1)
			}
		})
	}
	wg.Wait()
}
