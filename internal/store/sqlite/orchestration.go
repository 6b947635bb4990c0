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

// insertMessages puts messages in inboxes, dropping those addressed to instances that do not
// exist, and lowers each target's ready_at. self's ready_at is left to the caller. A message to
// an instance that has not started (Pending, no history) becomes visible no sooner than its
// ExecutionStarted (a scheduled start's ready_at, store.InstanceCreateParams.StartAt).
func insertMessages(tx *wtx, ms []sc.EncodedMessage, now time.Time, self string) error {
	ready := map[string]int64{}
	type target struct {
		exists bool
		hold   int64 // the scheduled start of an instance not yet started, else 0
	}
	targets := map[string]target{self: {exists: self != ""}}
	for _, em := range ms {
		id := em.M.InstanceID
		tg, seen := targets[id]
		if !seen {
			err := tx.queryRow(`SELECT CASE WHEN status = ? AND history_len = 0 THEN COALESCE(ready_at, 0) ELSE 0 END
				FROM instances WHERE instance_id = ?`, string(store.StatusPending), id).Scan(&tg.hold)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			tg.exists = err == nil
			targets[id] = tg
		}
		if !tg.exists {
			continue
		}
		v := max(em.VisibleAt(now), tg.hold)
		if _, err := tx.exec(`INSERT INTO inbox (instance_id, execution_id, visible_at, data) VALUES (?, ?, ?, ?)`,
			id, em.M.ExecutionID, v, em.Data); err != nil {
			return err
		}
		if cur, ok := ready[id]; !ok || v < cur {
			ready[id] = v
		}
	}
	for id, v := range ready {
		if id == self {
			continue
		}
		if _, err := tx.exec(`UPDATE instances SET ready_at = MIN(COALESCE(ready_at, ?), ?) WHERE instance_id = ?`, v, v, id); err != nil {
			return err
		}
	}
	return nil
}

// MessageSend puts messages in an instance's inbox (see store.Backend).
func (b *Backend) MessageSend(ctx context.Context, p *store.MessageSendParams) error {
	for _, m := range p.Messages {
		if m.InstanceID != p.InstanceID {
			return fmt.Errorf("send messages to %s: message addressed to %s: %w", p.InstanceID, m.InstanceID, store.ErrInvalid)
		}
	}
	enc, err := sc.EncodeMessages(p.Messages)
	if err != nil {
		return err
	}
	return b.write(ctx, func(tx *wtx) error {
		var status string
		err := tx.queryRow(`SELECT status FROM instances WHERE instance_id = ?`, p.InstanceID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("send to instance %s: %w", p.InstanceID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("send to instance %s: %w", p.InstanceID, err)
		}
		if len(p.RequireStatus) > 0 && !sc.HasStatus(p.RequireStatus, store.Status(status)) {
			return &store.StatusError{InstanceID: p.InstanceID, Status: store.Status(status), Err: store.ErrWrongStatus}
		}
		return insertMessages(tx, enc, p.Now, "")
	})
}

// OrchestrationLease leases instances with visible messages (see store.Backend).
func (b *Backend) OrchestrationLease(ctx context.Context, p *store.OrchestrationLeaseParams) ([]*store.Instance, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("lease orchestrations: limit must be positive: %w", store.ErrInvalid)
	}
	now := nanos(p.Now)
	q := `UPDATE instances SET lock_owner = ?, lock_expiry = ? WHERE instance_id IN (
		SELECT instance_id FROM instances
		WHERE ready_at IS NOT NULL AND ready_at <= ? AND (lock_owner IS NULL OR lock_expiry <= ?)`
	args := []any{p.Owner, nanos(p.LockExpiry), now, now}
	if len(p.IDs) > 0 {
		q += ` AND instance_id IN (` + placeholders(len(p.IDs)) + `)`
		for _, id := range p.IDs {
			args = append(args, id)
		}
	}
	q += ` ORDER BY ready_at LIMIT (?+0)) RETURNING ready_at, ` + instanceColumns
	args = append(args, p.Limit)
	var ins []*store.Instance
	err := b.write(ctx, func(tx *wtx) (err error) {
		ins, err = txQuery(tx, sc.LeasedInstances, q, args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease orchestrations: %w", err)
	}
	return ins, nil
}

// OrchestrationOwned returns instances locked by owner with visible messages (see store.Backend).
func (b *Backend) OrchestrationOwned(ctx context.Context, owner string, now time.Time, limit int) ([]*store.Instance, error) {
	out, err := query(ctx, b, sc.Instances(false), `SELECT `+instanceColumns+` FROM instances
		WHERE lock_owner = ? AND ready_at <= ? ORDER BY ready_at LIMIT (?+0)`, owner, nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("owned orchestrations: %w", err)
	}
	return out, nil
}

// OrchestrationInbox returns visible messages of an instance (see store.Backend).
func (b *Backend) OrchestrationInbox(ctx context.Context, instanceID string, now time.Time, limit int) ([]*store.Message, error) {
	out, err := query(ctx, b, sc.All(sc.ScanInboxMessage), `SELECT `+sc.InboxColumns+` FROM inbox
		WHERE instance_id = ? AND visible_at <= ? ORDER BY id LIMIT (?+0)`, instanceID, nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("read inbox of %s: %w", instanceID, err)
	}
	return out, nil
}

// OrchestrationCommit applies one orchestration step atomically (see store.Backend).
func (b *Backend) OrchestrationCommit(ctx context.Context, p *store.OrchestrationCommitParams) error {
	return <-b.OrchestrationCommitAsync(ctx, p)
}

// OrchestrationCommitAsync queues one orchestration step (see store.Backend).
func (b *Backend) OrchestrationCommitAsync(ctx context.Context, p *store.OrchestrationCommitParams) <-chan error {
	failed := func(err error) <-chan error {
		ch := make(chan error, 1)
		ch <- fmt.Errorf("commit %s: %w", p.InstanceID, err)
		return ch
	}
	enc, err := sc.EncodeCommit(p)
	if err != nil {
		return failed(err)
	}
	return b.enqueue(ctx, func(tx *wtx) error {
		if err := commit(tx, p, enc); err != nil {
			return fmt.Errorf("commit %s: %w", p.InstanceID, err)
		}
		return nil
	})
}

func commit(tx *wtx, p *store.OrchestrationCommitParams, enc *sc.CommitEncoded) error {
	id := p.InstanceID
	events, types, msgs := enc.Events, enc.Types, enc.Messages
	var owner sql.NullString
	var historyLen int
	var executionID string
	err := tx.queryRow(`SELECT lock_owner, history_len, execution_id FROM instances WHERE instance_id = ?`, id).
		Scan(&owner, &historyLen, &executionID)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("instance is gone: %w", store.ErrLeaseLost)
	}
	if err != nil {
		return err
	}
	if owner.String != p.Owner || historyLen != p.ExpectHistoryLen {
		return fmt.Errorf("lock held by %q at history length %d, not by %q at %d: %w",
			owner.String, historyLen, p.Owner, p.ExpectHistoryLen, store.ErrLeaseLost)
	}
	now := p.Update.UpdatedAt
	base := p.ExpectHistoryLen
	switch {
	case p.ResetHistory:
		if _, err := tx.exec(`DELETE FROM history WHERE instance_id = ?`, id); err != nil {
			return err
		}
		base = 0
	case p.TruncateHistory > 0 && p.TruncateHistory < base:
		if _, err := tx.exec(`DELETE FROM history WHERE instance_id = ? AND seq >= ?`, id, p.TruncateHistory); err != nil {
			return err
		}
		base = p.TruncateHistory
	}
	if err := tx.insertRows(`INSERT INTO history (instance_id, seq, event_type, data) VALUES `, "(?,?,?,?)", len(events),
		func(i int, args []any) []any { return append(args, id, base+i, types[i], events[i]) }); err != nil {
		return err
	}
	if err := tx.execIn(`DELETE FROM inbox WHERE instance_id = ? AND id IN `, []any{id}, len(p.Consumed),
		func(i int, args []any) []any { return append(args, p.Consumed[i]) }); err != nil {
		return err
	}
	if p.EndExecution {
		if _, err := tx.exec(`DELETE FROM tasks WHERE instance_id = ? AND execution_id = ?`, id, executionID); err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM inbox WHERE instance_id = ? AND execution_id = ?`, id, executionID); err != nil {
			return err
		}
	}
	for _, k := range p.CompletedTasks {
		if _, err := tx.exec(`DELETE FROM tasks WHERE instance_id = ? AND execution_id = ? AND task_id = ?`,
			k.InstanceID, k.ExecutionID, k.TaskID); err != nil {
			return err
		}
	}
	created := nanos(now)
	if err := tx.insertRows(`INSERT INTO tasks (instance_id, execution_id, task_id, name, input, attempt, lock_owner, lock_expiry, created_at) VALUES `,
		"(?,?,?,?,?,?,?,?,?)", len(p.Tasks), func(i int, args []any) []any {
			t := p.Tasks[i]
			var owner any
			attempt := 0
			if t.Owner != "" {
				owner, attempt = t.Owner, 1
			}
			return append(args, t.InstanceID, t.ExecutionID, t.TaskID, t.Name, sc.Payload(t.Input), attempt, owner, nanos(t.LockExpiry), created)
		}); err != nil {
		return err
	}
	for _, s := range enc.Subs {
		if err := createSubOrchestration(tx, s, &msgs); err != nil {
			return err
		}
	}
	if err := insertMessages(tx, msgs, now, id); err != nil {
		return err
	}
	u := p.Update
	var lockOwner any = p.Owner
	lockExpiry := nanos(p.LockExpiry)
	if p.Release {
		lockOwner, lockExpiry = nil, 0
	}
	q := `UPDATE instances SET updated_at = ?, history_len = ?, lock_owner = ?, lock_expiry = ?,
		ready_at = (SELECT MIN(visible_at) FROM inbox WHERE instance_id = ?)`
	args := []any{created, base + len(events), lockOwner, lockExpiry, id}
	if !p.KeepState {
		q += `, status = ?, custom_status = ?, output = ?, failure = ?`
		args = append(args, string(u.Status), sc.Payload(u.CustomStatus), sc.Payload(u.Output), enc.Failure)
	}
	if u.ExecutionID != "" {
		q += `, execution_id = ?, input = ?`
		args = append(args, u.ExecutionID, sc.Payload(u.Input))
	}
	_, err = tx.exec(q+` WHERE instance_id = ?`, append(args, id)...)
	return err
}

// createSubOrchestration creates a child instance; when the id is taken by an unfinished instance
// it queues a SubOrchestrationInstanceFailed message for the parent instead.
func createSubOrchestration(tx *wtx, s *sc.EncodedInstance, msgs *[]sc.EncodedMessage) error {
	err := createInstance(tx, s)
	var se *store.StatusError
	if !errors.As(err, &se) || !errors.Is(err, store.ErrInstanceExists) {
		return err
	}
	refusal, err := sc.SubOrchestrationRefused(s, se)
	if err != nil {
		return err
	}
	*msgs = append(*msgs, refusal)
	return nil
}

// OrchestrationRelease releases locks (see store.Backend).
func (b *Backend) OrchestrationRelease(ctx context.Context, owner string, ids []string) error {
	return b.write(ctx, func(tx *wtx) error {
		if ids == nil {
			_, err := tx.exec(`UPDATE instances SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner = ?`, owner)
			return err
		}
		return tx.execIn(`UPDATE instances SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner = ? AND instance_id IN `,
			[]any{owner}, len(ids), func(i int, args []any) []any { return append(args, ids[i]) })
	})
}

// OrchestrationRenew extends an owner's locks (see store.Backend).
func (b *Backend) OrchestrationRenew(ctx context.Context, owner string, expiry time.Time) error {
	return b.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`UPDATE instances SET lock_expiry = ? WHERE lock_owner = ?`, nanos(expiry), owner)
		return err
	})
}

// OrchestrationNextVisible returns when the next delayed message becomes visible (see store.Backend).
func (b *Backend) OrchestrationNextVisible(ctx context.Context, now time.Time) (time.Time, bool, error) {
	if err := b.acquireRead(); err != nil {
		return time.Time{}, false, err
	}
	defer b.releaseRead()
	var next sql.NullInt64
	err := b.reads.QueryRowContext(ctx, `SELECT MIN(ready_at) FROM instances WHERE ready_at > ?`, nanos(now)).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next visible message: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromNanos(next.Int64), true, nil
}

// batchSizes are the statement sizes large batches are cut into: few distinct statements stay
// prepared, and a large batch costs few calls into SQLite.
var batchSizes = []int{256, 64, 16, 4, 1}

// inBatches calls fn for consecutive runs of the n items, each run of one of batchSizes.
func inBatches(n int, fn func(from, size int) error) error {
	from := 0
	for _, size := range batchSizes {
		for n-from >= size {
			if err := fn(from, size); err != nil {
				return err
			}
			from += size
		}
	}
	return nil
}

// insertRows inserts n rows with multi-row INSERT statements; args appends row i's values.
func (t *wtx) insertRows(prefix, row string, n int, args func(i int, dst []any) []any) error {
	perRow := strings.Count(row, "?")
	return inBatches(n, func(from, size int) error {
		q := prefix + strings.TrimSuffix(strings.Repeat(row+",", size), ",")
		buf := make([]any, 0, size*perRow)
		for j := 0; j < size; j++ {
			buf = args(from+j, buf)
		}
		_, err := t.exec(q, buf...)
		return err
	})
}

// execIn runs "prefix (?,...,?)" over n values, after the fixed leading arguments; value
// appends value i.
func (t *wtx) execIn(prefix string, fixed []any, n int, value func(i int, dst []any) []any) error {
	return inBatches(n, func(from, size int) error {
		buf := append(make([]any, 0, len(fixed)+size), fixed...)
		for j := 0; j < size; j++ {
			buf = value(from+j, buf)
		}
		_, err := t.exec(prefix+"("+placeholders(size)+")", buf...)
		return err
	})
}
