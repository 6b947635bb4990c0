package embedded

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/queuetest"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func newService(t testing.TB, cfg Config) *Service {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, env *queuetest.Env) queue.Service {
		return newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: env.Clock, MaxDequeueCount: env.MaxDequeueCount, Poison: env.Poison})
	})
}

// recorder is a queue.PoisonEvents that records reports and can fail them.
type recorder struct {
	mu      sync.Mutex
	reports map[string][]string // source → bodies
	afters  int
	fail    error
	effects store.Effects
}

func (r *recorder) Poisoned(ctx context.Context, source string, msgs []*queue.Message) (store.Effects, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return store.Effects{}, nil, r.fail
	}
	if r.reports == nil {
		r.reports = map[string][]string{}
	}
	for _, m := range msgs {
		r.reports[source] = append(r.reports[source], string(m.Body))
	}
	return r.effects, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.afters++
	}, nil
}

func (r *recorder) count() (reported, afters int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, bodies := range r.reports {
		reported += len(bodies)
	}
	return reported, r.afters
}

// spyStore counts the store calls the service makes and records poison notifications.
type spyStore struct {
	store.ComputeBackend
	dequeues atomic.Int64
	mu       sync.Mutex
	notified []*store.QueuePoisonNotifyParams
}

func (s *spyStore) QueueDequeue(ctx context.Context, p *store.QueueDequeueParams) ([]*store.QueueMessage, []*store.QueueMessage, error) {
	s.dequeues.Add(1)
	return s.ComputeBackend.QueueDequeue(ctx, p)
}

func (s *spyStore) QueuePoisonNotify(ctx context.Context, p *store.QueuePoisonNotifyParams) error {
	s.mu.Lock()
	s.notified = append(s.notified, p)
	s.mu.Unlock()
	return s.ComputeBackend.QueuePoisonNotify(ctx, p)
}

// leaveUnreported poisons a message of q the way a crash between the move and the report
// would leave it: moved by the store, never reported.
func leaveUnreported(t *testing.T, st store.ComputeBackend, q, body string, now time.Time) {
	t.Helper()
	err := st.QueueEnqueue(t.Context(), &store.QueueEnqueueParams{Queue: q, Messages: []*store.QueueMessage{
		{ID: body, Body: []byte(body), InsertedAt: now, VisibleAt: now}}})
	if err != nil {
		t.Fatal(err)
	}
	p := &store.QueueDequeueParams{Queue: q, Now: now, VisibleUntil: now, Limit: 1, MaxDequeueCount: 1, PoisonQueue: queue.PoisonName(q)}
	for range 2 {
		if _, _, err := st.QueueDequeue(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	left, err := st.QueuePoisonUnreported(t.Context(), 100)
	if err != nil || len(left) == 0 {
		t.Fatalf("QueuePoisonUnreported = %d messages, %v; want the crash's leftover", len(left), err)
	}
}

func TestSweeperReportsWhatACrashLeftUnreported(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	rec := &recorder{}
	s := newService(t, Config{Store: st, Clock: clock.NewFake(t0), Poison: rec})
	leaveUnreported(t, st, "alpha", "a1", t0)
	leaveUnreported(t, st, "alpha", "a2", t0)
	leaveUnreported(t, st, "beta", "b1", t0)
	if err := s.runOnce(t.Context(), nil); err != nil {
		t.Fatalf("runOnce: %v", err)
	}
	if got := strings.Join(rec.reports["alpha"], ","); got != "a1,a2" {
		t.Fatalf("reports from alpha = %q, want a1,a2", got)
	}
	if got := strings.Join(rec.reports["beta"], ","); got != "b1" {
		t.Fatalf("reports from beta = %q, want b1", got)
	}
	if n, afters := rec.count(); n != 3 || afters != 2 {
		t.Fatalf("%d messages reported, after() called %d times; want 3 and 2 (one per queue)", n, afters)
	}
	left, err := st.QueuePoisonUnreported(t.Context(), 100)
	if err != nil || len(left) != 0 {
		t.Fatalf("unreported after the sweep = %d, %v; want none", len(left), err)
	}
	if err := s.runOnce(t.Context(), nil); err != nil {
		t.Fatalf("second runOnce: %v", err)
	}
	if n, _ := rec.count(); n != 3 {
		t.Fatalf("a second sweep reported again: %d messages in all", n)
	}
}

func TestFailedReportIsLeftToTheSweeper(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	rec := &recorder{fail: errors.New("router down")}
	clk := clock.NewFake(t0)
	s := newService(t, Config{Store: st, Clock: clk, Poison: rec, MaxDequeueCount: 1})
	ctx := t.Context()
	if _, err := s.Enqueue(ctx, "work", []byte("bad"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, "work", []byte("good"), queue.EnqueueOptions{VisibilityDelay: time.Second}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Dequeue(ctx, "work", queue.DequeueOptions{})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("first dequeue = %d, %v", len(msgs), err)
	}
	if _, err := s.Update(ctx, "work", msgs[0].ID, msgs[0].PopReceipt, queue.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	// The dequeue poisons "bad" and fails to report it, and still hands out "good".
	msgs, err = s.Dequeue(ctx, "work", queue.DequeueOptions{Max: 32})
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "good" {
		t.Fatalf("dequeue while the report fails = %d messages, %v; want good", len(msgs), err)
	}
	if err := s.runOnce(ctx, nil); err == nil {
		t.Fatal("runOnce while the report fails: no error")
	}
	rec.mu.Lock()
	rec.fail = nil
	rec.mu.Unlock()
	if err := s.runOnce(ctx, nil); err != nil {
		t.Fatalf("runOnce: %v", err)
	}
	if got := strings.Join(rec.reports["work"], ","); got != "bad" {
		t.Fatalf("reports = %q, want bad", got)
	}
}

func TestStartSweepsAtOnceAndStops(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	rec := &recorder{}
	clk := clock.NewFake(t0)
	s := newService(t, Config{Store: st, Clock: clk, Poison: rec})
	leaveUnreported(t, st, "work", "left", t0)
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Stop)
	if err := s.Start(t.Context()); err == nil {
		t.Fatal("second Start: no error")
	}
	wait.For(t, 10*time.Second, func() bool { n, _ := rec.count(); return n == 1 }, "the first sweep")
	leaveUnreported(t, st, "work", "later", t0)
	wait.For(t, 10*time.Second, func() bool { return clk.Waiters() >= 1 }, "the sweeper to wait")
	clk.Advance(DefaultSweepInterval)
	wait.For(t, 10*time.Second, func() bool { n, _ := rec.count(); return n == 2 }, "the second sweep")
	s.Stop()
	s.Stop()
}

func TestPoisonNotifyGetsStampedEffects(t *testing.T) {
	st := &spyStore{ComputeBackend: sqlitetest.Open(t, sqlite.Config{})}
	clk := clock.NewFake(t0)
	rec := &recorder{effects: store.Effects{
		Messages:   []*store.Message{{InstanceID: "nobody"}},
		Deliveries: []*store.DeliveryCreate{{Subscription: "hook", EventID: "e1", Event: []byte(`{}`), ExpiresAt: t0.Add(time.Hour)}},
	}}
	s := newService(t, Config{Store: st, Clock: clk, Poison: rec, MaxDequeueCount: 1})
	ctx := t.Context()
	if _, err := s.Enqueue(ctx, "work", []byte("bad"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		msgs, err := s.Dequeue(ctx, "work", queue.DequeueOptions{VisibilityTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		_ = msgs
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.notified) != 1 {
		t.Fatalf("QueuePoisonNotify called %d times, want 1", len(st.notified))
	}
	p := st.notified[0]
	at := t0.Add(time.Second)
	if p.Queue != "work-poison" || len(p.IDs) != 1 || !p.Effects.Messages[0].VisibleAt.Equal(at) || !p.Effects.Deliveries[0].NotBefore.Equal(at) {
		t.Fatalf("QueuePoisonNotify(%+v): effects at %v and %v, want the report's time %v", p, p.Effects.Messages[0].VisibleAt,
			p.Effects.Deliveries[0].NotBefore, at)
	}
	if !rec.effects.Messages[0].VisibleAt.IsZero() {
		t.Fatal("the hook's own effects were changed")
	}
}

// A queue with the longest name still has a poison queue its consumers can read.
func TestPoisonQueueOfTheLongestName(t *testing.T) {
	clk := clock.NewFake(t0)
	s := newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: clk, MaxDequeueCount: 1})
	ctx := t.Context()
	long := strings.Repeat("q", 63)
	if _, err := s.Enqueue(ctx, long, []byte("bad"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.Dequeue(ctx, long, queue.DequeueOptions{VisibilityTimeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
	}
	msgs, err := s.Dequeue(ctx, queue.PoisonName(long), queue.DequeueOptions{})
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "bad" {
		t.Fatalf("Dequeue(%s) = %d messages, %v; want the poisoned one", queue.PoisonName(long), len(msgs), err)
	}
	if _, err := s.Enqueue(ctx, strings.Repeat("q", 64)+"-poison", nil, queue.EnqueueOptions{}); !errors.Is(err, queue.ErrInvalidName) {
		t.Fatalf("Enqueue to the poison queue of an invalid name: %v, want ErrInvalidName", err)
	}
}

// Parked long polls do not touch the store, and one message wakes one of them.
func TestLongPollWakesOnePollerPerMessage(t *testing.T) {
	st := &spyStore{ComputeBackend: sqlitetest.Open(t, sqlite.Config{})}
	clk := clock.NewFake(t0)
	s := newService(t, Config{Store: st, Clock: clk})
	ctx, cancel := context.WithCancel(t.Context())
	const pollers = 8
	results := make(chan int, pollers)
	var wg sync.WaitGroup
	for range pollers {
		wg.Go(func() {
			msgs, _ := s.Dequeue(ctx, "work", queue.DequeueOptions{Wait: time.Hour})
			results <- len(msgs)
		})
	}
	wait.For(t, 10*time.Second, func() bool { return clk.Waiters() >= pollers }, "the pollers to park")
	before := st.dequeues.Load()
	// Real time passes; the virtual clock does not move; nobody polls.
	<-time.After(50 * time.Millisecond)
	if n := st.dequeues.Load(); n != before {
		t.Fatalf("parked pollers dequeued %d times", n-before)
	}
	if _, err := s.Enqueue(ctx, "work", []byte("one"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-results:
		if n != 1 {
			t.Fatalf("woken poller got %d messages", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no poller woke")
	}
	if n := st.dequeues.Load() - before; n != 1 {
		t.Fatalf("one enqueue caused %d dequeue attempts, want 1", n)
	}
	cancel()
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queues) != 0 {
		t.Fatalf("long-poll state left behind for %d queues", len(s.queues))
	}
}

// A waiter that leaves with a wake-up it did not use passes it to the next waiter, and the last
// one to leave clears the queue's state.
func TestUnusedWakeUpIsPassedOn(t *testing.T) {
	s := newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: clock.NewFake(t0)})
	w1, w2 := s.register("work"), s.register("work")
	s.wake("work", 1, wakeUp{byTime: true})
	select {
	case <-w2.ch:
		t.Fatal("the younger waiter was woken first")
	default:
	}
	s.leave("work", w1) // e.g. its Wait ran out at the same moment
	select {
	case why := <-w2.ch:
		if !why.byTime {
			t.Fatal("the wake-up passed on lost its cause")
		}
	default:
		t.Fatal("the wake-up w1 did not use was lost")
	}
	s.leave("work", w2)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queues) != 0 {
		t.Fatalf("long-poll state left behind: %v", s.queues)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	for name, cfg := range map[string]Config{
		"no store":                 {},
		"negative MaxDequeueCount": {Store: st, MaxDequeueCount: -1},
		"negative MaxMessageSize":  {Store: st, MaxMessageSize: -1},
		"negative SweepInterval":   {Store: st, SweepInterval: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New with %s: no error", name)
		}
	}
	s := newService(t, Config{Store: st})
	if s.cfg.MaxDequeueCount != queue.DefaultMaxDequeueCount || s.cfg.MaxMessageSize != queue.MaxMessageSize ||
		s.cfg.SweepInterval != DefaultSweepInterval || s.clk == nil || s.log == nil {
		t.Fatalf("defaults not applied: %+v", s.cfg)
	}
}

func TestMaxMessageSize(t *testing.T) {
	s := newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: clock.NewFake(t0), MaxMessageSize: 10})
	if _, err := s.Enqueue(t.Context(), "work", make([]byte, 10), queue.EnqueueOptions{}); err != nil {
		t.Fatalf("Enqueue of MaxMessageSize bytes: %v", err)
	}
	if _, err := s.Enqueue(t.Context(), "work", make([]byte, 11), queue.EnqueueOptions{}); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Enqueue of MaxMessageSize+1 bytes: %v, want ErrTooLarge", err)
	}
}

func TestHugeTTLNeverExpires(t *testing.T) {
	s := newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: clock.NewFake(t0)})
	m, err := s.Enqueue(t.Context(), "work", []byte("x"), queue.EnqueueOptions{TTL: 1<<63 - 1})
	if err != nil || !m.ExpiresAt.IsZero() {
		t.Fatalf("Enqueue with the largest TTL = %+v, %v; want no expiry", m, err)
	}
}

func TestLongLastErrorIsCut(t *testing.T) {
	clk := clock.NewFake(t0)
	s := newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: clk})
	ctx := t.Context()
	if _, err := s.Enqueue(ctx, "work", []byte("x"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Dequeue(ctx, "work", queue.DequeueOptions{})
	if err != nil || len(msgs) != 1 {
		t.Fatal(len(msgs), err)
	}
	long := strings.Repeat("é", maxLastError) // 2 bytes a rune
	if _, err := s.Update(ctx, "work", msgs[0].ID, msgs[0].PopReceipt, queue.UpdateOptions{LastError: long}); err != nil {
		t.Fatalf("Update with a long last error: %v", err)
	}
	msgs, err = s.Dequeue(ctx, "work", queue.DequeueOptions{})
	if err != nil || len(msgs) != 1 {
		t.Fatal(len(msgs), err)
	}
	if le := msgs[0].LastError; len(le) != maxLastError || !utf8.ValidString(le) {
		t.Fatalf("stored last error: %d bytes, valid UTF-8 %v; want %d", len(le), utf8.ValidString(le), maxLastError)
	}
}

func TestObserveDeleteMeasuresFromEnqueue(t *testing.T) {
	clk := clock.NewFake(t0)
	type seen struct {
		queue string
		d     time.Duration
	}
	var got []seen
	s := newService(t, Config{Store: sqlitetest.Open(t, sqlite.Config{}), Clock: clk, ObserveDelete: func(q string, d time.Duration) {
		got = append(got, seen{q, d})
	}})
	ctx := t.Context()
	if _, err := s.Enqueue(ctx, "work", []byte("x"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Second)
	msgs, err := s.Dequeue(ctx, "work", queue.DequeueOptions{})
	if err != nil || len(msgs) != 1 {
		t.Fatal(len(msgs), err)
	}
	clk.Advance(2 * time.Second)
	if err := s.Delete(ctx, "work", msgs[0].ID, "wrong"); err == nil {
		t.Fatal("Delete with a wrong receipt succeeded")
	}
	if err := s.Delete(ctx, "work", msgs[0].ID, msgs[0].PopReceipt); err != nil {
		t.Fatal(err)
	}
	if want := []seen{{"work", 5 * time.Second}}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("observed %+v, want %+v (a failed delete observes nothing)", got, want)
	}
}
