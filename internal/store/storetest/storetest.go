// Package storetest is the conformance suite of store.Backend: every backend runs it with
// storetest.Run from its own tests. Each case gets a fresh backend and passes every time to the
// store explicitly (a fixed base time plus offsets), so nothing sleeps.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// backendFunc returns a fresh, empty backend that is closed when t ends.
type backendFunc = func(t *testing.T) store.Backend

type testCase struct {
	name string
	run  func(t *testing.T, newBackend backendFunc)
}

// Run runs the conformance suite against the backends newBackend returns. newBackend is called
// once per subtest and must return an empty backend that it closes with t.Cleanup.
func Run(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"InstanceCreate", instanceCreateCases},
		{"InstanceList", instanceListCases},
		{"InstancePurge", instancePurgeCases},
		{"InstanceCounts", instanceCountsCases},
		{"HistoryRead", historyReadCases},
		{"MessageSend", messageSendCases},
		{"OrchestrationLease", orchestrationLeaseCases},
		{"OrchestrationLock", orchestrationLockCases},
		{"OrchestrationCommit", orchestrationCommitCases},
		{"CommitEffects", commitEffectsCases},
		{"Task", taskCases},
		{"ConcurrentWrites", concurrentWritesCases},
		{"Close", closeCases},
		{"Blob", blobCases},
		{"Queue", queueCases},
		{"WorkItem", workItemCases},
		{"Event", eventCases},
		{"Leader", leaderCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, newBackend) })
			}
		})
	}
}

// t0 is the suite's base time. It lies in the past so that a backend reading the wall clock
// where the contract passes time explicitly shows up as a failure.
var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// lockFor is how long the suite's orchestration locks and task leases last.
const lockFor = 5 * time.Minute

// farFuture is later than every time the suite uses: leasing at farFuture sees every task and
// every message.
var farFuture = at(1000 * time.Hour)

const (
	ownerA = "node-a"
	ownerB = "node-b"
)

// execID is the execution id the suite gives to generation gen of an instance.
func execID(id string, gen int) string { return fmt.Sprintf("%s-exec%d", id, gen) }

// inputOf is the JSON input the suite gives to an instance.
func inputOf(id string) json.RawMessage { return json.RawMessage(`{"id":"` + id + `"}`) }

// createParams describes instance id of orchestration "Orch", created at created.
func createParams(id string, created time.Time) *store.InstanceCreateParams {
	return &store.InstanceCreateParams{
		ID:        id,
		Name:      "Orch",
		CreatedAt: created,
		Started: history.NewExecutionStarted(created, history.ExecutionStartedAttrs{
			Name: "Orch", ExecutionID: execID(id, 1), Input: inputOf(id)}),
	}
}

// create creates instance id at created with createParams.
func create(t testing.TB, b store.Backend, id string, created time.Time) *store.InstanceCreateParams {
	t.Helper()
	p := createParams(id, created)
	if err := b.InstanceCreate(t.Context(), p); err != nil {
		t.Fatalf("InstanceCreate(%s): %v", id, err)
	}
	return p
}

// get returns instance id.
func get(t *testing.T, b store.Backend, id string, withPayloads bool) *store.Instance {
	t.Helper()
	in, err := b.InstanceGet(t.Context(), id, withPayloads)
	if err != nil {
		t.Fatalf("InstanceGet(%s): %v", id, err)
	}
	return in
}

// wantGone checks that instance id does not exist.
func wantGone(t *testing.T, b store.Backend, id string) {
	t.Helper()
	_, err := b.InstanceGet(t.Context(), id, false)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("InstanceGet(%s) error = %v, want ErrNotFound", id, err)
	}
}

// lease calls OrchestrationLease with a lock until now+lockFor.
func lease(t testing.TB, b store.Backend, owner string, now time.Time, limit int, ids ...string) []*store.Instance {
	t.Helper()
	got, err := b.OrchestrationLease(t.Context(), &store.OrchestrationLeaseParams{
		Owner: owner, Now: now, LockExpiry: now.Add(lockFor), Limit: limit, IDs: ids})
	if err != nil {
		t.Fatalf("OrchestrationLease(%s, %s): %v", owner, now.Format(time.RFC3339Nano), err)
	}
	return got
}

// leaseOne leases instance id for owner at now and fails unless exactly it was leased.
func leaseOne(t testing.TB, b store.Backend, owner, id string, now time.Time) *store.Instance {
	t.Helper()
	got := lease(t, b, owner, now, 10, id)
	if ids := instanceIDs(got); !slices.Equal(ids, []string{id}) {
		t.Fatalf("OrchestrationLease(%s, IDs %s) = %v, want [%s]", owner, id, ids, id)
	}
	return got[0]
}

// step returns a commit of instance id by owner at now that appends nothing and keeps the lock:
// tests fill in what they exercise.
func step(id, owner string, historyLen int, now time.Time) *store.OrchestrationCommitParams {
	return &store.OrchestrationCommitParams{
		InstanceID:       id,
		Owner:            owner,
		ExpectHistoryLen: historyLen,
		Update:           store.InstanceUpdate{Status: store.StatusRunning, UpdatedAt: now},
		LockExpiry:       now.Add(lockFor),
	}
}

// commit applies p and fails the test on an error.
func commit(t testing.TB, b store.Backend, p *store.OrchestrationCommitParams) {
	t.Helper()
	if err := b.OrchestrationCommit(t.Context(), p); err != nil {
		t.Fatalf("OrchestrationCommit(%s): %v", p.InstanceID, err)
	}
}

// firstTurn leases instance id at now and commits the usual first step: the ExecutionStarted
// message consumed, [OrchestratorStarted, ExecutionStarted] appended, status Running, lock kept
// by owner. The history is 2 events long afterwards.
func firstTurn(t *testing.T, b store.Backend, owner, id string, now time.Time) {
	t.Helper()
	leaseOne(t, b, owner, id, now)
	msgs := inbox(t, b, id, now)
	if len(msgs) == 0 || msgs[0].Event.Type != history.ExecutionStarted {
		t.Fatalf("inbox of %s = %v, want ExecutionStarted first", id, messageTypes(msgs))
	}
	p := step(id, owner, 0, now)
	p.Consumed = []int64{msgs[0].ID}
	p.Append = []*history.Event{history.NewOrchestratorStarted(now), msgs[0].Event}
	commit(t, b, p)
}

// finish drives a fresh instance id to status: it leases it at now, consumes its inbox and
// commits status with the lock released. Pending leaves the instance as it is.
func finish(t *testing.T, b store.Backend, id string, status store.Status, now time.Time) {
	t.Helper()
	if status == store.StatusPending {
		return
	}
	in := leaseOne(t, b, ownerA, id, now)
	p := step(id, ownerA, in.HistoryLen, now)
	for _, m := range inbox(t, b, id, now) {
		p.Consumed = append(p.Consumed, m.ID)
		p.Append = append(p.Append, m.Event)
	}
	p.Update.Status = status
	p.Release = true
	commit(t, b, p)
}

// inbox returns every message of instance id visible at now.
func inbox(t *testing.T, b store.Backend, id string, now time.Time) []*store.Message {
	t.Helper()
	msgs, err := b.OrchestrationInbox(t.Context(), id, now, 1000)
	if err != nil {
		t.Fatalf("OrchestrationInbox(%s): %v", id, err)
	}
	return msgs
}

// historyOf returns the whole history of instance id.
func historyOf(t *testing.T, b store.Backend, id string) []store.HistoryRecord {
	t.Helper()
	recs, err := b.HistoryRead(t.Context(), &store.HistoryReadParams{InstanceID: id, After: -1, Limit: 1000})
	if err != nil {
		t.Fatalf("HistoryRead(%s): %v", id, err)
	}
	return recs
}

// wantHistory checks that the history of instance id is exactly want, at positions 0, 1, ...
func wantHistory(t *testing.T, b store.Backend, id string, want []*history.Event) {
	t.Helper()
	recs := historyOf(t, b, id)
	got := make([]*history.Event, len(recs))
	for i, r := range recs {
		if r.Seq != i {
			t.Fatalf("history of %s: record %d has Seq %d, want %d", id, i, r.Seq, i)
		}
		got[i] = r.Event
	}
	wantEvents(t, "history of "+id, got, want)
}

// wantEvents compares events by their persisted form.
func wantEvents(t *testing.T, what string, got, want []*history.Event) {
	t.Helper()
	g, w := encodeEvents(t, got), encodeEvents(t, want)
	if !slices.Equal(g, w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}
}

func encodeEvents(t *testing.T, evs []*history.Event) []string {
	t.Helper()
	out := make([]string, len(evs))
	for i, ev := range evs {
		data, err := history.Marshal(ev)
		if err != nil {
			t.Fatalf("marshal %s: %v", ev.Type, err)
		}
		out[i] = string(data)
	}
	return out
}

// messageEvents returns the events of msgs.
func messageEvents(msgs []*store.Message) []*history.Event {
	out := make([]*history.Event, len(msgs))
	for i, m := range msgs {
		out[i] = m.Event
	}
	return out
}

// wantInbox checks that the messages of instance id visible at now carry exactly want, in order.
func wantInbox(t *testing.T, b store.Backend, id string, now time.Time, want ...*history.Event) []*store.Message {
	t.Helper()
	msgs := inbox(t, b, id, now)
	for _, m := range msgs {
		if m.InstanceID != id {
			t.Fatalf("inbox of %s holds a message for %q", id, m.InstanceID)
		}
	}
	wantEvents(t, "inbox of "+id, messageEvents(msgs), want)
	return msgs
}

func messageTypes(msgs []*store.Message) []history.Type {
	out := make([]history.Type, len(msgs))
	for i, m := range msgs {
		out[i] = m.Event.Type
	}
	return out
}

func instanceIDs(ins []*store.Instance) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.ID
	}
	return out
}

// event returns an external event named name, raised at ts.
func event(name string, ts time.Time) *history.Event {
	return history.NewEventRaised(ts, name, json.RawMessage(`"`+name+`"`))
}

// message returns a message to instance id carrying ev, visible at visibleAt.
func message(id, executionID string, ev *history.Event, visibleAt time.Time) *store.Message {
	return &store.Message{InstanceID: id, ExecutionID: executionID, Event: ev, VisibleAt: visibleAt}
}

// send sends msgs to instance id with MessageSend.
func send(t *testing.T, b store.Backend, id string, msgs ...*store.Message) {
	t.Helper()
	if err := b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: id, Messages: msgs}); err != nil {
		t.Fatalf("MessageSend(%s): %v", id, err)
	}
}

// wantInstance compares every field of an instance row.
func wantInstance(t *testing.T, got, want *store.Instance) {
	t.Helper()
	var diffs []string
	diff := func(field string, g, w any) {
		diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", field, g, w))
	}
	if got.ID != want.ID {
		diff("ID", got.ID, want.ID)
	}
	if got.Name != want.Name {
		diff("Name", got.Name, want.Name)
	}
	if got.ExecutionID != want.ExecutionID {
		diff("ExecutionID", got.ExecutionID, want.ExecutionID)
	}
	if got.Status != want.Status {
		diff("Status", got.Status, want.Status)
	}
	for _, f := range []struct {
		name      string
		got, want json.RawMessage
	}{{"Input", got.Input, want.Input}, {"Output", got.Output, want.Output}, {"CustomStatus", got.CustomStatus, want.CustomStatus}} {
		if string(f.got) != string(f.want) {
			diff(f.name, string(f.got), string(f.want))
		}
	}
	if !reflect.DeepEqual(got.Failure, want.Failure) {
		diff("Failure", got.Failure, want.Failure)
	}
	if !reflect.DeepEqual(got.Parent, want.Parent) {
		diff("Parent", got.Parent, want.Parent)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		diff("CreatedAt", got.CreatedAt, want.CreatedAt)
	}
	if !got.UpdatedAt.Equal(want.UpdatedAt) {
		diff("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	}
	if got.HistoryLen != want.HistoryLen {
		diff("HistoryLen", got.HistoryLen, want.HistoryLen)
	}
	if got.LockOwner != want.LockOwner {
		diff("LockOwner", got.LockOwner, want.LockOwner)
	}
	if !got.LockExpiry.Equal(want.LockExpiry) {
		diff("LockExpiry", got.LockExpiry, want.LockExpiry)
	}
	if len(diffs) > 0 {
		t.Fatalf("instance %s:\n  %s", want.ID, strings.Join(diffs, "\n  "))
	}
}

// wantLock checks who holds instance id's lock and until when.
func wantLock(t *testing.T, b store.Backend, id, owner string, expiry time.Time) {
	t.Helper()
	in := get(t, b, id, false)
	if in.LockOwner != owner || !in.LockExpiry.Equal(expiry) {
		t.Fatalf("lock of %s = %q until %v, want %q until %v", id, in.LockOwner, in.LockExpiry, owner, expiry)
	}
}

// wantStatusError checks that err is a *store.StatusError for instance id in status, wrapping
// sentinel.
func wantStatusError(t *testing.T, err error, id string, status store.Status, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("error = %v, want one wrapping %v", err, sentinel)
	}
	var se *store.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want a *store.StatusError", err, err)
	}
	if se.InstanceID != id || se.Status != status {
		t.Fatalf("StatusError{InstanceID: %q, Status: %s}, want {%q, %s}", se.InstanceID, se.Status, id, status)
	}
}

// wantErr checks that err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s error = %v, want one wrapping %v", what, err, target)
	}
}
