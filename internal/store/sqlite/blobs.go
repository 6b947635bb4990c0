package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

const blobColumns = sc.BlobColumns

var scanBlob = sc.ScanBlob

// BlobPut writes a blob and its effects in one transaction and returns the blob it replaced
// (see store.ComputeBackend).
func (b *Backend) BlobPut(ctx context.Context, p *store.BlobPutParams) (*store.BlobInfo, error) {
	if err := sc.CheckBlobPut(p); err != nil {
		return nil, err
	}
	in := &p.Info
	eff, err := sc.EncodeEffects(&p.Effects)
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: %w", in.Container, in.Name, err)
	}
	var data any = sc.InlineData(p)
	var filePath any
	if in.FilePath != "" {
		data, filePath = nil, in.FilePath
	}
	var replaced *store.BlobInfo
	err = b.write(ctx, func(tx *wtx) error {
		replaced = nil
		old, err := scanBlob(tx.queryRow(`DELETE FROM blobs WHERE container = ? AND name = ? RETURNING `+blobColumns,
			in.Container, in.Name).Scan)
		switch {
		case err == nil:
			replaced = old
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.exec(`INSERT INTO blobs (container, name, size, content_type, etag, created_at, file_path, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			in.Container, in.Name, in.Size, in.ContentType, in.ETag, nanos(in.CreatedAt), filePath, data); err != nil {
			return err
		}
		return writeEffects(tx, eff, in.CreatedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: %w", in.Container, in.Name, err)
	}
	return replaced, nil
}

// BlobGet returns a blob and its inline content, nil when the content lives in a file (see
// store.ComputeBackend). Inline content is never nil, also when it is empty.
func (b *Backend) BlobGet(ctx context.Context, container, name string) (*store.BlobInfo, []byte, error) {
	if err := b.acquireRead(); err != nil {
		return nil, nil, err
	}
	defer b.releaseRead()
	var data []byte
	bi, err := scanBlob(b.reads.QueryRowContext(ctx, `SELECT `+blobColumns+`, data FROM blobs WHERE container = ? AND name = ?`,
		container, name).Scan, &data)
	if err != nil {
		return nil, nil, blobReadError(container, name, err)
	}
	return bi, sc.InlineContent(bi, data), nil
}

// BlobHead returns a blob's description (see store.ComputeBackend).
func (b *Backend) BlobHead(ctx context.Context, container, name string) (*store.BlobInfo, error) {
	if err := b.acquireRead(); err != nil {
		return nil, err
	}
	defer b.releaseRead()
	bi, err := scanBlob(b.reads.QueryRowContext(ctx, `SELECT `+blobColumns+` FROM blobs WHERE container = ? AND name = ?`,
		container, name).Scan)
	if err != nil {
		return nil, blobReadError(container, name, err)
	}
	return bi, nil
}

func blobReadError(container, name string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("blob %s/%s: %w", container, name, store.ErrNotFound)
	}
	return fmt.Errorf("read blob %s/%s: %w", container, name, err)
}

// BlobDelete deletes a blob and returns what it deleted (see store.ComputeBackend).
func (b *Backend) BlobDelete(ctx context.Context, container, name string) (*store.BlobInfo, error) {
	var deleted *store.BlobInfo
	err := b.write(ctx, func(tx *wtx) error {
		bi, err := scanBlob(tx.queryRow(`DELETE FROM blobs WHERE container = ? AND name = ? RETURNING `+blobColumns,
			container, name).Scan)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("blob %s/%s: %w", container, name, store.ErrNotFound)
		}
		deleted = bi
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete blob %s/%s: %w", container, name, err)
	}
	return deleted, nil
}

// BlobList pages through a container's blobs in name order (see store.ComputeBackend). Names are
// compared as bytes (SQLite's BINARY collation), which for UTF-8 is code point order.
func (b *Backend) BlobList(ctx context.Context, p *store.BlobListParams) (*store.BlobPage, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("list blobs of %s: limit must be positive, got %d: %w", p.Container, p.Limit, store.ErrInvalid)
	}
	// The prefix is a range of the (container, name) index: [prefix, successor of prefix).
	q := `SELECT ` + blobColumns + ` FROM blobs WHERE container = ? AND name > ? AND name >= ?`
	args := []any{p.Container, p.Marker, p.Prefix}
	if end, ok := sc.PrefixEnd(p.Prefix); ok {
		q += ` AND name < ?`
		args = append(args, end)
	}
	blobs, err := query(ctx, b, sc.Blobs, q+` ORDER BY name LIMIT ?`, append(args, p.Limit+1)...)
	if err != nil {
		return nil, fmt.Errorf("list blobs of %s: %w", p.Container, err)
	}
	return sc.BlobPage(blobs, p.Limit), nil
}
