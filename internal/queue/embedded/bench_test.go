package embedded

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
	"github.com/orcahq/orca/internal/testenv"
)

// benchService is a service on a fresh SQLite store. ORCA_BENCH_SYNC=NORMAL trades power-loss
// durability for speed, as sqlite.Config.Synchronous does; the default is the store's (FULL).
func benchService(b *testing.B) *Service {
	b.Helper()
	return newService(b, Config{Store: sqlitetest.Open(b, sqlite.Config{Synchronous: os.Getenv("ORCA_BENCH_SYNC")})})
}

// report prints the BENCH line: machine, scenario, N, items/s.
func report(b *testing.B, scenario string) {
	b.Helper()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "items/s")
	sync := os.Getenv("ORCA_BENCH_SYNC")
	if sync == "" {
		sync = "FULL"
	}
	b.Logf("BENCH machine=%s/%s cpus=%d %s scenario=%s sync=%s n=%d items/s=%.0f", runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), runtime.Version(), scenario, sync, b.N, rate)
}

// backlog puts n messages in queue q that are not visible for an hour (in flight or delayed:
// the same to a claim, which must not scan them; storage-deps G6).
func backlog(b *testing.B, s *Service, q string, n int) {
	b.Helper()
	now := s.clk.Now()
	for from := 0; from < n; from += 1000 {
		msgs := make([]*store.QueueMessage, 0, 1000)
		for i := from; i < min(n, from+1000); i++ {
			msgs = append(msgs, &store.QueueMessage{ID: fmt.Sprintf("backlog-%d", i), Body: []byte("{}"), InsertedAt: now,
				VisibleAt: now.Add(time.Hour)})
		}
		if err := s.st.QueueEnqueue(context.Background(), &store.QueueEnqueueParams{Queue: q, Messages: msgs}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCycle: each consumer enqueues a message, dequeues one and deletes it, over and over;
// an item is one enqueue+dequeue+delete cycle. Every step is a store write, so this measures
// the write path and its group commit. backlog=100000 runs the same next to 100,000 messages
// that are in flight or delayed.
func BenchmarkCycle(b *testing.B) {
	for _, c := range []struct{ consumers, backlog int }{{1, 0}, {16, 0}, {16, 100000}} {
		name := fmt.Sprintf("consumers=%d", c.consumers)
		if c.backlog > 0 {
			name += fmt.Sprintf("/backlog=%d", c.backlog)
		}
		consumers := c.consumers
		b.Run(name, func(b *testing.B) {
			s := benchService(b)
			backlog(b, s, "bench", c.backlog)
			ctx := context.Background()
			body := []byte(`{"input_id":"0001","instance_id":"bench","path_to_data":"input/bench/0001.json"}`)
			testenv.Parallel(b, consumers, func(int) error { return cycle(ctx, s, body) })
			report(b, "cycle/"+name)
		})
	}
}

func cycle(ctx context.Context, s *Service, body []byte) error {
	if _, err := s.Enqueue(ctx, "bench", body, queue.EnqueueOptions{}); err != nil {
		return err
	}
	msgs, err := s.Dequeue(ctx, "bench", queue.DequeueOptions{Wait: time.Second})
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := s.Delete(ctx, "bench", m.ID, m.PopReceipt); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkDrain: 4 producers enqueue b.N messages while consumers long-poll batches of up to
// 32 and delete each message they get, as workers do; an item is one message through.
func BenchmarkDrain(b *testing.B) {
	for _, consumers := range []int{1, 16} {
		b.Run(fmt.Sprintf("consumers=%d", consumers), func(b *testing.B) {
			s := benchService(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			body := []byte(`{"input_id":"0001","instance_id":"bench","path_to_data":"input/bench/0001.json"}`)
			var produced, consumed atomic.Int64
			var failed atomic.Value
			all := make(chan struct{})
			var wg sync.WaitGroup
			b.ResetTimer()
			for range 4 {
				wg.Go(func() {
					for produced.Add(1) <= int64(b.N) {
						if _, err := s.Enqueue(ctx, "bench", body, queue.EnqueueOptions{}); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
			for range consumers {
				wg.Go(func() {
					for ctx.Err() == nil {
						msgs, err := s.Dequeue(ctx, "bench", queue.DequeueOptions{Max: 32, Wait: time.Second})
						if err != nil {
							if ctx.Err() == nil {
								failed.Store(err)
							}
							return
						}
						for _, m := range msgs {
							if err := s.Delete(ctx, "bench", m.ID, m.PopReceipt); err != nil {
								failed.Store(err)
								return
							}
							if consumed.Add(1) == int64(b.N) {
								close(all)
							}
						}
					}
				})
			}
			select {
			case <-all:
			case <-time.After(10 * time.Minute):
				b.Fatal("drain did not finish")
			}
			b.StopTimer()
			cancel()
			wg.Wait()
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
			report(b, fmt.Sprintf("drain/consumers=%d", consumers))
		})
	}
}

// BenchmarkStats: Stats of a queue holding 100,000 messages, half of them in flight (what the
// scaler and the dashboard poll); an item is one Stats call.
func BenchmarkStats(b *testing.B) {
	s := benchService(b)
	backlog(b, s, "bench", 50000)
	backlog(b, s, "other", 50000)
	ctx := context.Background()
	for range 50000 / 1000 {
		if err := s.st.QueueEnqueue(ctx, &store.QueueEnqueueParams{Queue: "bench", Messages: visibleBatch(s, 1000)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		st, err := s.Stats(ctx, "bench")
		if err != nil || st.Length() != 100000 {
			b.Fatalf("Stats = %+v, %v", st, err)
		}
	}
	b.StopTimer()
	report(b, "stats/messages=100000")
}

var visibleSeq atomic.Int64

func visibleBatch(s *Service, n int) []*store.QueueMessage {
	now := s.clk.Now()
	msgs := make([]*store.QueueMessage, n)
	for i := range msgs {
		msgs[i] = &store.QueueMessage{ID: fmt.Sprintf("visible-%d", visibleSeq.Add(1)), Body: []byte("{}"), InsertedAt: now, VisibleAt: now}
	}
	return msgs
}
