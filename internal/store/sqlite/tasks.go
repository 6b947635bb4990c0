package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// TaskLease leases tasks that are free or whose lease expired (see store.Backend).
func (b *Backend) TaskLease(ctx context.Context, p *store.TaskLeaseParams) ([]*store.Task, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("lease tasks: limit must be positive: %w", store.ErrInvalid)
	}
	q := `UPDATE tasks SET lock_owner = ?, lock_expiry = ?, attempt = attempt + 1 WHERE seq IN (
		SELECT seq FROM tasks WHERE lock_expiry <= ?`
	args := []any{p.Owner, nanos(p.LockExpiry), nanos(p.Now)}
	if len(p.Names) > 0 {
		q += ` AND name IN (` + placeholders(len(p.Names)) + `)`
		for _, n := range p.Names {
			args = append(args, n)
		}
	}
	q += ` ORDER BY lock_expiry, seq LIMIT (?+0))
		RETURNING ` + sc.LeasedTaskColumns
	args = append(args, p.Limit)
	var out []*store.Task
	err := b.write(ctx, func(tx *wtx) (err error) {
		out, err = txQuery(tx, sc.LeasedTasks, q, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease tasks: %w", err)
	}
	return out, nil
}

// TaskRenew extends leases (see store.Backend).
func (b *Backend) TaskRenew(ctx context.Context, owner string, leases []store.TaskLease, expiry time.Time) ([]store.TaskKey, error) {
	var lost []store.TaskKey
	err := b.write(ctx, func(tx *wtx) error {
		lost = lost[:0]
		for _, l := range leases {
			res, err := tx.exec(`UPDATE tasks SET lock_expiry = ? WHERE instance_id = ? AND execution_id = ? AND task_id = ?
				AND lock_owner = ? AND attempt = ?`, nanos(expiry), l.Key.InstanceID, l.Key.ExecutionID, l.Key.TaskID, owner, l.Attempt)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				lost = append(lost, l.Key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("renew task leases: %w", err)
	}
	return lost, nil
}

// TaskComplete completes a leased task (see store.Backend).
func (b *Backend) TaskComplete(ctx context.Context, p *store.TaskCompleteParams) error {
	msgs, err := sc.EncodeMessages([]*store.Message{p.Result})
	if err != nil {
		return err
	}
	err = b.write(ctx, func(tx *wtx) error {
		res, err := tx.exec(`DELETE FROM tasks WHERE instance_id = ? AND execution_id = ? AND task_id = ? AND lock_owner = ? AND attempt = ?`,
			p.Key.InstanceID, p.Key.ExecutionID, p.Key.TaskID, p.Owner, p.Attempt)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrLeaseLost
		}
		return insertMessages(tx, msgs, p.Now, "")
	})
	if err != nil {
		return fmt.Errorf("complete task %s#%d: %w", p.Key.InstanceID, p.Key.TaskID, err)
	}
	return nil
}

// TaskAbandon releases leases (see store.Backend).
func (b *Backend) TaskAbandon(ctx context.Context, owner string, leases []store.TaskLease) error {
	return b.write(ctx, func(tx *wtx) error {
		if leases == nil {
			_, err := tx.exec(`UPDATE tasks SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner = ?`, owner)
			return err
		}
		for _, l := range leases {
			if _, err := tx.exec(`UPDATE tasks SET lock_owner = NULL, lock_expiry = 0 WHERE instance_id = ? AND execution_id = ?
				AND task_id = ? AND lock_owner = ? AND attempt = ?`, l.Key.InstanceID, l.Key.ExecutionID, l.Key.TaskID, owner, l.Attempt); err != nil {
				return err
			}
		}
		return nil
	})
}
