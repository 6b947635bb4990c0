package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// LeaderAcquire takes or renews a role's lease (see store.Backend). The one writer serialises
// it with every other write, fenced ones included.
func (b *Backend) LeaderAcquire(ctx context.Context, p *store.LeaderAcquireParams) (store.LeaderLease, bool, error) {
	if err := sc.ValidateLeader(p.Role, p.Holder); err != nil {
		return store.LeaderLease{}, false, err
	}
	lease := store.LeaderLease{Role: p.Role}
	held := false
	err := b.write(ctx, func(tx *wtx) error {
		var expiry int64
		err := tx.queryRow(`SELECT holder, fence, expiry FROM leader_leases WHERE role = ?`, p.Role).
			Scan(&lease.Holder, &lease.Fence, &expiry)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			lease.Fence = 0
		case err != nil:
			return err
		case lease.Holder != p.Holder && expiry > nanos(p.Now):
			lease.Expiry = fromNanos(expiry)
			return nil
		}
		if lease.Holder != p.Holder {
			lease.Holder, lease.Fence = p.Holder, lease.Fence+1
		}
		lease.Expiry, held = p.Expiry, true
		_, err = tx.exec(`INSERT INTO leader_leases (role, holder, fence, expiry) VALUES (?, ?, ?, ?)
			ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, fence = excluded.fence, expiry = excluded.expiry`,
			p.Role, lease.Holder, lease.Fence, nanos(p.Expiry))
		return err
	})
	if err != nil {
		return store.LeaderLease{}, false, fmt.Errorf("acquire the %s lease: %w", p.Role, err)
	}
	return lease, held, nil
}

// LeaderRelease ends a role's lease (see store.Backend).
func (b *Backend) LeaderRelease(ctx context.Context, role, holder string, fence int64) error {
	err := b.write(ctx, func(tx *wtx) error {
		_, err := tx.exec(`UPDATE leader_leases SET expiry = 0 WHERE role = ? AND holder = ? AND fence = ?`, role, holder, fence)
		return err
	})
	if err != nil {
		return fmt.Errorf("release the %s lease: %w", role, err)
	}
	return nil
}

// checkFence fails with ErrLeaseLost unless the role's lease still carries f's fence.
func checkFence(tx *wtx, f *store.LeaderFence) error {
	if f == nil {
		return nil
	}
	var fence int64
	err := tx.queryRow(`SELECT fence FROM leader_leases WHERE role = ?`, f.Role).Scan(&fence)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if fence != f.Fence {
		return fmt.Errorf("the %s lease moved on (fence %d, not %d): %w", f.Role, fence, f.Fence, store.ErrLeaseLost)
	}
	return nil
}
