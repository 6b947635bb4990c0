package worker_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/worker"
)

// mostInHand runs one worker (one slot, Batch 1) over n items that take each, and returns the
// most messages in flight that the algorithm saw: the items the worker held at once.
func mostInHand(t *testing.T, a *app.App, n int, each time.Duration) int {
	t.Helper()
	var mu sync.Mutex
	most := 0
	alg := worker.AlgorithmFunc(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		st, err := a.Queues.Stats(ctx, a.WorkQueue())
		if err != nil {
			return nil, err
		}
		mu.Lock()
		most = max(most, st.InFlight)
		mu.Unlock()
		time.Sleep(each)
		return compute.Sum(in)
	})
	var done atomic.Int32
	err := worker.Run(context.Background(), worker.Config{Work: a.Source(), Queue: a.WorkQueue(), Algorithm: alg,
		Concurrency: 1, Batch: 1, PollWait: 50 * time.Millisecond, MaxIdle: 300 * time.Millisecond,
		OnItem: func(_ compute.WorkItem, err error) {
			if err != nil {
				t.Errorf("item failed: %v", err)
			}
			done.Add(1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got := int(done.Load()); got != n {
		t.Fatalf("%d of %d items done", got, n)
	}
	return most
}

func TestSlowItemsAreNotLeasedAheadBeyondBatch(t *testing.T) {
	// 600ms an item: half a second of work is less than one item, so the worker holds its slot's
	// item and Batch (1) more, and leaves the rest in the queue for other workers.
	a := startStrictApp(t, 4)
	if most := mostInHand(t, a, 4, 600*time.Millisecond); most > 2 {
		t.Fatalf("a worker with 1 slot and Batch 1 held %d slow items at once, want at most 2", most)
	}
}

func TestQuickItemsAreLeasedFurtherAhead(t *testing.T) {
	// 2ms an item: once measured, half a second of work is 250 items, so leases take more than
	// Batch.
	a := startStrictApp(t, 300)
	if most := mostInHand(t, a, 300, 2*time.Millisecond); most <= 2 {
		t.Fatalf("a worker held at most %d quick items at once: it did not lease further ahead than Batch", most)
	}
}
