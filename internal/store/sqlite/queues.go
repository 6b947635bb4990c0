package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// Queue messages live in queue_messages, one row per message, ordered for dequeuing by
// (visible_at, seq) through the queue_messages_visible index. A dequeue seeks that index to the
// visible range of one queue, so messages in flight or delayed (visible_at in the future) are
// never scanned by a claim, however many there are (storage-deps G6).
//
// Pop receipts are drawn by SQLite (randomblob) for every row a dequeue or an update touches, so
// a receipt is fresh per message and per lease.

const queueColumns = sc.QueueColumns

var scanQueueMessage = sc.ScanQueueMessage

// newReceipt is the SQL expression of a fresh pop receipt.
const newReceipt = `lower(hex(randomblob(12)))`

// bodyArg keeps an empty body from being stored as NULL.
func bodyArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// QueueEnqueue adds messages (see store.ComputeBackend). The batch is atomic: a duplicate id
// in the queue fails it whole.
func (b *Backend) QueueEnqueue(ctx context.Context, p *store.QueueEnqueueParams) error {
	if len(p.Messages) == 0 {
		return nil
	}
	err := b.write(ctx, func(tx *wtx) error {
		return tx.insertRows(`INSERT INTO queue_messages (queue, id, body, inserted_at, expires_at, visible_at) VALUES `,
			"(?,?,?,?,?,?)", len(p.Messages), func(i int, args []any) []any {
				m := p.Messages[i]
				return append(args, p.Queue, m.ID, bodyArg(m.Body), nanos(m.InsertedAt), nanos(m.ExpiresAt), nanos(m.VisibleAt))
			})
	})
	if err != nil {
		return fmt.Errorf("enqueue to %s: %w", p.Queue, err)
	}
	return nil
}

// QueueDequeue takes messages (see store.ComputeBackend).
//
// The claim is one statement: the subquery walks the visible range of the queue's index, the
// update leases what it found. Claimed rows that turn out to be expired are deleted, and rows
// dequeued once too often are moved to the poison queue (same row, same id unless the poison
// queue already holds that id; dequeue count back to the number of real dequeues); the claim
// then runs again for what is missing, so garbage at the head of a queue never makes a dequeue
// come back short while visible messages remain.
func (b *Backend) QueueDequeue(ctx context.Context, p *store.QueueDequeueParams) ([]*store.QueueMessage, []*store.QueueMessage, error) {
	if err := sc.CheckDequeue(p); err != nil {
		return nil, nil, err
	}
	var msgs, poisoned []*store.QueueMessage
	err := b.write(ctx, func(tx *wtx) error {
		msgs, poisoned = msgs[:0], poisoned[:0]
		var seqs []int64
		for need := p.Limit; need > 0; {
			claimed, claimedSeqs, err := claimQueueMessages(tx, p, need)
			if err != nil {
				return err
			}
			var expired, poison []int64
			var poisonMsgs []*store.QueueMessage
			for i, m := range claimed {
				switch {
				case !m.ExpiresAt.IsZero() && !m.ExpiresAt.After(p.Now):
					expired = append(expired, claimedSeqs[i])
				case p.MaxDequeueCount > 0 && m.DequeueCount > p.MaxDequeueCount:
					poison = append(poison, claimedSeqs[i])
					poisonMsgs = append(poisonMsgs, m)
				default:
					msgs = append(msgs, m)
					seqs = append(seqs, claimedSeqs[i])
				}
			}
			if err := tx.execIn(`DELETE FROM queue_messages WHERE seq IN `, nil, len(expired),
				func(i int, args []any) []any { return append(args, expired[i]) }); err != nil {
				return err
			}
			for i, m := range poisonMsgs {
				if err := movePoisoned(tx, m, poison[i], p); err != nil {
					return err
				}
				poisoned = append(poisoned, m)
			}
			if len(claimed) < need || len(expired)+len(poison) == 0 {
				break
			}
			need -= len(claimed) - len(expired) - len(poison)
		}
		// RETURNING yields rows in update order; a batch comes oldest first.
		msgs = sc.SortBySeq(msgs, seqs)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dequeue from %s: %w", p.Queue, err)
	}
	return msgs, poisoned, nil
}

// claimQueueMessages leases up to limit visible messages of p.Queue.
//
// The limit is written into the statement, not bound: SQLite's planner reads a bound LIMIT's
// value, which marks the statement for a full re-prepare whenever that parameter is bound again
// (every execution, as the driver clears bindings after each), and parsing then cost as much as
// the claim itself. Each limit (1 to 32 in practice) is a statement of its own in the cache.
func claimQueueMessages(tx *wtx, p *store.QueueDequeueParams, limit int) ([]*store.QueueMessage, []int64, error) {
	rows, err := tx.query(`UPDATE queue_messages SET visible_at = ?, pop_receipt = `+newReceipt+`, dequeue_count = dequeue_count + 1
		WHERE seq IN (SELECT seq FROM queue_messages WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, seq
		LIMIT `+strconv.Itoa(limit)+`) RETURNING `+queueColumns, nanos(p.VisibleUntil), p.Queue, nanos(p.Now))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []*store.QueueMessage
	var seqs []int64
	for rows.Next() {
		m, seq, err := scanQueueMessage(rows.Scan)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, m)
		seqs = append(seqs, seq)
	}
	return out, seqs, rows.Err()
}

// movePoisoned moves a claimed message (row seq) to the poison queue, visible at once and
// waiting to be reported, and updates m to what was stored.
func movePoisoned(tx *wtx, m *store.QueueMessage, seq int64, p *store.QueueDequeueParams) error {
	id := m.ID
	var one int
	err := tx.queryRow(`SELECT 1 FROM queue_messages WHERE queue = ? AND id = ?`, p.PoisonQueue, id).Scan(&one)
	switch {
	case err == nil:
		// The poison queue holds a message with this id already (ids are the caller's): keep
		// both, the newcomer under an id of its own.
		id = fmt.Sprintf("%s-%d", id, seq)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, err := tx.exec(`UPDATE queue_messages SET queue = ?, id = ?, visible_at = ?, pop_receipt = NULL,
		dequeue_count = dequeue_count - 1, poison_unreported = 1 WHERE seq = ?`, p.PoisonQueue, id, nanos(p.Now), seq); err != nil {
		return err
	}
	m.Queue, m.ID, m.VisibleAt, m.PopReceipt, m.DequeueCount = p.PoisonQueue, id, p.Now, "", m.DequeueCount-1
	return nil
}

// QueueDelete deletes a message (see store.ComputeBackend).
func (b *Backend) QueueDelete(ctx context.Context, queue, id, popReceipt string) (time.Time, error) {
	var inserted int64
	err := b.write(ctx, func(tx *wtx) error {
		err := tx.queryRow(`DELETE FROM queue_messages WHERE queue = ? AND id = ? AND pop_receipt = ? RETURNING inserted_at`,
			queue, id, popReceipt).Scan(&inserted)
		if errors.Is(err, sql.ErrNoRows) {
			return missingOrLost(tx, queue, id)
		}
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("delete message %s from %s: %w", id, queue, err)
	}
	return fromNanos(inserted), nil
}

// missingOrLost tells why a statement guarded by a pop receipt changed nothing.
func missingOrLost(tx *wtx, queue, id string) error {
	var one int
	err := tx.queryRow(`SELECT 1 FROM queue_messages WHERE queue = ? AND id = ?`, queue, id).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return store.ErrLeaseLost
}

// QueueUpdate changes a message (see store.ComputeBackend).
func (b *Backend) QueueUpdate(ctx context.Context, p *store.QueueUpdateParams) (string, error) {
	q := `UPDATE queue_messages SET visible_at = ?, pop_receipt = ` + newReceipt
	args := []any{nanos(p.VisibleAt)}
	if p.Body != nil {
		q += `, body = ?`
		args = append(args, p.Body)
	}
	if p.LastError != nil {
		q += `, last_error = ?`
		args = append(args, *p.LastError)
	}
	if p.UndoDequeue {
		q += `, dequeue_count = max(dequeue_count - 1, 0)`
	}
	q += ` WHERE queue = ? AND id = ? AND pop_receipt = ? RETURNING pop_receipt`
	args = append(args, p.Queue, p.ID, p.PopReceipt)
	var receipt string
	err := b.write(ctx, func(tx *wtx) error {
		err := tx.queryRow(q, args...).Scan(&receipt)
		if errors.Is(err, sql.ErrNoRows) {
			return missingOrLost(tx, p.Queue, p.ID)
		}
		return err
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
	n := nanos(now)
	out, err := query(ctx, b, sc.QueueMessages, `SELECT `+queueColumns+` FROM queue_messages
		WHERE queue = ? AND visible_at <= ? AND (expires_at = 0 OR expires_at > ?) ORDER BY visible_at, seq LIMIT ?`,
		queue, n, n, limit)
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
	if err := b.acquireRead(); err != nil {
		return nil, err
	}
	defer b.releaseRead()
	n := nanos(now)
	if len(queues) == 0 {
		rows, err := b.reads.QueryContext(ctx, `SELECT queue, SUM(visible_at <= ?), SUM(visible_at > ?) FROM queue_messages
			WHERE expires_at = 0 OR expires_at > ? GROUP BY queue ORDER BY queue`, n, n, n)
		if err != nil {
			return nil, fmt.Errorf("queue stats: %w", err)
		}
		defer rows.Close()
		var out []store.QueueStats
		for rows.Next() {
			var s store.QueueStats
			if err := rows.Scan(&s.Queue, &s.Visible, &s.Invisible); err != nil {
				return nil, fmt.Errorf("queue stats: %w", err)
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("queue stats: %w", err)
		}
		return out, nil
	}
	out := make([]store.QueueStats, len(queues))
	for i, q := range queues {
		out[i].Queue = q
		err := b.reads.QueryRowContext(ctx, `SELECT COALESCE(SUM(visible_at <= ?), 0), COALESCE(SUM(visible_at > ?), 0)
			FROM queue_messages WHERE queue = ? AND (expires_at = 0 OR expires_at > ?)`, n, n, q, n).
			Scan(&out[i].Visible, &out[i].Invisible)
		if err != nil {
			return nil, fmt.Errorf("stats of queue %s: %w", q, err)
		}
	}
	return out, nil
}

// QueueNextVisible returns when the next message becomes visible (see store.ComputeBackend).
func (b *Backend) QueueNextVisible(ctx context.Context, queue string, now time.Time) (time.Time, bool, error) {
	if err := b.acquireRead(); err != nil {
		return time.Time{}, false, err
	}
	defer b.releaseRead()
	var next sql.NullInt64
	err := b.reads.QueryRowContext(ctx, `SELECT MIN(visible_at) FROM queue_messages WHERE queue = ? AND visible_at > ?`,
		queue, nanos(now)).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next visible message of %s: %w", queue, err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromNanos(next.Int64), true, nil
}

// QueuePoisonUnreported returns unreported poisoned messages, oldest first (see
// store.ComputeBackend).
func (b *Backend) QueuePoisonUnreported(ctx context.Context, limit int) ([]*store.QueueMessage, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("unreported poisoned messages: limit must be positive: %w", store.ErrInvalid)
	}
	out, err := query(ctx, b, sc.QueueMessages, `SELECT `+queueColumns+` FROM queue_messages WHERE poison_unreported = 1
		ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("unreported poisoned messages: %w", err)
	}
	return out, nil
}

// QueuePoisonNotify reports poisoned messages (see store.ComputeBackend). The params carry no
// time: the effects' default time (an inbox message's visibility, a delivery's creation) is the
// earliest time the effects carry themselves; callers stamp them.
func (b *Backend) QueuePoisonNotify(ctx context.Context, p *store.QueuePoisonNotifyParams) error {
	eff, err := sc.EncodeEffects(&p.Effects)
	if err != nil {
		return fmt.Errorf("report poisoned messages of %s: %w", p.Queue, err)
	}
	err = b.write(ctx, func(tx *wtx) error {
		if err := checkFence(tx, p.Fence); err != nil {
			return err
		}
		if err := tx.execIn(`UPDATE queue_messages SET poison_unreported = 0 WHERE queue = ? AND id IN `,
			[]any{p.Queue}, len(p.IDs), func(i int, args []any) []any { return append(args, p.IDs[i]) }); err != nil {
			return err
		}
		return writeEffects(tx, eff, p.Now)
	})
	if err != nil {
		return fmt.Errorf("report poisoned messages of %s: %w", p.Queue, err)
	}
	return nil
}
