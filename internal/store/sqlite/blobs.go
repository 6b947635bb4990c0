package sqlite

import (
	"context"
	"errors"

	"github.com/orcahq/orca/internal/store"
)

var errBlobsTODO = errors.New("sqlite blobs: not implemented yet")

// BlobPut writes a blob (see store.ComputeBackend).
func (b *Backend) BlobPut(ctx context.Context, p *store.BlobPutParams) (*store.BlobInfo, error) {
	return nil, errBlobsTODO
}

// BlobGet returns a blob (see store.ComputeBackend).
func (b *Backend) BlobGet(ctx context.Context, container, name string) (*store.BlobInfo, []byte, error) {
	return nil, nil, errBlobsTODO
}

// BlobHead describes a blob (see store.ComputeBackend).
func (b *Backend) BlobHead(ctx context.Context, container, name string) (*store.BlobInfo, error) {
	return nil, errBlobsTODO
}

// BlobDelete deletes a blob (see store.ComputeBackend).
func (b *Backend) BlobDelete(ctx context.Context, container, name string) (*store.BlobInfo, error) {
	return nil, errBlobsTODO
}

// BlobList pages through blobs (see store.ComputeBackend).
func (b *Backend) BlobList(ctx context.Context, p *store.BlobListParams) (*store.BlobPage, error) {
	return nil, errBlobsTODO
}
