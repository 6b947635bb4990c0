package sqlite

import (
	"context"
	"fmt"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// EventPublish writes an ingested event's effects once per event id (see store.ComputeBackend).
func (b *Backend) EventPublish(ctx context.Context, p *store.EventPublishParams) (bool, error) {
	eff, err := sc.EncodeEffects(&p.Effects)
	if err != nil {
		return false, err
	}
	var duplicate bool
	err = b.write(ctx, func(tx *wtx) error {
		now := nanos(p.Now)
		if _, err := tx.exec(`DELETE FROM event_seen WHERE until < ?`, now); err != nil {
			return err
		}
		res, err := tx.exec(`INSERT INTO event_seen (event_id, until) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`,
			p.EventID, nanos(p.SeenUntil))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			duplicate = true
			return nil
		}
		return writeEffects(tx, eff, p.Now)
	})
	if err != nil {
		return false, fmt.Errorf("publish event %s: %w", p.EventID, err)
	}
	return duplicate, nil
}

const deliveryColumns = sc.DeliveryColumns

// DeliveryLease leases due outbox entries (see store.ComputeBackend).
func (b *Backend) DeliveryLease(ctx context.Context, p *store.DeliveryLeaseParams) ([]*store.Delivery, error) {
	if p.Limit <= 0 {
		return nil, fmt.Errorf("lease deliveries: limit must be positive: %w", store.ErrInvalid)
	}
	now := nanos(p.Now)
	var out []*store.Delivery
	err := b.write(ctx, func(tx *wtx) (err error) {
		out, err = txQuery(tx, sc.All(sc.ScanDelivery), `UPDATE event_outbox SET lock_owner = ?, lock_expiry = ? WHERE id IN (
			SELECT id FROM event_outbox WHERE next_attempt <= ? AND (lock_owner IS NULL OR lock_expiry <= ?)
			ORDER BY next_attempt, id LIMIT (?+0)) RETURNING `+deliveryColumns,
			p.Owner, nanos(p.LockExpiry), now, now, p.Limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lease deliveries: %w", err)
	}
	return out, nil
}

// DeliveryDone deletes a delivered entry (see store.ComputeBackend).
func (b *Backend) DeliveryDone(ctx context.Context, id int64, owner string) error {
	return b.write(ctx, func(tx *wtx) error {
		res, err := tx.exec(`DELETE FROM event_outbox WHERE id = ? AND lock_owner = ?`, id, owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delivery %d: %w", id, store.ErrLeaseLost)
		}
		return nil
	})
}

// DeliveryRetry gives a delivery back for a later attempt (see store.ComputeBackend).
func (b *Backend) DeliveryRetry(ctx context.Context, p *store.DeliveryRetryParams) error {
	return b.write(ctx, func(tx *wtx) error {
		res, err := tx.exec(`UPDATE event_outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ?,
			lock_owner = NULL, lock_expiry = 0 WHERE id = ? AND lock_owner = ?`, nanos(p.NextAttempt), p.LastError, p.ID, p.Owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delivery %d: %w", p.ID, store.ErrLeaseLost)
		}
		return nil
	})
}

// DeliveryDeadLetter moves a delivery to the dead-letter list (see store.ComputeBackend).
func (b *Backend) DeliveryDeadLetter(ctx context.Context, p *store.DeliveryDeadLetterParams) error {
	return b.write(ctx, func(tx *wtx) error {
		res, err := tx.exec(`INSERT INTO event_dead_letters (subscription, event_id, event, attempts, reason, at)
			SELECT subscription, event_id, event, attempts + 1, ?, ? FROM event_outbox WHERE id = ? AND lock_owner = ?`,
			p.Reason, nanos(p.At), p.ID, p.Owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("delivery %d: %w", p.ID, store.ErrLeaseLost)
		}
		_, err = tx.exec(`DELETE FROM event_outbox WHERE id = ?`, p.ID)
		return err
	})
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
	q := `SELECT id, subscription, event_id, event, attempts, reason, at FROM event_dead_letters`
	var args []any
	if subscription != "" {
		q += ` WHERE subscription = ?`
		args = append(args, subscription)
	}
	out, err := query(ctx, b, sc.All(sc.ScanDeadLetter), q+` ORDER BY id DESC LIMIT (?+0)`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// SubscriptionPut creates or replaces a subscription (see store.ComputeBackend).
func (b *Backend) SubscriptionPut(ctx context.Context, s *store.SubscriptionRecord) error {
	return b.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`INSERT INTO subscriptions (name, spec, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
			s.Name, s.Spec, nanos(s.UpdatedAt))
		return err
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
	return b.write(ctx, func(tx *wtx) error {
		res, err := tx.exec(`DELETE FROM subscriptions WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscription %s: %w", name, store.ErrNotFound)
		}
		_, err = tx.exec(`DELETE FROM event_outbox WHERE subscription = ?`, name)
		return err
	})
}
