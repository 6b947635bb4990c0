package blobopen_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/azblob"
	"github.com/orcahq/orca/internal/blob/blobopen"
	"github.com/orcahq/orca/internal/blob/embedded"
	"github.com/orcahq/orca/internal/blob/s3"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
	"github.com/orcahq/orca/internal/testenv"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestBadURLs(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	for _, c := range []struct{ url, want string }{
		{"", "unknown scheme"},
		{"gs://bucket", `unknown scheme "gs"; want one of azblob://, file://, s3://`},
		{"file://", "a directory is required"},
		{"file:///x?y=1", `unknown parameter "y"`},
		{"s3://", "a bucket is required"},
		{"s3://key:secret@bucket", "credentials in the URL are not accepted"},
		{"s3://bucket?endpoint=127.0.0.1:9000", "is not an http:// or https:// URL"},
		{"s3://bucket?path_style=maybe&endpoint=http://h", "path_style"},
		{"s3://bucket/p?prefix=q", "not both"},
		{"s3://bucket?region=a&region=b", "given 2 times"},
		{"s3://bucket?acl=public", `unknown parameter "acl"`},
		{"azblob://", "AZURE_STORAGE_CONNECTION_STRING"},
		{"azblob://acct", "AZURE_STORAGE_KEY"},
		{"azblob://acct/container", "not a path"},
		{"azblob://?endpoint=http://h", "needs an account"},
		{"azblob://user:key@acct", "credentials in the URL are not accepted"},
		{"%zz", "invalid URL escape"},
	} {
		_, err := blobopen.Open(t.Context(), c.url, blobopen.Deps{Store: st, Getenv: env(nil)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) error = %v, want one containing %q", c.url, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") || err != nil && strings.Contains(err.Error(), "key@") {
			t.Errorf("Open(%q) error %q shows the credentials", c.url, err)
		}
	}
	if _, err := blobopen.Open(t.Context(), "file:///x", blobopen.Deps{}); err == nil {
		t.Error("Open without a store succeeded")
	}
	_, err := blobopen.Open(t.Context(), "azblob://", blobopen.Deps{Store: st,
		Getenv: env(map[string]string{"AZURE_STORAGE_CONNECTION_STRING": "AccountKey=secret;junk"})})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open with a bad connection string: %v; want an error that does not quote it", err)
	}
}

func roundTrip(t *testing.T, s blob.Store, container string) {
	t.Helper()
	if _, err := s.Put(t.Context(), container, "a/b.json", strings.NewReader(`{}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	got, info, err := blob.ReadAll(t.Context(), s, container, "a/b.json")
	if err != nil || string(got) != "{}" || info.ContentType != "application/json" {
		t.Fatalf("ReadAll = %q, %+v, %v", got, info, err)
	}
	if err := s.Delete(t.Context(), container, "a/b.json"); err != nil {
		t.Fatal(err)
	}
}

func TestFile(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	dir := t.TempDir()
	t.Chdir(dir)
	for _, u := range []string{"file://" + filepath.ToSlash(filepath.Join(dir, "abs")), "file:rel/blobs", "file://./dot"} {
		s, err := blobopen.Open(t.Context(), u, blobopen.Deps{Store: st})
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if _, ok := s.(*embedded.Store); !ok {
			t.Fatalf("Open(%q) = %T", u, s)
		}
		roundTrip(t, s, "cont")
	}
	for _, d := range []string{"abs", "rel/blobs", "dot"} {
		if _, err := os.Stat(filepath.Join(dir, d, "data")); err != nil {
			t.Errorf("no store under %s: %v", d, err)
		}
	}
}

func TestS3(t *testing.T) {
	e := testenv.Service(t, "s3.sh", "ORCA_TEST_S3_ENDPOINT", "ORCA_TEST_S3_ACCESS_KEY", "ORCA_TEST_S3_SECRET_KEY")
	t.Setenv("AWS_ACCESS_KEY_ID", e[1])
	t.Setenv("AWS_SECRET_ACCESS_KEY", e[2])
	c, err := s3.NewClient(t.Context(), s3.ClientConfig{Endpoint: e[0], PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	bucket := "orca-test-" + hex.EncodeToString(b[:])
	if _, err := c.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.DeleteBucket(context.Background(), &awss3.DeleteBucketInput{Bucket: &bucket}) })
	s, err := blobopen.Open(t.Context(), "s3://"+bucket+"/orca?region=us-east-1&endpoint="+e[0], blobopen.Deps{Store: sqlitetest.Open(t, sqlite.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, s, "cont")
}

func TestAzure(t *testing.T) {
	endpoint := testenv.Service(t, "azurite.sh", "ORCA_TEST_AZURITE_BLOB")[0]
	var b [6]byte
	_, _ = rand.Read(b[:])
	container := "orca-test-" + hex.EncodeToString(b[:])
	cs := azurite.ConnectionString(endpoint, "")
	for _, c := range []struct {
		url string
		env map[string]string
	}{
		{"azblob://", map[string]string{"AZURE_STORAGE_CONNECTION_STRING": cs}},
		{"azblob://" + azurite.Account + "?endpoint=" + endpoint, map[string]string{"AZURE_STORAGE_KEY": azurite.Key}},
	} {
		s, err := blobopen.Open(t.Context(), c.url, blobopen.Deps{Store: sqlitetest.Open(t, sqlite.Config{}), Getenv: env(c.env)})
		if err != nil {
			t.Fatalf("Open(%q): %v", c.url, err)
		}
		if _, ok := s.(*azblob.Store); !ok {
			t.Fatalf("Open(%q) = %T", c.url, s)
		}
		roundTrip(t, s, container)
	}
	c, _ := azblob.NewClient(azblob.ClientConfig{ConnectionString: cs})
	_, _ = c.DeleteContainer(context.Background(), container, nil)
}
