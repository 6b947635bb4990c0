// Package azblob is the blob backend on Azure Blob Storage (and Azurite), through the official
// SDK (github.com/Azure/azure-sdk-for-go/sdk/storage/azblob).
//
// An orca container is the Azure container of the same name (orca's container rules are
// Azure's), so a deployment pointed at the seeds' storage account reads and writes the seeds'
// containers unchanged. Containers are created on the first put into them.
//
// A put is atomic as Azure makes it: content up to BlockSize is one Put Blob; larger content is
// staged as blocks (invisible, and discarded by Azure if never committed) and made visible at
// once by Put Block List. Azure gives every write a new ETag and its Last-Modified time, which
// are the blob's ETag and creation time (whole seconds).
//
// BlobCreated is emitted after the put and before Put returns (blob.Emitter says why that keeps
// orca's guarantee).
package azblob

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azb "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	azcontainer "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/orcahq/orca/internal/blob"
)

const (
	// DefaultBlockSize is the size of staged blocks, and the largest content put with a single
	// Put Blob. A put holds one block in memory.
	DefaultBlockSize = 8 << 20
	// DefaultMaxSize is the largest blob by default (5 GiB, as the other backends).
	DefaultMaxSize = blob.DefaultMaxSize
)

// Config configures a Store.
type Config struct {
	// Client is the service client (required); see NewClient.
	Client *azblob.Client
	// Events and Store emit BlobCreated after every put; a nil Events emits nothing.
	Events blob.Events
	Store  blob.Publisher
	// BlockSize is the size of staged blocks (0: DefaultBlockSize).
	BlockSize int64
	// MaxSize is the largest blob; a larger put fails with blob.ErrTooLarge and leaves nothing
	// behind. 0 means DefaultMaxSize.
	MaxSize int64
	// Clock is the time for the events' deduplication window (default time.Now).
	Clock func() time.Time
}

// Store is the Azure Blob store. It is safe for concurrent use.
type Store struct {
	c         *azblob.Client
	emit      blob.Emitter
	blockSize int64
	maxSize   int64
	created   sync.Map // containers known to exist
}

var _ blob.Store = (*Store)(nil)

// New returns a Store on cfg. It does not contact the service.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("azure blob store: Client is required")
	case cfg.BlockSize < 0 || cfg.BlockSize > 4000<<20:
		return nil, fmt.Errorf("azure blob store: BlockSize must be 0 to 4000 MiB, got %d", cfg.BlockSize)
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	var err error
	if cfg.MaxSize, err = blob.MaxSize(cfg.MaxSize); err != nil {
		return nil, fmt.Errorf("azure blob store: %w", err)
	}
	emit := blob.Emitter{Events: cfg.Events, Store: cfg.Store, Clock: cfg.Clock}
	if err := emit.Validate(); err != nil {
		return nil, fmt.Errorf("azure blob store: %w", err)
	}
	return &Store{c: cfg.Client, emit: emit, blockSize: cfg.BlockSize, maxSize: cfg.MaxSize}, nil
}

// Check verifies that the account answers and the credentials are accepted.
func (s *Store) Check(ctx context.Context) error {
	if _, err := s.c.ServiceClient().GetProperties(ctx, nil); err != nil {
		return fmt.Errorf("azure blob store: %w", err)
	}
	return nil
}

func (s *Store) blockBlob(container, name string) *blockblob.Client {
	return s.c.ServiceClient().NewContainerClient(container).NewBlockBlobClient(name)
}

// ensureContainer creates a container unless this store created or saw it before.
func (s *Store) ensureContainer(ctx context.Context, name string) error {
	if _, ok := s.created.Load(name); ok {
		return nil
	}
	_, err := s.c.CreateContainer(ctx, name, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return fmt.Errorf("create container %s: %w", name, err)
	}
	s.created.Store(name, struct{}{})
	return nil
}

// CreateContainers creates the containers that do not exist yet (see blob.ContainerCreator).
func (s *Store) CreateContainers(ctx context.Context, names ...string) error {
	for _, name := range names {
		if err := s.ensureContainer(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

var _ blob.ContainerCreator = (*Store)(nil)

// Put writes a blob (see blob.Store): one Put Blob when the content fits in a block, else staged
// blocks and one Put Block List; then it emits BlobCreated.
func (s *Store) Put(ctx context.Context, container, name string, content io.Reader, contentType string) (*blob.Info, error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, fmt.Errorf("put blob: %w", err)
	}
	if contentType == "" {
		contentType = blob.DefaultContentType
	}
	chunks := blob.NewChunks(ctx, content, s.blockSize, s.maxSize)
	first, last, err := chunks.Next()
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: %w", container, name, err)
	}
	if err := s.ensureContainer(ctx, container); err != nil {
		return nil, fmt.Errorf("put blob %s/%s: %w", container, name, err)
	}
	info := &blob.Info{Container: container, Name: name, ContentType: contentType}
	headers := &azb.HTTPHeaders{BlobContentType: &contentType}
	bb := s.blockBlob(container, name)
	var small []byte
	if last {
		resp, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(first)), &blockblob.UploadOptions{HTTPHeaders: headers})
		if err != nil {
			return nil, s.mapError(err, "put", container, name)
		}
		info.ETag, info.CreatedAt, small = etag(resp.ETag), modified(resp.LastModified), first
	} else {
		resp, err := s.putBlocks(ctx, bb, info, first, chunks, headers)
		if err != nil {
			return nil, err
		}
		info.ETag, info.CreatedAt = etag(resp.ETag), modified(resp.LastModified)
	}
	info.Size = chunks.Size()
	if err := s.emit.Created(ctx, info, small); err != nil {
		return nil, err
	}
	return info, nil
}

// putBlocks stages first and the rest of chunks as blocks and commits them. Blocks a failed put
// staged stay uncommitted, invisible, and are discarded by Azure (after a week, or at the
// blob's next successful put).
func (s *Store) putBlocks(ctx context.Context, bb *blockblob.Client, info *blob.Info, first []byte, chunks *blob.Chunks,
	headers *azb.HTTPHeaders) (blockblob.CommitBlockListResponse, error) {
	// Block ids are unique to this put (so that concurrent puts of the name do not mix blocks)
	// and of one length, as Azure requires.
	tag := strings.Trim(blob.NewETag(), `"`)
	var ids []string
	for data, last := first, false; ; {
		var seq [8]byte
		binary.BigEndian.PutUint64(seq[:], uint64(len(ids)))
		id := base64.StdEncoding.EncodeToString(append([]byte(tag), seq[:]...))
		if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(data)), nil); err != nil {
			return blockblob.CommitBlockListResponse{}, s.mapError(err, "put", info.Container, info.Name)
		}
		ids = append(ids, id)
		if last {
			break
		}
		var err error
		if data, last, err = chunks.Next(); err != nil {
			return blockblob.CommitBlockListResponse{}, fmt.Errorf("put blob %s/%s: %w", info.Container, info.Name, err)
		}
	}
	resp, err := bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{HTTPHeaders: headers})
	if err != nil {
		return resp, s.mapError(err, "put", info.Container, info.Name)
	}
	return resp, nil
}

// Get opens a blob (see blob.Store). A read that breaks is resumed from where it stopped, for
// the same version of the blob only (the SDK's retry reader, which checks the ETag).
func (s *Store) Get(ctx context.Context, container, name string) (io.ReadCloser, *blob.Info, error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, nil, fmt.Errorf("get blob: %w", err)
	}
	resp, err := s.blockBlob(container, name).DownloadStream(ctx, nil)
	if err != nil {
		return nil, nil, s.mapError(err, "get", container, name)
	}
	info := describe(container, name, resp.ContentLength, resp.ContentType, resp.ETag, resp.LastModified)
	return resp.NewRetryReader(ctx, nil), info, nil
}

// Head describes a blob (see blob.Store).
func (s *Store) Head(ctx context.Context, container, name string) (*blob.Info, error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, fmt.Errorf("head blob: %w", err)
	}
	resp, err := s.blockBlob(container, name).GetProperties(ctx, nil)
	if err != nil {
		return nil, s.mapError(err, "head", container, name)
	}
	return describe(container, name, resp.ContentLength, resp.ContentType, resp.ETag, resp.LastModified), nil
}

// Delete deletes a blob (see blob.Store).
func (s *Store) Delete(ctx context.Context, container, name string) error {
	if err := blob.Validate(container, name); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	if _, err := s.blockBlob(container, name).Delete(ctx, nil); err != nil {
		return s.mapError(err, "delete", container, name)
	}
	return nil
}

// List pages through a container's blobs in name order (see blob.Store). A missing container
// has no blobs. Listing continues after a name with Azure's startFrom (which is inclusive, so the
// marker itself is skipped).
func (s *Store) List(ctx context.Context, container string, opts blob.ListOptions) (*blob.Page, error) {
	opts, err := blob.PrepareList(container, opts)
	if err != nil {
		return nil, err
	}
	lo := &azcontainer.ListBlobsFlatOptions{Prefix: to.Ptr(opts.Prefix), MaxResults: to.Ptr(int32(min(opts.Limit+1, 5000)))}
	if opts.Marker != "" {
		lo.StartFrom = to.Ptr(opts.Marker)
	}
	pager := s.c.ServiceClient().NewContainerClient(container).NewListBlobsFlatPager(lo)
	page := &blob.Page{}
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return page, nil
		}
		if err != nil {
			return nil, s.mapError(err, "list", container, "")
		}
		for _, item := range resp.Segment.BlobItems {
			name := deref(item.Name)
			if name <= opts.Marker || !strings.HasPrefix(name, opts.Prefix) {
				continue
			}
			if len(page.Blobs) == opts.Limit {
				// One more than a page exists: the page is not the last.
				page.Next = page.Blobs[len(page.Blobs)-1].Name
				return page, nil
			}
			p := item.Properties
			page.Blobs = append(page.Blobs, describe(container, name, p.ContentLength, p.ContentType, p.ETag, p.LastModified))
		}
	}
	return page, nil
}

func describe(container, name string, size *int64, contentType *string, tag *azcore.ETag, lastModified *time.Time) *blob.Info {
	i := &blob.Info{Container: container, Name: name, Size: deref(size), ContentType: deref(contentType),
		ETag: etag(tag), CreatedAt: modified(lastModified)}
	if i.ContentType == "" {
		i.ContentType = blob.DefaultContentType
	}
	return i
}

// etag quotes Azure's ETag as HTTP does (listings return it bare).
func etag(e *azcore.ETag) string {
	s := string(deref(e))
	if !strings.HasPrefix(s, `"`) {
		s = `"` + s + `"`
	}
	return s
}

func modified(t *time.Time) time.Time { return deref(t).UTC() }

// mapError maps Azure's error codes onto orca's and names the blob.
func (s *Store) mapError(err error, op, container, name string) error {
	what := container + "/" + name
	switch {
	case bloberror.HasCode(err, bloberror.BlobNotFound, bloberror.ContainerNotFound):
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			s.created.Delete(container)
		}
		return fmt.Errorf("%s blob %s: %w", op, what, blob.ErrNotFound)
	case bloberror.HasCode(err, bloberror.InvalidResourceName, bloberror.OutOfRangeInput):
		return fmt.Errorf("%s blob %s: Azure refuses the name: %w", op, what, blob.ErrInvalidName)
	case bloberror.HasCode(err, bloberror.RequestBodyTooLarge):
		return fmt.Errorf("%s blob %s: %w", op, what, blob.ErrTooLarge)
	}
	return fmt.Errorf("%s blob %s: %w", op, what, err)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
