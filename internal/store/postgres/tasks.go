package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// TaskLease leases tasks that are free or whose lease expired (see store.Backend). Tasks being
// leased by a concurrent call are skipped (FOR UPDATE SKIP LOCKED), so dispatchers of any number
// of processes never wait for each other or lease one task twice.
func (b *Backend) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*store.Task, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("lease tasks: limit must be positive: %w", store.ErrInvalid)
	}
	a := args{p.Owner, sc.Nanos(p.LockExpiry), sc.Nanos(p.Now)}
	q := `UPDATE tasks SET lock_owner = $1, lock_expiry = $2, attempt = attempt + 1 WHERE seq IN (
		SELECT seq FROM tasks WHERE lock_expiry <= $3`
	if len(p.Names) > 0 {
		q += ` AND name = ANY(` + a.add(p.Names) + `)`
	}
	q += ` ORDER BY lock_expiry, seq LIMIT ` + a.add(p.Limit) + ` FOR UPDATE SKIP LOCKED)
		RETURNING ` + sc.LeasedTaskColumns
	var out []*store.Task
	err := b.batch(ctx, func(bt *batch) { bt.Queue(q, a...) }, func(br pgx.BatchResults) (err error) {
		out, err = collectNext(br, sc.LeasedTasks)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease tasks: %w", err)
	}
	return out, nil
}

func leaseArrays(leases []store.TaskLease) (ins, execs []string, tids, attempts []int32) {
	n := len(leases)
	ins, execs, tids, attempts = make([]string, n), make([]string, n), make([]int32, n), make([]int32, n)
	for i, l := range leases {
		ins[i], execs[i], tids[i], attempts[i] = l.Key.InstanceID, l.Key.ExecutionID, l.Key.TaskID, int32(l.Attempt)
	}
	return ins, execs, tids, attempts
}

// leaseMatch joins tasks t with the leases passed as arrays $2..$5, held by owner $1.
const leaseMatch = `unnest($2::text[], $3::text[], $4::integer[], $5::integer[]) AS k(i, e, n, a)
	WHERE t.instance_id = k.i AND t.execution_id = k.e AND t.task_id = k.n AND t.lock_owner = $1 AND t.attempt = k.a`

// TaskRenew extends leases (see store.Backend).
func (b *Backend) TaskRenew(ctx context.Context, owner string, leases []store.TaskLease, expiry time.Time) ([]store.TaskKey, error) {
	if len(leases) == 0 {
		return nil, b.read(func() error { return nil })
	}
	ins, execs, tids, attempts := leaseArrays(leases)
	held := map[store.TaskKey]bool{}
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(`UPDATE tasks AS t SET lock_expiry = $6 FROM `+leaseMatch+` RETURNING t.instance_id, t.execution_id, t.task_id`,
			owner, ins, execs, tids, attempts, sc.Nanos(expiry))
	}, func(br pgx.BatchResults) error {
		clear(held)
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k store.TaskKey
			if err := rows.Scan(&k.InstanceID, &k.ExecutionID, &k.TaskID); err != nil {
				return err
			}
			held[k] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("renew task leases: %w", err)
	}
	var lost []store.TaskKey
	for _, l := range leases {
		if !held[l.Key] {
			lost = append(lost, l.Key)
		}
	}
	return lost, nil
}

// TaskComplete completes a leased task (see store.Backend): one batch that locks the instance
// against steps (KEY SHARE, before the task row, in the order a step takes them), deletes the
// task if the caller holds its latest lease (else ErrLeaseLost and nothing happens), and puts
// the result in the inbox.
func (b *Backend) TaskComplete(ctx context.Context, p *store.TaskCompleteParams) error {
	msgs, err := sc.EncodeMessages([]*store.Message{p.Result})
	if err != nil {
		return err
	}
	err = b.exec(ctx, func(bt *batch) {
		bt.Queue(`SELECT 1 FROM instances WHERE instance_id = $1 FOR KEY SHARE`, p.Key.InstanceID)
		bt.Queue(`WITH d AS (DELETE FROM tasks WHERE instance_id = $1 AND execution_id = $2 AND task_id = $3
			AND lock_owner = $4 AND attempt = $5 RETURNING 1)
			SELECT orca_fail('`+codeLeaseLost+`', 'not the latest lease of the task') WHERE NOT EXISTS (SELECT 1 FROM d)`,
			p.Key.InstanceID, p.Key.ExecutionID, p.Key.TaskID, p.Owner, p.Attempt)
		queueMessages(bt, msgs, p.Now, "")
	})
	if err != nil {
		return fmt.Errorf("complete task %s#%d: %w", p.Key.InstanceID, p.Key.TaskID, err)
	}
	return nil
}

// TaskAbandon releases leases (see store.Backend).
func (b *Backend) TaskAbandon(ctx context.Context, owner string, leases []store.TaskLease) error {
	return b.exec(ctx, func(bt *batch) {
		if leases == nil {
			bt.Queue(`UPDATE tasks SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner = $1`, owner)
		} else {
			ins, execs, tids, attempts := leaseArrays(leases)
			bt.Queue(`UPDATE tasks AS t SET lock_owner = NULL, lock_expiry = 0 FROM `+leaseMatch, owner, ins, execs, tids, attempts)
		}
		bt.wake(wakeTasks)
	})
}
