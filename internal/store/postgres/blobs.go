package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// queueEffects queues the writes of effects: inbox messages (to existing instances) and outbox
// deliveries, with their wake-ups.
func queueEffects(bt *batch, e *sc.EncodedEffects, now time.Time) {
	queueMessages(bt, e.Messages, now, "")
	if len(e.Deliveries) == 0 {
		return
	}
	n := len(e.Deliveries)
	subs, ids, events := make([]string, n), make([]string, n), make([][]byte, n)
	next, expires := make([]int64, n), make([]int64, n)
	created := sc.Nanos(now)
	for i, d := range e.Deliveries {
		subs[i], ids[i], events[i], next[i], expires[i] = d.Subscription, d.EventID, d.Event, sc.FirstAttempt(d, created), sc.Nanos(d.ExpiresAt)
	}
	bt.Queue(`INSERT INTO event_outbox (subscription, event_id, event, next_attempt, expires_at, created_at)
		SELECT u.s, u.i, u.e, u.n, u.x, $6 FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bigint[], $5::bigint[])
		WITH ORDINALITY AS u(s, i, e, n, x, o) ORDER BY u.o`, subs, ids, events, next, expires, created)
	bt.wake(wakeDeliveries)
}

const blobColumns = sc.BlobColumns

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
	// An inline blob always has a non-NULL data column, also when it is empty: NULL data means
	// "in a file".
	data := sc.InlineData(p)
	var filePath *string
	if in.FilePath != "" {
		filePath = &in.FilePath
	}
	var replaced *store.BlobInfo
	err = b.batch(ctx, func(bt *batch) {
		// Puts of one name take turns (a lock on the name, which may not have a row yet), so
		// each sees and replaces the one before it.
		bt.Queue(`SELECT pg_advisory_xact_lock(`+strconv.Itoa(lockClassBlobName)+`, hashtext($1 || '/' || $2))`, in.Container, in.Name)
		bt.Queue(`DELETE FROM blobs WHERE container = $1 AND name = $2 RETURNING `+blobColumns, in.Container, in.Name)
		bt.Queue(`INSERT INTO blobs (container, name, size, content_type, etag, created_at, file_path, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			in.Container, in.Name, in.Size, in.ContentType, in.ETag, sc.Nanos(in.CreatedAt), filePath, data)
		queueEffects(bt, eff, in.CreatedAt)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		old, err := sc.ScanBlob(br.QueryRow().Scan)
		switch {
		case err == nil:
			replaced = old
		case isNoRows(err):
			replaced = nil
		default:
			return err
		}
		return nil // Close reads the rest
	})
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: %w", in.Container, in.Name, err)
	}
	return replaced, nil
}

// BlobGet returns a blob and its inline content, nil when the content lives in a file (see
// store.ComputeBackend). Inline content is never nil, also when it is empty.
func (b *Backend) BlobGet(ctx context.Context, container, name string) (*store.BlobInfo, []byte, error) {
	var data []byte
	var bi *store.BlobInfo
	err := b.read(func() error {
		var err error
		bi, err = sc.ScanBlob(b.pool.QueryRow(ctx, `SELECT `+blobColumns+`, data FROM blobs WHERE container = $1 AND name = $2`,
			container, name).Scan, &data)
		return err
	})
	if err != nil {
		return nil, nil, blobReadError(container, name, err)
	}
	return bi, sc.InlineContent(bi, data), nil
}

// BlobHead returns a blob's description (see store.ComputeBackend).
func (b *Backend) BlobHead(ctx context.Context, container, name string) (*store.BlobInfo, error) {
	var bi *store.BlobInfo
	err := b.read(func() error {
		var err error
		bi, err = sc.ScanBlob(b.pool.QueryRow(ctx, `SELECT `+blobColumns+` FROM blobs WHERE container = $1 AND name = $2`, container, name).Scan)
		return err
	})
	if err != nil {
		return nil, blobReadError(container, name, err)
	}
	return bi, nil
}

func blobReadError(container, name string, err error) error {
	if isNoRows(err) {
		return fmt.Errorf("blob %s/%s: %w", container, name, store.ErrNotFound)
	}
	return fmt.Errorf("read blob %s/%s: %w", container, name, err)
}

// BlobDelete deletes a blob and returns what it deleted (see store.ComputeBackend).
func (b *Backend) BlobDelete(ctx context.Context, container, name string) (*store.BlobInfo, error) {
	var deleted *store.BlobInfo
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(`DELETE FROM blobs WHERE container = $1 AND name = $2 RETURNING `+blobColumns, container, name)
	}, func(br pgx.BatchResults) error {
		var err error
		deleted, err = sc.ScanBlob(br.QueryRow().Scan)
		if isNoRows(err) {
			return fmt.Errorf("blob %s/%s: %w", container, name, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete blob %s/%s: %w", container, name, err)
	}
	return deleted, nil
}

// BlobList pages through a container's blobs in name order (see store.ComputeBackend). Names are
// compared as bytes (COLLATE "C"), which for UTF-8 is code point order.
func (b *Backend) BlobList(ctx context.Context, p *store.BlobListParams) (*store.BlobPage, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("list blobs of %s: limit must be positive, got %d: %w", p.Container, p.Limit, store.ErrInvalid)
	}
	// The prefix is a range of the primary key: [prefix, successor of prefix).
	a := args{p.Container, p.Marker, p.Prefix}
	q := `SELECT ` + blobColumns + ` FROM blobs WHERE container = $1 AND name > $2 AND name >= $3`
	if end, ok := prefixEnd(p.Prefix); ok {
		q += ` AND name < ` + a.add(end)
	}
	q += ` ORDER BY name LIMIT ` + a.add(p.Limit+1)
	blobs, err := query(ctx, b, sc.Blobs, q, a...)
	if err != nil {
		return nil, fmt.Errorf("list blobs of %s: %w", p.Container, err)
	}
	return sc.BlobPage(blobs, p.Limit), nil
}

// lockClassBlobName is the first key of the advisory locks on blob names.
const lockClassBlobName = 1

// prefixEnd returns the smallest valid UTF-8 string greater than every string that starts with
// prefix in code point order (COLLATE "C" on UTF-8); false when there is none. Unlike SQLite,
// PostgreSQL refuses invalid UTF-8, so the byte-wise successor will not do.
func prefixEnd(prefix string) (string, bool) {
	runes := []rune(prefix)
	for i := len(runes) - 1; i >= 0; i-- {
		r := runes[i] + 1
		if r >= 0xD800 && r <= 0xDFFF {
			r = 0xE000
		}
		if r <= unicode.MaxRune {
			runes[i] = r
			return string(runes[:i+1]), true
		}
	}
	return "", false
}
