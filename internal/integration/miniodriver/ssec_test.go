package miniodriver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	miniogo "github.com/minio/minio-go/v7"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/strata-storage/strata/conformance/miniotest"
	"github.com/strata-storage/strata/minio"
	"github.com/strata-storage/strata/storage"
)

// tlsServer is a MinIO container serving HTTPS with a certificate made for
// the test.
type tlsServer struct {
	endpoint       string
	access, secret string
	region         string
	transport      *http.Transport // trusts the test's certificate
}

// startTLS starts MinIO with TLS, which it requires before it accepts
// SSE-C: a self-signed certificate for 127.0.0.1 goes into the container
// as /certs/public.crt and /certs/private.key (testcontainers' Files, so
// the image needs no shell), and the server runs with --certs-dir /certs.
// The image is the one miniotest uses ($STRATA_MINIO_IMAGE).
func startTLS(t *testing.T) *tlsServer {
	t.Helper()
	// miniotest decides whether MinIO tests run at all here (Docker and the
	// image present; under CI=true their absence fails the test).
	miniotest.Start(t)
	image := os.Getenv(miniotest.EnvImage)
	if image == "" {
		image = miniotest.DefaultImage
	}
	certPEM, keyPEM, pool := selfSigned(t)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()

	secret := hex.EncodeToString(randomKey(t)[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctr, err := testcontainers.Run(ctx, image,
		testcontainers.WithExposedPorts("9000/tcp"),
		testcontainers.WithEnv(map[string]string{
			"MINIO_ROOT_USER":     "strata",
			"MINIO_ROOT_PASSWORD": secret,
			"MINIO_CI_CD":         "1",
		}),
		testcontainers.WithCmd("server", "/data", "--certs-dir", "/certs"),
		testcontainers.WithFiles(
			testcontainers.ContainerFile{Reader: bytes.NewReader(certPEM), ContainerFilePath: "/certs/public.crt", FileMode: 0o644},
			testcontainers.ContainerFile{Reader: bytes.NewReader(keyPEM), ContainerFilePath: "/certs/private.key", FileMode: 0o600},
		),
		testcontainers.WithLabels(map[string]string{"dev.strata.miniotest": "server"}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{network.MustParsePort("9000/tcp"): {{
				HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port,
			}}}
		}),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/minio/health/live").WithPort("9000/tcp").
			WithTLS(true, &tls.Config{RootCAs: pool}).WithStartupTimeout(2*time.Minute)),
	)
	t.Cleanup(func() {
		if ctr != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = ctr.Terminate(ctx)
		}
	})
	require.NoError(t, err, "start MinIO with TLS")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &tlsServer{
		endpoint:  "127.0.0.1:" + port,
		access:    "strata",
		secret:    secret,
		transport: tr,
		region:    miniotest.DefaultRegion,
	}
}

// store returns a Store on bucket of srv, with the SSE-C key sseKey (nil
// for none).
func (srv *tlsServer) store(t *testing.T, bucket string, sseKey []byte) *minio.Store {
	t.Helper()
	s, err := minio.New(t.Context(), minio.Config{
		Endpoint: srv.endpoint, Secure: true, Region: srv.region,
		AccessKey: srv.access, SecretKey: srv.secret, Bucket: bucket,
		SSECustomerKey: sseKey, PartSize: testPartSize, Transport: srv.transport,
	})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// selfSigned returns a certificate for 127.0.0.1 and its key, PEM-encoded,
// and a pool that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strata test MinIO"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), pool
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// SSE-C objects round-trip through Put (one PUT and multipart, whose
// checksum is recorded by a copy onto itself), Get, ranged Get, Stat, List
// and Copy; without the key, or with another key, they cannot be read.
func TestSSECRoundTrip(t *testing.T) {
	t.Parallel()
	srv := startTLS(t)
	const bucket = "ssec-roundtrip"
	admin := srv.store(t, bucket, nil)
	require.NoError(t, admin.Client().MakeBucket(t.Context(), bucket, miniogo.MakeBucketOptions{Region: srv.region}))
	key := randomKey(t)
	s := srv.store(t, bucket, key)

	for _, n := range []int{0, 1000, 2*testPartSize + 77} {
		name := "obj-" + string(rune('a'+n%26)) + "-" + hex.EncodeToString([]byte{byte(n), byte(n >> 8), byte(n >> 16)})
		data := randomBytes(byte(n), n)
		info, err := s.Put(t.Context(), name, onlyReader{bytes.NewReader(data)}, &storage.PutOptions{ContentType: "image/png", Metadata: map[string]string{"who": "me"}})
		require.NoError(t, err, "Put %d bytes with SSE-C", n)
		assert.Equal(t, sha(data), info.SHA256)

		got, ginfo := readAll(t, s, name, nil)
		require.True(t, bytes.Equal(data, got), "content of %d bytes", n)
		st, err := s.Stat(t.Context(), name)
		require.NoError(t, err)
		for _, in := range []storage.Info{ginfo, st} {
			assert.Equal(t, sha(data), in.SHA256, "checksum recorded for %d bytes", n)
			assert.Equal(t, map[string]string{"who": "me"}, in.Metadata)
			assert.Equal(t, "image/png", in.ContentType)
			assert.Equal(t, int64(n), in.Size)
		}
		if n > 10 {
			part, rinfo := readAll(t, s, name, &storage.GetOptions{Range: &storage.Range{Offset: 5, Length: 7}})
			assert.Equal(t, data[5:12], part)
			assert.Equal(t, int64(n), rinfo.Size)
		}
		cp, err := s.Copy(t.Context(), name+"-copy", name)
		require.NoError(t, err, "Copy with SSE-C")
		assert.Equal(t, sha(data), cp.SHA256)
		got, _ = readAll(t, s, name+"-copy", nil)
		require.True(t, bytes.Equal(data, got))

		// No key, or the wrong key: the object cannot be read, and that is
		// not "not found".
		for i, other := range []*minio.Store{admin, srv.store(t, bucket, randomKey(t))} {
			_, err = other.Stat(t.Context(), name)
			require.Error(t, err, "Stat of %d bytes by store %d", n, i)
			require.NotErrorIs(t, err, storage.ErrNotFound)
			if n == 0 && i == 1 {
				// MinIO serves an empty SSE-C object to a wrong key (HEAD
				// refuses it): there are no bytes to decrypt.
				continue
			}
			rc, _, err := other.Get(t.Context(), name, nil)
			require.Error(t, err, "Get of %d bytes by store %d", n, i)
			require.Nil(t, rc)
		}
	}
	var listed []string
	for info, err := range s.List(t.Context(), nil) {
		require.NoError(t, err)
		listed = append(listed, info.Key)
	}
	assert.Len(t, listed, 6)

	_, err := s.PresignGet(t.Context(), "obj", time.Minute)
	require.ErrorIs(t, err, storage.ErrUnsupported, "a URL cannot carry the SSE-C key")

	for u := range admin.Client().ListIncompleteUploads(t.Context(), bucket, "", true) {
		t.Errorf("upload left behind: %+v", u)
	}
}
