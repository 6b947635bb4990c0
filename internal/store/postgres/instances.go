package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

const (
	instanceColumns        = sc.InstanceColumns
	instancePayloadColumns = sc.InstancePayloadColumns
)

// createSQL calls orca_create_instance; queueCreate supplies its arguments.
const createSQL = `SELECT orca_create_instance($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

func queueCreate(bt *batch, enc *sc.EncodedInstance, soft bool) {
	p := enc.P
	bt.wake(wakeInboxPrefix + p.ID)
	es := p.Started.ExecutionStarted
	var owner *string
	if p.Owner != "" {
		owner = &p.Owner
	}
	created := sc.Nanos(p.CreatedAt)
	bt.Queue(createSQL, p.ID, p.Name, es.ExecutionID, sc.Payload(es.Input), enc.Parent, created,
		owner, sc.Nanos(p.LockExpiry), enc.Started, soft, max(created, sc.Nanos(p.StartAt)))
}

// InstanceCreate creates an instance (see store.Backend).
func (b *Backend) InstanceCreate(ctx context.Context, p *store.InstanceCreateParams) error {
	enc, err := sc.EncodeInstance(p)
	if err != nil {
		return err
	}
	err = b.exec(ctx, func(bt *batch) { queueCreate(bt, enc, false) })
	if err != nil {
		return statusError(p.ID, fmt.Errorf("create instance %s: %w", p.ID, err))
	}
	return nil
}

// InstanceGet returns an instance (see store.Backend).
func (b *Backend) InstanceGet(ctx context.Context, id string, withPayloads bool) (*store.Instance, error) {
	cols := instanceColumns
	if withPayloads {
		cols += instancePayloadColumns
	}
	var in *store.Instance
	err := b.read(func() error {
		var err error
		in, err = sc.ScanInstance(b.pool.QueryRow(ctx, `SELECT `+cols+` FROM instances WHERE instance_id = $1`, id).Scan, withPayloads)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get instance %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get instance %s: %w", id, err)
	}
	return in, nil
}

// args builds a statement's positional arguments.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

func instanceFilter(a *args, statuses []store.Status, from, to int64) []string {
	var where []string
	if len(statuses) > 0 {
		names := make([]string, len(statuses))
		for i, s := range statuses {
			names[i] = string(s)
		}
		where = append(where, `status = ANY(`+a.add(names)+`)`)
	}
	if from != 0 {
		where = append(where, `created_at >= `+a.add(from))
	}
	if to != 0 {
		where = append(where, `created_at <= `+a.add(to))
	}
	return where
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
	var a args
	where := instanceFilter(&a, p.Statuses, sc.Nanos(p.CreatedFrom), sc.Nanos(p.CreatedTo))
	if p.IDPrefix != "" {
		where = append(where, `starts_with(instance_id, `+a.add(p.IDPrefix)+`)`)
	}
	if p.Token != "" {
		tok, err := sc.DecodeToken(p.Token)
		if err != nil {
			return nil, err
		}
		if tok.Desc != p.NewestFirst {
			return nil, fmt.Errorf("list instances: the token continues a listing in the other order: %w", store.ErrInvalid)
		}
		op := `>`
		if p.NewestFirst {
			op = `<`
		}
		where = append(where, `(created_at, instance_id) `+op+` (`+a.add(tok.Created)+`, `+a.add(tok.ID)+`)`)
	}
	q := `SELECT ` + cols + ` FROM instances`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	if p.NewestFirst {
		q += ` ORDER BY created_at DESC, instance_id DESC LIMIT ` + a.add(p.Limit+1)
	} else {
		q += ` ORDER BY created_at, instance_id LIMIT ` + a.add(p.Limit+1)
	}
	ins, err := query(ctx, b, sc.Instances(p.WithPayloads), q, a...)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return sc.InstancePage(ins, p.Limit, p.NewestFirst), nil
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
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`SELECT orca_status($1, $2)`, id, []string{string(store.StatusCompleted), string(store.StatusFailed), string(store.StatusTerminated)})
		bt.Queue(`SELECT orca_delete_instances($1)`, []string{id})
	})
	if err != nil {
		return statusError(id, fmt.Errorf("purge instance %s: %w", id, err))
	}
	return nil
}

// InstancePurgeBatch deletes a batch of finished instances (see store.Backend).
func (b *Backend) InstancePurgeBatch(ctx context.Context, p *store.InstancePurgeParams) (int, error) {
	statuses, err := sc.PurgeStatuses(p)
	if err != nil {
		return 0, err
	}
	var a args
	where := instanceFilter(&a, statuses, sc.Nanos(p.CreatedFrom), sc.Nanos(p.CreatedTo))
	q := `WITH ids AS (SELECT array_agg(instance_id) AS a FROM (SELECT instance_id FROM instances WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY created_at LIMIT ` + a.add(p.Limit) + ` FOR UPDATE SKIP LOCKED) s)
		SELECT COALESCE(cardinality(a), 0), orca_delete_instances(COALESCE(a, '{}')) FROM ids`
	var deleted int
	err = b.batch(ctx, func(bt *batch) { bt.Queue(q, a...) }, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&deleted, nil)
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
	a := args{p.InstanceID, p.After}
	q := `SELECT ` + sc.HistoryColumns + ` FROM history WHERE instance_id = $1 AND seq > $2`
	if len(p.Types) > 0 {
		types := make([]string, len(p.Types))
		for i, t := range p.Types {
			types[i] = string(t)
		}
		q += ` AND event_type = ANY(` + a.add(types) + `)`
	}
	q += ` ORDER BY seq LIMIT ` + a.add(p.Limit)
	out, err := query(ctx, b, sc.All(sc.ScanHistoryRecord), q, a...)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", p.InstanceID, err)
	}
	return out, nil
}
