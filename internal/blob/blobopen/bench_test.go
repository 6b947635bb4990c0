package blobopen_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/azblob"
	"github.com/orcahq/orca/internal/blob/blobtest"
	"github.com/orcahq/orca/internal/blob/embedded"
	"github.com/orcahq/orca/internal/blob/s3"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
)

// BenchmarkPut compares puts of new blobs by backend, size and writers: embedded (durable
// SQLite + fsynced files, default inline limit), S3 (versitygw, which does not fsync) and Azure
// (Azurite). The servers are those of scripts/services; a backend without its env is skipped.
// puts/s is the metric to compare.
//
//	eval "$(scripts/services/s3.sh start)"; eval "$(scripts/services/azurite.sh start)"
//	go test -run '^$' -bench BenchmarkPut -benchtime 300x -count 3 ./internal/blob/blobopen/
func BenchmarkPut(b *testing.B) {
	b.Logf("machine: %s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	for _, backend := range []string{"embedded", "s3", "azblob"} {
		for _, size := range []int{1 << 10, 1 << 20} {
			for _, writers := range []int{1, 8} {
				name := fmt.Sprintf("backend=%s/size=%dKiB/writers=%d", backend, size>>10, writers)
				b.Run(name, func(b *testing.B) { blobtest.BenchPut(b, benchStore(b, backend), size, writers) })
			}
		}
	}
}

func benchStore(b *testing.B, backend string) blob.Store {
	b.Helper()
	ctx := context.Background()
	switch backend {
	case "embedded":
		s, err := embedded.New(embedded.Config{Store: sqlitetest.Open(b, sqlite.Config{}), Dir: filepath.Join(b.TempDir(), "blobs")})
		if err != nil {
			b.Fatal(err)
		}
		return s
	case "s3":
		ep := os.Getenv("ORCA_TEST_S3_ENDPOINT")
		if ep == "" {
			b.Skip("ORCA_TEST_S3_ENDPOINT is not set")
		}
		c, err := s3.NewClient(ctx, s3.ClientConfig{Endpoint: ep, Region: "us-east-1", PathStyle: true,
			AccessKey: os.Getenv("ORCA_TEST_S3_ACCESS_KEY"), SecretKey: os.Getenv("ORCA_TEST_S3_SECRET_KEY")})
		if err != nil {
			b.Fatal(err)
		}
		bucket := fmt.Sprintf("orca-bench-%d", time.Now().UnixNano())
		if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
			b.Fatal(err)
		}
		s, err := s3.New(s3.Config{Client: c, Bucket: bucket})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			emptyAndDelete(b, s, "bench", func() { _, _ = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket}) })
		})
		return s
	default:
		ep := os.Getenv("ORCA_TEST_AZURITE_BLOB")
		if ep == "" {
			b.Skip("ORCA_TEST_AZURITE_BLOB is not set")
		}
		c, err := azblob.NewClient(azblob.ClientConfig{Account: azurite.Account, Endpoint: ep, Key: azurite.Key})
		if err != nil {
			b.Fatal(err)
		}
		s, err := azblob.New(azblob.Config{Client: c})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _, _ = c.DeleteContainer(ctx, "bench", nil) })
		return s
	}
}

// emptyAndDelete deletes the blobs of container, then runs done.
func emptyAndDelete(b *testing.B, s blob.Store, container string, done func()) {
	ctx := context.Background()
	for {
		page, err := s.List(ctx, container, blob.ListOptions{})
		if err != nil {
			b.Error(err)
			return
		}
		for _, i := range page.Blobs {
			_ = s.Delete(ctx, container, i.Name)
		}
		if page.Next == "" {
			break
		}
	}
	done()
}
