package storetest

import (
	"testing"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

func delivery(sub, eventID string, expires time.Time) *store.DeliveryCreate {
	return &store.DeliveryCreate{Subscription: sub, EventID: eventID, Event: []byte(`{"id":"` + eventID + `"}`),
		NotBefore: t0, ExpiresAt: expires}
}

func publish(t *testing.T, b store.Backend, id string, eff store.Effects) bool {
	t.Helper()
	dup, err := b.EventPublish(t.Context(), &store.EventPublishParams{EventID: id, Now: t0, SeenUntil: at(time.Hour), Effects: eff})
	if err != nil {
		t.Fatalf("EventPublish(%s): %v", id, err)
	}
	return dup
}

func leaseDeliveries(t *testing.T, b store.Backend, owner string, now time.Time, limit int) []*store.Delivery {
	t.Helper()
	ds, err := b.DeliveryLease(t.Context(), &store.DeliveryLeaseParams{Owner: owner, Now: now, LockExpiry: now.Add(lockFor), Limit: limit})
	if err != nil {
		t.Fatalf("DeliveryLease: %v", err)
	}
	return ds
}

var eventCases = []testCase{
	{"PublishWritesEffectsOncePerEventID", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		ev := history.NewEventRaised(t0, "Done", []byte(`1`))
		eff := store.Effects{Messages: []*store.Message{{InstanceID: "i1", Event: ev}},
			Deliveries: []*store.DeliveryCreate{delivery("hook", "e1", at(time.Hour))}}
		if publish(t, b, "e1", eff) {
			t.Fatal("first publish reported a duplicate")
		}
		if !publish(t, b, "e1", eff) {
			t.Fatal("second publish of the same event id was not a duplicate")
		}
		msgs := inbox(t, b, "i1", farFuture)
		if len(msgs) != 2 { // ExecutionStarted and one EventRaised
			t.Fatalf("inbox has %d messages, want 2", len(msgs))
		}
		if ds := leaseDeliveries(t, b, ownerA, t0, 10); len(ds) != 1 || ds[0].EventID != "e1" || ds[0].Subscription != "hook" {
			t.Fatalf("deliveries %+v", ds)
		}
	}},
	{"SeenIDsExpire", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		if publish(t, b, "e1", store.Effects{}) {
			t.Fatal("duplicate")
		}
		dup, err := b.EventPublish(t.Context(), &store.EventPublishParams{EventID: "e1", Now: at(2 * time.Hour), SeenUntil: at(3 * time.Hour)})
		if err != nil || dup {
			t.Fatalf("publish after the id expired: duplicate=%v err=%v", dup, err)
		}
	}},
	{"DeliveryLeaseRetryDone", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		publish(t, b, "e1", store.Effects{Deliveries: []*store.DeliveryCreate{delivery("hook", "e1", at(time.Hour))}})
		ds := leaseDeliveries(t, b, ownerA, t0, 10)
		if len(ds) != 1 || ds[0].Attempts != 0 {
			t.Fatalf("leased %+v", ds)
		}
		if again := leaseDeliveries(t, b, ownerB, t0, 10); len(again) != 0 {
			t.Fatalf("a leased delivery was leased again: %+v", again)
		}
		wantErr(t, "DeliveryDone by another owner", b.DeliveryDone(t.Context(), ds[0].ID, ownerB), store.ErrLeaseLost)
		if err := b.DeliveryRetry(t.Context(), &store.DeliveryRetryParams{ID: ds[0].ID, Owner: ownerA, NextAttempt: at(time.Minute), LastError: "503"}); err != nil {
			t.Fatal(err)
		}
		if early := leaseDeliveries(t, b, ownerB, at(30*time.Second), 10); len(early) != 0 {
			t.Fatalf("leased before its next attempt: %+v", early)
		}
		ds = leaseDeliveries(t, b, ownerB, at(time.Minute), 10)
		if len(ds) != 1 || ds[0].Attempts != 1 || ds[0].LastError != "503" {
			t.Fatalf("after retry: %+v", ds)
		}
		if err := b.DeliveryDone(t.Context(), ds[0].ID, ownerB); err != nil {
			t.Fatal(err)
		}
		if left := leaseDeliveries(t, b, ownerA, farFuture, 10); len(left) != 0 {
			t.Fatalf("a delivered entry is still there: %+v", left)
		}
	}},
	{"ExpiredLeaseIsLeasedAgain", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		publish(t, b, "e1", store.Effects{Deliveries: []*store.DeliveryCreate{delivery("hook", "e1", at(time.Hour))}})
		leaseDeliveries(t, b, ownerA, t0, 10)
		if ds := leaseDeliveries(t, b, ownerB, at(lockFor), 10); len(ds) != 1 {
			t.Fatalf("after the lease expired: %+v", ds)
		}
	}},
	{"DeadLetter", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		publish(t, b, "e1", store.Effects{Deliveries: []*store.DeliveryCreate{delivery("hook", "e1", at(time.Hour)),
			delivery("other", "e1", at(time.Hour))}})
		ds := leaseDeliveries(t, b, ownerA, t0, 10)
		var hook *store.Delivery
		for _, d := range ds {
			if d.Subscription == "hook" {
				hook = d
			}
		}
		if err := b.DeliveryDeadLetter(t.Context(), &store.DeliveryDeadLetterParams{ID: hook.ID, Owner: ownerA, Reason: "gave up", At: at(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		dls, err := b.DeadLetterList(t.Context(), "hook", 10)
		if err != nil || len(dls) != 1 || dls[0].Reason != "gave up" || dls[0].Attempts != 1 || string(dls[0].Event) != `{"id":"e1"}` {
			t.Fatalf("dead letters %+v (%v)", dls, err)
		}
		pending, dead, err := b.DeliveryStats(t.Context())
		if err != nil || pending["other"] != 1 || pending["hook"] != 0 || dead["hook"] != 1 {
			t.Fatalf("stats pending %v dead %v (%v)", pending, dead, err)
		}
		wantErr(t, "DeliveryDeadLetter twice", b.DeliveryDeadLetter(t.Context(),
			&store.DeliveryDeadLetterParams{ID: hook.ID, Owner: ownerA, Reason: "again", At: at(time.Minute)}), store.ErrLeaseLost)
	}},
	{"Subscriptions", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for _, name := range []string{"b-sub", "a-sub"} {
			if err := b.SubscriptionPut(t.Context(), &store.SubscriptionRecord{Name: name, Spec: []byte(`{"v":1}`), UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.SubscriptionPut(t.Context(), &store.SubscriptionRecord{Name: "a-sub", Spec: []byte(`{"v":2}`), UpdatedAt: at(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		subs, err := b.SubscriptionList(t.Context())
		if err != nil || len(subs) != 2 || subs[0].Name != "a-sub" || string(subs[0].Spec) != `{"v":2}` || !subs[0].UpdatedAt.Equal(at(time.Minute)) {
			t.Fatalf("subscriptions %+v (%v)", subs, err)
		}
		publish(t, b, "e1", store.Effects{Deliveries: []*store.DeliveryCreate{delivery("a-sub", "e1", at(time.Hour))}})
		if err := b.SubscriptionDelete(t.Context(), "a-sub"); err != nil {
			t.Fatal(err)
		}
		if ds := leaseDeliveries(t, b, ownerA, farFuture, 10); len(ds) != 0 {
			t.Fatalf("deliveries of a deleted subscription remain: %+v", ds)
		}
		wantErr(t, "SubscriptionDelete of a missing one", b.SubscriptionDelete(t.Context(), "a-sub"), store.ErrNotFound)
	}},
}
