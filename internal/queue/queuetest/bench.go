package queuetest

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/testenv"
)

// BenchCycle runs the enqueue-dequeue-delete cycle on svc with consumers goroutines: each
// enqueues a message to q, dequeues one and deletes it, over and over; an item is one cycle. It
// prints the BENCH line (machine, scenario, N, items/s) under the name backend.
func BenchCycle(b *testing.B, backend string, svc queue.Service, q string, consumers int) {
	b.Helper()
	ctx := context.Background()
	body := []byte(`{"input_id":"0001","instance_id":"bench","path_to_data":"input/bench/0001.json"}`)
	// Create the queue outside the timing.
	if _, err := svc.Enqueue(ctx, q, body, queue.EnqueueOptions{}); err != nil {
		b.Fatal(err)
	}
	if msgs, err := svc.Dequeue(ctx, q, queue.DequeueOptions{}); err != nil || len(msgs) != 1 {
		b.Fatalf("warm-up dequeue: %d messages, %v", len(msgs), err)
	} else if err := svc.Delete(ctx, q, msgs[0].ID, msgs[0].PopReceipt); err != nil {
		b.Fatal(err)
	}
	testenv.Parallel(b, consumers, func(int) error { return cycle(ctx, svc, q, body) })
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "items/s")
	b.Logf("BENCH machine=%s/%s cpus=%d %s scenario=queue-cycle backend=%s consumers=%d n=%d items/s=%.0f",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), backend, consumers, b.N, rate)
}

// cycle enqueues a message and dequeues and deletes one (waiting a little for one to show:
// another consumer may hold the one just enqueued).
func cycle(ctx context.Context, svc queue.Service, q string, body []byte) error {
	if _, err := svc.Enqueue(ctx, q, body, queue.EnqueueOptions{}); err != nil {
		return err
	}
	msgs, err := svc.Dequeue(ctx, q, queue.DequeueOptions{VisibilityTimeout: time.Minute, Wait: 10 * time.Second})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := svc.Delete(ctx, q, m.ID, m.PopReceipt); err != nil {
			return err
		}
	}
	return nil
}
