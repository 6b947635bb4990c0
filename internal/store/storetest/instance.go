package storetest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

var (
	unfinishedStatuses = []store.Status{store.StatusPending, store.StatusRunning, store.StatusSuspended, store.StatusContinuedAsNew}
	finishedStatuses   = []store.Status{store.StatusCompleted, store.StatusFailed, store.StatusTerminated}
)

// leftovers creates instance id at t0 and leaves it in status, lock released, with a history of
// 3 events, an activity task, a delayed timer message and an external event in its inbox.
func leftovers(t *testing.T, b store.Backend, id string, status store.Status) {
	t.Helper()
	create(t, b, id, t0)
	firstTurn(t, b, ownerA, id, t0)
	now := at(time.Minute)
	p := step(id, ownerA, 2, now)
	p.Append = []*history.Event{history.NewTaskScheduled(now, 0, "Act", nil)}
	p.Tasks = []*store.TaskCreate{{TaskKey: store.TaskKey{InstanceID: id, ExecutionID: execID(id, 1), TaskID: 0}, Name: "Act"}}
	p.Messages = []*store.Message{message(id, execID(id, 1), history.NewTimerFired(at(10*time.Hour), 1, at(10*time.Hour)), at(10*time.Hour))}
	p.Update.Status = status
	p.Release = true
	commit(t, b, p)
	send(t, b, id, message(id, "", event("late", now), now))
	if n := len(historyOf(t, b, id)); n != 3 {
		t.Fatalf("history of %s has %d events after setup, want 3", id, n)
	}
	if n := len(inbox(t, b, id, farFuture)); n != 2 {
		t.Fatalf("inbox of %s has %d messages after setup, want 2", id, n)
	}
}

// wantNoTasks checks that no task is left, whatever its lease.
func wantNoTasks(t *testing.T, b store.Backend) {
	t.Helper()
	if got := leaseTasks(t, b, ownerB, farFuture, 1000); len(got) != 0 {
		t.Fatalf("tasks left: %v", taskKeys(got))
	}
}

var instanceCreateCases = []testCase{
	{"GetReturnsPendingInstance", func(t *testing.T, newBackend backendFunc) {
		for _, withPayloads := range []bool{true, false} {
			t.Run(fmt.Sprintf("withPayloads=%v", withPayloads), func(t *testing.T) {
				b := newBackend(t)
				p := create(t, b, "i1", t0)
				want := &store.Instance{ID: "i1", Name: "Orch", ExecutionID: execID("i1", 1), Status: store.StatusPending,
					CreatedAt: t0, UpdatedAt: t0}
				if withPayloads {
					want.Input = p.Started.ExecutionStarted.Input
				}
				wantInstance(t, get(t, b, "i1", withPayloads), want)
			})
		}
	}},
	{"MissingIsNotFound", func(t *testing.T, newBackend backendFunc) {
		wantGone(t, newBackend(t), "nobody")
	}},
	{"StartedEventIsInInbox", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p := create(t, b, "i1", t0)
		wantInbox(t, b, "i1", t0, p.Started)
	}},
	{"IsLeaseable", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		got := lease(t, b, ownerA, t0, 10)
		if len(got) != 1 {
			t.Fatalf("OrchestrationLease = %v, want [i1]", instanceIDs(got))
		}
		wantInstance(t, got[0], &store.Instance{ID: "i1", Name: "Orch", ExecutionID: execID("i1", 1),
			Status: store.StatusPending, CreatedAt: t0, UpdatedAt: t0, LockOwner: ownerA, LockExpiry: t0.Add(lockFor)})
	}},
	{"ScheduledStartHoldsItAndItsMessages", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		start := at(time.Minute)
		p := createParams("i1", t0)
		p.StartAt = start
		if err := b.InstanceCreate(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		wantInstance(t, get(t, b, "i1", false), &store.Instance{ID: "i1", Name: "Orch", ExecutionID: execID("i1", 1),
			Status: store.StatusPending, CreatedAt: t0, UpdatedAt: t0})
		if got := lease(t, b, ownerA, t0, 10); len(got) != 0 {
			t.Fatalf("OrchestrationLease before the start = %v, want none", instanceIDs(got))
		}
		wantNextVisible(t, b, t0, start, true)
		// An event sent before the start (at once, and one delayed to before it) waits for it:
		// it neither makes the instance ready sooner nor comes before its ExecutionStarted.
		early, delayed := event("early", at(time.Second)), event("delayed", at(time.Second))
		if err := b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: "i1", Now: at(time.Second),
			Messages: []*store.Message{message("i1", "", early, time.Time{}), message("i1", "", delayed, at(30*time.Second))}}); err != nil {
			t.Fatal(err)
		}
		if got := lease(t, b, ownerA, at(40*time.Second), 10); len(got) != 0 {
			t.Fatalf("OrchestrationLease after the event, before the start = %v, want none", instanceIDs(got))
		}
		wantNextVisible(t, b, at(40*time.Second), start, true)
		wantInbox(t, b, "i1", at(40*time.Second))
		leaseOne(t, b, ownerA, "i1", start)
		wantInbox(t, b, "i1", start, p.Started, early, delayed)
	}},
	{"OwnerCreatesLocked", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p := createParams("i1", t0)
		p.Owner, p.LockExpiry = ownerA, at(lockFor)
		if err := b.InstanceCreate(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		wantLock(t, b, "i1", ownerA, at(lockFor))
		if got := lease(t, b, ownerB, at(time.Minute), 10); len(got) != 0 {
			t.Fatalf("OrchestrationLease by another owner before expiry = %v, want none", instanceIDs(got))
		}
		owned, err := b.OrchestrationOwned(t.Context(), ownerA, at(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if ids := instanceIDs(owned); !slices.Equal(ids, []string{"i1"}) {
			t.Fatalf("OrchestrationOwned = %v, want [i1]", ids)
		}
		leaseOne(t, b, ownerB, "i1", at(lockFor+time.Second))
	}},
	{"ParentIsStored", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		parent := &history.ParentInstance{InstanceID: "p", ExecutionID: "p-exec", Name: "ParentOrch", TaskScheduledID: 4}
		p := createParams("child", t0)
		p.Started.ExecutionStarted.Parent = parent
		if err := b.InstanceCreate(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if got := get(t, b, "child", false).Parent; got == nil || *got != *parent {
			t.Fatalf("Parent = %+v, want %+v", got, parent)
		}
	}},
	{"UnfinishedIDFails", func(t *testing.T, newBackend backendFunc) {
		for _, status := range unfinishedStatuses {
			t.Run(string(status), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				finish(t, b, "i1", status, t0)
				before := get(t, b, "i1", true)
				historyBefore := historyOf(t, b, "i1")
				inboxBefore := inbox(t, b, "i1", farFuture)

				again := createParams("i1", at(time.Hour))
				again.Name = "Other"
				again.Started.ExecutionStarted.ExecutionID = execID("i1", 2)
				err := b.InstanceCreate(t.Context(), again)
				wantStatusError(t, err, "i1", status, store.ErrInstanceExists)

				wantInstance(t, get(t, b, "i1", true), before)
				wantEvents(t, "history", recordEvents(historyOf(t, b, "i1")), recordEvents(historyBefore))
				wantEvents(t, "inbox", messageEvents(inbox(t, b, "i1", farFuture)), messageEvents(inboxBefore))
			})
		}
	}},
	{"FinishedIDIsReplaced", func(t *testing.T, newBackend backendFunc) {
		for _, status := range finishedStatuses {
			t.Run(string(status), func(t *testing.T) {
				b := newBackend(t)
				leftovers(t, b, "i1", status)

				again := createParams("i1", at(time.Hour))
				again.Name = "Other"
				again.Started = history.NewExecutionStarted(at(time.Hour), history.ExecutionStartedAttrs{
					Name: "Other", ExecutionID: execID("i1", 2), Input: json.RawMessage(`[2]`)})
				if err := b.InstanceCreate(t.Context(), again); err != nil {
					t.Fatalf("InstanceCreate over a %s instance: %v", status, err)
				}
				wantInstance(t, get(t, b, "i1", true), &store.Instance{ID: "i1", Name: "Other", ExecutionID: execID("i1", 2),
					Status: store.StatusPending, Input: json.RawMessage(`[2]`), CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)})
				wantHistory(t, b, "i1", nil)
				wantInbox(t, b, "i1", farFuture, again.Started)
				wantNoTasks(t, b)
			})
		}
	}},
}

func recordEvents(recs []store.HistoryRecord) []*history.Event {
	out := make([]*history.Event, len(recs))
	for i, r := range recs {
		out[i] = r.Event
	}
	return out
}

// listFixture creates instances with ids chosen to catch LIKE patterns, created a minute apart
// in the order listed.
var listFixture = []struct {
	id     string
	status store.Status
}{
	{"a%x", store.StatusCompleted},
	{"abx", store.StatusRunning},
	{"a_x", store.StatusFailed},
	{"aax", store.StatusPending},
	{"b1", store.StatusPending},
	{"b2", store.StatusTerminated},
	{"a", store.StatusSuspended},
}

func createListFixture(t *testing.T, b store.Backend) {
	t.Helper()
	for i, f := range listFixture {
		created := at(time.Duration(i+1) * time.Minute)
		create(t, b, f.id, created)
		finish(t, b, f.id, f.status, created)
	}
}

// listAll walks every page of p (its Token is overwritten) and returns the instances in order.
func listAll(t *testing.T, b store.Backend, p store.InstanceListParams) []*store.Instance {
	t.Helper()
	var out []*store.Instance
	p.Token = ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("InstanceList never returned an empty token")
		}
		page, err := b.InstanceList(t.Context(), &p)
		if err != nil {
			t.Fatalf("InstanceList(page %d): %v", pages, err)
		}
		if len(page.Instances) > p.Limit {
			t.Fatalf("page %d has %d instances, limit %d", pages, len(page.Instances), p.Limit)
		}
		if page.Token != "" && len(page.Instances) == 0 {
			t.Fatalf("page %d is empty but has token %q", pages, page.Token)
		}
		if pages > 0 && len(page.Instances) == 0 {
			t.Fatalf("page %d is empty: the token of page %d was set with no more pages", pages, pages-1)
		}
		out = append(out, page.Instances...)
		if page.Token == "" {
			return out
		}
		p.Token = page.Token
	}
}

var instanceListCases = []testCase{
	{"Filters", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			name string
			p    store.InstanceListParams
			want []string
		}{
			{"None", store.InstanceListParams{}, []string{"a%x", "abx", "a_x", "aax", "b1", "b2", "a"}},
			{"OneStatus", store.InstanceListParams{Statuses: []store.Status{store.StatusPending}}, []string{"aax", "b1"}},
			{"FinishedStatuses", store.InstanceListParams{Statuses: finishedStatuses}, []string{"a%x", "a_x", "b2"}},
			{"CreatedFrom", store.InstanceListParams{CreatedFrom: at(150 * time.Second)}, []string{"a_x", "aax", "b1", "b2", "a"}},
			{"CreatedTo", store.InstanceListParams{CreatedTo: at(270 * time.Second)}, []string{"a%x", "abx", "a_x", "aax"}},
			{"CreatedRange", store.InstanceListParams{CreatedFrom: at(90 * time.Second), CreatedTo: at(330 * time.Second)},
				[]string{"abx", "a_x", "aax", "b1"}},
			{"Prefix", store.InstanceListParams{IDPrefix: "a"}, []string{"a%x", "abx", "a_x", "aax", "a"}},
			{"PrefixPercentIsLiteral", store.InstanceListParams{IDPrefix: "a%"}, []string{"a%x"}},
			{"PrefixUnderscoreIsLiteral", store.InstanceListParams{IDPrefix: "a_"}, []string{"a_x"}},
			{"PrefixIsCaseSensitive", store.InstanceListParams{IDPrefix: "A"}, nil},
			{"PrefixAndStatus", store.InstanceListParams{IDPrefix: "b", Statuses: []store.Status{store.StatusPending}}, []string{"b1"}},
			{"NoMatch", store.InstanceListParams{IDPrefix: "zzz"}, nil},
			// Times beyond what a backend's encoding holds must not wrap around.
			{"FromBeyondNanos", store.InstanceListParams{CreatedFrom: beyondNanos}, nil},
			{"ToBeyondNanos", store.InstanceListParams{CreatedTo: beyondNanos}, []string{"a%x", "abx", "a_x", "aax", "b1", "b2", "a"}},
			{"FromBeforeNanos", store.InstanceListParams{CreatedFrom: beforeNanos}, []string{"a%x", "abx", "a_x", "aax", "b1", "b2", "a"}},
			{"ToBeforeNanos", store.InstanceListParams{CreatedTo: beforeNanos}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := newBackend(t)
				createListFixture(t, b)
				tc.p.Limit = 100
				page, err := b.InstanceList(t.Context(), &tc.p)
				if err != nil {
					t.Fatal(err)
				}
				if ids := instanceIDs(page.Instances); !slices.Equal(ids, tc.want) {
					t.Fatalf("InstanceList = %q, want %q", ids, tc.want)
				}
				if page.Token != "" {
					t.Fatalf("Token = %q on the only page, want empty", page.Token)
				}
			})
		}
	}},
	{"WithPayloads", func(t *testing.T, newBackend backendFunc) {
		for _, withPayloads := range []bool{true, false} {
			t.Run(fmt.Sprintf("withPayloads=%v", withPayloads), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "done", t0)
				in := leaseOne(t, b, ownerA, "done", t0)
				p := step("done", ownerA, in.HistoryLen, at(time.Second))
				p.Update = store.InstanceUpdate{Status: store.StatusCompleted, Output: json.RawMessage(`"out"`),
					CustomStatus: json.RawMessage(`{"s":1}`), UpdatedAt: at(time.Second)}
				p.Release = true
				commit(t, b, p)
				create(t, b, "new", at(time.Minute))

				page, err := b.InstanceList(t.Context(), &store.InstanceListParams{Limit: 10, WithPayloads: withPayloads})
				if err != nil {
					t.Fatal(err)
				}
				if ids := instanceIDs(page.Instances); !slices.Equal(ids, []string{"done", "new"}) {
					t.Fatalf("InstanceList = %q, want [done new]", ids)
				}
				for _, got := range page.Instances {
					want := get(t, b, got.ID, withPayloads)
					if withPayloads && len(want.Input) == 0 {
						t.Fatalf("InstanceGet(%s, true) has no input", got.ID)
					}
					wantInstance(t, got, want)
				}
				if withPayloads && string(page.Instances[0].Output) != `"out"` {
					t.Fatalf("Output = %s, want \"out\"", page.Instances[0].Output)
				}
			})
		}
	}},
	{"PagesWalkEveryInstanceOnce", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct{ n, limit int }{
			{0, 3}, {1, 1}, {7, 1}, {7, 2}, {7, 3}, {6, 2}, {6, 3}, {6, 6}, {7, 7}, {7, 10},
		} {
			t.Run(fmt.Sprintf("n=%d,limit=%d", tc.n, tc.limit), func(t *testing.T) {
				b := newBackend(t)
				// Pairs share a creation time, and ids run against creation order, so the order
				// is (createdAt, id) and not insertion or id order.
				var want []string
				for i := range tc.n {
					id := fmt.Sprintf("i%02d", tc.n-i)
					create(t, b, id, at(time.Duration(i/2)*time.Minute))
					want = append(want, id)
				}
				for i := 0; i+1 < len(want); i += 2 {
					want[i], want[i+1] = want[i+1], want[i]
				}
				got := instanceIDs(listAll(t, b, store.InstanceListParams{Limit: tc.limit}))
				if !slices.Equal(got, want) {
					t.Fatalf("pages = %q, want %q", got, want)
				}
			})
		}
	}},
	{"NewestFirst", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		// Pairs share a creation time: newest first is (createdAt, id) descending.
		for i := range 7 {
			create(t, b, fmt.Sprintf("i%02d", 7-i), at(time.Duration(i/2)*time.Minute))
		}
		oldest := instanceIDs(listAll(t, b, store.InstanceListParams{Limit: 100}))
		want := slices.Clone(oldest)
		slices.Reverse(want)
		for _, limit := range []int{1, 2, 3, 7, 10} {
			got := instanceIDs(listAll(t, b, store.InstanceListParams{Limit: limit, NewestFirst: true}))
			if !slices.Equal(got, want) {
				t.Fatalf("limit %d: newest first = %q, want %q", limit, got, want)
			}
		}
		page, err := b.InstanceList(t.Context(), &store.InstanceListParams{Limit: 2, NewestFirst: true,
			Statuses: []store.Status{store.StatusPending}, CreatedTo: at(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if ids := instanceIDs(page.Instances); !slices.Equal(ids, []string{"i05", "i04"}) {
			t.Fatalf("newest first with filters = %q, want [i05 i04]", ids)
		}
		// A token continues only a listing in its own order.
		for _, newest := range []bool{false, true} {
			first, err := b.InstanceList(t.Context(), &store.InstanceListParams{Limit: 2, NewestFirst: newest})
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.InstanceList(t.Context(), &store.InstanceListParams{Limit: 2, NewestFirst: !newest, Token: first.Token})
			wantErr(t, fmt.Sprintf("InstanceList(NewestFirst %v) with a token of the other order", !newest), err, store.ErrInvalid)
		}
	}},
	{"PagesWithFilter", func(t *testing.T, newBackend backendFunc) {
		for _, limit := range []int{1, 2, 3, 4, 5} {
			t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
				b := newBackend(t)
				var want []string
				for i := range 8 {
					id := fmt.Sprintf("i%d", i)
					create(t, b, id, at(time.Duration(i)*time.Minute))
					if i%2 == 0 {
						finish(t, b, id, store.StatusCompleted, at(time.Duration(i)*time.Minute))
					} else {
						want = append(want, id)
					}
				}
				got := instanceIDs(listAll(t, b, store.InstanceListParams{Limit: limit,
					Statuses: []store.Status{store.StatusPending}}))
				if !slices.Equal(got, want) {
					t.Fatalf("pages = %q, want %q", got, want)
				}
			})
		}
	}},
	{"MalformedTokenFails", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct{ name, token string }{
			{"NotBase64", "not a token"},
			{"Percent", "%%%"},
			{"EmptyObject", base64.RawURLEncoding.EncodeToString([]byte("{}"))},
			{"Null", base64.RawURLEncoding.EncodeToString([]byte("null"))},
			{"NotJSON", base64.RawURLEncoding.EncodeToString([]byte("garbage"))},
		} {
			token := tc.token
			t.Run(tc.name, func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				page, err := b.InstanceList(t.Context(), &store.InstanceListParams{Limit: 10, Token: token})
				wantErr(t, fmt.Sprintf("InstanceList(token %q) = %v,", token, page), err, store.ErrInvalid)
			})
		}
	}},
}

var instancePurgeCases = []testCase{
	{"MissingIsNotFound", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		wantErr(t, "InstancePurge", b.InstancePurge(t.Context(), "nobody"), store.ErrNotFound)
	}},
	{"UnfinishedFails", func(t *testing.T, newBackend backendFunc) {
		for _, status := range unfinishedStatuses {
			t.Run(string(status), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				finish(t, b, "i1", status, t0)
				before := get(t, b, "i1", true)
				wantStatusError(t, b.InstancePurge(t.Context(), "i1"), "i1", status, store.ErrWrongStatus)
				wantInstance(t, get(t, b, "i1", true), before)
				if status != store.StatusPending && len(historyOf(t, b, "i1")) == 0 {
					t.Fatal("history deleted by a failed purge")
				}
			})
		}
	}},
	{"FinishedDeletesEverything", func(t *testing.T, newBackend backendFunc) {
		for _, status := range finishedStatuses {
			t.Run(string(status), func(t *testing.T) {
				b := newBackend(t)
				leftovers(t, b, "i1", status)
				other := create(t, b, "other", t0)
				if err := b.InstancePurge(t.Context(), "i1"); err != nil {
					t.Fatal(err)
				}
				wantGone(t, b, "i1")
				wantHistory(t, b, "i1", nil)
				wantInbox(t, b, "i1", farFuture)
				wantNoTasks(t, b)
				wantInbox(t, b, "other", farFuture, other.Started)
				// A new instance with the id starts clean.
				again := create(t, b, "i1", at(time.Hour))
				wantInbox(t, b, "i1", farFuture, again.Started)
			})
		}
	}},
	{"BatchDeletesAtMostLimit", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for i := range 5 {
			id := fmt.Sprintf("done%d", i)
			leftovers(t, b, id, store.StatusCompleted)
		}
		create(t, b, "running", t0)
		finish(t, b, "running", store.StatusRunning, t0)
		var got []int
		for range 10 {
			n, err := b.InstancePurgeBatch(t.Context(), &store.InstancePurgeParams{Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
			if n == 0 {
				break
			}
		}
		if !slices.Equal(got, []int{2, 2, 1, 0}) {
			t.Fatalf("InstancePurgeBatch returned %v, want [2 2 1 0]", got)
		}
		wantCounts(t, b, map[store.Status]int{store.StatusRunning: 1})
		for i := range 5 {
			wantHistory(t, b, fmt.Sprintf("done%d", i), nil)
			wantInbox(t, b, fmt.Sprintf("done%d", i), farFuture)
		}
		wantNoTasks(t, b)
	}},
	{"BatchFilters", func(t *testing.T, newBackend backendFunc) {
		fixture := []struct {
			id     string
			status store.Status
		}{
			{"c1", store.StatusCompleted}, {"c2", store.StatusCompleted}, {"f1", store.StatusFailed},
			{"t1", store.StatusTerminated}, {"r1", store.StatusRunning}, {"p1", store.StatusPending},
			{"c3", store.StatusCompleted}, {"s1", store.StatusSuspended}, {"n1", store.StatusContinuedAsNew},
		}
		for _, tc := range []struct {
			name string
			p    store.InstancePurgeParams
			want []string
		}{
			{"AllFinished", store.InstancePurgeParams{}, []string{"c1", "c2", "f1", "t1", "c3"}},
			{"Completed", store.InstancePurgeParams{Statuses: []store.Status{store.StatusCompleted}}, []string{"c1", "c2", "c3"}},
			{"FailedTerminated", store.InstancePurgeParams{Statuses: []store.Status{store.StatusFailed, store.StatusTerminated}},
				[]string{"f1", "t1"}},
			{"CreatedFrom", store.InstancePurgeParams{CreatedFrom: at(150 * time.Second)}, []string{"f1", "t1", "c3"}},
			{"CreatedTo", store.InstancePurgeParams{CreatedTo: at(210 * time.Second)}, []string{"c1", "c2", "f1"}},
			{"RangeAndStatus", store.InstancePurgeParams{CreatedFrom: at(90 * time.Second), CreatedTo: at(500 * time.Second),
				Statuses: []store.Status{store.StatusCompleted}}, []string{"c2", "c3"}},
			{"FromBeyondNanos", store.InstancePurgeParams{CreatedFrom: beyondNanos}, nil},
			{"BeforeToBeyondNanos", store.InstancePurgeParams{CreatedFrom: beforeNanos, CreatedTo: beyondNanos}, []string{"c1", "c2", "f1", "t1", "c3"}},
			{"ToBeforeNanos", store.InstancePurgeParams{CreatedTo: beforeNanos}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := newBackend(t)
				var all []string
				for i, f := range fixture {
					created := at(time.Duration(i+1) * time.Minute)
					create(t, b, f.id, created)
					finish(t, b, f.id, f.status, created)
					all = append(all, f.id)
				}
				total := 0
				for range 10 {
					tc.p.Limit = 2
					n, err := b.InstancePurgeBatch(t.Context(), &tc.p)
					if err != nil {
						t.Fatal(err)
					}
					if n > 2 {
						t.Fatalf("InstancePurgeBatch deleted %d, limit 2", n)
					}
					if n == 0 {
						break
					}
					total += n
				}
				if total != len(tc.want) {
					t.Fatalf("deleted %d instances, want %d", total, len(tc.want))
				}
				left := slices.DeleteFunc(all, func(id string) bool { return slices.Contains(tc.want, id) })
				got := instanceIDs(listAll(t, b, store.InstanceListParams{Limit: 100}))
				if !slices.Equal(got, left) {
					t.Fatalf("instances left = %q, want %q", got, left)
				}
			})
		}
	}},
	{"BatchRejectsUnfinishedStatus", func(t *testing.T, newBackend backendFunc) {
		for _, status := range unfinishedStatuses {
			t.Run(string(status), func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "c1", t0)
				finish(t, b, "c1", store.StatusCompleted, t0)
				create(t, b, "u1", t0)
				finish(t, b, "u1", status, t0)
				n, err := b.InstancePurgeBatch(t.Context(), &store.InstancePurgeParams{Limit: 10,
					Statuses: []store.Status{store.StatusCompleted, status}})
				wantErr(t, "InstancePurgeBatch", err, store.ErrInvalid)
				if n != 0 {
					t.Fatalf("InstancePurgeBatch returned %d with an error, want 0", n)
				}
				wantCounts(t, b, map[store.Status]int{store.StatusCompleted: 1, status: 1})
			})
		}
	}},
}

// wantCounts checks InstanceCounts; statuses missing from want count 0.
func wantCounts(t *testing.T, b store.Backend, want map[store.Status]int) {
	t.Helper()
	got, err := b.InstanceCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	maps.DeleteFunc(got, func(_ store.Status, n int) bool { return n == 0 })
	if !maps.Equal(got, want) {
		t.Fatalf("InstanceCounts = %v, want %v", got, want)
	}
}

var instanceCountsCases = []testCase{
	{"Empty", func(t *testing.T, newBackend backendFunc) {
		wantCounts(t, newBackend(t), map[store.Status]int{})
	}},
	{"ByStatus", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		want := map[store.Status]int{}
		for i, status := range store.Statuses {
			for j := range i + 1 {
				id := fmt.Sprintf("%s-%d", status, j)
				create(t, b, id, t0)
				finish(t, b, id, status, t0)
				want[status]++
			}
		}
		wantCounts(t, b, want)
	}},
}

// beforeNanos and beyondNanos lie outside the range of Unix nanoseconds (1678 to 2262).
var (
	beforeNanos = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	beyondNanos = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)
