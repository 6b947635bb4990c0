package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/worker"
)

// The tests below stop a worker that holds items it leased ahead, on orca's own batched plane
// and queue, with the strictest poison limit: one delivery. A pool scaled down again and again
// must not poison an item that never ran.

// startStrictApp starts an embedded orca whose queue poisons a message at its second delivery,
// with n items of the compute flow in its work queue.
func startStrictApp(t *testing.T, n int) *app.App {
	t.Helper()
	ctx := context.Background()
	a := apptest.Start(t, app.Config{NoHTTP: true, MaxDequeueCount: 1})
	for i := range n {
		name := compute.InputBlobName("shutdown", i)
		in, _ := json.Marshal(compute.Input{InputID: i, InstanceID: "shutdown", InputData: json.RawMessage(`[1,2]`)})
		if _, err := a.Blobs.Put(ctx, compute.InputContainer, name, bytes.NewReader(in), "application/json"); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(compute.WorkItem{InputID: i, InstanceID: "shutdown", PathToData: compute.InputContainer + "/" + name})
		if _, err := a.Queues.Enqueue(ctx, a.WorkQueue(), body, queue.EnqueueOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// stopAtFirstItem is an algorithm that cancels its worker's context as its first item begins
// and takes each item a little while, whatever its context says.
func stopAtFirstItem(cancel context.CancelFunc, ran *atomic.Int32) worker.AlgorithmFunc {
	var once sync.Once
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		once.Do(cancel)
		ran.Add(1)
		time.Sleep(20 * time.Millisecond)
		return compute.Sum(in)
	}
}

// runStopping runs a worker that leases all n items at once and is stopped as the first begins.
func runStopping(t *testing.T, a *app.App, n int, grace time.Duration) (ran int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var count atomic.Int32
	err := worker.Run(ctx, worker.Config{Work: a.Source(), Queue: a.WorkQueue(), Algorithm: stopAtFirstItem(cancel, &count),
		Concurrency: 1, Batch: n, PollWait: 50 * time.Millisecond, ShutdownGrace: grace})
	if err != nil {
		t.Fatal(err)
	}
	return int(count.Load())
}

// wantAllDone checks that every item has its output and that nothing is left in the work queue
// or was poisoned.
func wantAllDone(t *testing.T, a *app.App, n int) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{a.WorkQueue(), queue.PoisonName(a.WorkQueue())} {
		st, err := a.Queues.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Length() != 0 {
			t.Errorf("%s holds %d messages, want none", q, st.Length())
		}
	}
	for i := range n {
		rc, _, err := a.Blobs.Get(ctx, compute.OutputContainer, compute.OutputBlobName("shutdown", i))
		if err != nil {
			t.Errorf("item %d has no output: %v", i, err)
			continue
		}
		_ = rc.Close()
	}
}

func TestShutdownRunsTheItemsLeasedAheadWithinGrace(t *testing.T) {
	const n = 16
	a := startStrictApp(t, n)
	if ran := runStopping(t, a, n, time.Minute); ran != n {
		t.Fatalf("the stopping worker ran %d of the %d items it held, want all of them", ran, n)
	}
	wantAllDone(t, a, n)
}

func TestShutdownGivesBackUnstartedItemsWithoutCountingTheDelivery(t *testing.T) {
	const n = 16
	a := startStrictApp(t, n)
	// No grace: the item running finishes, the 15 leased ahead go back unstarted.
	if ran := runStopping(t, a, n, time.Nanosecond); ran != 1 {
		t.Fatalf("the stopping worker ran %d items with no grace, want only the one it had begun", ran)
	}
	// Each given-back item is delivered a second time; counted, the queue would poison it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done atomic.Int32
	err := worker.Run(ctx, worker.Config{Work: a.Source(), Queue: a.WorkQueue(), Algorithm: worker.Demo(0),
		PollWait: 50 * time.Millisecond, MaxIdle: 500 * time.Millisecond,
		OnItem: func(_ compute.WorkItem, err error) {
			if err != nil {
				t.Errorf("item failed: %v", err)
			}
			done.Add(1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got := done.Load(); got != n-1 {
		t.Errorf("the second worker completed %d items, want %d", got, n-1)
	}
	wantAllDone(t, a, n)
}
