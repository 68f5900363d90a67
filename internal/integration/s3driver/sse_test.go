package s3driver_test

// SSE-C and SSE-S3/KMS against a real MinIO. MinIO refuses SSE-C over
// plain HTTP (400 InsecureSSECustomerRequest), and SSE-S3/SSE-KMS need a
// KMS, so these tests start a MinIO of their own with testcontainers:
// TLS from a self-signed certificate made here (copied into the container
// and named with --certs-dir) and MinIO's built-in single-key KMS
// (MINIO_KMS_SECRET_KEY=<key name>:<base64 of 32 bytes>). The client
// trusts the certificate through Config.HTTPClient.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/strata-storage/strata/conformance"
	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/internal/integration/changing"
	"github.com/strata-storage/strata/internal/s3proto"
	"github.com/strata-storage/strata/s3"
	"github.com/strata-storage/strata/storage"
)

// kmsKeyName is the name of the key MinIO's built-in KMS holds.
const kmsKeyName = "strata-test-key"

// tlsServer is a MinIO over HTTPS with a KMS, for this test binary.
type tlsServer struct {
	url                  string
	accessKey, secretKey string
	roots                *x509.CertPool
}

var tlsMinIO struct {
	once sync.Once
	srv  *tlsServer
	err  error
	ctr  testcontainers.Container
}

// startTLSMinIO returns the binary's MinIO over TLS, starting it on first
// use. It skips or fails as miniotest.Start does when Docker or the image
// is missing.
func startTLSMinIO(t testing.TB) *tlsServer {
	t.Helper()
	miniotest.Start(t) // the same skip rules, and proof that Docker and the image are there
	tlsMinIO.once.Do(func() { tlsMinIO.srv, tlsMinIO.ctr, tlsMinIO.err = runTLSMinIO() })
	require.NoError(t, tlsMinIO.err, "start MinIO over TLS")
	return tlsMinIO.srv
}

// stopTLSMinIO terminates the container, if one was started; TestMain
// calls it.
func stopTLSMinIO() {
	if tlsMinIO.ctr != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = tlsMinIO.ctr.Terminate(ctx)
	}
}

func runTLSMinIO() (*tlsServer, testcontainers.Container, error) {
	certPEM, keyPEM, roots, err := selfSigned()
	if err != nil {
		return nil, nil, err
	}
	kmsKey := make([]byte, 32)
	_, _ = rand.Read(kmsKey)
	secret := make([]byte, 12)
	_, _ = rand.Read(secret)
	srv := &tlsServer{accessKey: "strata-tls", secretKey: base64.RawURLEncoding.EncodeToString(secret), roots: roots}

	image := os.Getenv(miniotest.EnvImage)
	if image == "" {
		image = miniotest.DefaultImage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithCmd("server", "/data", "--certs-dir", "/certs"),
		testcontainers.WithEnv(map[string]string{
			"MINIO_ROOT_USER":      srv.accessKey,
			"MINIO_ROOT_PASSWORD":  srv.secretKey,
			"MINIO_KMS_SECRET_KEY": kmsKeyName + ":" + base64.StdEncoding.EncodeToString(kmsKey),
			"MINIO_CI_CD":          "1",
		}),
		testcontainers.WithFiles(
			testcontainers.ContainerFile{Reader: bytes.NewReader(certPEM), ContainerFilePath: "/certs/public.crt", FileMode: 0o644},
			testcontainers.ContainerFile{Reader: bytes.NewReader(keyPEM), ContainerFilePath: "/certs/private.key", FileMode: 0o600},
		),
		// tmpfs: faster than the container's overlay, which also limits
		// the length of file names.
		testcontainers.WithTmpfs(map[string]string{"/data": "rw"}),
		testcontainers.WithExposedPorts("9000/tcp"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{network.MustParsePort("9000/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
		}),
		testcontainers.WithLogger(tclog.NewNoopLogger()),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/minio/health/live").WithPort("9000/tcp").
			WithTLS(true, &tls.Config{RootCAs: roots}).WithStartupTimeout(time.Minute)),
	)
	if err != nil {
		if ctr != nil {
			_ = ctr.Terminate(context.Background())
		}
		return nil, nil, err
	}
	host, err := ctr.Host(ctx)
	if err == nil && host != "127.0.0.1" && host != "localhost" {
		err = fmt.Errorf("container host is %q, not loopback", host)
	}
	var port string
	if err == nil {
		var p network.Port
		p, err = ctr.MappedPort(ctx, "9000/tcp")
		port = p.Port()
	}
	if err != nil {
		_ = ctr.Terminate(context.Background())
		return nil, nil, err
	}
	srv.url = "https://" + net.JoinHostPort("127.0.0.1", port)
	return srv, ctr, nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned() (certPEM, keyPEM []byte, roots *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "strata test MinIO"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), roots, nil
}

// newTLSStore returns a Store on a fresh bucket of the TLS MinIO, whose
// requests rec records, and its Config. knobs lowers limits no Config
// offers.
func newTLSStore(t testing.TB, knobs s3proto.Knobs, change func(*s3.Config)) (*s3.Store, *recorder, s3.Config) {
	t.Helper()
	srv := startTLSMinIO(t)
	rec := &recorder{next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.roots}}}
	cfg := s3.Config{
		Bucket:          fmt.Sprintf("sse-%d", time.Now().UnixNano()),
		Region:          miniotest.DefaultRegion,
		Endpoint:        srv.url,
		AccessKeyID:     srv.accessKey,
		SecretAccessKey: srv.secretKey,
		HTTPClient:      &http.Client{Transport: rec},
	}
	if change != nil {
		change(&cfg)
	}
	st, err := s3.New(s3proto.WithKnobs(context.Background(), knobs), cfg)
	require.NoError(t, err)
	_, err = st.Client().CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st, rec, cfg
}

func testKey(seed byte) []byte { return bytes.Repeat([]byte{seed}, 32) }

func readAllGet(t *testing.T, st *s3.Store, key string, rng *storage.Range) ([]byte, storage.Info) {
	t.Helper()
	rc, info, err := st.Get(t.Context(), key, &storage.GetOptions{Range: rng})
	require.NoError(t, err, "Get %q", key)
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	return b, info
}

func TestSSECustomerKey(t *testing.T) {
	t.Parallel()
	key := testKey(1)
	st, rec, cfg := newTLSStore(t, s3proto.Knobs{CopyThreshold: 2 * s3.MinPartSize}, func(c *s3.Config) {
		c.SSE = s3.SSE{Mode: s3.SSEC, CustomerKey: key}
		c.RecordLargeSHA256 = true
		smallParts(c)
	})
	ctx := t.Context()
	small := []byte("secret media")
	large := conformance.RandomBytes(7, 3*s3.MinPartSize+11)
	md := map[string]string{"who": "me"}

	_, err := st.Put(ctx, "small", bytes.NewReader(small), &storage.PutOptions{Metadata: md})
	require.NoError(t, err)
	info, err := st.Put(ctx, "large", onlyReader{bytes.NewReader(large)}, &storage.PutOptions{ContentType: "video/mp4"})
	require.NoError(t, err)
	assert.Equal(t, sha(large), info.SHA256)

	got, gi := readAllGet(t, st, "small", nil)
	assert.Equal(t, small, got)
	assert.Equal(t, sha(small), gi.SHA256)
	assert.Equal(t, md, gi.Metadata)
	got, gi = readAllGet(t, st, "large", &storage.Range{Offset: s3.MinPartSize - 3, Length: 10})
	assert.Equal(t, large[s3.MinPartSize-3:s3.MinPartSize+7], got, "ranged Get across a part boundary")
	assert.Equal(t, int64(len(large)), gi.Size)
	si, err := st.Stat(ctx, "large")
	require.NoError(t, err)
	assert.Equal(t, sha(large), si.SHA256, "SHA-256 recorded by the copy onto itself, with the copy-source key")

	for _, c := range [][2]string{{"small-copy", "small"}, {"large-copy", "large"}} {
		ci, err := st.Copy(ctx, c[0], c[1])
		require.NoError(t, err)
		b, _ := readAllGet(t, st, c[0], nil)
		assert.Equal(t, sha(b), ci.SHA256, "copy of %s", c[1])
	}
	require.NotEmpty(t, rec.requests("UploadPartCopy"), "the large copy went part by part")

	// Every request that touches object data carried the key; copies
	// carried it for the source too.
	keyB64 := base64.StdEncoding.EncodeToString(key)
	needsKey := map[string]bool{"PutObject": true, "GetObject": true, "HeadObject": true, "CreateMultipartUpload": true,
		"UploadPart": true, "CompleteMultipartUpload": true, "CopyObject": true, "UploadPartCopy": true}
	seen := map[string]bool{}
	for _, q := range rec.requests("") {
		op := q.op()
		if !needsKey[op] {
			continue
		}
		seen[op] = true
		assert.Equal(t, keyB64, q.header.Get("X-Amz-Server-Side-Encryption-Customer-Key"), "%s sends the key", op)
		assert.Equal(t, "AES256", q.header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm"), op)
		if op == "PutObject" || op == "UploadPart" {
			assert.Equal(t, "UNSIGNED-PAYLOAD", q.header.Get("X-Amz-Content-Sha256"), "%s over TLS: the SDK signs no payload, strata's SHA-256 is the only hash", op)
		}
		if op == "CopyObject" || op == "UploadPartCopy" {
			assert.Equal(t, keyB64, q.header.Get("X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key"), "%s sends the source's key", op)
		}
	}
	for op := range needsKey {
		assert.True(t, seen[op], "the test exercised %s", op)
	}

	// Without the key, or with another one, the objects cannot be read.
	for name, sse := range map[string]s3.SSE{"no key": {}, "wrong key": {Mode: s3.SSEC, CustomerKey: testKey(2)}} {
		other, err := s3.New(ctx, s3.Config{Bucket: st.Bucket(), Region: miniotest.DefaultRegion, Endpoint: cfg.Endpoint,
			AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, HTTPClient: cfg.HTTPClient, SSE: sse})
		require.NoError(t, err)
		_, _, err = other.Get(ctx, "small", nil)
		require.Error(t, err, name)
		assert.NotErrorIs(t, err, storage.ErrNotFound, name)
		checkNoSecrets(t, err, keyB64, string(testKey(2)))
	}

	_, err = st.PresignGet(ctx, "small", time.Minute)
	assert.ErrorIs(t, err, storage.ErrUnsupported)
	assert.Empty(t, incompleteUploads(t, st))
}

func TestSSEManagedKeys(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sse  s3.SSE
		want types.ServerSideEncryption
	}{
		{s3.SSE{Mode: s3.SSES3}, types.ServerSideEncryptionAes256},
		{s3.SSE{Mode: s3.SSEKMS, KMSKeyID: kmsKeyName}, types.ServerSideEncryptionAwsKms},
	} {
		t.Run(tt.sse.Mode.String(), func(t *testing.T) {
			st, _, cfg := newTLSStore(t, s3proto.Knobs{}, func(c *s3.Config) { c.SSE = tt.sse; smallParts(c) })
			ctx := t.Context()
			large := conformance.RandomBytes(8, s3.MinPartSize+5)
			for key, data := range map[string][]byte{"small": []byte("hello"), "large": large} {
				_, err := st.Put(ctx, key, onlyReader{bytes.NewReader(data)}, nil)
				require.NoError(t, err)
				_, err = st.Copy(ctx, key+"-copy", key)
				require.NoError(t, err)
				for _, k := range []string{key, key + "-copy"} {
					got, info := readAllGet(t, st, k, nil)
					assert.True(t, bytes.Equal(data, got), k)
					assert.Equal(t, sha(data), info.SHA256, k)
					head, err := st.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(st.Bucket()), Key: aws.String(k)})
					require.NoError(t, err)
					assert.Equal(t, tt.want, head.ServerSideEncryption, "%s is encrypted at rest", k)
				}
			}
			u, err := st.PresignGet(ctx, "small", time.Minute)
			require.NoError(t, err)
			resp, err := cfg.HTTPClient.Get(u)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "hello", string(b), "a presigned URL of an SSE-S3/KMS object works")
			assert.Empty(t, incompleteUploads(t, st))
		})
	}
}

// TestOpenURLSSEC opens an SSE-C store from a URL, the key coming from the
// environment.
func TestOpenURLSSEC(t *testing.T) {
	st, _, stCfg := newTLSStore(t, s3proto.Knobs{}, nil)
	key := testKey(3)
	t.Setenv(s3.SSECKeyEnv, base64.StdEncoding.EncodeToString(key))
	u := fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&sse=sse-c", st.Bucket(), stCfg.Endpoint)
	cfg, err := s3.ConfigFromURL(mustParse(t, u))
	require.NoError(t, err)
	assert.Equal(t, key, cfg.SSE.CustomerKey)
	cfg.AccessKeyID, cfg.SecretAccessKey, cfg.HTTPClient = stCfg.AccessKeyID, stCfg.SecretAccessKey, stCfg.HTTPClient
	enc, err := s3.New(t.Context(), cfg)
	require.NoError(t, err)
	_, err = enc.Put(t.Context(), "k", strings.NewReader("v"), nil)
	require.NoError(t, err)
	_, _, err = st.Get(t.Context(), "k", nil)
	require.Error(t, err, "the object is encrypted with the key from the environment")
	got, _ := readAllGet(t, enc, "k", nil)
	assert.Equal(t, "v", string(got))
}

// Over TLS to MinIO, with or without server-side encryption, a file
// uploaded from its ReaderAt carries each part's CRC32C (the Store asks
// the server what it is first), reads back whole, and fails with
// ErrCorrupt when it changes between the hashing pass and the upload.
func TestSeekableSourceTLS(t *testing.T) {
	t.Parallel()
	for name, sse := range map[string]s3.SSE{
		"plain": {}, "SSE-C": {Mode: s3.SSEC, CustomerKey: testKey(4)},
		"SSE-S3": {Mode: s3.SSES3}, "SSE-KMS": {Mode: s3.SSEKMS, KMSKeyID: kmsKeyName},
	} {
		t.Run(name, func(t *testing.T) {
			st, rec, _ := newTLSStore(t, s3proto.Knobs{}, func(c *s3.Config) { c.SSE = sse; smallParts(c); c.PrefixCheck = s3.PrefixCheckOff })
			ctx := t.Context()
			data := conformance.RandomBytes(9, 2*s3.MinPartSize+77)
			_, err := st.Put(ctx, "file", bytes.NewReader(data), &storage.PutOptions{Size: int64(len(data))})
			require.NoError(t, err)
			parts := rec.requests("UploadPart")
			require.Len(t, parts, 3)
			for i, q := range parts {
				assert.NotEmpty(t, q.header.Get("X-Amz-Checksum-Crc32c"), "part %d", i)
			}
			got, info := readAllGet(t, st, "file", nil)
			require.True(t, bytes.Equal(data, got))
			assert.Equal(t, sha(data), info.SHA256)

			_, err = st.Put(ctx, "changed", changing.New(data), &storage.PutOptions{Size: int64(len(data))})
			require.ErrorIs(t, err, storage.ErrCorrupt)
			_, err = st.Stat(ctx, "changed")
			require.ErrorIs(t, err, storage.ErrNotFound)
			assert.Empty(t, incompleteUploads(t, st))
		})
	}
}
