package storetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// key is task taskID of execution 1 of instance "i1".
func key(taskID int32) store.TaskKey {
	return store.TaskKey{InstanceID: "i1", ExecutionID: execID("i1", 1), TaskID: taskID}
}

// newTask describes an unleased activity task.
func newTask(taskID int32, name string) *store.TaskCreate {
	return &store.TaskCreate{TaskKey: key(taskID), Name: name, Input: json.RawMessage(fmt.Sprintf(`{"task":%d}`, taskID))}
}

// scheduleTasks commits tasks for instance id (already created) in one step by ownerA at now,
// leasing the instance first unless ownerA holds it.
func scheduleTasks(t *testing.T, b store.Backend, id string, now time.Time, tasks ...*store.TaskCreate) {
	t.Helper()
	in := get(t, b, id, false)
	if in.LockOwner != ownerA {
		in = leaseOne(t, b, ownerA, id, now)
	}
	p := step(id, ownerA, in.HistoryLen, now)
	for _, tc := range tasks {
		p.Append = append(p.Append, history.NewTaskScheduled(now, tc.TaskID, tc.Name, tc.Input))
	}
	p.Tasks = tasks
	commit(t, b, p)
}

// taskFixture creates "i1" and schedules tasks for it.
func taskFixture(t *testing.T, b store.Backend, tasks ...*store.TaskCreate) {
	t.Helper()
	create(t, b, "i1", t0)
	scheduleTasks(t, b, "i1", t0, tasks...)
}

// leaseTasks calls TaskLease with a lease until now+lockFor.
func leaseTasks(t *testing.T, b store.Backend, owner string, now time.Time, limit int, names ...string) []*store.Task {
	t.Helper()
	got, err := b.TaskLease(t.Context(), &store.TaskLeaseParams{Owner: owner, Now: now, LockExpiry: now.Add(lockFor),
		Limit: limit, Names: names})
	if err != nil {
		t.Fatalf("TaskLease(%s): %v", owner, err)
	}
	return got
}

// leaseTask leases exactly the task k for owner at now and checks the lease.
func leaseTask(t *testing.T, b store.Backend, owner string, now time.Time, k store.TaskKey, attempt int) *store.Task {
	t.Helper()
	got := leaseTasks(t, b, owner, now, 10)
	if len(got) != 1 || got[0].TaskKey != k {
		t.Fatalf("TaskLease(%s at %v) = %v, want [%v]", owner, now, taskKeys(got), k)
	}
	if got[0].Attempt != attempt || got[0].LockOwner != owner || !got[0].LockExpiry.Equal(now.Add(lockFor)) {
		t.Fatalf("task lease = attempt %d by %q until %v, want attempt %d by %q until %v", got[0].Attempt, got[0].LockOwner,
			got[0].LockExpiry, attempt, owner, now.Add(lockFor))
	}
	return got[0]
}

func taskKeys(ts []*store.Task) []store.TaskKey {
	out := make([]store.TaskKey, len(ts))
	for i, t := range ts {
		out[i] = t.TaskKey
	}
	return out
}

func sortKeys(ks []store.TaskKey) []store.TaskKey {
	return slices.SortedFunc(slices.Values(ks), func(a, b store.TaskKey) int {
		return cmp.Or(cmp.Compare(a.InstanceID, b.InstanceID), cmp.Compare(a.ExecutionID, b.ExecutionID), cmp.Compare(a.TaskID, b.TaskID))
	})
}

// complete calls TaskComplete for k with a TaskCompleted result visible at now.
func complete(t *testing.T, b store.Backend, k store.TaskKey, owner string, attempt int, now time.Time) (*history.Event, error) {
	t.Helper()
	result := history.NewTaskCompleted(now, k.TaskID, json.RawMessage(`"ok"`))
	err := b.TaskComplete(t.Context(), &store.TaskCompleteParams{Key: k, Owner: owner, Attempt: attempt,
		Result: message(k.InstanceID, k.ExecutionID, result, now)})
	return result, err
}

var taskCases = []testCase{
	{"CreatedWithOwnerIsLeased", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		tc := newTask(0, "Act")
		tc.Owner, tc.LockExpiry = ownerA, at(lockFor)
		taskFixture(t, b, tc)
		for _, now := range []time.Time{t0, at(lockFor - time.Nanosecond)} {
			if got := leaseTasks(t, b, ownerB, now, 10); len(got) != 0 {
				t.Fatalf("TaskLease at %v, before the creator's lease expires = %v, want none", now, taskKeys(got))
			}
		}
		leaseTask(t, b, ownerB, at(lockFor+time.Second), key(0), 2)
	}},
	{"CreatedWithOwnerCanBeCompleted", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		tc := newTask(0, "Act")
		tc.Owner, tc.LockExpiry = ownerA, at(lockFor)
		taskFixture(t, b, tc)
		if _, err := complete(t, b, key(0), ownerA, 1, at(time.Second)); err != nil {
			t.Fatalf("TaskComplete by the creator with attempt 1: %v", err)
		}
		wantNoTasks(t, b)
	}},
	{"CreatedWithoutOwnerIsLeaseable", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		got := leaseTask(t, b, ownerA, t0, key(0), 1)
		if got.Name != "Act" || string(got.Input) != `{"task":0}` {
			t.Fatalf("task = %s(%s), want Act({\"task\":0})", got.Name, got.Input)
		}
		if again := leaseTasks(t, b, ownerB, at(time.Minute), 10); len(again) != 0 {
			t.Fatalf("TaskLease of a leased task = %v, want none", taskKeys(again))
		}
	}},
	{"ExpiredLeaseIsLeasedAgain", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		leaseTask(t, b, ownerA, t0, key(0), 1)
		leaseTask(t, b, ownerB, at(lockFor+time.Second), key(0), 2)
		leaseTask(t, b, ownerA, at(2*lockFor+2*time.Second), key(0), 3)
	}},
	{"CompleteWithoutLatestLeaseFails", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		leaseTask(t, b, ownerA, t0, key(0), 1)
		now := at(lockFor + time.Second)
		leaseTask(t, b, ownerB, now, key(0), 2)
		before := takeSnapshot(t, b, "i1")
		for _, tc := range []struct {
			owner   string
			attempt int
		}{{ownerA, 1}, {ownerB, 1}, {ownerA, 2}, {ownerB, 3}, {"", 0}} {
			_, err := complete(t, b, key(0), tc.owner, tc.attempt, now)
			wantErr(t, "TaskComplete by "+tc.owner, err, store.ErrLeaseLost)
		}
		before.unchanged(t, b)
		// The holder of the latest lease still can.
		if _, err := complete(t, b, key(0), ownerB, 2, now); err != nil {
			t.Fatalf("TaskComplete by the holder: %v", err)
		}
	}},
	{"CompleteDeletesTaskAndDeliversResult", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"), newTask(1, "Act"))
		if err := b.OrchestrationRelease(t.Context(), ownerA, nil); err != nil {
			t.Fatal(err)
		}
		started := inbox(t, b, "i1", t0)
		if got := leaseTasks(t, b, ownerA, t0, 10); len(got) != 2 {
			t.Fatalf("TaskLease = %v, want 2 tasks", taskKeys(got))
		}
		now := at(time.Minute)
		result, err := complete(t, b, key(0), ownerA, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		msgs := wantInbox(t, b, "i1", now, started[0].Event, result)
		if msgs[1].ExecutionID != execID("i1", 1) {
			t.Fatalf("result addressed to execution %q, want %q", msgs[1].ExecutionID, execID("i1", 1))
		}
		if keys := taskKeys(leaseTasks(t, b, ownerB, farFuture, 10)); !slices.Equal(keys, []store.TaskKey{key(1)}) {
			t.Fatalf("tasks left = %v, want [%v]", keys, key(1))
		}
	}},
	{"CompleteTwiceFails", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		leaseTask(t, b, ownerA, t0, key(0), 1)
		now := at(time.Minute)
		result, err := complete(t, b, key(0), ownerA, 1, now)
		if err != nil {
			t.Fatal(err)
		}
		_, err = complete(t, b, key(0), ownerA, 1, now)
		wantErr(t, "second TaskComplete", err, store.ErrLeaseLost)
		msgs := inbox(t, b, "i1", farFuture)
		n := 0
		for _, m := range msgs {
			if m.Event.Type == history.TaskCompleted {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("inbox holds %d results (%v), want 1", n, messageTypes(msgs))
		}
		wantEvents(t, "result", []*history.Event{msgs[len(msgs)-1].Event}, []*history.Event{result})
	}},
	{"CompleteResultVisibleAtNow", func(t *testing.T, newBackend backendFunc) {
		// A result without VisibleAt is visible from the caller's Now on.
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		p := step("i1", ownerA, 1, t0)
		p.Consumed = []int64{inbox(t, b, "i1", t0)[0].ID}
		p.Release = true
		commit(t, b, p)
		leaseTask(t, b, ownerB, t0, key(0), 1)
		now := at(time.Minute)
		result := history.NewTaskCompleted(now, 0, json.RawMessage(`"ok"`))
		err := b.TaskComplete(t.Context(), &store.TaskCompleteParams{Key: key(0), Owner: ownerB, Attempt: 1, Now: now,
			Result: message("i1", execID("i1", 1), result, time.Time{})})
		if err != nil {
			t.Fatal(err)
		}
		wantInbox(t, b, "i1", now.Add(-time.Nanosecond))
		wantInbox(t, b, "i1", now, result)
		leaseOne(t, b, ownerA, "i1", now)
	}},
	{"LeaseNamesFilter", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			names []string
			want  []store.TaskKey
		}{
			{nil, []store.TaskKey{key(0), key(1), key(2)}},
			{[]string{"Alpha"}, []store.TaskKey{key(0)}},
			{[]string{"Gamma", "Alpha"}, []store.TaskKey{key(0), key(2)}},
			{[]string{"Delta"}, nil},
		} {
			t.Run(fmt.Sprint(tc.names), func(t *testing.T) {
				b := newBackend(t)
				taskFixture(t, b, newTask(0, "Alpha"), newTask(1, "Beta"), newTask(2, "Gamma"))
				got := taskKeys(leaseTasks(t, b, ownerA, t0, 10, tc.names...))
				if !slices.Equal(sortKeys(got), tc.want) {
					t.Fatalf("TaskLease(names %v) = %v, want %v", tc.names, got, tc.want)
				}
			})
		}
	}},
	{"LeaseLimit", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"), newTask(1, "Act"), newTask(2, "Act"), newTask(3, "Act"), newTask(4, "Act"))
		var sizes []int
		var all []store.TaskKey
		for range 4 {
			got := taskKeys(leaseTasks(t, b, ownerA, t0, 2))
			sizes = append(sizes, len(got))
			all = append(all, got...)
		}
		if !slices.Equal(sizes, []int{2, 2, 1, 0}) {
			t.Fatalf("leases of limit 2 returned %v tasks, want [2 2 1 0]", sizes)
		}
		if want := []store.TaskKey{key(0), key(1), key(2), key(3), key(4)}; !slices.Equal(sortKeys(all), want) {
			t.Fatalf("leased %v, want each of %v once", all, want)
		}
	}},
	{"LeaseOldestFirst", func(t *testing.T, newBackend backendFunc) {
		// Tasks of one commit are equally old; a later commit's are younger.
		firstCommit := []store.TaskKey{key(1), key(3), key(4)}
		secondCommit := []store.TaskKey{key(0), key(2)}
		for _, limit := range []int{3, 5} {
			t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
				b := newBackend(t)
				taskFixture(t, b, newTask(3, "Act"), newTask(1, "Act"), newTask(4, "Act"))
				scheduleTasks(t, b, "i1", at(time.Second), newTask(0, "Act"), newTask(2, "Act"))
				got := taskKeys(leaseTasks(t, b, ownerA, at(time.Minute), limit))
				if len(got) != limit {
					t.Fatalf("TaskLease(limit %d) = %v", limit, got)
				}
				if first := sortKeys(got[:3]); !slices.Equal(first, firstCommit) {
					t.Fatalf("TaskLease = %v, want the first commit's tasks %v first", got, firstCommit)
				}
				if second := sortKeys(got[3:]); limit == 5 && !slices.Equal(second, secondCommit) {
					t.Fatalf("TaskLease = %v, want the second commit's tasks %v last", got, secondCommit)
				}
			})
		}
	}},
	{"RenewReturnsLostLeases", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "A0"), newTask(1, "A1"), newTask(2, "A2"))
		if got := leaseTasks(t, b, ownerA, t0, 10); len(got) != 3 {
			t.Fatalf("TaskLease = %v, want 3 tasks", taskKeys(got))
		}
		// Task 1 passes to ownerB, task 2 is completed: ownerA holds only task 0.
		if err := b.TaskAbandon(t.Context(), ownerA, []store.TaskLease{{Key: key(1), Attempt: 1}}); err != nil {
			t.Fatal(err)
		}
		leaseTask(t, b, ownerB, at(time.Second), key(1), 2)
		if _, err := complete(t, b, key(2), ownerA, 1, at(time.Second)); err != nil {
			t.Fatal(err)
		}
		lost, err := b.TaskRenew(t.Context(), ownerA, []store.TaskLease{
			{Key: key(0), Attempt: 1}, {Key: key(1), Attempt: 1}, {Key: key(2), Attempt: 1}}, at(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if want := []store.TaskKey{key(1), key(2)}; !slices.Equal(sortKeys(lost), want) {
			t.Fatalf("TaskRenew lost = %v, want %v", lost, want)
		}
		// Task 0 now expires at t0+1h; ownerB's lease of task 1 was not extended.
		if got := taskKeys(leaseTasks(t, b, "node-c", at(lockFor+2*time.Second), 10)); !slices.Equal(got, []store.TaskKey{key(1)}) {
			t.Fatalf("TaskLease after the first expiry = %v, want [%v]", got, key(1))
		}
		if got := taskKeys(leaseTasks(t, b, "node-c", at(time.Hour-time.Second), 10, "A0")); len(got) != 0 {
			t.Fatalf("TaskLease before the renewed expiry = %v, want none", got)
		}
		if got := leaseTasks(t, b, "node-c", at(time.Hour+time.Second), 10, "A0"); len(got) != 1 || got[0].Attempt != 2 {
			t.Fatalf("TaskLease after the renewed expiry = %v, want %v at attempt 2", taskKeys(got), key(0))
		}
	}},
	{"RenewStaleAttemptIsLost", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		leaseTask(t, b, ownerA, t0, key(0), 1)
		now := at(lockFor + time.Second)
		leaseTask(t, b, ownerA, now, key(0), 2)
		lost, err := b.TaskRenew(t.Context(), ownerA, []store.TaskLease{{Key: key(0), Attempt: 1}}, at(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(lost, []store.TaskKey{key(0)}) {
			t.Fatalf("TaskRenew of attempt 1 while attempt 2 is current: lost = %v, want [%v]", lost, key(0))
		}
		// The current lease was not extended.
		leaseTask(t, b, ownerB, now.Add(lockFor+time.Second), key(0), 3)
	}},
	{"RenewNothingLost", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		leaseTask(t, b, ownerA, t0, key(0), 1)
		lost, err := b.TaskRenew(t.Context(), ownerA, []store.TaskLease{{Key: key(0), Attempt: 1}}, at(time.Hour))
		if err != nil || len(lost) != 0 {
			t.Fatalf("TaskRenew = %v, %v; want no lost lease", lost, err)
		}
	}},
	{"AbandonLeases", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"), newTask(1, "Act"))
		leaseTasks(t, b, ownerA, t0, 10)
		if err := b.TaskAbandon(t.Context(), ownerA, []store.TaskLease{{Key: key(0), Attempt: 1}}); err != nil {
			t.Fatal(err)
		}
		leaseTask(t, b, ownerB, at(time.Second), key(0), 2)
	}},
	{"AbandonLeaseNotHeld", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"))
		leaseTask(t, b, ownerA, t0, key(0), 1)
		leaseTask(t, b, ownerB, at(lockFor+time.Second), key(0), 2)
		// ownerA's stale lease is gone; abandoning it must not free ownerB's.
		if err := b.TaskAbandon(t.Context(), ownerA, []store.TaskLease{{Key: key(0), Attempt: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := b.TaskAbandon(t.Context(), ownerA, []store.TaskLease{{Key: key(0), Attempt: 2}}); err != nil {
			t.Fatal(err)
		}
		if got := leaseTasks(t, b, "node-c", at(lockFor+2*time.Second), 10); len(got) != 0 {
			t.Fatalf("TaskLease = %v, want none: ownerB still holds the task", taskKeys(got))
		}
	}},
	{"AbandonNilAbandonsAllOfOwner", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		theirs := newTask(2, "Act")
		theirs.Owner, theirs.LockExpiry = ownerB, at(lockFor)
		taskFixture(t, b, newTask(0, "Act"), newTask(1, "Act"), theirs)
		if got := leaseTasks(t, b, ownerA, t0, 10); len(got) != 2 {
			t.Fatalf("TaskLease = %v, want 2 tasks", taskKeys(got))
		}
		if err := b.TaskAbandon(t.Context(), ownerA, nil); err != nil {
			t.Fatal(err)
		}
		got := leaseTasks(t, b, "node-c", at(time.Second), 10)
		if keys := sortKeys(taskKeys(got)); !slices.Equal(keys, []store.TaskKey{key(0), key(1)}) {
			t.Fatalf("TaskLease after abandon = %v, want [%v %v]", keys, key(0), key(1))
		}
		for _, task := range got {
			if task.Attempt != 2 {
				t.Fatalf("task %v attempt = %d, want 2", task.TaskKey, task.Attempt)
			}
		}
	}},
	{"CommitCompletedTasksDeletes", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		taskFixture(t, b, newTask(0, "Act"), newTask(1, "Act"))
		if leased := leaseTasks(t, b, ownerB, t0, 10); len(leased) != 2 {
			t.Fatalf("TaskLease = %v, want 2 tasks", taskKeys(leased))
		}
		now := at(time.Minute)
		p := step("i1", ownerA, 2, now)
		p.Append = []*history.Event{history.NewTaskCompleted(now, 0, nil)}
		p.CompletedTasks = []store.TaskKey{key(0)}
		commit(t, b, p)
		_, err := complete(t, b, key(0), ownerB, 1, now)
		wantErr(t, "TaskComplete of a task the orchestration completed", err, store.ErrLeaseLost)
		if keys := taskKeys(leaseTasks(t, b, "node-c", farFuture, 10)); !slices.Equal(keys, []store.TaskKey{key(1)}) {
			t.Fatalf("tasks left = %v, want [%v]", keys, key(1))
		}
	}},
}
