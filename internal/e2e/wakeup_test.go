package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/queue"
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
