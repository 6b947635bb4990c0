package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// EventPublish writes an ingested event's effects once per event id (see store.ComputeBackend):
// the effects are written only when the id is new, in the same statement batch.
func (b *Backend) EventPublish(ctx context.Context, p *store.EventPublishParams) (bool, error) {
	eff, err := sc.EncodeEffects(&p.Effects)
	if err != nil {
		return false, err
	}
	// A duplicate fails the batch (codeDuplicate), so its effects are not written.
	err = b.exec(ctx, func(bt *batch) {
		bt.Queue(`DELETE FROM event_seen WHERE until < $1`, sc.Nanos(p.Now))
		bt.Queue(`WITH s AS (INSERT INTO event_seen (event_id, until) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING RETURNING 1)
			SELECT orca_fail('`+codeDuplicate+`', 'event already published') WHERE NOT EXISTS (SELECT 1 FROM s)`,
			p.EventID, sc.Nanos(p.SeenUntil))
		queueEffects(bt, eff, p.Now)
	})
	if errors.Is(err, errDuplicate) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", p.EventID, err)
	}
	return false, nil
}

const deliveryColumns = sc.DeliveryColumns

// DeliveryLease leases due outbox entries (see store.ComputeBackend), skipping entries a
// concurrent lease holds.
func (b *Backend) DeliveryLease(ctx context.Context, p *store.DeliveryLeaseParams) ([]*store.Delivery, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("lease deliveries: limit must be positive: %w", store.ErrInvalid)
	}
	var out []*store.Delivery
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(`UPDATE event_outbox SET lock_owner = $1, lock_expiry = $2 WHERE id IN (
			SELECT id FROM event_outbox WHERE next_attempt <= $3 AND (lock_owner IS NULL OR lock_expiry <= $3)
			ORDER BY next_attempt, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING `+deliveryColumns,
			p.Owner, sc.Nanos(p.LockExpiry), sc.Nanos(p.Now), p.Limit)
	}, func(br pgx.BatchResults) (err error) {
		out, err = collectNext(br, sc.All(sc.ScanDelivery))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease deliveries: %w", err)
	}
	return out, nil
}

// leaseLostUnless fails the statement "WITH d AS (... RETURNING ...)" it ends when d is empty.
const leaseLostUnless = ` SELECT orca_fail('` + codeLeaseLost + `', 'delivery not held') WHERE NOT EXISTS (SELECT 1 FROM d)`

// DeliveryDone deletes a delivered entry (see store.ComputeBackend).
func (b *Backend) DeliveryDone(ctx context.Context, id int64, owner string) error {
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`WITH d AS (DELETE FROM event_outbox WHERE id = $1 AND lock_owner = $2 RETURNING 1)`+leaseLostUnless, id, owner)
	})
	if err != nil {
		return fmt.Errorf("delivery %d: %w", id, err)
	}
	return nil
}

// DeliveryRetry gives a delivery back for a later attempt (see store.ComputeBackend).
func (b *Backend) DeliveryRetry(ctx context.Context, p *store.DeliveryRetryParams) error {
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`WITH d AS (UPDATE event_outbox SET attempts = attempts + 1, next_attempt = $1, last_error = $2,
			lock_owner = NULL, lock_expiry = 0 WHERE id = $3 AND lock_owner = $4 RETURNING 1)`+leaseLostUnless,
			sc.Nanos(p.NextAttempt), p.LastError, p.ID, p.Owner)
		bt.wake(wakeDeliveries)
	})
	if err != nil {
		return fmt.Errorf("delivery %d: %w", p.ID, err)
	}
	return nil
}

// DeliveryDeadLetter moves a delivery to the dead-letter list (see store.ComputeBackend).
func (b *Backend) DeliveryDeadLetter(ctx context.Context, p *store.DeliveryDeadLetterParams) error {
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`WITH d AS (DELETE FROM event_outbox WHERE id = $3 AND lock_owner = $4
				RETURNING subscription, event_id, event, attempts),
			i AS (INSERT INTO event_dead_letters (subscription, event_id, event, attempts, reason, at)
				SELECT subscription, event_id, event, attempts + 1, $1, $2 FROM d)`+leaseLostUnless,
			p.Reason, sc.Nanos(p.At), p.ID, p.Owner)
	})
	if err != nil {
		return fmt.Errorf("delivery %d: %w", p.ID, err)
	}
	return nil
}

// DeliveryStats counts pending deliveries and dead letters (see store.ComputeBackend).
func (b *Backend) DeliveryStats(ctx context.Context) (map[string]int, map[string]int, error) {
	c, err := query(ctx, b, sc.CountDeliveries, `SELECT false, subscription, COUNT(*) FROM event_outbox GROUP BY subscription
		UNION ALL SELECT true, subscription, COUNT(*) FROM event_dead_letters GROUP BY subscription`)
	if err != nil {
		return nil, nil, fmt.Errorf("delivery stats: %w", err)
	}
	return c.Pending, c.Dead, nil
}

// DeadLetterList returns dead letters, newest first (see store.ComputeBackend).
func (b *Backend) DeadLetterList(ctx context.Context, subscription string, limit int) ([]*store.DeadLetter, error) {
	out, err := query(ctx, b, sc.All(sc.ScanDeadLetter), `SELECT id, subscription, event_id, event, attempts, reason, at FROM event_dead_letters
		WHERE $1 = '' OR subscription = $1 ORDER BY id DESC LIMIT $2`, subscription, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// SubscriptionPut creates or replaces a subscription (see store.ComputeBackend).
func (b *Backend) SubscriptionPut(ctx context.Context, s *store.SubscriptionRecord) error {
	return b.exec(ctx, func(bt *batch) {
		bt.Queue(`INSERT INTO subscriptions (name, spec, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
			s.Name, s.Spec, sc.Nanos(s.UpdatedAt))
		bt.wake(wakeSubs)
	})
}

// SubscriptionList returns every subscription (see store.ComputeBackend).
func (b *Backend) SubscriptionList(ctx context.Context) ([]*store.SubscriptionRecord, error) {
	out, err := query(ctx, b, sc.All(sc.ScanSubscription), `SELECT `+sc.SubscriptionColumns+` FROM subscriptions ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return out, nil
}

// SubscriptionDelete deletes a subscription and its pending deliveries (see store.ComputeBackend).
func (b *Backend) SubscriptionDelete(ctx context.Context, name string) error {
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`WITH d AS (DELETE FROM subscriptions WHERE name = $1 RETURNING 1)
			SELECT orca_fail('`+codeNotFound+`', 'no such subscription') WHERE NOT EXISTS (SELECT 1 FROM d)`, name)
		bt.Queue(`DELETE FROM event_outbox WHERE subscription = $1`, name)
		bt.wake(wakeSubs)
	})
	if err != nil {
		return fmt.Errorf("subscription %s: %w", name, err)
	}
	return nil
}
