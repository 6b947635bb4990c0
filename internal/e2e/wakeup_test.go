package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/storeopen"
)

// A worker long-polling one server gets a message another server enqueued at once — through
// the store's wake-ups — not when its long poll runs out.
func TestLongPollWokenByAnotherServer(t *testing.T) {
	db := freshDatabase(t, postgresURL(t))
	dir := t.TempDir()
	shared := func(c *app.Config) {
		c.StoreURL, c.BlobURL, c.NoHTTP, c.Listen = db, "file://"+filepath.Join(dir, "blobs"), true, ""
	}
	a := node(t, filepath.Join(dir, "a"), shared)
	b := node(t, filepath.Join(dir, "b"), shared)
	const wait = 20 * time.Second
	for i := range 3 {
		got := make(chan []*queue.Message, 1)
		started := make(chan struct{})
		go func() {
			close(started)
			msgs, err := b.Queues.Dequeue(context.Background(), "wakeups", queue.DequeueOptions{Wait: wait})
			if err != nil {
				t.Error(err)
			}
			got <- msgs
		}()
		<-started
		time.Sleep(300 * time.Millisecond) // b's long poll is asleep
		sent := time.Now()
		if _, err := a.Queues.Enqueue(context.Background(), "wakeups", []byte("hello"), queue.EnqueueOptions{}); err != nil {
			t.Fatal(err)
		}
		msgs := <-got
		took := time.Since(sent)
		if len(msgs) != 1 || string(msgs[0].Body) != "hello" {
			t.Fatalf("round %d: b's long poll returned %d messages", i, len(msgs))
		}
		// Generous: without wake-ups it returns when its Wait runs out (20 s).
		if took > wait/4 {
			t.Fatalf("round %d: b's long poll returned %v after a's enqueue, want well before its %v Wait", i, took, wait)
		}
		t.Logf("round %d: delivered %v after the enqueue on the other server", i, took.Round(time.Millisecond))
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
	db := freshDatabase(t, postgresURL(t))
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
	const poll = 20 * time.Second
	server := node(t, filepath.Join(dir, "server"), func(c *app.Config) {
		c.StoreURL, c.BlobURL, c.NoHTTP, c.Listen = db, "file://"+filepath.Join(dir, "blobs"), true, ""
		c.Registry, c.Engine.PollInterval = reg, poll
	})
	st, _, err := storeopen.Open(context.Background(), db, storeopen.Options{DataDir: filepath.Join(dir, "client")})
	must(err)
	t.Cleanup(func() { _ = st.Close() })
	client, err := engine.New(engine.Config{Store: st, Registry: reg})
	must(err)
	time.Sleep(300 * time.Millisecond) // the server's first poll is behind it
	for i := range 3 {
		sent := time.Now()
		id, err := client.StartInstance(context.Background(), engine.StartParams{Name: "Hello", Input: json.RawMessage(`"orca"`)})
		must(err)
		for {
			inst, err := server.Engine.Get(context.Background(), id, true)
			must(err)
			if inst.Status == store.StatusCompleted {
				if string(inst.Output) != `"hello orca"` {
					t.Fatalf("round %d: output %s", i, inst.Output)
				}
				break
			}
			if took := time.Since(sent); took > poll/4 {
				t.Fatalf("round %d: the run is %s after %v; without a wake-up the server looks every %v", i, inst.Status, took, poll)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("round %d: completed %v after another process started it", i, time.Since(sent).Round(time.Millisecond))
		time.Sleep(100 * time.Millisecond)
	}
}

// A subscription created through one server applies to events published through another at
// once: the store's wake-up makes every server reload its subscriptions. Without it the other
// server would route by the subscriptions it loaded when it started, and miss this one.
func TestSubscriptionReachesEveryServer(t *testing.T) {
	db := freshDatabase(t, postgresURL(t))
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
	for {
		if _, ok := b.Router.Get("watch-reports"); ok {
			break
		}
		if time.Since(sent) > 5*time.Second {
			t.Fatal("server b does not know the subscription created through server a after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("server b knew the subscription %v after server a created it", time.Since(sent).Round(time.Millisecond))
	if _, err := newClient(t, b.BaseURL).PutBlob(ctx, "reports", "q4.json", []byte(`{}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	for hook.count() < 1 {
		if time.Since(sent) > 30*time.Second {
			t.Fatal("the blob put through server b was not delivered to the subscription created through server a")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
