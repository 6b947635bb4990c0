package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// snapshot is what a failed call must leave as it was: an instance row, its history and its
// whole inbox, delayed messages included.
type snapshot struct {
	id       string
	instance *store.Instance
	history  []*history.Event
	inbox    []*store.Message
}

func takeSnapshot(t *testing.T, b store.Backend, id string) snapshot {
	t.Helper()
	return snapshot{id: id, instance: get(t, b, id, true), history: recordEvents(historyOf(t, b, id)),
		inbox: inbox(t, b, id, farFuture)}
}

// unchanged checks that instance s.id is as it was when s was taken.
func (s snapshot) unchanged(t *testing.T, b store.Backend) {
	t.Helper()
	wantInstance(t, get(t, b, s.id, true), s.instance)
	wantHistory(t, b, s.id, s.history)
	got := inbox(t, b, s.id, farFuture)
	wantEvents(t, "inbox of "+s.id, messageEvents(got), messageEvents(s.inbox))
	for i := range got {
		if got[i].ID != s.inbox[i].ID {
			t.Fatalf("inbox of %s: message %d has id %d, was %d", s.id, i, got[i].ID, s.inbox[i].ID)
		}
	}
}

var orchestrationCommitCases = []testCase{
	{"AppendsHistoryAndUpdatesRow", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p0 := create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		started := inbox(t, b, "i1", t0)[0]

		now := at(time.Second)
		first := []*history.Event{history.NewOrchestratorStarted(now), p0.Started, history.NewTaskScheduled(now, 0, "Act", nil)}
		p := step("i1", ownerA, 0, now)
		p.Append = first
		p.Consumed = []int64{started.ID}
		p.Update.CustomStatus = json.RawMessage(`{"step":1}`)
		commit(t, b, p)
		wantHistory(t, b, "i1", first)
		wantInstance(t, get(t, b, "i1", true), &store.Instance{ID: "i1", Name: "Orch", ExecutionID: execID("i1", 1),
			Status: store.StatusRunning, Input: inputOf("i1"), CustomStatus: json.RawMessage(`{"step":1}`),
			CreatedAt: t0, UpdatedAt: now, HistoryLen: 3, LockOwner: ownerA, LockExpiry: now.Add(lockFor)})

		now = at(time.Minute)
		second := []*history.Event{history.NewOrchestratorStarted(now), history.NewTaskCompleted(now, 0, json.RawMessage(`7`)),
			history.NewExecutionCompleted(now, json.RawMessage(`"done"`)), history.NewOrchestratorCompleted(now)}
		p = step("i1", ownerA, 3, now)
		p.Append = second
		p.Update = store.InstanceUpdate{Status: store.StatusCompleted, Output: json.RawMessage(`"done"`),
			CustomStatus: json.RawMessage(`{"step":2}`), UpdatedAt: now}
		p.Release = true
		commit(t, b, p)
		wantHistory(t, b, "i1", append(first, second...))
		wantInstance(t, get(t, b, "i1", true), &store.Instance{ID: "i1", Name: "Orch", ExecutionID: execID("i1", 1),
			Status: store.StatusCompleted, Input: inputOf("i1"), Output: json.RawMessage(`"done"`),
			CustomStatus: json.RawMessage(`{"step":2}`), CreatedAt: t0, UpdatedAt: now, HistoryLen: 7})
	}},
	{"FailureIsStored", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		firstTurn(t, b, ownerA, "i1", t0)
		failure := &history.FailureDetails{ErrorType: "Boom", ErrorMessage: "it broke", StackTrace: "at x",
			Inner: &history.FailureDetails{ErrorType: "Cause", ErrorMessage: "because"}}
		p := step("i1", ownerA, 2, at(time.Minute))
		p.Append = []*history.Event{history.NewExecutionFailed(at(time.Minute), failure, nil)}
		p.Update = store.InstanceUpdate{Status: store.StatusFailed, Failure: failure, UpdatedAt: at(time.Minute)}
		commit(t, b, p)
		in := get(t, b, "i1", true)
		if in.Status != store.StatusFailed || in.Failure == nil || *in.Failure.Inner != *failure.Inner ||
			in.Failure.ErrorType != failure.ErrorType || in.Failure.ErrorMessage != failure.ErrorMessage ||
			in.Failure.StackTrace != failure.StackTrace {
			t.Fatalf("instance = %s with failure %+v, want Failed with %+v", in.Status, in.Failure, failure)
		}
	}},
	{"DeletesConsumed", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		e1, e2 := event("e1", t0), event("e2", t0)
		send(t, b, "i1", message("i1", "", e1, t0), message("i1", "", e2, t0))
		leaseOne(t, b, ownerA, "i1", t0)
		msgs := inbox(t, b, "i1", t0)
		p := step("i1", ownerA, 0, t0)
		p.Consumed = []int64{msgs[0].ID, msgs[1].ID}
		p.Append = []*history.Event{msgs[0].Event, msgs[1].Event}
		commit(t, b, p)
		wantInbox(t, b, "i1", farFuture, e2)
	}},
	{"AsyncCommitsLandInOrder", func(t *testing.T, newBackend backendFunc) {
		// A caller queues steps k, k+1, ... without waiting: they land in that order.
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		var want []*history.Event
		var outcomes []<-chan error
		for k := 0; k < 20; k++ {
			now := at(time.Duration(k) * time.Second)
			p := step("i1", ownerA, 2*k, now)
			p.Append = []*history.Event{history.NewOrchestratorStarted(now), history.NewOrchestratorCompleted(now)}
			want = append(want, p.Append...)
			outcomes = append(outcomes, b.OrchestrationCommitAsync(t.Context(), p))
		}
		for k, ch := range outcomes {
			if err := <-ch; err != nil {
				t.Fatalf("step %d: %v", k, err)
			}
		}
		wantHistory(t, b, "i1", want)
	}},
	{"AsyncCommitBehindAFailedOneFails", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		first := step("i1", ownerB, 0, t0) // not the lock holder
		first.Append = []*history.Event{history.NewOrchestratorStarted(t0), history.NewOrchestratorCompleted(t0)}
		second := step("i1", ownerA, 2, t0)
		second.Append = []*history.Event{history.NewOrchestratorStarted(t0)}
		c1 := b.OrchestrationCommitAsync(t.Context(), first)
		c2 := b.OrchestrationCommitAsync(t.Context(), second)
		wantErr(t, "first", <-c1, store.ErrLeaseLost)
		wantErr(t, "second", <-c2, store.ErrLeaseLost)
		wantHistory(t, b, "i1", nil)
	}},
	{"ConsumedOfAnotherInstanceIsKept", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		create(t, b, "i2", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		other := inbox(t, b, "i2", t0)
		p := step("i1", ownerA, 0, t0)
		p.Consumed = []int64{other[0].ID}
		commit(t, b, p)
		wantInbox(t, b, "i2", farFuture, other[0].Event)
	}},
	{"NonOwnerLosesLease", func(t *testing.T, newBackend backendFunc) {
		for _, owner := range []string{ownerB, ""} {
			t.Run(fmt.Sprintf("owner=%q", owner), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				leaseOne(t, b, ownerA, "i1", t0)
				before := takeSnapshot(t, b, "i1")
				p := bigStep(t, b, "i1", owner, 0)
				wantErr(t, "OrchestrationCommit", b.OrchestrationCommit(t.Context(), p), store.ErrLeaseLost)
				before.unchanged(t, b)
				wantNoTasks(t, b)
			})
		}
	}},
	{"WrongHistoryLenLosesLease", func(t *testing.T, newBackend backendFunc) {
		for _, expect := range []int{0, 1, 3, 10} {
			t.Run(fmt.Sprintf("expect=%d", expect), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				firstTurn(t, b, ownerA, "i1", t0)
				send(t, b, "i1", message("i1", "", event("e", t0), t0))
				before := takeSnapshot(t, b, "i1")
				p := bigStep(t, b, "i1", ownerA, expect)
				wantErr(t, "OrchestrationCommit", b.OrchestrationCommit(t.Context(), p), store.ErrLeaseLost)
				before.unchanged(t, b)
				wantNoTasks(t, b)
			})
		}
	}},
	{"TakenOverLockLosesLease", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		leaseOne(t, b, ownerB, "i1", at(lockFor+time.Second))
		before := takeSnapshot(t, b, "i1")
		wantErr(t, "OrchestrationCommit", b.OrchestrationCommit(t.Context(), bigStep(t, b, "i1", ownerA, 0)), store.ErrLeaseLost)
		before.unchanged(t, b)
		commit(t, b, bigStep(t, b, "i1", ownerB, 0))
	}},
	{"ReleasedLockLosesLease", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		if err := b.OrchestrationRelease(t.Context(), ownerA, nil); err != nil {
			t.Fatal(err)
		}
		before := takeSnapshot(t, b, "i1")
		wantErr(t, "OrchestrationCommit", b.OrchestrationCommit(t.Context(), bigStep(t, b, "i1", ownerA, 0)), store.ErrLeaseLost)
		before.unchanged(t, b)
	}},
	{"ReleaseUnlocks", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		p := step("i1", ownerA, 0, at(time.Second))
		p.Release = true
		commit(t, b, p)
		wantLock(t, b, "i1", "", time.Time{})
		// The ExecutionStarted message was not consumed: anyone may lease the instance at once.
		leaseOne(t, b, ownerB, "i1", at(time.Second))
	}},
	{"NoReleaseExtendsLock", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		p := step("i1", ownerA, 0, at(time.Second))
		p.LockExpiry = at(time.Hour)
		commit(t, b, p)
		wantLock(t, b, "i1", ownerA, at(time.Hour))
		if got := lease(t, b, ownerB, at(lockFor+time.Second), 10); len(got) != 0 {
			t.Fatalf("lease after the first expiry = %q, want none", instanceIDs(got))
		}
	}},
	{"KeepState", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		p := step("i1", ownerA, 0, t0)
		p.Append = []*history.Event{history.NewOrchestratorStarted(t0)}
		p.Update.CustomStatus = json.RawMessage(`"custom"`)
		commit(t, b, p)
		before := get(t, b, "i1", true)

		now := at(time.Minute)
		p = step("i1", ownerA, 1, now)
		p.Append = []*history.Event{event("dropped", now)}
		p.KeepState = true
		p.Update = store.InstanceUpdate{Status: store.StatusCompleted, Output: json.RawMessage(`"no"`),
			CustomStatus: json.RawMessage(`"no"`), Failure: &history.FailureDetails{ErrorMessage: "no"}, UpdatedAt: now}
		p.Release = true
		commit(t, b, p)
		want := *before
		want.UpdatedAt, want.HistoryLen, want.LockOwner, want.LockExpiry = now, 2, "", time.Time{}
		wantInstance(t, get(t, b, "i1", true), &want)
	}},
}

// bigStep returns a commit of instance id that touches everything a commit can: history,
// inbox, tasks, messages to itself and others, a sub-orchestration and the row.
func bigStep(t *testing.T, b store.Backend, id, owner string, historyLen int) *store.OrchestrationCommitParams {
	t.Helper()
	now := at(2 * time.Minute)
	p := step(id, owner, historyLen, now)
	for _, m := range inbox(t, b, id, now) {
		p.Consumed = append(p.Consumed, m.ID)
	}
	p.Append = []*history.Event{history.NewOrchestratorStarted(now), history.NewTaskScheduled(now, 0, "Act", nil)}
	p.Tasks = []*store.TaskCreate{{TaskKey: store.TaskKey{InstanceID: id, ExecutionID: execID(id, 1), TaskID: 0}, Name: "Act"}}
	p.Messages = []*store.Message{message(id, execID(id, 1), event("self", now), at(time.Hour))}
	child := createParams(id+"-child", now)
	child.Started.ExecutionStarted.Parent = &history.ParentInstance{InstanceID: id, ExecutionID: execID(id, 1), Name: "Orch", TaskScheduledID: 1}
	p.SubOrchestrations = []*store.InstanceCreateParams{child}
	p.Update = store.InstanceUpdate{Status: store.StatusCompleted, Output: json.RawMessage(`"x"`), CustomStatus: json.RawMessage(`"x"`),
		UpdatedAt: now}
	p.Release = true
	return p
}

// atomicFixture leaves i1 Running with a 3-event history, lock held by ownerA, an unleased task
// 0, a timer at t0+10h and an external event in its inbox; "other" is idle.
func atomicFixture(t *testing.T, b store.Backend) {
	t.Helper()
	create(t, b, "i1", t0)
	firstTurn(t, b, ownerA, "i1", t0)
	p := step("i1", ownerA, 2, t0)
	p.Append = []*history.Event{history.NewTaskScheduled(t0, 0, "Act", nil)}
	p.Tasks = []*store.TaskCreate{{TaskKey: store.TaskKey{InstanceID: "i1", ExecutionID: execID("i1", 1), TaskID: 0}, Name: "Act"}}
	p.Messages = []*store.Message{message("i1", execID("i1", 1), history.NewTimerFired(at(10*time.Hour), 1, at(10*time.Hour)), at(10*time.Hour))}
	commit(t, b, p)
	send(t, b, "i1", message("i1", "", event("e", t0), t0))
	idle(t, b, "other")
}

var commitEffectsCases = []testCase{
	{"AllOrNothing", func(t *testing.T, newBackend backendFunc) {
		task0 := store.TaskKey{InstanceID: "i1", ExecutionID: execID("i1", 1), TaskID: 0}
		for _, tc := range []struct {
			name   string
			modify func(p *store.OrchestrationCommitParams)
		}{
			{"DuplicateTaskKey", func(*store.OrchestrationCommitParams) {}},
			{"DuplicateTaskKeyWithEndExecution", func(p *store.OrchestrationCommitParams) { p.EndExecution = true }},
			{"DuplicateTaskKeyWithResetHistory", func(p *store.OrchestrationCommitParams) {
				p.ResetHistory = true
				p.Update.ExecutionID, p.Update.Input = execID("i1", 2), json.RawMessage(`2`)
			}},
			{"DuplicateTaskKeyWithTruncateHistory", func(p *store.OrchestrationCommitParams) { p.TruncateHistory = 1 }},
			{"TaskKeyAlreadyExists", func(p *store.OrchestrationCommitParams) {
				p.CompletedTasks = nil
				p.Tasks = []*store.TaskCreate{{TaskKey: task0, Name: "Act"}}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := newBackend(t)
				atomicFixture(t, b)
				self, other := takeSnapshot(t, b, "i1"), takeSnapshot(t, b, "other")

				now := at(time.Minute)
				p := step("i1", ownerA, 3, now)
				for _, m := range inbox(t, b, "i1", farFuture) {
					p.Consumed = append(p.Consumed, m.ID)
				}
				p.Append = []*history.Event{history.NewOrchestratorStarted(now), event("e", now), history.NewTaskScheduled(now, 2, "Act", nil)}
				p.CompletedTasks = []store.TaskKey{task0}
				dup := store.TaskKey{InstanceID: "i1", ExecutionID: execID("i1", 1), TaskID: 2}
				p.Tasks = []*store.TaskCreate{{TaskKey: dup, Name: "Act"}, {TaskKey: dup, Name: "Act"}}
				p.Messages = []*store.Message{message("other", "", event("to-other", now), time.Time{}),
					message("i1", execID("i1", 1), event("to-self", now), time.Time{})}
				child := createParams("child", now)
				child.Started.ExecutionStarted.Parent = &history.ParentInstance{InstanceID: "i1", ExecutionID: execID("i1", 1), Name: "Orch", TaskScheduledID: 3}
				p.SubOrchestrations = []*store.InstanceCreateParams{child}
				p.Update = store.InstanceUpdate{Status: store.StatusCompleted, Output: json.RawMessage(`"x"`), UpdatedAt: now}
				p.Release = true
				tc.modify(p)
				if err := b.OrchestrationCommit(t.Context(), p); err == nil {
					t.Fatal("OrchestrationCommit with a duplicate task key succeeded")
				}
				self.unchanged(t, b)
				other.unchanged(t, b)
				wantGone(t, b, "child")
				if got := lease(t, b, ownerB, farFuture, 10, "other"); len(got) != 0 {
					t.Fatal("other instance became leaseable")
				}
				tasks := leaseTasks(t, b, ownerB, farFuture, 10)
				if keys := taskKeys(tasks); len(keys) != 1 || keys[0] != task0 {
					t.Fatalf("tasks = %v, want only %v", keys, task0)
				}
				// Nothing was half-applied: the same step without its tasks succeeds.
				p.Tasks = nil
				commit(t, b, p)
			})
		}
	}},
	{"EndExecutionDropsExecutionWork", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		firstTurn(t, b, ownerA, "i1", t0)
		exec := execID("i1", 1)
		p := step("i1", ownerA, 2, t0)
		p.Append = []*history.Event{history.NewTaskScheduled(t0, 0, "Act", nil), history.NewTaskScheduled(t0, 1, "Act", nil),
			history.NewTimerCreated(t0, 2, at(10*time.Hour))}
		p.Tasks = []*store.TaskCreate{
			{TaskKey: store.TaskKey{InstanceID: "i1", ExecutionID: exec, TaskID: 0}, Name: "Act"},
			{TaskKey: store.TaskKey{InstanceID: "i1", ExecutionID: exec, TaskID: 1}, Name: "Act", Owner: ownerB, LockExpiry: at(lockFor)},
		}
		p.Messages = []*store.Message{
			message("i1", exec, history.NewTimerFired(at(10*time.Hour), 2, at(10*time.Hour)), at(10*time.Hour)),
			message("i1", exec, history.NewTaskCompleted(t0, 0, json.RawMessage(`1`)), t0),
		}
		commit(t, b, p)
		external := event("external", t0)
		send(t, b, "i1", message("i1", "", external, t0))
		// Another instance's work is not touched.
		otherStarted := create(t, b, "other", t0)
		otherTask := []*store.TaskCreate{{TaskKey: store.TaskKey{InstanceID: "other", ExecutionID: execID("other", 1), TaskID: 0}, Name: "Act"}}
		scheduleTasks(t, b, "other", t0, otherTask...)
		otherMsg := message("other", execID("other", 1), event("for-other-exec", t0), t0)
		send(t, b, "other", otherMsg)

		now := at(time.Minute)
		p = step("i1", ownerA, 5, now)
		p.Append = []*history.Event{history.NewExecutionTerminated(now, "stop")}
		p.EndExecution = true
		p.Update = store.InstanceUpdate{Status: store.StatusTerminated, Output: json.RawMessage(`"stop"`), UpdatedAt: now}
		p.Release = true
		commit(t, b, p)

		wantInbox(t, b, "i1", farFuture, external)
		err := b.TaskComplete(t.Context(), &store.TaskCompleteParams{Key: store.TaskKey{InstanceID: "i1", ExecutionID: exec, TaskID: 1},
			Owner: ownerB, Attempt: 1, Result: message("i1", exec, history.NewTaskCompleted(now, 1, nil), now)})
		wantErr(t, "TaskComplete of a task of an ended execution", err, store.ErrLeaseLost)
		if keys := taskKeys(leaseTasks(t, b, ownerB, farFuture, 10)); len(keys) != 1 || keys[0] != otherTask[0].TaskKey {
			t.Fatalf("tasks left = %v, want only %v", keys, otherTask[0].TaskKey)
		}
		wantInbox(t, b, "other", farFuture, otherStarted.Started, otherMsg.Event)
	}},
	{"ContinueAsNew", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		firstTurn(t, b, ownerA, "i1", t0)
		p := step("i1", ownerA, 2, t0)
		p.Append = []*history.Event{history.NewContinueAsNew(t0, json.RawMessage(`{"gen":2}`))}
		commit(t, b, p)

		now := at(time.Minute)
		next := []*history.Event{history.NewOrchestratorStarted(now), history.NewExecutionStarted(now, history.ExecutionStartedAttrs{
			Name: "Orch", ExecutionID: execID("i1", 2), Input: json.RawMessage(`{"gen":2}`), Generation: 1})}
		p = step("i1", ownerA, 3, now)
		p.ResetHistory = true
		p.EndExecution = true
		p.Append = next
		p.Update = store.InstanceUpdate{Status: store.StatusRunning, ExecutionID: execID("i1", 2), Input: json.RawMessage(`{"gen":2}`),
			UpdatedAt: now}
		commit(t, b, p)
		wantHistory(t, b, "i1", next)
		wantInstance(t, get(t, b, "i1", true), &store.Instance{ID: "i1", Name: "Orch", ExecutionID: execID("i1", 2),
			Status: store.StatusRunning, Input: json.RawMessage(`{"gen":2}`), CreatedAt: t0, UpdatedAt: now, HistoryLen: 2,
			LockOwner: ownerA, LockExpiry: now.Add(lockFor)})
		// The new history continues from its own length.
		p = step("i1", ownerA, 2, now)
		p.Append = []*history.Event{history.NewOrchestratorCompleted(now)}
		commit(t, b, p)
		wantHistory(t, b, "i1", append(next, p.Append...))
	}},
	{"TruncateHistory", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			truncate, keep int
		}{{0, 6}, {2, 2}, {5, 5}, {6, 6}, {9, 6}} {
			t.Run(fmt.Sprintf("truncate=%d", tc.truncate), func(t *testing.T) {
				b := newBackend(t)
				all := sixEvents(t, b, "i1")
				now := at(time.Minute)
				appended := []*history.Event{history.NewExecutionRewound(now, "again"), history.NewOrchestratorStarted(now)}
				p := step("i1", ownerA, 6, now)
				p.TruncateHistory = tc.truncate
				p.Append = appended
				commit(t, b, p)
				want := append(all[:tc.keep:tc.keep], appended...)
				wantHistory(t, b, "i1", want)
				if n := get(t, b, "i1", false).HistoryLen; n != len(want) {
					t.Fatalf("HistoryLen = %d, want %d", n, len(want))
				}
			})
		}
	}},
	{"TimerToSelf", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		timer := withTimer(t, b, "i1", at(time.Hour))
		wantInbox(t, b, "i1", at(time.Hour-time.Nanosecond))
		msgs := wantInbox(t, b, "i1", at(time.Hour), timer)
		if msgs[0].ExecutionID != execID("i1", 1) || !msgs[0].VisibleAt.Equal(at(time.Hour)) {
			t.Fatalf("timer message for execution %q visible at %v, want %q at %v", msgs[0].ExecutionID, msgs[0].VisibleAt,
				execID("i1", 1), at(time.Hour))
		}
	}},
	{"MessageToOtherInstance", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		idle(t, b, "other")
		create(t, b, "i1", t0)
		firstTurn(t, b, ownerA, "i1", t0)
		now := at(time.Minute)
		ev := event("hello", now)
		p := step("i1", ownerA, 2, now)
		p.Messages = []*store.Message{message("other", "", ev, time.Time{})}
		commit(t, b, p)
		wantInbox(t, b, "other", now, ev)
		leaseOne(t, b, ownerB, "other", now)
	}},
	{"MessageToMissingInstanceIsDropped", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		firstTurn(t, b, ownerA, "i1", t0)
		now := at(time.Minute)
		p := step("i1", ownerA, 2, now)
		p.Append = []*history.Event{history.NewOrchestratorCompleted(now)}
		p.Messages = []*store.Message{message("nobody", "", event("hello", now), time.Time{})}
		commit(t, b, p)
		wantGone(t, b, "nobody")
		wantInbox(t, b, "nobody", farFuture)
		if n := get(t, b, "i1", false).HistoryLen; n != 3 {
			t.Fatalf("HistoryLen = %d, want 3", n)
		}
	}},
	{"SubOrchestrationCreated", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "parent", t0)
		firstTurn(t, b, ownerA, "parent", t0)
		now := at(time.Minute)
		child := subOrchestration("child", now)
		p := step("parent", ownerA, 2, now)
		p.Append = []*history.Event{history.NewSubOrchestrationCreated(now, 7, "Orch", "child", inputOf("child"))}
		p.SubOrchestrations = []*store.InstanceCreateParams{child}
		p.Release = true
		commit(t, b, p)
		wantInstance(t, get(t, b, "child", true), &store.Instance{ID: "child", Name: "Orch", ExecutionID: execID("child", 1),
			Status: store.StatusPending, Input: inputOf("child"), Parent: child.Started.ExecutionStarted.Parent,
			CreatedAt: now, UpdatedAt: now})
		wantInbox(t, b, "child", now, child.Started)
		leaseOne(t, b, ownerB, "child", now)
		wantInbox(t, b, "parent", farFuture)
	}},
	{"SubOrchestrationIDTaken", func(t *testing.T, newBackend backendFunc) {
		for _, status := range unfinishedStatuses {
			t.Run(string(status), func(t *testing.T) {
				b := newBackend(t)
				other := createParams("child", t0)
				other.Name = "Other"
				if err := b.InstanceCreate(t.Context(), other); err != nil {
					t.Fatal(err)
				}
				finish(t, b, "child", status, t0)
				before := takeSnapshot(t, b, "child")
				create(t, b, "parent", t0)
				firstTurn(t, b, ownerA, "parent", t0)

				now := at(time.Minute)
				p := step("parent", ownerA, 2, now)
				p.Append = []*history.Event{history.NewSubOrchestrationCreated(now, 7, "Orch", "child", nil)}
				sub := subOrchestration("child", now)
				sub.Started.ExecutionStarted.ExecutionID = execID("child", 9)
				p.SubOrchestrations = []*store.InstanceCreateParams{sub}
				p.Release = true
				commit(t, b, p)

				before.unchanged(t, b)
				msgs := inbox(t, b, "parent", now)
				if len(msgs) != 1 || msgs[0].Event.Type != history.SubOrchestrationInstanceFailed {
					t.Fatalf("parent inbox = %v, want [SubOrchestrationInstanceFailed]", messageTypes(msgs))
				}
				if f := msgs[0].Event.SubOrchestrationInstanceFailed; f.TaskScheduledID != 7 || f.Failure == nil {
					t.Fatalf("SubOrchestrationInstanceFailed = %+v, want TaskScheduledID 7 with a failure", f)
				}
				if msgs[0].ExecutionID != "" && msgs[0].ExecutionID != execID("parent", 1) {
					t.Fatalf("failure addressed to execution %q, want the parent's %q", msgs[0].ExecutionID, execID("parent", 1))
				}
				leaseOne(t, b, ownerB, "parent", now)
			})
		}
	}},
	{"SubOrchestrationReplacesFinished", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		leftovers(t, b, "child", store.StatusCompleted)
		create(t, b, "parent", t0)
		firstTurn(t, b, ownerA, "parent", t0)
		now := at(time.Hour)
		sub := subOrchestration("child", now)
		sub.Started.ExecutionStarted.ExecutionID = execID("child", 2)
		p := step("parent", ownerA, 2, now)
		p.SubOrchestrations = []*store.InstanceCreateParams{sub}
		commit(t, b, p)
		wantInstance(t, get(t, b, "child", true), &store.Instance{ID: "child", Name: "Orch", ExecutionID: execID("child", 2),
			Status: store.StatusPending, Input: inputOf("child"), Parent: sub.Started.ExecutionStarted.Parent,
			CreatedAt: now, UpdatedAt: now})
		wantHistory(t, b, "child", nil)
		wantInbox(t, b, "child", farFuture, sub.Started)
		wantInbox(t, b, "parent", farFuture)
		wantNoTasks(t, b)
	}},
}

// subOrchestration describes child id started at now by action 7 of execution 1 of "parent".
func subOrchestration(id string, now time.Time) *store.InstanceCreateParams {
	p := createParams(id, now)
	p.Started.ExecutionStarted.Parent = &history.ParentInstance{InstanceID: "parent", ExecutionID: execID("parent", 1),
		Name: "Orch", TaskScheduledID: 7}
	return p
}
