package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// leaderAcquireSQL takes or renews a lease in one statement. Concurrent calls serialise on the
// row: ON CONFLICT re-checks its WHERE against the latest committed version. The fallback read
// (the lease is another's) runs on the statement's snapshot, which may predate a rival's
// takeover, so the caller trusts only the granted flag, never the holder it read; when a rival
// inserted the row after that snapshot the read finds no row at all, which means the same: not
// granted.
const leaderAcquireSQL = `WITH up AS (
	INSERT INTO leader_leases AS l (role, holder, fence, expiry) VALUES ($1, $2, 1, $4)
	ON CONFLICT (role) DO UPDATE SET
		fence = CASE WHEN l.holder = excluded.holder THEN l.fence ELSE l.fence + 1 END,
		holder = excluded.holder, expiry = excluded.expiry
	WHERE l.holder = excluded.holder OR l.expiry <= $3
	RETURNING holder, fence, expiry)
SELECT true, holder, fence, expiry FROM up
UNION ALL
SELECT false, holder, fence, expiry FROM leader_leases WHERE role = $1 AND NOT EXISTS (SELECT 1 FROM up)`

// LeaderAcquire takes or renews a role's lease (see store.Backend).
func (b *Backend) LeaderAcquire(ctx context.Context, p *store.LeaderAcquireParams) (store.LeaderLease, bool, error) {
	if err := sc.ValidateLeader(p.Role, p.Holder); err != nil {
		return store.LeaderLease{}, false, err
	}
	lease := store.LeaderLease{Role: p.Role}
	var held bool
	var expiry int64
	err := b.batch(ctx, func(bt *batch) {
		bt.Queue(leaderAcquireSQL, p.Role, p.Holder, sc.Nanos(p.Now), sc.Nanos(p.Expiry))
	}, func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(&held, &lease.Holder, &lease.Fence, &expiry)
		if errors.Is(err, pgx.ErrNoRows) {
			held, err = false, nil
		}
		return err
	})
	if err != nil {
		return store.LeaderLease{}, false, fmt.Errorf("acquire the %s lease: %w", p.Role, err)
	}
	lease.Expiry = sc.FromNanos(expiry)
	return lease, held, nil
}

// LeaderRelease ends a role's lease (see store.Backend).
func (b *Backend) LeaderRelease(ctx context.Context, role, holder string, fence int64) error {
	err := b.exec(ctx, func(bt *batch) {
		bt.Queue(`UPDATE leader_leases SET expiry = 0 WHERE role = $1 AND holder = $2 AND fence = $3`, role, holder, fence)
	})
	if err != nil {
		return fmt.Errorf("release the %s lease: %w", role, err)
	}
	return nil
}

// queueLeaderFence queues the check of a fenced write: it fails the batch with ErrLeaseLost unless
// the role's lease still carries f's fence. The row is locked FOR SHARE, so a takeover waits
// until the write has committed or rolled back.
func queueLeaderFence(bt *batch, f *store.LeaderFence) {
	if f == nil {
		return
	}
	bt.Queue(`SELECT orca_fail('`+codeLeaseLost+`', 'the ' || $1 || ' lease moved on')
		FROM (SELECT count(*) AS n FROM (SELECT 1 FROM leader_leases WHERE role = $1 AND fence = $2 FOR SHARE) l) c
		WHERE c.n = 0`, f.Role, f.Fence)
}
