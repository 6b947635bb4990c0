package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// writers is how many goroutines write at once in the concurrent writes case; a quarter of them
// do each kind of write. Enough to fill a group commit (SQLite) or a connection pool (PostgreSQL).
const writers = 64

var concurrentWritesCases = []testCase{
	{"FailuresDoNotAffectOthers", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		const n = writers / 4
		idle(t, b, "sink")
		create(t, b, "dup", t0)
		for k := range n {
			create(t, b, fmt.Sprintf("ok-%02d", k), t0)
			create(t, b, fmt.Sprintf("bad-%02d", k), t0)
		}
		if got := lease(t, b, ownerA, t0, 1000); len(got) != 2*n+1 {
			t.Fatalf("leased %d instances, want %d", len(got), 2*n+1)
		}
		before := map[string]snapshot{"dup": takeSnapshot(t, b, "dup")}
		steps := make([]*store.OrchestrationCommitParams, writers)
		for i := range writers {
			k := i / 4
			switch i % 4 {
			case 2:
				steps[i] = groupStep(t, b, fmt.Sprintf("ok-%02d", k), "ok")
			case 3:
				id := fmt.Sprintf("bad-%02d", k)
				before[id] = takeSnapshot(t, b, id)
				p := groupStep(t, b, id, "bad")
				switch k % 3 {
				case 0:
					p.Owner = ownerB
				case 1:
					p.ExpectHistoryLen = 1
				case 2:
					p.Tasks = append(p.Tasks, p.Tasks[0])
				}
				steps[i] = p
			}
		}

		errs := make([]error, writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				<-start
				k := i / 4
				switch i % 4 {
				case 0:
					errs[i] = b.InstanceCreate(t.Context(), createParams(fmt.Sprintf("new-%02d", k), at(time.Second)))
				case 1:
					p := createParams("dup", at(time.Second))
					p.Name = fmt.Sprintf("Dup%d", k)
					errs[i] = b.InstanceCreate(t.Context(), p)
				default:
					errs[i] = b.OrchestrationCommit(t.Context(), steps[i])
				}
			})
		}
		close(start)
		wg.Wait()

		for i, err := range errs {
			k := i / 4
			switch {
			case i%4 == 1:
				wantErr(t, fmt.Sprintf("writer %d: InstanceCreate of a taken id", i), err, store.ErrInstanceExists)
			case i%4 == 3 && k%3 != 2:
				wantErr(t, fmt.Sprintf("writer %d: OrchestrationCommit without the lease", i), err, store.ErrLeaseLost)
			case i%4 == 3:
				if err == nil {
					t.Fatalf("writer %d: OrchestrationCommit with a duplicate task succeeded", i)
				}
			case err != nil:
				t.Fatalf("writer %d: %v", i, err)
			}
		}

		for id, s := range before {
			s.unchanged(t, b)
			wantGone(t, b, id+"-child")
		}
		var wantSink []string
		var wantTasks []store.TaskKey
		for k := range n {
			created := createParams(fmt.Sprintf("new-%02d", k), at(time.Second))
			wantInbox(t, b, created.ID, farFuture, created.Started)
			id := fmt.Sprintf("ok-%02d", k)
			in := get(t, b, id, false)
			if in.Status != store.StatusRunning || in.HistoryLen != 2 || in.LockOwner != "" {
				t.Fatalf("%s after its commit: %s, history %d, lock %q; want Running, 2, none", id, in.Status, in.HistoryLen, in.LockOwner)
			}
			wantHistory(t, b, id, steps[4*k+2].Append)
			wantInbox(t, b, id, farFuture)
			if _, err := b.InstanceGet(t.Context(), id+"-child", false); err != nil {
				t.Fatalf("sub-orchestration of %s: %v", id, err)
			}
			wantSink = append(wantSink, "from-"+id)
			wantTasks = append(wantTasks, steps[4*k+2].Tasks[0].TaskKey)
		}
		var gotSink []string
		for _, m := range inbox(t, b, "sink", farFuture) {
			gotSink = append(gotSink, m.Event.EventRaised.Name)
		}
		slices.Sort(gotSink)
		if !slices.Equal(gotSink, wantSink) {
			t.Fatalf("sink inbox = %q, want %q", gotSink, wantSink)
		}
		if got := sortKeys(taskKeys(leaseTasks(t, b, ownerB, farFuture, 1000))); !slices.Equal(got, sortKeys(wantTasks)) {
			t.Fatalf("tasks = %v, want %v", got, wantTasks)
		}
		wantCounts(t, b, map[store.Status]int{store.StatusPending: 1 + 3*n, store.StatusRunning: 1 + n})
	}},
}

// groupStep is the first step of instance id: it consumes ExecutionStarted, schedules a task,
// sends an event named "from-<id>" to "sink", starts "<id>-child" and releases the lock.
func groupStep(t *testing.T, b store.Backend, id, kind string) *store.OrchestrationCommitParams {
	t.Helper()
	now := at(time.Second)
	msgs := inbox(t, b, id, now)
	p := step(id, ownerA, 0, now)
	p.Consumed = []int64{msgs[0].ID}
	p.Append = []*history.Event{history.NewOrchestratorStarted(now), msgs[0].Event}
	p.Tasks = []*store.TaskCreate{{TaskKey: store.TaskKey{InstanceID: id, ExecutionID: execID(id, 1), TaskID: 0}, Name: kind}}
	p.Messages = []*store.Message{message("sink", "", event("from-"+id, now), time.Time{})}
	child := createParams(id+"-child", now)
	child.Started.ExecutionStarted.Parent = &history.ParentInstance{InstanceID: id, ExecutionID: execID(id, 1), Name: "Orch", TaskScheduledID: 0}
	p.SubOrchestrations = []*store.InstanceCreateParams{child}
	p.Release = true
	return p
}
