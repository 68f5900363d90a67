package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/storage"
)

// providerName is the Provider field of every error this package returns.
const providerName = "s3"

// fail returns err, an error of a request for op made with ctx, as the
// driver hands it to the shared layer, which classifies it with Kind. It
// says what a failed credential chain lacked (without the SDK's
// "operation error S3: ..., get identity: ..." prefix), how to write the
// endpoint of a server that speaks plain HTTP, and hides the query of a
// request URL; then s3proto.Settle tells the caller's cancellation from
// the transport's own timeouts.
//
// Only a definite 404 (NoSuchKey, NotFound) is ErrNotFound; a 403 is
// ErrPermission even for a missing key (S3 answers 403 for a missing key
// when the caller may not list the bucket). A missing bucket is
// ErrNoBucket, not a missing object: it is a configuration error.
func (s *drv) fail(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	kind := s.Kind(op, err)
	var ce *credentialsError
	switch {
	case kind != nil && ctx.Err() == nil && errors.As(err, &ce):
		// The request was never sent: say what the chain lacked.
		err = &credentialsFailure{ce: ce, err: err}
	case errors.Is(err, http.ErrSchemeMismatch):
		err = newSchemeMismatch(scrub(err))
	default:
		err = scrub(err)
	}
	return s3proto.Settle(ctx, err, kind)
}

// newSchemeMismatch returns the cause of an error when the endpoint is an
// https URL (as an endpoint= without a scheme is) and the server answered
// in plain HTTP: its message says how to write the endpoint.
func newSchemeMismatch(err error) error {
	return s3proto.NewSchemeMismatch(err, func(host string) string {
		return fmt.Sprintf("use endpoint=http://%s in the s3:// URL (Config.Endpoint %q)", host, "http://"+host)
	})
}

// noRetrySchemeMismatch tells the SDK's retryer not to retry a request
// that found a plain-HTTP server at an https endpoint: the next attempt
// would find the same.
var noRetrySchemeMismatch = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

// credentialsHint is what a missing-credentials error tells the user to do.
// It names the places credentials come from, never their values.
const credentialsHint = "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " +
	"(or AWS_PROFILE with ~/.aws/credentials), or Config.AccessKeyID and Config.SecretAccessKey"

// errNoCredentials is the cause of New's error when no credentials are
// configured for an endpoint that is not AWS: the SDK's chain would end
// with an instance role, which only AWS gives.
var errNoCredentials = errors.New(credentialsHint + " (an S3-compatible endpoint takes no instance role)")

// credentialsError is a failure of the SDK's credential chain to find
// credentials, marked by credentialsProvider so that Kind can tell it
// apart without reading messages.
//
// It has no Unwrap, only As: the chain's own timeouts (such as the
// instance metadata service's, on a machine that has none) match
// context.DeadlineExceeded, and the caller must not take them for its own
// deadline. errors.As still reaches the chain's errors.
type credentialsError struct {
	err error
	// instanceRole is set when nothing but an EC2 instance role was
	// configured: the error then says what to set, and what the instance
	// metadata service answered in a few words, not the SDK's whole chain.
	instanceRole bool
}

func (e *credentialsError) Error() string {
	if e.instanceRole {
		return credentialsHint + ", or run on EC2 with an instance role (" + imdsSummary(e.err) + ")"
	}
	return credentialsHint + ": " + e.err.Error()
}

func (e *credentialsError) As(target any) bool { return errors.As(e.err, target) }

// imdsSummary says in a few words why the instance metadata service gave
// no credentials.
func imdsSummary(err error) string {
	var re interface{ HTTPStatusCode() int }
	var ne net.Error
	switch {
	case errors.As(err, &re):
		return fmt.Sprintf("the instance metadata service answered HTTP %d", re.HTTPStatusCode())
	case errors.As(err, &ne), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, context.DeadlineExceeded):
		return "no instance metadata service answered"
	}
	return "no instance role found"
}

// credentialsFailure is the cause fail reports for a request that failed
// because the credential chain did: its message is the chain's, without
// the SDK's "operation error S3: ..., get identity: ..." prefix, and it
// unwraps to the request's error (which, through credentialsError, does
// not match the chain's own timeouts).
type credentialsFailure struct {
	ce  *credentialsError
	err error
}

func (e *credentialsFailure) Error() string { return e.ce.Error() }
func (e *credentialsFailure) Unwrap() error { return e.err }

// credentialsProvider wraps the credential provider of the SDK's
// configuration and marks its errors as credentialsError. It keeps what
// the SDK asks of a provider: its kind (IsCredentialsProvider, so that an
// anonymous or cached provider stays recognised) and its sources.
type credentialsProvider struct {
	p aws.CredentialsProvider
	// instanceRole is set when p is the chain's last resort, the EC2
	// instance role (see credentialsError).
	instanceRole bool
}

// Retrieve implements aws.CredentialsProvider. A failure while ctx, the
// request's context, is live is the chain's, and is marked; once ctx has
// ended it is the caller's doing, and passes as it is.
func (c *credentialsProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.p.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		err = &credentialsError{err: err, instanceRole: c.instanceRole}
	}
	return creds, err
}

func (c *credentialsProvider) IsCredentialsProvider(target aws.CredentialsProvider) bool {
	return aws.IsCredentialsProvider(c.p, target)
}

func (c *credentialsProvider) ProviderSources() []aws.CredentialSource {
	if s, ok := c.p.(aws.CredentialProviderSource); ok {
		return s.ProviderSources()
	}
	return nil
}

// onlyInstanceRole reports whether the SDK's default chain, finding no
// credentials in the environment, the shared files or a container, fell
// back to the EC2 instance role.
func onlyInstanceRole(p aws.CredentialsProvider) bool {
	s, ok := p.(aws.CredentialProviderSource)
	if !ok {
		return false
	}
	src := s.ProviderSources()
	return len(src) == 1 && src[0] == aws.CredentialSourceIMDS
}

// Kind implements driver.Driver: it returns the storage sentinel err, an
// error of a request for op, means, or nil. It reads the S3 error response
// err carries and asks s3proto.Kind, the table shared with the minio
// driver.
func (s *drv) Kind(op string, err error) error {
	return kindOf(op, err)
}

// kindOf is Kind.
func kindOf(op string, err error) error {
	var ce *credentialsError
	if errors.As(err, &ce) {
		// The credential chain failed before the request was sent. A
		// server of the chain (STS, SSO, the instance metadata service)
		// that answered 5xx or 429 is an outage. Anything else, even a
		// refused connection or a timeout (how the instance metadata
		// service is missing off EC2) or a 404, means no credentials.
		var re interface{ HTTPStatusCode() int }
		if errors.As(ce.err, &re) && (re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 429) {
			return storage.ErrUnavailable
		}
		return storage.ErrPermission
	}
	if status, code, msg, ok := response(err); ok {
		return s3proto.Kind(op, status, code, msg)
	}
	// No HTTP response: the request never completed.
	if kind := s3proto.NoResponseKind(err); kind != nil || storage.IsContextError(err) {
		return kind
	}
	var rse *smithyhttp.RequestSendError
	if errors.As(err, &rse) {
		return storage.ErrUnavailable
	}
	return nil
}

// response takes out of err the S3 error response it carries, if any:
// the HTTP status, the S3 error code ("" for none, as a HEAD has none;
// the SDK calls that "NotFound" for a 404) and the message. The table
// that classifies them is s3proto.Kind, shared with the minio driver.
func response(err error) (status int, code, msg string, ok bool) {
	var ce *credentialsError
	if errors.As(err, &ce) {
		// A server of the credential chain answered, not S3.
		return 0, "", "", false
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() == 0 {
		return 0, "", "", false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	return re.HTTPStatusCode(), code, msg, true
}

// preconditionFailed reports whether err (mapped or not) is a 412: a
// CopySourceIfMatch or If-None-Match that did not hold.
func preconditionFailed(err error) bool {
	status, code, _, _ := response(err)
	return status == http.StatusPreconditionFailed || code == "PreconditionFailed"
}

// scrubbed is an error whose message has the URL of a *url.Error redacted.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub hides secrets an error message could carry. The SDK's requests carry
// their signature in a header, not in the URL, and the endpoint may not hold
// a password, but a transport error names the request URL: its query is
// redacted here all the same, so that nothing that looks like a credential
// (X-Amz-Credential, X-Amz-Signature, X-Amz-Security-Token) reaches an error
// string.
func scrub(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.URL == "" {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return err
	}
	red := storage.Redact(u)
	if red == ue.URL {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), ue.URL, red), err: err}
}
