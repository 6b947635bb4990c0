package postgres

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orcahq/orca/internal/store"
)

// Wake-ups. Every write that makes work available sends pg_notify(wakeChannel, payload) in its
// own transaction, so the notification is delivered at commit and never for a rolled-back
// write (PostgreSQL also folds identical notifications of one transaction into one). Payloads:
// "o:<instance id>" (inbox), "t" (tasks), "q:<queue>" (queue), "d" (deliveries). One connection
// per Backend LISTENs and fans the notifications out to the subscribers; while it is down,
// subscribers get WakeAll every PollFallback so nothing waits longer than a poll.

const wakeChannel = "orca_wake"

const (
	wakeInboxPrefix = "o:"
	wakeQueuePrefix = "q:"
	wakeTasks       = "t"
	wakeDeliveries  = "d"
)

// notifySQL wakes one key: $1 is the payload.
const notifySQL = `SELECT pg_notify('` + wakeChannel + `', $1)`

// notifyInboxesSQL wakes the instances in the array $1 (duplicates folded).
const notifyInboxesSQL = `SELECT pg_notify('` + wakeChannel + `', '` + wakeInboxPrefix + `' || i) FROM (SELECT DISTINCT unnest($1::text[]) AS i) t`

func parseWakeup(payload string) store.Wakeup {
	switch {
	case strings.HasPrefix(payload, wakeInboxPrefix):
		return store.Wakeup{Kind: store.WakeInbox, Key: payload[len(wakeInboxPrefix):]}
	case strings.HasPrefix(payload, wakeQueuePrefix):
		return store.Wakeup{Kind: store.WakeQueue, Key: payload[len(wakeQueuePrefix):]}
	case payload == wakeTasks:
		return store.Wakeup{Kind: store.WakeTasks}
	case payload == wakeDeliveries:
		return store.Wakeup{Kind: store.WakeDeliveries}
	}
	return store.Wakeup{Kind: store.WakeAll}
}

// subscriberBuffer is how many wake-ups a subscriber may fall behind before they are dropped.
const subscriberBuffer = 1024

type listener struct {
	cfg      *pgx.ConnConfig
	fallback time.Duration

	mu   sync.Mutex
	subs map[chan store.Wakeup]struct{}
	// missed: a wake-up was dropped for some subscriber; it gets WakeAll when it has room.
	missed map[chan store.Wakeup]bool
}

func newListener(cfg *pgx.ConnConfig, fallback time.Duration) *listener {
	return &listener{cfg: cfg, fallback: fallback, subs: map[chan store.Wakeup]struct{}{}, missed: map[chan store.Wakeup]bool{}}
}

// Subscribe returns wake-ups caused by any process's writes (see store.Waker).
func (b *Backend) Subscribe() (<-chan store.Wakeup, func()) { return b.wakes.subscribe() }

var _ store.Waker = (*Backend)(nil)

func (l *listener) subscribe() (<-chan store.Wakeup, func()) {
	ch := make(chan store.Wakeup, subscriberBuffer)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs, ch)
			delete(l.missed, ch)
			l.mu.Unlock()
		})
	}
}

func (l *listener) publish(w store.Wakeup) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		if l.missed[ch] {
			select {
			case ch <- store.Wakeup{Kind: store.WakeAll}:
				delete(l.missed, ch)
			default:
				continue
			}
		}
		select {
		case ch <- w:
		default:
			l.missed[ch] = true
		}
	}
}

// run listens until ctx ends, reconnecting after failures; while disconnected it wakes
// everyone every fallback period.
func (l *listener) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		_ = err // a lost connection is not an error of any call: subscribers poll meanwhile
		l.publish(store.Wakeup{Kind: store.WakeAll})
		select {
		case <-ctx.Done():
			return
		case <-time.After(l.fallback):
		}
	}
}

func (l *listener) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+wakeChannel); err != nil {
		return err
	}
	// Anything committed before LISTEN took effect was not announced.
	l.publish(store.Wakeup{Kind: store.WakeAll})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		l.publish(parseWakeup(n.Payload))
	}
}
