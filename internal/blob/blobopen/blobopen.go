// Package blobopen opens a blob store from a URL, choosing the backend by the URL's scheme from
// one table:
//
//	file:///var/lib/orca/blobs     embedded: rows in orca's store, large blobs in files under
//	file:blobs                     the directory (absolute, or relative to the working directory)
//	s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path_style=true|false&prefix=PREFIX]
//	azblob://ACCOUNT[?endpoint=URL]
//	azblob://                      the account of $AZURE_STORAGE_CONNECTION_STRING
//
// Credentials never appear in URLs (a URL with user info is refused), since URLs end up in
// config files, logs and process listings. S3 takes them from the AWS SDK's default chain:
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE and the shared files,
// web identity (EKS service accounts), ECS and EC2 instance roles; the region from region=, else
// AWS_REGION, else us-east-1. path_style defaults to true when endpoint is set (S3-compatible
// servers) and false otherwise (AWS). Azure takes the account key from AZURE_STORAGE_KEY, or
// everything from the connection string in AZURE_STORAGE_CONNECTION_STRING (Azurite's included);
// endpoint defaults to https://ACCOUNT.blob.core.windows.net/.
package blobopen

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/azblob"
	"github.com/orcahq/orca/internal/blob/embedded"
	"github.com/orcahq/orca/internal/blob/s3"
	"github.com/orcahq/orca/internal/store"
)

// Deps are what the backends need besides their URL.
type Deps struct {
	// Store is orca's store: the embedded backend keeps its blobs there, and the others publish
	// the effects of BlobCreated to it (required).
	Store store.ComputeBackend
	// Events builds BlobCreated for every put; nil emits none.
	Events blob.Events
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
	// Shared says other processes share Store (PostgreSQL): a file:// directory is then shared
	// too, and its orphan sweep spares young files (see embedded.Config.Shared).
	Shared bool
}

// opener opens the store of one scheme.
type opener func(ctx context.Context, u *url.URL, d Deps) (blob.Store, error)

// The query parameters each scheme takes.
var (
	s3Params    = []string{"endpoint", "region", "path_style", "prefix"}
	azureParams = []string{"endpoint"}
)

// schemes is the table of backends.
var schemes = map[string]opener{
	"file":   openFile,
	"s3":     openS3,
	"azblob": openAzure,
}

// Check validates rawURL's form without opening anything: the scheme, no credentials, and the
// parameters the scheme takes. Open may still fail (a missing bucket, missing credentials).
func Check(rawURL string) error {
	u, err := parse(rawURL)
	if err != nil {
		return err
	}
	allowed := map[string][]string{"file": nil, "s3": s3Params, "azblob": azureParams}[u.Scheme]
	if _, err := query(u, allowed...); err != nil {
		return fmt.Errorf("blob store %q: %w", redact(u), err)
	}
	return nil
}

// parse parses rawURL and checks its scheme and that it carries no credentials.
func parse(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error quotes the URL; it holds no secrets (user info is refused below anyway).
		return nil, fmt.Errorf("blob store: %w", err)
	}
	if _, ok := schemes[u.Scheme]; !ok {
		names := make([]string, 0, len(schemes))
		for n := range schemes {
			names = append(names, n+"://")
		}
		slices.Sort(names)
		return nil, fmt.Errorf("blob store %q: unknown scheme %q; want one of %s", redact(u), u.Scheme, strings.Join(names, ", "))
	}
	if u.User != nil {
		return nil, fmt.Errorf("blob store %q: credentials in the URL are not accepted; use the environment (see the docs of the %s backend)",
			redact(u), u.Scheme)
	}
	return u, nil
}

// Open returns the blob store rawURL names (see the package comment for the forms).
func Open(ctx context.Context, rawURL string, d Deps) (blob.Store, error) {
	if d.Store == nil {
		return nil, errors.New("open blob store: a store is required")
	}
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	u, err := parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open %w", err)
	}
	open := schemes[u.Scheme]
	s, err := open(ctx, u, d)
	if err != nil {
		return nil, fmt.Errorf("open blob store %q: %w", redact(u), err)
	}
	return s, nil
}

// redact drops user info from a URL for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// query returns the URL's query parameters, refusing any not in allowed and any repeated.
func query(u *url.URL, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range u.Query() {
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("unknown parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(v) != 1 {
			return nil, fmt.Errorf("parameter %q is given %d times", k, len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

func openFile(_ context.Context, u *url.URL, d Deps) (blob.Store, error) {
	if _, err := query(u); err != nil {
		return nil, err
	}
	dir := u.Opaque // file:relative/dir
	if dir == "" {
		switch u.Host {
		case "", "localhost":
			dir = u.Path // file:///abs/dir
		default:
			dir = u.Host + u.Path // file://./dir, file://data/blobs: relative
		}
	}
	if dir == "" {
		return nil, errors.New("a directory is required: file:///absolute/dir or file:relative/dir")
	}
	return embedded.New(embedded.Config{Store: d.Store, Dir: filepath.FromSlash(dir), Events: d.Events, Shared: d.Shared})
}

func openS3(ctx context.Context, u *url.URL, d Deps) (blob.Store, error) {
	q, err := query(u, s3Params...)
	if err != nil {
		return nil, err
	}
	if u.Host == "" {
		return nil, errors.New("a bucket is required: s3://BUCKET[/PREFIX]")
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if p, ok := q["prefix"]; ok {
		if prefix != "" {
			return nil, errors.New("give the key prefix as the path or as prefix=, not both")
		}
		prefix = p
	}
	cc := s3.ClientConfig{Endpoint: q["endpoint"], Region: q["region"], PathStyle: q["endpoint"] != ""}
	if cc.Endpoint != "" {
		if e, err := url.Parse(cc.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return nil, fmt.Errorf("endpoint %q is not an http:// or https:// URL", cc.Endpoint)
		}
	}
	if v, ok := q["path_style"]; ok {
		if cc.PathStyle, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("path_style %q is not true or false", v)
		}
	}
	c, err := s3.NewClient(ctx, cc)
	if err != nil {
		return nil, err
	}
	return s3.New(s3.Config{Client: c, Bucket: u.Host, Prefix: prefix, Events: d.Events, Store: d.Store})
}

func openAzure(_ context.Context, u *url.URL, d Deps) (blob.Store, error) {
	q, err := query(u, azureParams...)
	if err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("azblob URLs name an account, not a path: azblob://ACCOUNT; orca's containers are the account's")
	}
	var cc azblob.ClientConfig
	if u.Host == "" {
		if _, ok := q["endpoint"]; ok {
			return nil, errors.New("endpoint= needs an account: azblob://ACCOUNT?endpoint=URL")
		}
		if cc.ConnectionString = d.Getenv("AZURE_STORAGE_CONNECTION_STRING"); cc.ConnectionString == "" {
			return nil, errors.New("azblob:// without an account needs AZURE_STORAGE_CONNECTION_STRING")
		}
	} else {
		cc.Account, cc.Endpoint = u.Host, q["endpoint"]
		if cc.Key = d.Getenv("AZURE_STORAGE_KEY"); cc.Key == "" {
			return nil, fmt.Errorf("azblob://%s needs the account key in AZURE_STORAGE_KEY (or use azblob:// with AZURE_STORAGE_CONNECTION_STRING)", u.Host)
		}
	}
	c, err := azblob.NewClient(cc)
	if err != nil {
		return nil, err
	}
	return azblob.New(azblob.Config{Client: c, Events: d.Events, Store: d.Store})
}
