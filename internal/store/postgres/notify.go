package postgres

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/orcahq/orca/internal/store"
)

// Wake-ups. Every write that makes work available announces it with pg_notify(wakeChannel,
// payload) once it committed: not inside its own transaction, because PostgreSQL serialises the
// commits of notifying transactions on one lock held through the WAL flush, which halved the
// throughput of concurrent task completions (1.6k vs 3.2k/s in BenchmarkStore). The notifier
// sends what accumulated while its previous statement ran, duplicates folded, in one statement;
// a wake-up lost in a crash between a commit and its notify costs a poll interval. Payloads:
// "o:<instance id>" (inbox), "t" (tasks), "q:<queue>" (queue), "d" (deliveries), "s"
// (subscriptions). One connection
// per Backend LISTENs and fans the notifications out to the subscribers; while it is down,
// subscribers get WakeAll every PollFallback so nothing waits longer than a poll.

const wakeChannel = "orca_wake"

const (
	wakeInboxPrefix = "o:"
	wakeQueuePrefix = "q:"
	wakeTasks       = "t"
	wakeDeliveries  = "d"
	wakeSubs        = "s"
)

// notifySQL sends the payloads in the array $1.
const notifySQL = `SELECT pg_notify('` + wakeChannel + `', p) FROM unnest($1::text[]) AS p`

// notifier sends wake-ups after their writes committed, batching what accumulates.
type notifier struct {
	pool    *pgxpool.Pool
	mu      sync.Mutex
	pending map[string]struct{}
	kick    chan struct{}
}

func newNotifier(pool *pgxpool.Pool) *notifier {
	return &notifier{pool: pool, pending: map[string]struct{}{}, kick: make(chan struct{}, 1)}
}

func (n *notifier) add(payloads []string) {
	if len(payloads) == 0 {
		return
	}
	n.mu.Lock()
	for _, p := range payloads {
		n.pending[p] = struct{}{}
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// run sends pending wake-ups until ctx ends, then the last ones.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-n.kick:
			n.flush(ctx)
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			n.flush(flushCtx)
			cancel()
			return
		}
	}
}

func (n *notifier) flush(ctx context.Context) {
	n.mu.Lock()
	payloads := make([]string, 0, len(n.pending))
	for p := range n.pending {
		payloads = append(payloads, p)
	}
	clear(n.pending)
	n.mu.Unlock()
	if len(payloads) == 0 {
		return
	}
	// A failure loses these wake-ups only: subscribers poll as well.
	_, _ = n.pool.Exec(ctx, notifySQL, payloads)
}

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
	case payload == wakeSubs:
		return store.Wakeup{Kind: store.WakeSubscriptions}
	}
	return store.Wakeup{Kind: store.WakeAll}
}

// subscriberBuffer is how many wake-ups a subscriber may fall behind before they are dropped.
const subscriberBuffer = 1024

type listener struct {
	cfg      *pgx.ConnConfig
	fallback time.Duration
	log      *slog.Logger
	// up is set once LISTEN took effect, so that a loss after it is reported once and the
	// recovery once, not every reconnection attempt.
	up bool

	mu   sync.Mutex
	subs map[chan store.Wakeup]struct{}
	// missed: a wake-up was dropped for some subscriber; it gets WakeAll when it has room.
	missed map[chan store.Wakeup]bool
}

func newListener(cfg *pgx.ConnConfig, fallback time.Duration, log *slog.Logger) *listener {
	cfg = cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenerApplicationName
	return &listener{cfg: cfg, fallback: fallback, log: log, subs: map[chan store.Wakeup]struct{}{}, missed: map[chan store.Wakeup]bool{}}
}

// listenerApplicationName names the listening connection in pg_stat_activity.
const listenerApplicationName = "orca-wakeups"

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
		// A lost connection is not an error of any call: subscribers poll meanwhile.
		if l.up {
			l.up = false
			l.log.Warn("lost the PostgreSQL wake-up connection (LISTEN); waking every subscriber every poll-fallback period until it is back",
				"error", err, "every", l.fallback)
		} else {
			l.log.Debug("PostgreSQL wake-up connection not up yet", "error", err)
		}
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
	if !l.up {
		l.up = true
		l.log.Info("PostgreSQL wake-up connection listening")
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
