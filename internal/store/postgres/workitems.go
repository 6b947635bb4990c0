package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// WorkItemComplete finishes work items in one transaction (see store.ComputeBackend): one
// statement deletes the messages still held with their receipts, and only the items it deleted
// get their outputs, effects and input deletes, sent as one batch.
func (b *Backend) WorkItemComplete(ctx context.Context, p *store.WorkItemCompleteParams) ([]store.WorkItemOutcome, error) {
	if err := sc.CheckWorkItems(p); err != nil {
		return nil, err
	}
	if len(p.Items) == 0 {
		return nil, nil
	}
	n := len(p.Items)
	ids, receipts := make([]string, n), make([]string, n)
	for i, it := range p.Items {
		ids[i], receipts[i] = it.MessageID, it.PopReceipt
	}
	var out []store.WorkItemOutcome
	var wakes []string
	err := b.tx(ctx, func(tx pgx.Tx) error {
		out, wakes = make([]store.WorkItemOutcome, n), nil
		done, err := deleteHeldMessages(ctx, tx, p.Queue, ids, receipts, out)
		if err != nil {
			return err
		}
		bt := &batch{}
		var eff store.Effects
		var outputs, inputs []int
		for i, it := range p.Items {
			if !done[i] {
				continue
			}
			if it.Output != nil {
				outputs = append(outputs, i)
				eff.Messages = append(eff.Messages, it.Output.Effects.Messages...)
				eff.Deliveries = append(eff.Deliveries, it.Output.Effects.Deliveries...)
			}
			if it.DeleteInput != nil {
				inputs = append(inputs, i)
			}
		}
		queueOutputs(bt, p.Items, outputs)
		queueInputDeletes(bt, p.Items, inputs)
		enc, err := sc.EncodeEffects(&eff)
		if err != nil {
			return err
		}
		if len(outputs) > 0 {
			queueEffects(bt, enc, p.Items[outputs[len(outputs)-1]].Output.Info.CreatedAt)
		}
		br := tx.SendBatch(ctx, &bt.Batch)
		if err := readOutputs(br, p.Items, outputs, inputs, out); err != nil {
			_ = br.Close()
			return err
		}
		wakes = bt.wakes
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("complete work items of %s: %w", p.Queue, err)
	}
	b.notifier.add(wakes)
	return out, nil
}

// deleteHeldMessages deletes the messages still held with their receipts and marks which; the
// others get ErrLeaseLost (the message is there under another receipt) or ErrNotFound.
func deleteHeldMessages(ctx context.Context, tx pgx.Tx, queue string, ids, receipts []string, out []store.WorkItemOutcome) ([]bool, error) {
	rows, err := tx.Query(ctx, `DELETE FROM queue_messages q USING unnest($2::text[], $3::text[]) AS u(i, r)
		WHERE q.queue = $1 AND q.id = u.i AND q.pop_receipt = u.r RETURNING q.id, q.inserted_at`, queue, ids, receipts)
	if err != nil {
		return nil, err
	}
	deleted := map[string]int64{}
	for rows.Next() {
		var id string
		var inserted int64
		if err := rows.Scan(&id, &inserted); err != nil {
			rows.Close()
			return nil, err
		}
		deleted[id] = inserted
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	done := make([]bool, len(ids))
	var missing []string
	for i, id := range ids {
		inserted, ok := deleted[id]
		if ok {
			done[i] = true
			out[i].InsertedAt = sc.FromNanos(inserted)
			delete(deleted, id) // a second item with the same id finds it gone
			continue
		}
		missing = append(missing, id)
	}
	if len(missing) == 0 {
		return done, nil
	}
	rows, err = tx.Query(ctx, `SELECT id FROM queue_messages WHERE queue = $1 AND id = ANY($2)`, queue, missing)
	if err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		present[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, id := range ids {
		switch {
		case done[i]:
		case present[id]:
			out[i].Err = fmt.Errorf("message %s: %w", id, store.ErrLeaseLost)
		default:
			out[i].Err = fmt.Errorf("message %s: %w", id, store.ErrNotFound)
		}
	}
	return done, nil
}

// queueOutputs queues the output puts of the items at idx: the names' locks (in one order, so
// two batches never wait on each other in a cycle), the delete of the blobs they replace and
// the inserts.
func queueOutputs(bt *batch, items []*store.WorkItemDone, idx []int) {
	if len(idx) == 0 {
		return
	}
	n := len(idx)
	containers, names, types, etags := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	sizes, created := make([]int64, n), make([]int64, n)
	paths := make([]*string, n)
	data := make([][]byte, n)
	for k, i := range idx {
		o := items[i].Output
		in := &o.Info
		containers[k], names[k], types[k], etags[k] = in.Container, in.Name, in.ContentType, in.ETag
		sizes[k], created[k] = in.Size, sc.Nanos(in.CreatedAt)
		if in.FilePath != "" {
			path := in.FilePath
			paths[k] = &path
		} else {
			data[k] = sc.InlineData(o)
		}
	}
	bt.Queue(`SELECT count(pg_advisory_xact_lock(`+strconv.Itoa(lockClassBlobName)+`, h)) FROM
		(SELECT DISTINCT hashtext(u.c || '/' || u.n) AS h FROM unnest($1::text[], $2::text[]) AS u(c, n) ORDER BY h) AS s`,
		containers, names)
	bt.Queue(`DELETE FROM blobs AS b USING unnest($1::text[], $2::text[]) AS u(c, n)
		WHERE b.container = u.c AND b.name = u.n RETURNING `+blobColumns, containers, names)
	bt.Queue(`INSERT INTO blobs (container, name, size, content_type, etag, created_at, file_path, data)
		SELECT u.c, u.n, u.s, u.t, u.e, u.at, u.f, u.d FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
		$6::bigint[], $7::text[], $8::bytea[]) WITH ORDINALITY AS u(c, n, s, t, e, at, f, d, o) ORDER BY u.o`,
		containers, names, sizes, types, etags, created, paths, data)
}

// queueInputDeletes queues the delete of the input blobs of the items at idx.
func queueInputDeletes(bt *batch, items []*store.WorkItemDone, idx []int) {
	if len(idx) == 0 {
		return
	}
	containers, names := make([]string, len(idx)), make([]string, len(idx))
	for k, i := range idx {
		containers[k], names[k] = items[i].DeleteInput.Container, items[i].DeleteInput.Name
	}
	bt.Queue(`DELETE FROM blobs AS b USING unnest($1::text[], $2::text[]) AS u(c, n)
		WHERE b.container = u.c AND b.name = u.n RETURNING `+blobColumns, containers, names)
}

// readOutputs reads what queueOutputs and queueInputDeletes sent, in order, and records the
// replaced and deleted blobs in the items' outcomes. The effects' statements follow; the
// batch's Close reads them.
func readOutputs(br pgx.BatchResults, items []*store.WorkItemDone, outputs, inputs []int, out []store.WorkItemOutcome) error {
	if len(outputs) > 0 {
		if _, err := br.Exec(); err != nil { // the locks
			return err
		}
		replaced, err := scanBlobRows(br)
		if err != nil {
			return err
		}
		for _, i := range outputs {
			in := &items[i].Output.Info
			out[i].Replaced = replaced[store.BlobRef{Container: in.Container, Name: in.Name}]
		}
		if _, err := br.Exec(); err != nil { // the inserts
			return err
		}
	}
	if len(inputs) == 0 {
		return nil
	}
	deleted, err := scanBlobRows(br)
	if err != nil {
		return err
	}
	for _, i := range inputs {
		out[i].Deleted = deleted[*items[i].DeleteInput]
	}
	return nil
}

func scanBlobRows(br pgx.BatchResults) (map[store.BlobRef]*store.BlobInfo, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[store.BlobRef]*store.BlobInfo{}
	for rows.Next() {
		bi, err := sc.ScanBlob(rows.Scan)
		if err != nil {
			return nil, err
		}
		got[store.BlobRef{Container: bi.Container, Name: bi.Name}] = bi
	}
	return got, rows.Err()
}
