package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/postgres/pgtest"
	"github.com/orcahq/orca/internal/store/storeopen"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// A worker long-polling one server gets a message another server enqueued at once — through
// the store's wake-ups — not when its long poll runs out.
func TestLongPollWokenByAnotherServer(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	dir := t.TempDir()
	shared := func(c *app.Config) {
		c.StoreURL, c.BlobURL, c.NoHTTP, c.Listen = db, "file://"+filepath.Join(dir, "blobs"), true, ""
	}
	a := node(t, filepath.Join(dir, "a"), shared)
	// b's clock stands still, so its long poll cannot run out: only a wake-up ends it.
	const longPoll = 20 * time.Second
	bClock := newWatchedClock(longPoll)
	b := node(t, filepath.Join(dir, "b"), func(c *app.Config) { shared(c); c.Engine.Clock = bClock })
	for i := range 3 {
		got := make(chan []*queue.Message, 1)
		go func() {
			msgs, err := b.Queues.Dequeue(t.Context(), "wakeups", queue.DequeueOptions{Wait: longPoll})
			if err != nil && t.Context().Err() == nil {
				t.Error(err)
			}
			got <- msgs
		}()
		bClock.waitForAfter(t, 1, "b's long poll to find the queue empty and wait")
		sent := time.Now()
		if _, err := a.Queues.Enqueue(context.Background(), "wakeups", []byte("hello"), queue.EnqueueOptions{}); err != nil {
			t.Fatal(err)
		}
		var msgs []*queue.Message
		select {
		case msgs = <-got:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: b's long poll, on a clock that stands still, was not woken by a's enqueue", i)
		}
		if len(msgs) != 1 || string(msgs[0].Body) != "hello" {
			t.Fatalf("round %d: b's long poll returned %d messages", i, len(msgs))
		}
		t.Logf("round %d: delivered %v after the enqueue on the other server", i, time.Since(sent).Round(time.Millisecond))
		if err := b.Queues.Delete(context.Background(), "wakeups", msgs[0].ID, msgs[0].PopReceipt); err != nil {
			t.Fatal(err)
		}
	}
}

// An orchestration another process starts runs on a server at once — the store's wake-ups
// reach its engine — not at the engine's next poll. The server polls every 20 s; the other
// process is an engine on its own connection that is never started, as another server's API
// would be, so only the wake-up can tell the server.
func TestOrchestrationWokenByAnotherProcess(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	dir := t.TempDir()
	reg := orca.NewRegistry()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.AddActivity("Greet", func(ctx orca.ActivityContext) (any, error) {
		var who string
		err := ctx.Input(&who)
		return "hello " + who, err
	}))
	must(reg.AddOrchestrator("Hello", func(ctx orca.OrchestrationContext) (any, error) {
		var who, greeting string
		if err := ctx.Input(&who); err != nil {
			return nil, err
		}
		err := ctx.CallActivity("Greet", who).Await(&greeting)
		return greeting, err
	}))
	// The server's clock stands still, so its poll timer never fires: once its dispatchers
	// have polled at start, only a wake-up tells it of new work.
	const poll = 20 * time.Second
	serverClock := newWatchedClock(poll)
	server := node(t, filepath.Join(dir, "server"), func(c *app.Config) {
		c.StoreURL, c.BlobURL, c.NoHTTP, c.Listen = db, "file://"+filepath.Join(dir, "blobs"), true, ""
		c.Registry, c.Engine.PollInterval, c.Engine.Clock = reg, poll, serverClock
	})
	st, _, err := storeopen.Open(context.Background(), db, storeopen.Options{DataDir: filepath.Join(dir, "client")})
	must(err)
	t.Cleanup(func() { _ = st.Close() })
	client, err := engine.New(engine.Config{Store: st, Registry: reg})
	must(err)
	// The activity and orchestration pollers each wait PollInterval after their first poll, and
	// nothing else wakes them before the instance exists.
	serverClock.waitForAfter(t, 2, "the server's activity and orchestration pollers to have polled")
	for i := range 3 {
		sent := time.Now()
		id, err := client.StartInstance(context.Background(), engine.StartParams{Name: "Hello", Input: json.RawMessage(`"orca"`)})
		must(err)
		var inst *store.Instance
		wait.For(t, 30*time.Second, func() bool {
			inst, err = server.Engine.Get(context.Background(), id, true)
			must(err)
			return inst.Status == store.StatusCompleted
		}, fmt.Sprintf("round %d: the server, whose poll timer never fires, to run the instance another process started", i))
		if string(inst.Output) != `"hello orca"` {
			t.Fatalf("round %d: output %s", i, inst.Output)
		}
		t.Logf("round %d: completed %v after another process started it", i, time.Since(sent).Round(time.Millisecond))
	}
}

// watchedClock is a virtual clock that stands still an hour ahead of the wall clock (so that
// what other nodes write on the wall clock is due for it), and tells when someone waits on it
// for exactly d.
type watchedClock struct {
	*clock.Fake
	d      time.Duration
	waited chan struct{}
}

func newWatchedClock(d time.Duration) *watchedClock {
	return &watchedClock{Fake: clock.NewFake(time.Now().Add(time.Hour)), d: d, waited: make(chan struct{}, 16)}
}

func (c *watchedClock) After(d time.Duration) <-chan time.Time {
	if d == c.d {
		select {
		case c.waited <- struct{}{}:
		default:
		}
	}
	return c.Fake.After(d)
}

// waitForAfter waits until After(d) has been called n more times since the last wait.
func (c *watchedClock) waitForAfter(t *testing.T, n int, what string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case <-c.waited:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A subscription created through one server applies to events published through another at
// once: the store's wake-up makes every server reload its subscriptions. Without it the other
// server would route by the subscriptions it loaded when it started, and miss this one.
func TestSubscriptionReachesEveryServer(t *testing.T) {
	db := pgtest.FreshDatabase(t, "orca_e2e")
	dir := t.TempDir()
	shared := func(c *app.Config) {
		c.StoreURL, c.BlobURL = db, "file://"+filepath.Join(dir, "blobs")
		c.DeliveryPollInterval = 50 * time.Millisecond
	}
	a := node(t, filepath.Join(dir, "a"), shared)
	b := node(t, filepath.Join(dir, "b"), shared)
	hook := newFlakyEndpoint(t)
	ctx := context.Background()
	if _, err := newClient(t, a.BaseURL).PutSubscription(ctx, "watch-reports", client.Subscription{
		Filter:      client.SubscriptionFilter{SubjectBeginsWith: "/blobServices/default/containers/reports/"},
		Destination: client.SubscriptionDestination{Type: client.DestinationWebHook, EndpointURL: hook.url()},
	}); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	wait.For(t, 5*time.Second, func() bool { _, ok := b.Router.Get("watch-reports"); return ok },
		"server b to know the subscription created through server a")
	t.Logf("server b knew the subscription %v after server a created it", time.Since(sent).Round(time.Millisecond))
	if _, err := newClient(t, b.BaseURL).PutBlob(ctx, "reports", "q4.json", []byte(`{}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 30*time.Second, func() bool { return hook.count() >= 1 },
		"the blob put through server b to be delivered to the subscription created through server a")
}
