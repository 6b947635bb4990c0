package sqlite

import (
	"time"

	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// writeEffects writes effects inside the caller's transaction: inbox messages (to existing
// instances) and outbox deliveries.
func writeEffects(tx *wtx, e *sc.EncodedEffects, now time.Time) error {
	if err := insertMessages(tx, e.Messages, now, ""); err != nil {
		return err
	}
	created := nanos(now)
	return tx.insertRows(`INSERT INTO event_outbox (subscription, event_id, event, next_attempt, expires_at, created_at) VALUES `,
		"(?,?,?,?,?,?)", len(e.Deliveries), func(i int, args []any) []any {
			d := e.Deliveries[i]
			return append(args, d.Subscription, d.EventID, d.Event, sc.FirstAttempt(d, created), nanos(d.ExpiresAt), created)
		})
}
