package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// WorkItemComplete finishes work items in one transaction (see store.ComputeBackend). Each item
// starts with the delete of its message, guarded by the pop receipt: an item whose delete finds
// nothing writes nothing else.
func (b *Backend) WorkItemComplete(ctx context.Context, p *store.WorkItemCompleteParams) ([]store.WorkItemOutcome, error) {
	if err := sc.CheckWorkItems(p); err != nil {
		return nil, err
	}
	encoded := make([]*sc.EncodedEffects, len(p.Items))
	for i, it := range p.Items {
		if it.Output == nil {
			continue
		}
		var err error
		if encoded[i], err = sc.EncodeEffects(&it.Output.Effects); err != nil {
			return nil, fmt.Errorf("complete work items of %s: %w", p.Queue, err)
		}
	}
	out := make([]store.WorkItemOutcome, len(p.Items))
	err := b.write(ctx, func(tx *wtx) error {
		clear(out)
		for i, it := range p.Items {
			if err := completeWorkItem(tx, p, it, encoded[i], &out[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete work items of %s: %w", p.Queue, err)
	}
	return out, nil
}

// completeWorkItem writes one item inside the caller's transaction. A lost lease or a missing
// message is the item's outcome, not an error of the transaction.
func completeWorkItem(tx *wtx, p *store.WorkItemCompleteParams, it *store.WorkItemDone, eff *sc.EncodedEffects, out *store.WorkItemOutcome) error {
	var inserted int64
	err := tx.queryRow(`DELETE FROM queue_messages WHERE queue = ? AND id = ? AND pop_receipt = ? RETURNING inserted_at`,
		p.Queue, it.MessageID, it.PopReceipt).Scan(&inserted)
	if errors.Is(err, sql.ErrNoRows) {
		why := missingOrLost(tx, p.Queue, it.MessageID)
		if !errors.Is(why, store.ErrLeaseLost) && !errors.Is(why, store.ErrNotFound) {
			return why
		}
		out.Err = fmt.Errorf("message %s: %w", it.MessageID, why)
		return nil
	}
	if err != nil {
		return err
	}
	out.InsertedAt = fromNanos(inserted)
	if o := it.Output; o != nil {
		in := &o.Info
		old, err := scanBlob(tx.queryRow(`DELETE FROM blobs WHERE container = ? AND name = ? RETURNING `+blobColumns,
			in.Container, in.Name).Scan)
		switch {
		case err == nil:
			out.Replaced = old
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var data any = sc.InlineData(o)
		var filePath any
		if in.FilePath != "" {
			data, filePath = nil, in.FilePath
		}
		if _, err := tx.exec(`INSERT INTO blobs (container, name, size, content_type, etag, created_at, file_path, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			in.Container, in.Name, in.Size, in.ContentType, in.ETag, nanos(in.CreatedAt), filePath, data); err != nil {
			return err
		}
		if err := writeEffects(tx, eff, in.CreatedAt); err != nil {
			return err
		}
	}
	if d := it.DeleteInput; d != nil {
		bi, err := scanBlob(tx.queryRow(`DELETE FROM blobs WHERE container = ? AND name = ? RETURNING `+blobColumns,
			d.Container, d.Name).Scan)
		switch {
		case err == nil:
			out.Deleted = bi
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	return nil
}
