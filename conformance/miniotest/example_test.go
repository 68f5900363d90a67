package miniotest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/strata-storage/strata/conformance/miniotest"
)

// A user's CI tests its own S3 code against a real MinIO in three lines:
// TestMain shares one server between the binary's tests, Start returns it
// (skipping, or failing under CI=true, when Docker or the image is missing)
// and NewBucket gives the test a fresh bucket.
//
//	func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }
func Example() {
	testUpload := func(t *testing.T) {
		srv := miniotest.Start(t)
		bucket := srv.NewBucket(t)

		// From here on, any S3 client: endpoint, keys and region.
		c, err := minio.New(srv.Endpoint, &minio.Options{
			Creds:  credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
			Region: srv.Region,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.PutObject(context.Background(), bucket, "hello.txt",
			strings.NewReader("hello"), 5, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	_ = testUpload // a test function in a real _test.go file
}

// A test of how code copes when a node of a distributed MinIO goes away:
// four nodes with erasure coding, one stopped while the others serve.
func ExampleStartCluster() {
	testNodeLoss := func(t *testing.T) {
		c := miniotest.StartCluster(t, 4) // removed when the test ends
		bucket := c.NewBucket(t)
		// Clients may use any node: c.Endpoints() lists them all.
		_, err := c.Nodes[0].Client().PutObject(context.Background(), bucket, "k",
			strings.NewReader("v"), 1, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}

		c.Nodes[1].Stop(t) // or Disconnect(t): cut off the network
		// ... reads and writes through the other nodes go on ...
		c.Nodes[1].Start(t) // or Reconnect(t)
		c.WaitHealthy(t)    // before reading through the node that came back
	}
	_ = testNodeLoss
}
