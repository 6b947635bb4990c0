package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// benchWorkers is how many goroutines the parallel benchmarks run (dispatchers or instances).
const benchWorkers = 8

// Benchmark runs the store's hot paths against the backends newBackend returns (one per
// sub-benchmark): task claim + complete and history append. Each reports items/s.
func Benchmark(b *testing.B, newBackend func(b *testing.B) store.Backend) {
	b.Run("TaskLeaseComplete", func(b *testing.B) { benchTasks(b, newBackend(b)) })
	b.Run("HistoryAppend", func(b *testing.B) { benchHistory(b, newBackend(b)) })
}

// benchTasks: one instance fans out b.N tasks (in commits of 1000); benchWorkers dispatchers
// lease 32 at a time and complete each one.
func benchTasks(b *testing.B, st store.Backend) {
	ctx := b.Context()
	create(b, st, "fan", t0)
	leaseOne(b, st, ownerA, "fan", t0)
	hlen := 0
	for from := 0; from < b.N; from += 1000 {
		p := step("fan", ownerA, hlen, t0)
		for i := from; i < min(from+1000, b.N); i++ {
			p.Tasks = append(p.Tasks, &store.TaskCreate{TaskKey: store.TaskKey{InstanceID: "fan", ExecutionID: execID("fan", 1), TaskID: int32(i)}, Name: "Act"})
		}
		p.Append = []*history.Event{history.NewOrchestratorStarted(t0)}
		commit(b, st, p)
		hlen++
	}
	b.ResetTimer()
	start := time.Now()
	var done atomic.Int64
	var wg sync.WaitGroup
	for w := range benchWorkers {
		owner := fmt.Sprintf("w%d", w)
		wg.Go(func() {
			for done.Load() < int64(b.N) {
				now := at(time.Second)
				tasks, err := st.TaskLease(ctx, &store.TaskLeaseParams{Owner: owner, Now: now, LockExpiry: now.Add(lockFor), Limit: 32})
				if err != nil {
					b.Error(err)
					return
				}
				if len(tasks) == 0 {
					return
				}
				for _, t := range tasks {
					ev := history.NewTaskCompleted(now, t.TaskID, []byte(`"ok"`))
					err := st.TaskComplete(ctx, &store.TaskCompleteParams{Key: t.TaskKey, Owner: owner, Attempt: t.Attempt, Now: now,
						Result: &store.Message{InstanceID: "fan", ExecutionID: t.ExecutionID, Event: ev}})
					if err != nil {
						b.Error(err)
						return
					}
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(done.Load())/time.Since(start).Seconds(), "tasks/s")
}

// benchHistory: benchWorkers instances each commit steps of 10 history events, b.N steps in all.
func benchHistory(b *testing.B, st store.Backend) {
	ctx := b.Context()
	for w := range benchWorkers {
		id := fmt.Sprintf("h%d", w)
		create(b, st, id, t0)
		leaseOne(b, st, ownerA, id, t0)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range benchWorkers {
		id := fmt.Sprintf("h%d", w)
		wg.Go(func() {
			hlen := 0
			for i := w; i < b.N; i += benchWorkers {
				p := step(id, ownerA, hlen, t0)
				for k := range 10 {
					p.Append = append(p.Append, history.NewTaskCompleted(t0, int32(hlen+k), []byte(`{"result":"some output of an activity"}`)))
				}
				if err := st.OrchestrationCommit(ctx, p); err != nil {
					b.Error(err)
					return
				}
				hlen += 10
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*10)/time.Since(start).Seconds(), "events/s")
}
