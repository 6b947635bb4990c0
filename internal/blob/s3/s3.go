// Package s3 is the blob backend on an S3-compatible object store (AWS S3, versitygw, MinIO,
// Ceph, ...), through the AWS SDK for Go v2.
//
// All of orca's containers live in one configured bucket: blob container/name is the object
// Prefix + container + "/" + name. One bucket per container would need orca to create buckets
// (a permission deployments rarely grant), and bucket names are global across all AWS accounts,
// so "input" or "output" would collide; with one bucket an operator scopes orca's IAM policy to
// it and several deployments share a bucket under different prefixes.
//
// A put is atomic per object as S3 makes it: content up to PartSize is one PutObject; larger
// content is a multipart upload that becomes visible only when it completes, and is aborted
// when reading the content or uploading a part fails. orca's ETag (a new random value per put,
// where S3's is the content's MD5 and repeats) and creation time travel in the object's user
// metadata; objects put by other tools fall back to S3's ETag and Last-Modified.
//
// BlobCreated is emitted after the object is written and before Put returns (blob.Emitter says
// why that keeps orca's guarantee). S3 listings carry neither the content type nor user
// metadata, so List reads each entry's description with a HEAD request (concurrently).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/orcahq/orca/internal/blob"
)

const (
	// DefaultPartSize is the size of a multipart upload's parts, and the largest content put
	// with a single PutObject. A put holds one part in memory.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's smallest part (but the last).
	MinPartSize = 5 << 20
	// DefaultMaxSize is the largest blob by default (5 GiB, as the other backends).
	DefaultMaxSize = blob.DefaultMaxSize
	// MaxKeyLength is S3's longest key in bytes. Prefix + container + "/" + name must fit, so
	// the longest orca names (blob.MaxNameLength) do not: they are refused with
	// blob.ErrInvalidName, a declared difference from the other backends.
	MaxKeyLength = 1024
	// headConcurrency bounds the HEAD requests one List sends at once.
	headConcurrency = 16

	metaETag    = "orca-etag"
	metaCreated = "orca-created"
)

// Config configures a Store.
type Config struct {
	// Client is the S3 client (required); see NewClient.
	Client *awss3.Client
	// Bucket holds every container (required). It must exist.
	Bucket string
	// Prefix is put before every key ("" or, say, "orca/"); a "/" is added when it lacks one.
	Prefix string
	// Events and Store emit BlobCreated after every put; a nil Events emits nothing.
	Events blob.Events
	Store  blob.Publisher
	// PartSize is the size of multipart upload parts (0: DefaultPartSize; at least MinPartSize).
	PartSize int64
	// MaxSize is the largest blob; a larger put fails with blob.ErrTooLarge and leaves nothing
	// behind. 0 means DefaultMaxSize.
	MaxSize int64
	// Clock gives blobs their creation time (default time.Now).
	Clock func() time.Time
}

// Store is the S3 blob store. It is safe for concurrent use.
type Store struct {
	c        *awss3.Client
	bucket   string
	prefix   string
	emit     blob.Emitter
	partSize int64
	maxSize  int64
	clock    func() time.Time
}

var _ blob.Store = (*Store)(nil)

// New returns a Store on cfg. It does not contact the server; Check does.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("s3 blob store: Client is required")
	case cfg.Bucket == "":
		return nil, errors.New("s3 blob store: Bucket is required")
	case cfg.PartSize != 0 && cfg.PartSize < MinPartSize:
		return nil, fmt.Errorf("s3 blob store: PartSize must be at least %d bytes, got %d", MinPartSize, cfg.PartSize)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	var err error
	if cfg.MaxSize, err = blob.MaxSize(cfg.MaxSize); err != nil {
		return nil, fmt.Errorf("s3 blob store: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	emit := blob.Emitter{Events: cfg.Events, Store: cfg.Store, Clock: cfg.Clock}
	if err := emit.Validate(); err != nil {
		return nil, fmt.Errorf("s3 blob store: %w", err)
	}
	return &Store{c: cfg.Client, bucket: cfg.Bucket, prefix: cfg.Prefix, emit: emit, partSize: cfg.PartSize,
		maxSize: cfg.MaxSize, clock: cfg.Clock}, nil
}

// Check verifies that the bucket exists and the credentials can reach it.
func (s *Store) Check(ctx context.Context) error {
	if _, err := s.c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("s3 blob store: bucket %s: %w", s.bucket, err)
	}
	return nil
}

func (s *Store) key(container, name string) string { return s.prefix + container + "/" + name }

// MaxNameLength returns the longest name container can hold (see blob.NameLimiter): S3's key
// limit less the prefix, the container and the slash.
func (s *Store) MaxNameLength(container string) int { return MaxKeyLength - len(s.key(container, "")) }

// validate checks a container and blob name, and that their key fits in S3.
func (s *Store) validate(container, name string) error {
	if err := blob.Validate(container, name); err != nil {
		return err
	}
	if n := len(s.key(container, name)); n > MaxKeyLength {
		return fmt.Errorf("blob name %q: its S3 key would be %d bytes, longer than S3's %d: %w", name, n, MaxKeyLength, blob.ErrInvalidName)
	}
	return nil
}

// Put writes a blob (see blob.Store): one PutObject when the content fits in a part, else a
// multipart upload; then it emits BlobCreated.
func (s *Store) Put(ctx context.Context, container, name string, content io.Reader, contentType string) (*blob.Info, error) {
	if err := s.validate(container, name); err != nil {
		return nil, fmt.Errorf("put blob: %w", err)
	}
	if contentType == "" {
		contentType = blob.DefaultContentType
	}
	chunks := blob.NewChunks(ctx, content, s.partSize, s.maxSize)
	first, last, err := chunks.Next()
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: %w", container, name, err)
	}
	info := &blob.Info{Container: container, Name: name, ContentType: contentType, ETag: blob.NewETag(),
		CreatedAt: s.clock().Round(0).UTC()}
	var small []byte
	if last {
		err, small = s.putObject(ctx, info, first), first
	} else {
		err = s.putMultipart(ctx, info, first, chunks)
	}
	if err != nil {
		return nil, err
	}
	info.Size = chunks.Size()
	if err := s.emit.Created(ctx, info, small); err != nil {
		return nil, err
	}
	return info, nil
}

func (s *Store) metadata(info *blob.Info) map[string]string {
	return map[string]string{metaETag: info.ETag, metaCreated: info.CreatedAt.Format(time.RFC3339Nano)}
}

func (s *Store) putObject(ctx context.Context, info *blob.Info, data []byte) error {
	_, err := s.c.PutObject(ctx, &awss3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(info.Container, info.Name)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))), ContentType: &info.ContentType,
		Metadata: s.metadata(info)})
	if err != nil {
		return s.mapError(err, "put", info.Container, info.Name)
	}
	return nil
}

// putMultipart uploads first and the rest of chunks as the parts of a multipart upload and
// completes it; on any failure it aborts the upload, so nothing becomes visible.
func (s *Store) putMultipart(ctx context.Context, info *blob.Info, first []byte, chunks *blob.Chunks) (err error) {
	key := s.key(info.Container, info.Name)
	up, err := s.c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key,
		ContentType: &info.ContentType, Metadata: s.metadata(info)})
	if err != nil {
		return s.mapError(err, "put", info.Container, info.Name)
	}
	defer func() {
		if err != nil {
			// Abort even when ctx is cancelled; the parts would otherwise cost storage until a
			// lifecycle rule removes them.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_, _ = s.c.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	for data, last := first, false; ; {
		num := int32(len(parts) + 1)
		out, err := s.c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: &s.bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: &num, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
		if err != nil {
			return s.mapError(err, "put", info.Container, info.Name)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: &num})
		if last {
			break
		}
		if data, last, err = chunks.Next(); err != nil {
			return fmt.Errorf("put blob %s/%s: %w", info.Container, info.Name, err)
		}
	}
	_, err = s.c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: &s.bucket, Key: &key,
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return s.mapError(err, "put", info.Container, info.Name)
	}
	return nil
}

// Get opens a blob (see blob.Store).
func (s *Store) Get(ctx context.Context, container, name string) (io.ReadCloser, *blob.Info, error) {
	if err := s.validate(container, name); err != nil {
		return nil, nil, fmt.Errorf("get blob: %w", err)
	}
	out, err := s.c.GetObject(ctx, &awss3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(container, name))})
	if err != nil {
		return nil, nil, s.mapError(err, "get", container, name)
	}
	return out.Body, s.info(container, name, out.ContentLength, out.ContentType, out.ETag, out.LastModified, out.Metadata), nil
}

// Head describes a blob (see blob.Store).
func (s *Store) Head(ctx context.Context, container, name string) (*blob.Info, error) {
	if err := s.validate(container, name); err != nil {
		return nil, fmt.Errorf("head blob: %w", err)
	}
	return s.head(ctx, container, name)
}

func (s *Store) head(ctx context.Context, container, name string) (*blob.Info, error) {
	out, err := s.c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(container, name))})
	if err != nil {
		return nil, s.mapError(err, "head", container, name)
	}
	return s.info(container, name, out.ContentLength, out.ContentType, out.ETag, out.LastModified, out.Metadata), nil
}

func (s *Store) info(container, name string, size *int64, contentType, etag *string, modified *time.Time, meta map[string]string) *blob.Info {
	i := &blob.Info{Container: container, Name: name, Size: aws.ToInt64(size), ContentType: aws.ToString(contentType),
		ETag: aws.ToString(etag), CreatedAt: aws.ToTime(modified).UTC()}
	for k, v := range meta {
		switch strings.ToLower(k) {
		case metaETag:
			i.ETag = v
		case metaCreated:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				i.CreatedAt = t.UTC()
			}
		}
	}
	if !strings.HasPrefix(i.ETag, `"`) {
		i.ETag = `"` + i.ETag + `"`
	}
	if i.ContentType == "" {
		i.ContentType = blob.DefaultContentType
	}
	return i
}

// Delete deletes a blob (see blob.Store). S3 deletes succeed whether or not the object exists,
// so Delete asks first; two concurrent deletes of one blob may both succeed.
func (s *Store) Delete(ctx context.Context, container, name string) error {
	if err := s.validate(container, name); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	if _, err := s.head(ctx, container, name); err != nil {
		return err
	}
	if _, err := s.c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(container, name))}); err != nil {
		return s.mapError(err, "delete", container, name)
	}
	return nil
}

// List pages through a container's blobs in name order (see blob.Store). S3 lists keys in
// UTF-8 byte order, which is orca's name order.
func (s *Store) List(ctx context.Context, container string, opts blob.ListOptions) (*blob.Page, error) {
	opts, err := blob.PrepareList(container, opts)
	if err != nil {
		return nil, err
	}
	for {
		names, next, err := s.listNames(ctx, container, opts)
		if err != nil {
			return nil, err
		}
		infos, err := s.heads(ctx, container, names)
		if err != nil {
			return nil, err
		}
		// Blobs deleted since the listing are left out; a page emptied that way is skipped.
		if len(infos) > 0 || next == "" {
			return &blob.Page{Blobs: infos, Next: next}, nil
		}
		opts.Marker = next
	}
}

// listNames lists up to opts.Limit names after opts.Marker; next is the last of them when more
// follow.
func (s *Store) listNames(ctx context.Context, container string, opts blob.ListOptions) (names []string, next string, err error) {
	base := s.key(container, "")
	in := &awss3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(base + opts.Prefix)}
	if opts.Marker != "" {
		in.StartAfter = aws.String(base + opts.Marker)
	}
	for {
		in.MaxKeys = aws.Int32(int32(min(opts.Limit-len(names), 1000)))
		out, err := s.c.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, "", s.mapError(err, "list", container, "")
		}
		for _, o := range out.Contents {
			names = append(names, strings.TrimPrefix(aws.ToString(o.Key), base))
		}
		if !aws.ToBool(out.IsTruncated) {
			return names, "", nil
		}
		if len(names) >= opts.Limit {
			return names, names[len(names)-1], nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}

// heads describes the named blobs, in order, leaving out those deleted meanwhile.
func (s *Store) heads(ctx context.Context, container string, names []string) ([]*blob.Info, error) {
	infos := make([]*blob.Info, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, headConcurrency)
	var wg sync.WaitGroup
	for i, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			infos[i], errs[i] = s.head(ctx, container, name)
		})
	}
	wg.Wait()
	out := infos[:0]
	for i, info := range infos {
		switch {
		case errors.Is(errs[i], blob.ErrNotFound):
		case errs[i] != nil:
			return nil, errs[i]
		default:
			out = append(out, info)
		}
	}
	return out, nil
}

// mapError maps S3's not-found responses onto blob.ErrNotFound and names the blob. A missing
// bucket is a configuration error, not a missing blob.
func (s *Store) mapError(err error, op, container, name string) error {
	what := container + "/" + name
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchBucket":
			return fmt.Errorf("%s blob %s: bucket %s does not exist: %w", op, what, s.bucket, err)
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s blob %s: %w", op, what, blob.ErrNotFound)
		case "KeyTooLongError":
			return fmt.Errorf("%s blob %s: the key is too long for S3: %w", op, what, blob.ErrInvalidName)
		case "ObjectParentIsFile", "ExistingObjectIsDirectory", "XMinioParentIsObject", "XMinioObjectExistsAsDirectory":
			// Filesystem-backed servers (versitygw posix, MinIO) keep "a/b" and "a/b/c" as a
			// file and a directory and cannot hold both; AWS S3 can.
			return fmt.Errorf("%s blob %s: this S3 server cannot hold a blob whose name is a path prefix of another's: %w", op, what, err)
		case "EntityTooLarge":
			return fmt.Errorf("%s blob %s: %w", op, what, blob.ErrTooLarge)
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() == http.StatusNotFound && op != "list" {
		return fmt.Errorf("%s blob %s: %w", op, what, blob.ErrNotFound)
	}
	return fmt.Errorf("%s blob %s: %w", op, what, err)
}
