package sqlite

import (
	"time"

	"github.com/orcahq/orca/internal/store"
	sc "github.com/orcahq/orca/internal/store/internal/sqlcommon"
)

// encodedEffects are store.Effects with their events encoded outside the writer.
type encodedEffects struct {
	messages   []sc.EncodedMessage
	deliveries []*store.DeliveryCreate
}

func encodeEffects(e *store.Effects) (*encodedEffects, error) {
	msgs, err := sc.EncodeMessages(e.Messages)
	if err != nil {
		return nil, err
	}
	return &encodedEffects{messages: msgs, deliveries: e.Deliveries}, nil
}

// writeEffects writes effects inside the caller's transaction: inbox messages (to existing
// instances) and outbox deliveries.
func writeEffects(tx *wtx, e *encodedEffects, now time.Time) error {
	if err := insertMessages(tx, e.messages, now, ""); err != nil {
		return err
	}
	created := nanos(now)
	return tx.insertRows(`INSERT INTO event_outbox (subscription, event_id, event, next_attempt, expires_at, created_at) VALUES `,
		"(?,?,?,?,?,?)", len(e.deliveries), func(i int, args []any) []any {
			d := e.deliveries[i]
			next := nanos(d.NotBefore)
			if next == 0 {
				next = created
			}
			return append(args, d.Subscription, d.EventID, d.Event, next, nanos(d.ExpiresAt), created)
		})
}
