package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// Inbox messages and the ready_at of their instances.
//
// An instance's ready_at is the visibility time of its earliest message; OrchestrationLease
// reads it. A step recomputes it for its own instance under the instance's row lock (taken FOR
// UPDATE by orca_fence); a sender lowers it for the target, after taking the target's row FOR
// KEY SHARE. KEY SHARE does not conflict with KEY SHARE, nor with the NO KEY UPDATE lock that
// a lease or a lowering takes, so senders to one instance (a fan-in of activity results) run in
// parallel; but it conflicts with a step's FOR UPDATE, so a step never recomputes ready_at while a
// message to its instance is uncommitted, and a message is never left behind unannounced.

// queueMessages queues the statements that put msgs in their inboxes, dropping those addressed
// to instances that do not exist, lower the targets' ready_at (not self's: its step sets it)
// and wake them.
func queueMessages(bt *batch, msgs []sc.EncodedMessage, now time.Time, self string) {
	if len(msgs) == 0 {
		return
	}
	ids := make([]string, len(msgs))
	execs := make([]string, len(msgs))
	visible := make([]int64, len(msgs))
	data := make([][]byte, len(msgs))
	for i, m := range msgs {
		ids[i], execs[i], visible[i], data[i] = m.M.InstanceID, m.M.ExecutionID, m.VisibleAt(now), m.Data
	}
	bt.Queue(`SELECT 1 FROM instances WHERE instance_id = ANY($1) AND instance_id <> $2 ORDER BY instance_id FOR KEY SHARE`, ids, self)
	// One statement inserts and lowers ready_at from what it inserted. A message to an instance
	// that has not started (Pending, no history) becomes visible no sooner than its
	// ExecutionStarted (a scheduled start's ready_at), so it never makes it ready sooner.
	bt.Queue(`WITH ins AS (
			INSERT INTO inbox (instance_id, execution_id, visible_at, data)
			SELECT m.i, m.e, GREATEST(m.v, CASE WHEN t.status = 'Pending' AND t.history_len = 0 THEN COALESCE(t.ready_at, 0) ELSE 0 END), m.d
			FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[]) WITH ORDINALITY AS m(i, e, v, d, o)
			JOIN instances AS t ON t.instance_id = m.i ORDER BY m.o
			RETURNING instance_id, visible_at)
		UPDATE instances AS t SET ready_at = m.v
		FROM (SELECT instance_id AS i, MIN(visible_at) AS v FROM ins GROUP BY instance_id) AS m
		WHERE t.instance_id = m.i AND t.instance_id <> $5 AND (t.ready_at IS NULL OR t.ready_at > m.v)`, ids, execs, visible, data, self)
	for _, id := range ids {
		bt.wake(wakeInboxPrefix + id)
	}
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
	require := make([]string, len(p.RequireStatus))
	for i, s := range p.RequireStatus {
		require[i] = string(s)
	}
	err = b.exec(ctx, func(bt *batch) {
		bt.Queue(`SELECT orca_status($1, $2)`, p.InstanceID, require)
		queueMessages(bt, enc, p.Now, "")
	})
	if err != nil {
		return statusError(p.InstanceID, fmt.Errorf("send to instance %s: %w", p.InstanceID, err))
	}
	return nil
}

// OrchestrationLease leases instances with visible messages (see store.Backend). Rows another
// transaction is locking are skipped, not waited for.
func (b *Backend) OrchestrationLease(ctx context.Context, p *store.OrchestrationLeaseParams) ([]*store.Instance, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("lease orchestrations: limit must be positive: %w", store.ErrInvalid)
	}
	now := sc.Nanos(p.Now)
	a := args{p.Owner, sc.Nanos(p.LockExpiry), now}
	q := `UPDATE instances SET lock_owner = $1, lock_expiry = $2 WHERE instance_id IN (
		SELECT instance_id FROM instances
		WHERE ready_at <= $3 AND (lock_owner IS NULL OR lock_expiry <= $3)`
	if len(p.IDs) > 0 {
		q += ` AND instance_id = ANY(` + a.add(p.IDs) + `)`
	}
	q += ` ORDER BY ready_at LIMIT ` + a.add(p.Limit) + ` FOR NO KEY UPDATE SKIP LOCKED) RETURNING ready_at, ` + instanceColumns
	var ins []*store.Instance
	err := b.batch(ctx, func(bt *batch) { bt.Queue(q, a...) }, func(br pgx.BatchResults) (err error) {
		ins, err = collectNext(br, sc.LeasedInstances)
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
		WHERE lock_owner = $1 AND ready_at <= $2 ORDER BY ready_at LIMIT $3`, owner, sc.Nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("owned orchestrations: %w", err)
	}
	return out, nil
}

// OrchestrationInbox returns visible messages of an instance (see store.Backend).
func (b *Backend) OrchestrationInbox(ctx context.Context, instanceID string, now time.Time, limit int) ([]*store.Message, error) {
	out, err := query(ctx, b, sc.All(sc.ScanInboxMessage), `SELECT `+sc.InboxColumns+` FROM inbox
		WHERE instance_id = $1 AND visible_at <= $2 ORDER BY id LIMIT $3`, instanceID, sc.Nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("read inbox of %s: %w", instanceID, err)
	}
	return out, nil
}

// OrchestrationCommit applies one orchestration step atomically (see store.Backend).
func (b *Backend) OrchestrationCommit(ctx context.Context, p *store.OrchestrationCommitParams) error {
	return <-b.OrchestrationCommitAsync(ctx, p)
}

// OrchestrationCommitAsync queues one orchestration step (see store.Backend). Steps of one
// instance run one after another, in the order they were queued; steps of different instances
// run concurrently on the pool.
func (b *Backend) OrchestrationCommitAsync(ctx context.Context, p *store.OrchestrationCommitParams) <-chan error {
	ch := make(chan error, 1)
	enc, err := sc.EncodeCommit(p)
	if err != nil {
		ch <- fmt.Errorf("commit %s: %w", p.InstanceID, err)
		return ch
	}
	prev, done := b.chain.enter(p.InstanceID)
	go func() {
		defer b.chain.leave(p.InstanceID, done)
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				ch <- fmt.Errorf("commit %s: %w", p.InstanceID, ctx.Err())
				return
			}
		}
		if err := b.commit(ctx, p, enc); err != nil {
			ch <- fmt.Errorf("commit %s: %w", p.InstanceID, err)
			return
		}
		ch <- nil
	}()
	return ch
}

// commit applies a step. Without sub-orchestrations it is one batch: the fence (lock, owner and
// history length, else the batch fails with ErrLeaseLost) and every write. A step that starts
// sub-orchestrations first creates them in a transaction of its own batch, as a child whose id is
// taken sends its parent a failure message instead, and then sends the rest.
func (b *Backend) commit(ctx context.Context, p *store.OrchestrationCommitParams, enc *sc.CommitEncoded) error {
	if len(enc.Subs) == 0 {
		return b.exec(ctx, func(bt *batch) {
			queueFence(bt, p)
			queueStep(bt, p, enc, enc.Messages)
		})
	}
	var wakes []string
	err := b.tx(ctx, func(tx pgx.Tx) error {
		bt := &batch{}
		queueFence(bt, p)
		for _, s := range enc.Subs {
			queueCreate(bt, s, true)
		}
		msgs := enc.Messages
		br := tx.SendBatch(ctx, &bt.Batch)
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return err
		}
		for _, s := range enc.Subs {
			var status *string
			if err := br.QueryRow().Scan(&status); err != nil {
				_ = br.Close()
				return err
			}
			if status != nil {
				refusal, err := sc.SubOrchestrationRefused(s, &store.StatusError{InstanceID: s.P.ID,
					Status: store.Status(*status), Err: store.ErrInstanceExists})
				if err != nil {
					_ = br.Close()
					return err
				}
				msgs = append(msgs[:len(msgs):len(msgs)], refusal)
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		rest := &batch{}
		queueStep(rest, p, enc, msgs)
		wakes = slices.Concat(bt.wakes, rest.wakes)
		return tx.SendBatch(ctx, &rest.Batch).Close()
	})
	if err == nil {
		b.notifier.add(wakes)
	}
	return err
}

func queueFence(bt *batch, p *store.OrchestrationCommitParams) {
	bt.Queue(`SELECT orca_fence($1, $2, $3)`, p.InstanceID, p.Owner, p.ExpectHistoryLen)
}

// queueStep queues a step's writes, after its fence.
func queueStep(bt *batch, p *store.OrchestrationCommitParams, enc *sc.CommitEncoded, msgs []sc.EncodedMessage) {
	id := p.InstanceID
	now := p.Update.UpdatedAt
	base := p.ExpectHistoryLen
	switch {
	case p.ResetHistory:
		bt.Queue(`DELETE FROM history WHERE instance_id = $1`, id)
		base = 0
	case p.TruncateHistory > 0 && p.TruncateHistory < base:
		bt.Queue(`DELETE FROM history WHERE instance_id = $1 AND seq >= $2`, id, p.TruncateHistory)
		base = p.TruncateHistory
	}
	if len(enc.Events) > 0 {
		bt.Queue(`INSERT INTO history (instance_id, seq, event_type, data)
			SELECT $1, $2 + u.o - 1, u.t, u.d FROM unnest($3::text[], $4::bytea[]) WITH ORDINALITY AS u(t, d, o)`,
			id, base, enc.Types, enc.Events)
	}
	if len(p.Consumed) > 0 {
		bt.Queue(`DELETE FROM inbox WHERE instance_id = $1 AND id = ANY($2)`, id, p.Consumed)
	}
	if p.EndExecution {
		// The instance row is not updated before the end of the batch: this is the execution
		// that ends.
		bt.Queue(`DELETE FROM tasks WHERE instance_id = $1 AND execution_id = (SELECT execution_id FROM instances WHERE instance_id = $1)`, id)
		bt.Queue(`DELETE FROM inbox WHERE instance_id = $1 AND execution_id = (SELECT execution_id FROM instances WHERE instance_id = $1)`, id)
	}
	if len(p.CompletedTasks) > 0 {
		ins, execs, tids := taskKeyArrays(p.CompletedTasks)
		bt.Queue(`DELETE FROM tasks AS t USING unnest($1::text[], $2::text[], $3::integer[]) AS k(i, e, n)
			WHERE t.instance_id = k.i AND t.execution_id = k.e AND t.task_id = k.n`, ins, execs, tids)
	}
	queueTasks(bt, p.Tasks, now)
	queueMessages(bt, msgs, now, id)
	a := args{sc.Nanos(now), base + len(enc.Events), nil, int64(0), id}
	if !p.Release {
		a[2], a[3] = p.Owner, sc.Nanos(p.LockExpiry)
	}
	q := `UPDATE instances SET updated_at = $1, history_len = $2, lock_owner = $3, lock_expiry = $4,
		ready_at = (SELECT MIN(visible_at) FROM inbox WHERE instance_id = $5)`
	if !p.KeepState {
		u := p.Update
		q += `, status = ` + a.add(string(u.Status)) + `, custom_status = ` + a.add(sc.Payload(u.CustomStatus)) +
			`, output = ` + a.add(sc.Payload(u.Output)) + `, failure = ` + a.add(enc.Failure)
	}
	if p.Update.ExecutionID != "" {
		q += `, execution_id = ` + a.add(p.Update.ExecutionID) + `, input = ` + a.add(sc.Payload(p.Update.Input))
	}
	bt.Queue(q+` WHERE instance_id = $5`, a...)
}

// queueTasks queues the insertion of new activity tasks, and wakes the dispatchers when any of
// them is free to lease.
func queueTasks(bt *batch, tasks []*store.TaskCreate, now time.Time) {
	if len(tasks) == 0 {
		return
	}
	n := len(tasks)
	ins, execs, tids := make([]string, n), make([]string, n), make([]int32, n)
	names, owners := make([]string, n), make([]*string, n)
	inputs := make([][]byte, n)
	attempts := make([]int32, n)
	expiries := make([]int64, n)
	free := false
	for i, t := range tasks {
		ins[i], execs[i], tids[i], names[i], inputs[i] = t.InstanceID, t.ExecutionID, t.TaskID, t.Name, sc.Payload(t.Input)
		if t.Owner != "" {
			owners[i], attempts[i] = &tasks[i].Owner, 1
		} else {
			free = true
		}
		expiries[i] = sc.Nanos(t.LockExpiry)
	}
	bt.Queue(`INSERT INTO tasks (instance_id, execution_id, task_id, name, input, attempt, lock_owner, lock_expiry, created_at)
		SELECT u.i, u.e, u.n, u.name, u.input, u.attempt, u.owner, u.expiry, $9
		FROM unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::bytea[], $6::integer[], $7::text[], $8::bigint[])
			WITH ORDINALITY AS u(i, e, n, name, input, attempt, owner, expiry, o)
		ORDER BY u.o`, ins, execs, tids, names, inputs, attempts, owners, expiries, sc.Nanos(now))
	if free {
		bt.wake(wakeTasks)
	}
}

func taskKeyArrays(keys []store.TaskKey) (ins, execs []string, tids []int32) {
	ins, execs, tids = make([]string, len(keys)), make([]string, len(keys)), make([]int32, len(keys))
	for i, k := range keys {
		ins[i], execs[i], tids[i] = k.InstanceID, k.ExecutionID, k.TaskID
	}
	return ins, execs, tids
}

// OrchestrationRelease releases locks (see store.Backend).
func (b *Backend) OrchestrationRelease(ctx context.Context, owner string, ids []string) error {
	// Released instances with messages are announced: another process may take them now.
	q := `UPDATE instances SET lock_owner = NULL, lock_expiry = 0 WHERE lock_owner = $1 %s
		RETURNING instance_id, ready_at IS NOT NULL`
	var wakes []string
	err := b.batch(ctx, func(bt *batch) {
		if ids == nil {
			bt.Queue(fmt.Sprintf(q, ""), owner)
		} else {
			bt.Queue(fmt.Sprintf(q, "AND instance_id = ANY($2)"), owner, ids)
		}
	}, func(br pgx.BatchResults) error {
		wakes = wakes[:0]
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var ready bool
			if err := rows.Scan(&id, &ready); err != nil {
				return err
			}
			if ready {
				wakes = append(wakes, wakeInboxPrefix+id)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("release orchestrations: %w", err)
	}
	b.notifier.add(wakes)
	return nil
}

// OrchestrationRenew extends an owner's locks (see store.Backend).
func (b *Backend) OrchestrationRenew(ctx context.Context, owner string, expiry time.Time) error {
	return b.exec(ctx, func(bt *batch) {
		bt.Queue(`UPDATE instances SET lock_expiry = $1 WHERE lock_owner = $2`, sc.Nanos(expiry), owner)
	})
}

// OrchestrationNextVisible returns when the next delayed message becomes visible (see store.Backend).
func (b *Backend) OrchestrationNextVisible(ctx context.Context, now time.Time) (time.Time, bool, error) {
	return b.nextVisible(ctx, `SELECT MIN(ready_at) FROM instances WHERE ready_at > $1`, sc.Nanos(now))
}

func (b *Backend) nextVisible(ctx context.Context, q string, a ...any) (time.Time, bool, error) {
	var next *int64
	err := b.read(func() error { return b.pool.QueryRow(ctx, q, a...).Scan(&next) })
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next visible message: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return sc.FromNanos(*next), true, nil
}
