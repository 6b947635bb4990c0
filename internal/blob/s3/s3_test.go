package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/blobtest"
	"github.com/orcahq/orca/internal/blob/s3"
	"github.com/orcahq/orca/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// client returns a client of the test server that scripts/services/s3.sh starts.
func client(t testing.TB) *awss3.Client {
	t.Helper()
	env := testenv.Service(t, "s3.sh", "ORCA_TEST_S3_ENDPOINT", "ORCA_TEST_S3_ACCESS_KEY", "ORCA_TEST_S3_SECRET_KEY")
	c, err := s3.NewClient(context.Background(), s3.ClientConfig{Endpoint: env[0], Region: "us-east-1", PathStyle: true,
		AccessKey: env[1], SecretKey: env[2]})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newBucket creates a bucket with a random name, emptied and deleted when t ends.
func newBucket(t testing.TB, c *awss3.Client) string {
	t.Helper()
	bucket := randomName("orca-test-")
	if _, err := c.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { removeBucket(t, c, bucket) })
	return bucket
}

func removeBucket(t testing.TB, c *awss3.Client, bucket string) {
	ctx := context.Background()
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("empty bucket %s: %v", bucket, err)
			return
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if len(ids) > 0 {
			out, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: ids}})
			if err != nil {
				t.Errorf("empty bucket %s: %v", bucket, err)
				return
			}
			for _, e := range out.Errors {
				t.Errorf("empty bucket %s: delete %q: %s %s", bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
	}
	ups, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &bucket})
	if err == nil && len(ups.Uploads) > 0 {
		t.Errorf("bucket %s: %d multipart uploads left behind", bucket, len(ups.Uploads))
		for _, u := range ups.Uploads {
			_, _ = c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	if _, err := c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Errorf("delete bucket %s: %v", bucket, err)
	}
}

func newStore(t testing.TB, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// versitygw's posix backend keeps objects as files, so "a/b" cannot be a file and a directory:
// a limit of the test server, not of S3.
var posixServer = blobtest.Unsupported("List/NameIsAlsoADirectory",
	"the test server (versitygw, posix backend) cannot hold both a/b and a/b/c")

func TestConformance(t *testing.T) {
	c := client(t)
	t.Run("BucketPerCase", func(t *testing.T) {
		// The smallest part size, so that LargeStreamed (8 MiB) is a multipart upload.
		blobtest.Run(t, func(t *testing.T) blob.Store {
			return newStore(t, s3.Config{Client: c, Bucket: newBucket(t, c), PartSize: s3.MinPartSize})
		}, posixServer)
	})
	t.Run("PrefixPerCase", func(t *testing.T) {
		bucket := newBucket(t, c)
		blobtest.Run(t, func(t *testing.T) blob.Store {
			return newStore(t, s3.Config{Client: c, Bucket: bucket, Prefix: randomName("run-")})
		}, posixServer)
	})
}

func TestNewValidatesConfig(t *testing.T) {
	c := awss3.New(awss3.Options{Region: "us-east-1"})
	for _, cfg := range []s3.Config{
		{Bucket: "b"},
		{Client: c},
		{Client: c, Bucket: "b", PartSize: 1 << 20},
		{Client: c, Bucket: "b", MaxSize: -1},
		{Client: c, Bucket: "b", Events: &blobtest.Recorder{}},
	} {
		if _, err := s3.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestMissingBucket(t *testing.T) {
	c := client(t)
	s, err := s3.New(s3.Config{Client: c, Bucket: randomName("orca-missing-")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err == nil {
		t.Fatal("Check of a missing bucket succeeded")
	}
	_, err = s.Put(t.Context(), "cont", "x", strings.NewReader("x"), "")
	if err == nil || errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Put to a missing bucket: %v, want an error naming the bucket", err)
	}
}

// Puts emit BlobCreated once the object is written, with the content of small blobs; a put
// whose emission fails fails (the blob stays written, and the caller retries).
func TestEventsAfterThePut(t *testing.T) {
	c := client(t)
	rec := &blobtest.Recorder{}
	s := newStore(t, s3.Config{Client: c, Bucket: newBucket(t, c), Events: rec, Store: rec, PartSize: s3.MinPartSize})
	small, err := s.Put(t.Context(), "out", "small.json", strings.NewReader(`{"result":1}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	large, err := s.Put(t.Context(), "out", "large.bin", bytes.NewReader(make([]byte, 6<<20)), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Infos) != 2 || len(rec.Published) != 2 || rec.After.Load() != 2 {
		t.Fatalf("events built %d, published %d, after run %d; want 2 each", len(rec.Infos), len(rec.Published), rec.After.Load())
	}
	for i, want := range []*blob.Info{small, large} {
		if rec.Infos[i] != *want {
			t.Errorf("event %d for %+v, want %+v (what Put returned)", i, rec.Infos[i], *want)
		}
		if d := rec.Published[i].Effects.Deliveries; len(d) != 1 || d[0].EventID != "ev-"+want.ETag {
			t.Errorf("published effects %+v, want the event's", rec.Published[i].Effects)
		}
		if rec.Published[i].EventID == "" || time.Until(rec.Published[i].SeenUntil) < time.Hour {
			t.Errorf("published with id %q until %v", rec.Published[i].EventID, rec.Published[i].SeenUntil)
		}
	}
	if string(rec.Content[0]) != `{"result":1}` || rec.Content[1] != nil {
		t.Errorf("event content = %q, %d bytes; want the small blob's, then none", rec.Content[0], len(rec.Content[1]))
	}

	boom := errors.New("store down")
	rec.SetFail(boom)
	if _, err := s.Put(t.Context(), "out", "unannounced", strings.NewReader("x"), ""); !errors.Is(err, boom) {
		t.Fatalf("Put whose event cannot be written: %v, want the store's error", err)
	}
	if rec.After.Load() != 2 {
		t.Fatal("after ran for an event that was not written")
	}
}

func TestMaxSize(t *testing.T) {
	c := client(t)
	s := newStore(t, s3.Config{Client: c, Bucket: newBucket(t, c), PartSize: s3.MinPartSize, MaxSize: 6 << 20})
	for _, size := range []int{6<<20 + 1, 11 << 20} {
		_, err := s.Put(t.Context(), "cont", "big", bytes.NewReader(make([]byte, size)), "")
		if !errors.Is(err, blob.ErrTooLarge) {
			t.Fatalf("Put of %d bytes: %v, want ErrTooLarge", size, err)
		}
	}
	if _, err := s.Head(t.Context(), "cont", "big"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head after too large puts: %v", err)
	}
	if _, err := s.Put(t.Context(), "cont", "big", bytes.NewReader(make([]byte, 6<<20)), ""); err != nil {
		t.Fatal(err)
	}
}

// Objects put by other tools are described from S3's own ETag and Last-Modified.
func TestForeignObject(t *testing.T) {
	c := client(t)
	bucket := newBucket(t, c)
	if _, err := c.PutObject(t.Context(), &awss3.PutObjectInput{Bucket: &bucket, Key: aws.String("pre/cont/x"),
		Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, s3.Config{Client: c, Bucket: bucket, Prefix: "pre"})
	info, err := s.Head(t.Context(), "cont", "x")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 5 || info.ContentType == "" || info.ETag != `"5d41402abc4b2a76b9719d911017c592"` || time.Since(info.CreatedAt) > time.Minute {
		t.Fatalf("Head = %+v", info)
	}
}

// Names are kept exactly up to S3's key length limit; longer keys are invalid names.
func TestKeyLength(t *testing.T) {
	c := client(t)
	s := newStore(t, s3.Config{Client: c, Bucket: newBucket(t, c), Prefix: "p"})
	// Segments of 200 bytes: filesystem-backed servers (versitygw) keep 255 bytes at most.
	fits := strings.Repeat(strings.Repeat("é", 99)+"/", 5)
	fits += strings.Repeat("x", s3.MaxKeyLength-len("p/cont/")-len(fits))
	for _, name := range []string{fits, "\U0010FFFF/max-code-point", "with space/and+plus/and%percent/and?query#hash"} {
		if _, err := s.Put(t.Context(), "cont", name, strings.NewReader(name), ""); err != nil {
			t.Fatalf("Put(%q): %v", name, err)
		}
		if got, _, err := blob.ReadAll(t.Context(), s, "cont", name); err != nil || string(got) != name {
			t.Fatalf("Get(%q) = %q, %v", name, got, err)
		}
	}
	if _, err := s.Put(t.Context(), "cont", fits+"x", strings.NewReader("x"), ""); !errors.Is(err, blob.ErrInvalidName) {
		t.Fatalf("Put of a name one byte too long: %v, want ErrInvalidName", err)
	}
}
