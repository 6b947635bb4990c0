package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

const (
	instanceColumns        = sc.InstanceColumns
	instancePayloadColumns = sc.InstancePayloadColumns
)

// InstanceCreate creates an instance (see store.Backend).
func (b *Backend) InstanceCreate(ctx context.Context, p *store.InstanceCreateParams) error {
	enc, err := sc.EncodeInstance(p)
	if err != nil {
		return err
	}
	return b.write(ctx, func(tx *wtx) error { return createInstance(tx, enc) })
}

func createInstance(tx *wtx, enc *sc.EncodedInstance) error {
	p := enc.P
	var status string
	err := tx.queryRow(`SELECT status FROM instances WHERE instance_id = ?`, p.ID).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("create instance %s: %w", p.ID, err)
	case !store.Status(status).Finished():
		return &store.StatusError{InstanceID: p.ID, Status: store.Status(status), Err: store.ErrInstanceExists}
	default:
		if err := deleteInstances(tx, []string{p.ID}); err != nil {
			return fmt.Errorf("replace instance %s: %w", p.ID, err)
		}
	}
	created := nanos(p.CreatedAt)
	ready := max(created, nanos(p.StartAt))
	var owner any
	if p.Owner != "" {
		owner = p.Owner
	}
	es := p.Started.ExecutionStarted
	if _, err := tx.exec(`INSERT INTO instances (instance_id, name, execution_id, status, input, parent,
		created_at, updated_at, history_len, ready_at, lock_owner, lock_expiry)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
		p.ID, p.Name, es.ExecutionID, string(store.StatusPending), sc.Payload(es.Input), enc.Parent,
		created, created, ready, owner, nanos(p.LockExpiry)); err != nil {
		return fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	if _, err := tx.exec(`INSERT INTO inbox (instance_id, execution_id, visible_at, data) VALUES (?, ?, ?, ?)`,
		p.ID, es.ExecutionID, ready, enc.Started); err != nil {
		return fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	return nil
}

// deleteInstances deletes instances with everything that belongs to them.
func deleteInstances(tx *wtx, ids []string) error {
	for _, q := range []string{
		`DELETE FROM history WHERE instance_id IN `,
		`DELETE FROM inbox WHERE instance_id IN `,
		`DELETE FROM tasks WHERE instance_id IN `,
		`DELETE FROM instances WHERE instance_id IN `,
	} {
		if err := tx.execIn(q, nil, len(ids), func(i int, args []any) []any { return append(args, ids[i]) }); err != nil {
			return err
		}
	}
	return nil
}

// InstanceGet returns an instance (see store.Backend).
func (b *Backend) InstanceGet(ctx context.Context, id string, withPayloads bool) (*store.Instance, error) {
	cols := instanceColumns
	if withPayloads {
		cols += instancePayloadColumns
	}
	if err := b.acquireRead(); err != nil {
		return nil, err
	}
	defer b.releaseRead()
	row := b.reads.QueryRowContext(ctx, `SELECT `+cols+` FROM instances WHERE instance_id = ?`, id)
	in, err := sc.ScanInstance(row.Scan, withPayloads)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get instance %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get instance %s: %w", id, err)
	}
	return in, nil
}

// InstanceList lists instances (see store.Backend).
func (b *Backend) InstanceList(ctx context.Context, p *store.InstanceListParams) (*store.InstancePage, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("list instances: limit must be positive: %w", store.ErrInvalid)
	}
	cols := instanceColumns
	if p.WithPayloads {
		cols += instancePayloadColumns
	}
	where, args := instanceFilter(p.Statuses, p.CreatedFrom, p.CreatedTo)
	if p.IDPrefix != "" {
		where = append(where, `substr(instance_id, 1, ?) = ?`)
		args = append(args, len([]rune(p.IDPrefix)), p.IDPrefix)
	}
	if p.Token != "" {
		tok, err := sc.DecodeToken(p.Token)
		if err != nil {
			return nil, err
		}
		if tok.Desc != p.NewestFirst {
			return nil, fmt.Errorf("list instances: the token continues a listing in the other order: %w", store.ErrInvalid)
		}
		if p.NewestFirst {
			where = append(where, `(created_at < ? OR (created_at = ? AND instance_id < ?))`)
		} else {
			where = append(where, `(created_at > ? OR (created_at = ? AND instance_id > ?))`)
		}
		args = append(args, tok.Created, tok.Created, tok.ID)
	}
	q := `SELECT ` + cols + ` FROM instances`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	if p.NewestFirst {
		q += ` ORDER BY created_at DESC, instance_id DESC LIMIT (?+0)`
	} else {
		q += ` ORDER BY created_at, instance_id LIMIT (?+0)`
	}
	args = append(args, p.Limit+1)
	ins, err := query(ctx, b, sc.Instances(p.WithPayloads), q, args...)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return sc.InstancePage(ins, p.Limit, p.NewestFirst), nil
}

func instanceFilter(statuses []store.Status, from, to time.Time) ([]string, []any) {
	var where []string
	var args []any
	if len(statuses) > 0 {
		where = append(where, `status IN (`+placeholders(len(statuses))+`)`)
		for _, s := range statuses {
			args = append(args, string(s))
		}
	}
	if !from.IsZero() {
		where = append(where, `created_at >= ?`)
		args = append(args, nanos(from))
	}
	if !to.IsZero() {
		where = append(where, `created_at <= ?`)
		args = append(args, nanos(to))
	}
	return where, args
}

// InstanceCounts counts instances by status (see store.Backend).
func (b *Backend) InstanceCounts(ctx context.Context) (map[store.Status]int, error) {
	counts, err := query(ctx, b, sc.CountBy[store.Status], `SELECT status, COUNT(*) FROM instances GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count instances: %w", err)
	}
	return counts, nil
}

// InstancePurge deletes a finished instance (see store.Backend).
func (b *Backend) InstancePurge(ctx context.Context, id string) error {
	return b.write(ctx, func(tx *wtx) error {
		var status string
		err := tx.queryRow(`SELECT status FROM instances WHERE instance_id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("purge instance %s: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("purge instance %s: %w", id, err)
		}
		if !store.Status(status).Finished() {
			return &store.StatusError{InstanceID: id, Status: store.Status(status), Err: store.ErrWrongStatus}
		}
		return deleteInstances(tx, []string{id})
	})
}

// InstancePurgeBatch deletes a batch of finished instances (see store.Backend).
func (b *Backend) InstancePurgeBatch(ctx context.Context, p *store.InstancePurgeParams) (int, error) {
	statuses, err := sc.PurgeStatuses(p)
	if err != nil {
		return 0, err
	}
	where, args := instanceFilter(statuses, p.CreatedFrom, p.CreatedTo)
	var deleted int
	err = b.write(ctx, func(tx *wtx) error {
		ids, err := queryStrings(tx, `SELECT instance_id FROM instances WHERE `+strings.Join(where, " AND ")+
			` ORDER BY created_at LIMIT (?+0)`, append(args, p.Limit)...)
		if err != nil {
			return err
		}
		deleted = len(ids)
		return deleteInstances(tx, ids)
	})
	if err != nil {
		return 0, fmt.Errorf("purge instances: %w", err)
	}
	return deleted, nil
}

// HistoryRead returns a page of history (see store.Backend).
func (b *Backend) HistoryRead(ctx context.Context, p *store.HistoryReadParams) ([]store.HistoryRecord, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("read history: limit must be positive: %w", store.ErrInvalid)
	}
	q := `SELECT ` + sc.HistoryColumns + ` FROM history WHERE instance_id = ? AND seq > ?`
	args := []any{p.InstanceID, p.After}
	if len(p.Types) > 0 {
		q += ` AND event_type IN (` + placeholders(len(p.Types)) + `)`
		for _, t := range p.Types {
			args = append(args, string(t))
		}
	}
	q += ` ORDER BY seq LIMIT (?+0)`
	args = append(args, p.Limit)
	out, err := query(ctx, b, sc.All(sc.ScanHistoryRecord), q, args...)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", p.InstanceID, err)
	}
	return out, nil
}

// queryStrings returns the first column of every row.
func queryStrings(tx *wtx, q string, args ...any) ([]string, error) {
	rows, err := tx.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
