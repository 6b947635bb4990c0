package sqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

const instanceColumns = `instance_id, name, execution_id, status, custom_status, failure, parent,
	created_at, updated_at, history_len, lock_owner, lock_expiry`

const instancePayloadColumns = `, input, output`

func scanInstance(scan func(...any) error, withPayloads bool) (*store.Instance, error) {
	var (
		in                       store.Instance
		status                   string
		custom, failure, parent  []byte
		created, updated, expiry int64
		owner                    sql.NullString
		input, output            []byte
	)
	dest := []any{&in.ID, &in.Name, &in.ExecutionID, &status, &custom, &failure, &parent,
		&created, &updated, &in.HistoryLen, &owner, &expiry}
	if withPayloads {
		dest = append(dest, &input, &output)
	}
	if err := scan(dest...); err != nil {
		return nil, err
	}
	in.Status = store.Status(status)
	in.CustomStatus = rawOrNil(custom)
	in.Input = rawOrNil(input)
	in.Output = rawOrNil(output)
	in.CreatedAt = fromNanos(created)
	in.UpdatedAt = fromNanos(updated)
	in.LockOwner = owner.String
	in.LockExpiry = fromNanos(expiry)
	if len(failure) > 0 {
		in.Failure = &history.FailureDetails{}
		if err := json.Unmarshal(failure, in.Failure); err != nil {
			return nil, fmt.Errorf("decode failure of %s: %w", in.ID, err)
		}
	}
	if len(parent) > 0 {
		in.Parent = &history.ParentInstance{}
		if err := json.Unmarshal(parent, in.Parent); err != nil {
			return nil, fmt.Errorf("decode parent of %s: %w", in.ID, err)
		}
	}
	return &in, nil
}

func rawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

// jsonOrNil encodes v, or returns nil for a nil pointer so the column stays NULL.
func jsonOrNil[T any](v *T) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// blob returns a stored form of a JSON payload: NULL when empty.
func blob(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// encodedInstance is an InstanceCreateParams with its JSON encoded outside the writer.
type encodedInstance struct {
	p       *store.InstanceCreateParams
	started []byte
	parent  []byte
}

func encodeInstance(p *store.InstanceCreateParams) (*encodedInstance, error) {
	if p.Started == nil || p.Started.ExecutionStarted == nil {
		return nil, errors.New("create instance: Started must be an ExecutionStarted event")
	}
	started, err := history.Marshal(p.Started)
	if err != nil {
		return nil, fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	parent, err := jsonOrNil(p.Started.ExecutionStarted.Parent)
	if err != nil {
		return nil, fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	return &encodedInstance{p: p, started: started, parent: parent}, nil
}

// InstanceCreate creates an instance (see store.Backend).
func (b *Backend) InstanceCreate(ctx context.Context, p *store.InstanceCreateParams) error {
	enc, err := encodeInstance(p)
	if err != nil {
		return err
	}
	return b.write(ctx, func(tx *wtx) error { return createInstance(tx, enc) })
}

func createInstance(tx *wtx, enc *encodedInstance) error {
	p := enc.p
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
	var owner any
	if p.Owner != "" {
		owner = p.Owner
	}
	es := p.Started.ExecutionStarted
	if _, err := tx.exec(`INSERT INTO instances (instance_id, name, execution_id, status, input, parent,
		created_at, updated_at, history_len, ready_at, lock_owner, lock_expiry)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
		p.ID, p.Name, es.ExecutionID, string(store.StatusPending), blob(es.Input), enc.parent,
		created, created, created, owner, nanos(p.LockExpiry)); err != nil {
		return fmt.Errorf("create instance %s: %w", p.ID, err)
	}
	if _, err := tx.exec(`INSERT INTO inbox (instance_id, execution_id, visible_at, data) VALUES (?, ?, ?, ?)`,
		p.ID, es.ExecutionID, created, enc.started); err != nil {
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
	in, err := scanInstance(row.Scan, withPayloads)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get instance %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get instance %s: %w", id, err)
	}
	return in, nil
}

// listToken is the position after the last instance of a page.
type listToken struct {
	Created int64  `json:"c"`
	ID      string `json:"i"`
	// Desc marks a token of a newest-first listing.
	Desc bool `json:"d,omitempty"`
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
		tok, err := decodeToken(p.Token)
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
	if err := b.acquireRead(); err != nil {
		return nil, err
	}
	defer b.releaseRead()
	rows, err := b.reads.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	page := &store.InstancePage{}
	for rows.Next() {
		in, err := scanInstance(rows.Scan, p.WithPayloads)
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		page.Instances = append(page.Instances, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	if len(page.Instances) > p.Limit {
		page.Instances = page.Instances[:p.Limit]
		last := page.Instances[p.Limit-1]
		page.Token = encodeToken(listToken{Created: nanos(last.CreatedAt), ID: last.ID, Desc: p.NewestFirst})
	}
	return page, nil
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

func encodeToken(t listToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (listToken, error) {
	var t listToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.ID == "" {
		return t, fmt.Errorf("list instances: malformed continuation token: %w", store.ErrInvalid)
	}
	return t, nil
}

// InstanceCounts counts instances by status (see store.Backend).
func (b *Backend) InstanceCounts(ctx context.Context) (map[store.Status]int, error) {
	if err := b.acquireRead(); err != nil {
		return nil, err
	}
	defer b.releaseRead()
	rows, err := b.reads.QueryContext(ctx, `SELECT status, COUNT(*) FROM instances GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count instances: %w", err)
	}
	defer rows.Close()
	counts := map[store.Status]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("count instances: %w", err)
		}
		counts[store.Status(s)] = n
	}
	return counts, rows.Err()
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
	statuses := p.Statuses
	if len(statuses) == 0 {
		statuses = []store.Status{store.StatusCompleted, store.StatusFailed, store.StatusTerminated}
	}
	for _, s := range statuses {
		if !s.Finished() {
			return 0, fmt.Errorf("purge instances: status %s is not a finished status: %w", s, store.ErrInvalid)
		}
	}
	if p.Limit <= 0 {
		return 0, fmt.Errorf("purge instances: limit must be positive: %w", store.ErrInvalid)
	}
	where, args := instanceFilter(statuses, p.CreatedFrom, p.CreatedTo)
	var deleted int
	err := b.write(ctx, func(tx *wtx) error {
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
	q := `SELECT seq, data FROM history WHERE instance_id = ? AND seq > ?`
	args := []any{p.InstanceID, p.After}
	if len(p.Types) > 0 {
		q += ` AND event_type IN (` + placeholders(len(p.Types)) + `)`
		for _, t := range p.Types {
			args = append(args, string(t))
		}
	}
	q += ` ORDER BY seq LIMIT (?+0)`
	args = append(args, p.Limit)
	if err := b.acquireRead(); err != nil {
		return nil, err
	}
	defer b.releaseRead()
	rows, err := b.reads.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", p.InstanceID, err)
	}
	defer rows.Close()
	var out []store.HistoryRecord
	for rows.Next() {
		var seq int
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("read history of %s: %w", p.InstanceID, err)
		}
		ev, err := history.Unmarshal(data)
		if err != nil {
			return nil, fmt.Errorf("read history of %s at %d: %w", p.InstanceID, seq, err)
		}
		out = append(out, store.HistoryRecord{Seq: seq, Event: ev})
	}
	return out, rows.Err()
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
