package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// Queue messages live in queue_messages, one row per message, ordered for dequeuing by
// (visible_at, seq) through the queue_messages_visible index, so messages in flight or delayed
// are never scanned by a claim (storage-deps G6). A dequeue is one call of orca_dequeue (see the
// migration): the claim skips rows a concurrent dequeue holds (FOR UPDATE SKIP LOCKED), so
// consumers in any number of processes share a queue without waiting for each other. Pop
// receipts are drawn by the database for every row a dequeue or an update touches.

const queueColumns = sc.QueueColumns

// QueueEnqueue adds messages (see store.ComputeBackend). The batch is atomic: a duplicate id
// in the queue fails it whole.
func (b *Backend) QueueEnqueue(ctx context.Context, p *store.QueueEnqueueParams) error {
	if len(p.Messages) == 0 {
		return nil
	}
	n := len(p.Messages)
	ids, bodies := make([]string, n), make([][]byte, n)
	inserted, expires, visible := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, m := range p.Messages {
		ids[i], inserted[i], expires[i], visible[i] = m.ID, sc.Nanos(m.InsertedAt), sc.Nanos(m.ExpiresAt), sc.Nanos(m.VisibleAt)
		if bodies[i] = m.Body; bodies[i] == nil {
			bodies[i] = []byte{}
		}
	}
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`INSERT INTO queue_messages (queue, id, body, inserted_at, expires_at, visible_at)
			SELECT $1, u.i, u.b, u.t, u.x, u.v FROM unnest($2::text[], $3::bytea[], $4::bigint[], $5::bigint[], $6::bigint[])
			WITH ORDINALITY AS u(i, b, t, x, v, o) ORDER BY u.o`, p.Queue, ids, bodies, inserted, expires, visible)
		bt.wake(wakeQueuePrefix + p.Queue)
	})
	if err != nil {
		return fmt.Errorf("enqueue to %s: %w", p.Queue, err)
	}
	return nil
}

// QueueDequeue takes messages (see store.ComputeBackend).
func (b *Backend) QueueDequeue(ctx context.Context, p *store.QueueDequeueParams) ([]*store.QueueMessage, []*store.QueueMessage, error) {
	if err := sc.CheckDequeue(p); err != nil {
		return nil, nil, err
	}
	var msgs, poisoned []*store.QueueMessage
	var seqs []int64
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(`SELECT * FROM orca_dequeue($1, $2, $3, $4, $5, $6)`, p.Queue, sc.Nanos(p.Now), sc.Nanos(p.VisibleUntil),
			p.Limit, p.MaxDequeueCount, p.PoisonQueue)
	}, func(br pgx.BatchResults) error {
		msgs, poisoned, seqs = msgs[:0], poisoned[:0], seqs[:0]
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var kind string
			m, seq, err := sc.ScanQueueMessage(rows.Scan, &kind)
			if err != nil {
				return err
			}
			if kind == "p" {
				poisoned = append(poisoned, m)
				continue
			}
			msgs = append(msgs, m)
			seqs = append(seqs, seq)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dequeue from %s: %w", p.Queue, err)
	}
	if len(poisoned) > 0 {
		b.notifier.add([]string{wakeQueuePrefix + p.PoisonQueue})
	}
	return sc.SortBySeq(msgs, seqs), poisoned, nil
}

// missingOrLostSQL fails with OR002 when message $2 of queue $1 does not exist, else with OR001:
// it tells why a statement guarded by a pop receipt changed nothing.
const missingOrLostSQL = `SELECT orca_fail(CASE WHEN EXISTS (SELECT 1 FROM queue_messages WHERE queue = $1 AND id = $2)
	THEN '` + codeLeaseLost + `' ELSE '` + codeNotFound + `' END, 'pop receipt does not match')`

// QueueDelete deletes a message (see store.ComputeBackend).
func (b *Backend) QueueDelete(ctx context.Context, queue, id, popReceipt string) (time.Time, error) {
	var inserted int64
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(`WITH d AS (DELETE FROM queue_messages WHERE queue = $1 AND id = $2 AND pop_receipt = $3 RETURNING inserted_at)
			SELECT (SELECT inserted_at FROM d), (`+missingOrLostSQL+` WHERE NOT EXISTS (SELECT 1 FROM d))`, queue, id, popReceipt)
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&inserted, nil)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("delete message %s from %s: %w", id, queue, err)
	}
	return sc.FromNanos(inserted), nil
}

// QueueUpdate changes a message (see store.ComputeBackend).
func (b *Backend) QueueUpdate(ctx context.Context, p *store.QueueUpdateParams) (string, error) {
	a := args{p.Queue, p.ID, p.PopReceipt, sc.Nanos(p.VisibleAt)}
	q := `UPDATE queue_messages SET visible_at = $4, pop_receipt = orca_receipt()`
	if p.Body != nil {
		q += `, body = ` + a.add(p.Body)
	}
	if p.LastError != nil {
		q += `, last_error = ` + a.add(*p.LastError)
	}
	if p.UndoDequeue {
		q += `, dequeue_count = greatest(dequeue_count - 1, 0)`
	}
	q = `WITH d AS (` + q + ` WHERE queue = $1 AND id = $2 AND pop_receipt = $3 RETURNING pop_receipt)
		SELECT (SELECT pop_receipt FROM d), (` + missingOrLostSQL + ` WHERE NOT EXISTS (SELECT 1 FROM d))`
	var receipt string
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(q, a...)
		bt.wake(wakeQueuePrefix + p.Queue)
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&receipt, nil)
	})
	if err != nil {
		return "", fmt.Errorf("update message %s in %s: %w", p.ID, p.Queue, err)
	}
	return receipt, nil
}

// QueuePeek returns visible messages (see store.ComputeBackend). Expired messages are skipped,
// not deleted: a peek writes nothing.
func (b *Backend) QueuePeek(ctx context.Context, queue string, now time.Time, limit int) ([]*store.QueueMessage, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("peek %s: limit must be positive: %w", queue, store.ErrInvalid)
	}
	out, err := query(ctx, b, sc.QueueMessages, `SELECT `+queueColumns+` FROM queue_messages
		WHERE queue = $1 AND visible_at <= $2 AND (expires_at = 0 OR expires_at > $2) ORDER BY visible_at, seq LIMIT $3`,
		queue, sc.Nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("peek %s: %w", queue, err)
	}
	for _, m := range out {
		m.PopReceipt = ""
	}
	return out, nil
}

// QueueStats counts messages (see store.ComputeBackend). Named queues come back in the order
// given, with zero counts when they have no messages; without names, every queue that has
// unexpired messages comes back, by name.
func (b *Backend) QueueStats(ctx context.Context, now time.Time, queues ...string) ([]store.QueueStats, error) {
	n := sc.Nanos(now)
	var out []store.QueueStats
	err := b.read(func() error {
		var rows pgx.Rows
		var err error
		const counts = `COUNT(*) FILTER (WHERE visible_at <= $1), COUNT(*) FILTER (WHERE visible_at > $1)`
		if len(queues) == 0 {
			rows, err = b.pool.Query(ctx, `SELECT queue, `+counts+` FROM queue_messages
				WHERE expires_at = 0 OR expires_at > $1 GROUP BY queue ORDER BY queue`, n)
		} else {
			rows, err = b.pool.Query(ctx, `SELECT q.name, `+counts+` FROM unnest($2::text[]) WITH ORDINALITY AS q(name, o)
				LEFT JOIN queue_messages m ON m.queue = q.name AND (m.expires_at = 0 OR m.expires_at > $1)
				GROUP BY q.name, q.o ORDER BY q.o`, n, queues)
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s store.QueueStats
			if err := rows.Scan(&s.Queue, &s.Visible, &s.Invisible); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return out, nil
}

// QueueNextVisible returns when the next message becomes visible (see store.ComputeBackend).
func (b *Backend) QueueNextVisible(ctx context.Context, queue string, now time.Time) (time.Time, bool, error) {
	next, ok, err := b.nextVisible(ctx, `SELECT MIN(visible_at) FROM queue_messages WHERE queue = $1 AND visible_at > $2`, queue, sc.Nanos(now))
	if err != nil {
		return next, ok, fmt.Errorf("queue %s: %w", queue, err)
	}
	return next, ok, nil
}

// QueuePoisonUnreported returns unreported poisoned messages, oldest first (see
// store.ComputeBackend).
func (b *Backend) QueuePoisonUnreported(ctx context.Context, limit int) ([]*store.QueueMessage, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("unreported poisoned messages: limit must be positive: %w", store.ErrInvalid)
	}
	out, err := query(ctx, b, sc.QueueMessages, `SELECT `+queueColumns+` FROM queue_messages WHERE poison_unreported ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("unreported poisoned messages: %w", err)
	}
	return out, nil
}

// QueuePoisonNotify reports poisoned messages (see store.ComputeBackend).
func (b *Backend) QueuePoisonNotify(ctx context.Context, p *store.QueuePoisonNotifyParams) error {
	eff, err := sc.EncodeEffects(&p.Effects)
	if err != nil {
		return fmt.Errorf("report poisoned messages of %s: %w", p.Queue, err)
	}
	err = b.exec(ctx, func(bt *batch) {
		queueLeaderFence(bt, p.Fence)
		bt.Queue(`UPDATE queue_messages SET poison_unreported = false WHERE queue = $1 AND id = ANY($2)`, p.Queue, p.IDs)
		queueEffects(bt, eff, p.Now)
	})
	if err != nil {
		return fmt.Errorf("report poisoned messages of %s: %w", p.Queue, err)
	}
	return nil
}
