package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// withTimer leaves instance id (created at t0) Running, unlocked, with only a timer message
// visible at fire in its inbox.
func withTimer(t *testing.T, b store.Backend, id string, fire time.Time) *history.Event {
	t.Helper()
	create(t, b, id, t0)
	firstTurn(t, b, ownerA, id, t0)
	timer := history.NewTimerFired(fire, 0, fire)
	p := step(id, ownerA, 2, t0)
	p.Append = []*history.Event{history.NewTimerCreated(t0, 0, fire)}
	p.Messages = []*store.Message{message(id, execID(id, 1), timer, fire)}
	p.Release = true
	commit(t, b, p)
	return timer
}

var orchestrationLeaseCases = []testCase{
	{"LocksForOwner", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		got := leaseOne(t, b, ownerA, "i1", at(time.Second))
		if got.LockOwner != ownerA || !got.LockExpiry.Equal(at(time.Second+lockFor)) {
			t.Fatalf("leased instance lock = %q until %v, want %q until %v", got.LockOwner, got.LockExpiry, ownerA, at(time.Second+lockFor))
		}
		wantLock(t, b, "i1", ownerA, at(time.Second+lockFor))
	}},
	{"OtherOwnerWaitsForExpiry", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		for _, now := range []time.Time{t0, at(time.Minute), at(lockFor - time.Nanosecond)} {
			if got := lease(t, b, ownerB, now, 10); len(got) != 0 {
				t.Fatalf("OrchestrationLease by %s at %v, before the lock expires = %v, want none", ownerB, now, instanceIDs(got))
			}
		}
		wantLock(t, b, "i1", ownerA, at(lockFor))
		got := leaseOne(t, b, ownerB, "i1", at(lockFor+time.Second))
		if got.LockOwner != ownerB {
			t.Fatalf("LockOwner = %q, want %q", got.LockOwner, ownerB)
		}
		wantLock(t, b, "i1", ownerB, at(2*lockFor+time.Second))
	}},
	{"SameOwnerAfterExpiry", func(t *testing.T, newBackend backendFunc) {
		// A lock held is not leased again, even by its owner (OrchestrationOwned finds those);
		// once it expired, the owner leases it like anyone else.
		b := newBackend(t)
		create(t, b, "i1", t0)
		leaseOne(t, b, ownerA, "i1", t0)
		if got := lease(t, b, ownerA, at(time.Minute), 10); len(got) != 0 {
			t.Fatalf("OrchestrationLease by the holder before expiry = %v, want none", instanceIDs(got))
		}
		leaseOne(t, b, ownerA, "i1", at(lockFor+time.Second))
		wantLock(t, b, "i1", ownerA, at(2*lockFor+time.Second))
	}},
	{"Limit", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		// Inserted out of creation order: leases come oldest first. Instance iN is created at
		// t0+Ns.
		for _, n := range []int{3, 1, 4, 0, 2} {
			create(t, b, fmt.Sprintf("i%d", n), at(time.Duration(n)*time.Second))
		}
		now := at(time.Minute)
		var got [][]string
		for range 4 {
			got = append(got, instanceIDs(lease(t, b, ownerA, now, 2)))
		}
		want := [][]string{{"i0", "i1"}, {"i2", "i3"}, {"i4"}, {}}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("leases of limit 2 = %q, want %q", got, want)
		}
	}},
	{"OldestMessageFirst", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "x", at(2*time.Second))
		create(t, b, "y", at(0))
		create(t, b, "z", at(time.Second))
		if got := instanceIDs(lease(t, b, ownerA, at(time.Minute), 10)); !slices.Equal(got, []string{"y", "z", "x"}) {
			t.Fatalf("OrchestrationLease = %q, want [y z x]", got)
		}
	}},
	{"IDsFilter", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for i, id := range []string{"i1", "i2", "i3"} {
			create(t, b, id, at(time.Duration(i)*time.Second))
		}
		if got := instanceIDs(lease(t, b, ownerA, at(time.Minute), 10, "i3", "i1", "missing")); !slices.Equal(got, []string{"i1", "i3"}) {
			t.Fatalf("OrchestrationLease(IDs i3 i1 missing) = %q, want [i1 i3]", got)
		}
		if got := instanceIDs(lease(t, b, ownerB, at(time.Minute), 10)); !slices.Equal(got, []string{"i2"}) {
			t.Fatalf("OrchestrationLease after = %q, want [i2]", got)
		}
	}},
	{"NoVisibleMessages", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		idle(t, b, "i1")
		if got := lease(t, b, ownerA, farFuture, 10); len(got) != 0 {
			t.Fatalf("OrchestrationLease = %q, want none", instanceIDs(got))
		}
	}},
	{"DelayedMessage", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		timer := withTimer(t, b, "i1", at(time.Hour))
		for _, now := range []time.Time{at(time.Minute), at(time.Hour - time.Nanosecond)} {
			if got := lease(t, b, ownerA, now, 10); len(got) != 0 {
				t.Fatalf("OrchestrationLease at %v, before the timer = %q, want none", now, instanceIDs(got))
			}
			wantInbox(t, b, "i1", now)
			wantNextVisible(t, b, now, at(time.Hour), true)
		}
		wantInbox(t, b, "i1", at(time.Hour), timer)
		leaseOne(t, b, ownerA, "i1", at(time.Hour))
	}},
	{"NextVisibleFalseWhenNothingDelayed", func(t *testing.T, newBackend backendFunc) {
		for _, tc := range []struct {
			name  string
			setup func(t *testing.T, b store.Backend)
			now   time.Time
		}{
			{"Empty", func(*testing.T, store.Backend) {}, t0},
			{"OnlyVisible", func(t *testing.T, b store.Backend) { create(t, b, "i1", t0) }, at(time.Minute)},
			{"TimerAlreadyDue", func(t *testing.T, b store.Backend) { withTimer(t, b, "i1", at(time.Hour)) }, at(time.Hour)},
			{"NoMessages", func(t *testing.T, b store.Backend) { idle(t, b, "i1") }, t0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := newBackend(t)
				tc.setup(t, b)
				wantNextVisible(t, b, tc.now, time.Time{}, false)
			})
		}
	}},
	{"NextVisibleEarliestAcrossInstances", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		withTimer(t, b, "i1", at(2*time.Hour))
		withTimer(t, b, "i2", at(time.Hour))
		withTimer(t, b, "i3", at(3*time.Hour))
		wantNextVisible(t, b, at(time.Minute), at(time.Hour), true)
		wantNextVisible(t, b, at(time.Hour), at(2*time.Hour), true)
	}},
	{"NextVisibleSeesTimerOnceVisibleMessageIsConsumed", func(t *testing.T, newBackend backendFunc) {
		// An instance is ready at its earliest message: a timer behind a message that is
		// visible now shows once that message is consumed.
		b := newBackend(t)
		withTimer(t, b, "i1", at(time.Hour))
		send(t, b, "i1", message("i1", "", event("e", at(time.Minute)), at(time.Minute)))
		wantNextVisible(t, b, at(2*time.Minute), time.Time{}, false)
		leaseOne(t, b, ownerA, "i1", at(2*time.Minute))
		msgs := inbox(t, b, "i1", at(2*time.Minute))
		p := step("i1", ownerA, get(t, b, "i1", false).HistoryLen, at(2*time.Minute))
		for _, m := range msgs {
			p.Consumed = append(p.Consumed, m.ID)
		}
		commit(t, b, p)
		wantNextVisible(t, b, at(2*time.Minute), at(time.Hour), true)
	}},
	{"Owned", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for _, id := range []string{"mine", "mine-idle", "theirs", "free"} {
			create(t, b, id, t0)
		}
		leaseOne(t, b, ownerA, "mine", t0)
		leaseOne(t, b, ownerB, "theirs", t0)
		leaseOne(t, b, ownerA, "mine-idle", t0)
		p := step("mine-idle", ownerA, 0, t0)
		for _, m := range inbox(t, b, "mine-idle", t0) {
			p.Consumed = append(p.Consumed, m.ID)
			p.Append = append(p.Append, m.Event)
		}
		commit(t, b, p)
		owned, err := b.OrchestrationOwned(t.Context(), ownerA, at(time.Minute), 10)
		if err != nil {
			t.Fatal(err)
		}
		if ids := instanceIDs(owned); !slices.Equal(ids, []string{"mine"}) {
			t.Fatalf("OrchestrationOwned = %q, want [mine]", ids)
		}
	}},
}

// lockFixture creates i1..i4 and leases i1..i3 for ownerA and i4 for ownerB at t0.
func lockFixture(t *testing.T, b store.Backend) {
	t.Helper()
	for i := 1; i <= 4; i++ {
		create(t, b, fmt.Sprintf("i%d", i), at(time.Duration(i)*time.Second))
	}
	if got := instanceIDs(lease(t, b, ownerA, at(time.Minute), 3)); !slices.Equal(got, []string{"i1", "i2", "i3"}) {
		t.Fatalf("lease by %s = %q, want [i1 i2 i3]", ownerA, got)
	}
	leaseOne(t, b, ownerB, "i4", at(time.Minute))
}

// wantLocks checks the holder of each lock: "" for none. A held lock expires at t0+1m+lockFor
// unless renewed to renewed.
func wantLocks(t *testing.T, b store.Backend, want map[string]string, renewed time.Time) {
	t.Helper()
	for id, owner := range want {
		expiry := time.Time{}
		switch {
		case owner == ownerA && !renewed.IsZero():
			expiry = renewed
		case owner != "":
			expiry = at(time.Minute + lockFor)
		}
		wantLock(t, b, id, owner, expiry)
	}
}

var orchestrationLockCases = []testCase{
	{"ReleaseIDs", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		lockFixture(t, b)
		if err := b.OrchestrationRelease(t.Context(), ownerA, []string{"i1", "i3", "i4"}); err != nil {
			t.Fatal(err)
		}
		wantLocks(t, b, map[string]string{"i1": "", "i2": ownerA, "i3": "", "i4": ownerB}, time.Time{})
		if got := instanceIDs(lease(t, b, "node-c", at(2*time.Minute), 10)); !slices.Equal(got, []string{"i1", "i3"}) {
			t.Fatalf("lease after release = %q, want [i1 i3]", got)
		}
	}},
	{"ReleaseNilReleasesAll", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		lockFixture(t, b)
		if err := b.OrchestrationRelease(t.Context(), ownerA, nil); err != nil {
			t.Fatal(err)
		}
		wantLocks(t, b, map[string]string{"i1": "", "i2": "", "i3": "", "i4": ownerB}, time.Time{})
	}},
	{"ReleaseEmptyReleasesNone", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		lockFixture(t, b)
		if err := b.OrchestrationRelease(t.Context(), ownerA, []string{}); err != nil {
			t.Fatal(err)
		}
		wantLocks(t, b, map[string]string{"i1": ownerA, "i2": ownerA, "i3": ownerA, "i4": ownerB}, time.Time{})
	}},
	{"Renew", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		lockFixture(t, b)
		if err := b.OrchestrationRenew(t.Context(), ownerA, at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		wantLocks(t, b, map[string]string{"i1": ownerA, "i2": ownerA, "i3": ownerA, "i4": ownerB}, at(time.Hour))
		if got := instanceIDs(lease(t, b, "node-c", at(30*time.Minute), 10)); !slices.Equal(got, []string{"i4"}) {
			t.Fatalf("lease after the old expiry = %q, want [i4]", got)
		}
	}},
}
