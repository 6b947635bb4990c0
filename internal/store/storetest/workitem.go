package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/store"
)

// The work item cases run the compute flow's shape: a message per item in qWork, an input blob
// in/<id> and an output blob out/<id> whose effect is an inbox message to instance "run".

// wiSetup enqueues the items ids with their input blobs, dequeues them at t0 and returns the
// leased messages by id.
func wiSetup(t *testing.T, b store.Backend, ids ...string) map[string]*store.QueueMessage {
	t.Helper()
	create(t, b, "run", t0)
	for _, id := range ids {
		qEnqueue(t, b, qWork, qMsg(id, 0))
		blobPut(t, b, blobParams("in", id, []byte("input of "+id), t0))
	}
	held := map[string]*store.QueueMessage{}
	for _, m := range qDequeue(t, b, qWork, t0, len(ids)) {
		held[m.ID] = m
	}
	if len(held) != len(ids) {
		t.Fatalf("dequeued %d of %d items", len(held), len(ids))
	}
	return held
}

// wiDone completes item id held with popReceipt: its output, its effect, its input's delete.
func wiDone(id, popReceipt string) *store.WorkItemDone {
	out := blobParams("out", id, []byte("output of "+id), at(time.Second))
	out.Effects = store.Effects{Messages: []*store.Message{message("run", "", event("done-"+id, at(time.Second)), time.Time{})}}
	return &store.WorkItemDone{MessageID: id, PopReceipt: popReceipt, Output: out, DeleteInput: &store.BlobRef{Container: "in", Name: id}}
}

func wiComplete(t *testing.T, b store.Backend, items ...*store.WorkItemDone) []store.WorkItemOutcome {
	t.Helper()
	out, err := b.WorkItemComplete(t.Context(), &store.WorkItemCompleteParams{Queue: qWork, Items: items})
	if err != nil {
		t.Fatalf("WorkItemComplete: %v", err)
	}
	if len(out) != len(items) {
		t.Fatalf("WorkItemComplete of %d items returned %d outcomes", len(items), len(out))
	}
	return out
}

// wantItemDone checks that item id committed whole: message gone, output there, input gone.
func wantItemDone(t *testing.T, b store.Backend, id string) {
	t.Helper()
	wantStoredBlob(t, b, wiDone(id, "-").Output)
	wantNoBlob(t, b, "in", id)
	_, err := b.QueueDelete(t.Context(), qWork, id, "any")
	wantErr(t, "QueueDelete of completed item "+id, err, store.ErrNotFound)
}

// wantItemUntouched checks that item id changed nothing: message there, no output, input there.
func wantItemUntouched(t *testing.T, b store.Backend, id string) {
	t.Helper()
	wantNoBlob(t, b, "out", id)
	wantStoredBlob(t, b, blobParams("in", id, []byte("input of "+id), t0))
}

var workItemCases = []testCase{
	{"CompletesEveryItemInOneCall", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		held := wiSetup(t, b, "a", "b", "c")
		out := wiComplete(t, b, wiDone("a", held["a"].PopReceipt), wiDone("b", held["b"].PopReceipt), wiDone("c", held["c"].PopReceipt))
		for i, id := range []string{"a", "b", "c"} {
			o := out[i]
			if o.Err != nil || !o.InsertedAt.Equal(t0) || o.Replaced != nil {
				t.Fatalf("outcome of %s = %+v, want committed, inserted at t0, replacing nothing", id, o)
			}
			if o.Deleted == nil || o.Deleted.Container != "in" || o.Deleted.Name != id {
				t.Fatalf("outcome of %s: deleted input %+v, want in/%s", id, o.Deleted, id)
			}
			wantItemDone(t, b, id)
		}
		wantInbox(t, b, "run", at(time.Second), createParams("run", t0).Started,
			event("done-a", at(time.Second)), event("done-b", at(time.Second)), event("done-c", at(time.Second)))
		st, err := b.QueueStats(t.Context(), at(time.Second), qWork)
		if err != nil || st[0].Visible+st[0].Invisible != 0 {
			t.Fatalf("queue after completing every item: %+v (%v), want empty", st, err)
		}
	}},
	{"LostLeaseAndMissingMessageChangeNothing", func(t *testing.T, newBackend backendFunc) {
		// One call with a valid item, one whose lease was lost (its message updated since, as
		// another consumer's dequeue would), one completed before (its message gone) and one
		// whose message was deleted: only the valid one commits, the others are reported and
		// untouched.
		b := newBackend(t)
		held := wiSetup(t, b, "ok", "lost", "done", "deleted")
		stale := held["lost"].PopReceipt
		current, err := b.QueueUpdate(t.Context(), &store.QueueUpdateParams{Queue: qWork, ID: "lost", PopReceipt: stale, VisibleAt: at(qHide)})
		if err != nil {
			t.Fatal(err)
		}
		wiComplete(t, b, wiDone("done", held["done"].PopReceipt))
		if err := qDelete(t, b, qWork, "deleted", held["deleted"].PopReceipt); err != nil {
			t.Fatal(err)
		}
		out := wiComplete(t, b, wiDone("ok", held["ok"].PopReceipt), wiDone("lost", stale),
			wiDone("done", held["done"].PopReceipt), wiDone("deleted", held["deleted"].PopReceipt))
		if out[0].Err != nil {
			t.Fatalf("valid item: %v", out[0].Err)
		}
		wantErr(t, "item with a lost lease", out[1].Err, store.ErrLeaseLost)
		wantErr(t, "item completed before", out[2].Err, store.ErrNotFound)
		wantErr(t, "item whose message was deleted", out[3].Err, store.ErrNotFound)
		for i := 1; i < 4; i++ {
			if out[i].Replaced != nil || out[i].Deleted != nil || !out[i].InsertedAt.IsZero() {
				t.Fatalf("outcome %d changed nothing but reports %+v", i, out[i])
			}
		}
		wantItemDone(t, b, "ok")
		wantItemDone(t, b, "done")
		wantItemUntouched(t, b, "lost")
		wantItemUntouched(t, b, "deleted")
		wantInbox(t, b, "run", at(time.Second), createParams("run", t0).Started,
			event("done-done", at(time.Second)), event("done-ok", at(time.Second)))
		// The new holder of "lost" completes it.
		if o := wiComplete(t, b, wiDone("lost", current)); o[0].Err != nil {
			t.Fatalf("completion by the lease's holder: %v", o[0].Err)
		}
		wantItemDone(t, b, "lost")
	}},
	{"OutputReplacesAnEarlierOne", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		held := wiSetup(t, b, "a")
		earlier := blobParams("out", "a", []byte("an earlier run's output"), t0)
		blobPut(t, b, earlier)
		out := wiComplete(t, b, wiDone("a", held["a"].PopReceipt))
		wantBlobInfo(t, "replaced output", out[0].Replaced, earlier.Info)
		wantItemDone(t, b, "a")
	}},
	{"ItemsWithoutOutputOrInput", func(t *testing.T, newBackend backendFunc) {
		// A message deleted alone (a duplicate of a finished item), and an output written
		// without an input to delete.
		b := newBackend(t)
		held := wiSetup(t, b, "dup", "noinput")
		only := &store.WorkItemDone{MessageID: "dup", PopReceipt: held["dup"].PopReceipt}
		noInput := wiDone("noinput", held["noinput"].PopReceipt)
		noInput.DeleteInput = nil
		out := wiComplete(t, b, only, noInput)
		if out[0].Err != nil || out[0].Deleted != nil || out[1].Err != nil || out[1].Deleted != nil {
			t.Fatalf("outcomes = %+v", out)
		}
		wantNoBlob(t, b, "out", "dup")
		wantStoredBlob(t, b, blobParams("in", "dup", []byte("input of dup"), t0))
		wantStoredBlob(t, b, noInput.Output)
		wantStoredBlob(t, b, blobParams("in", "noinput", []byte("input of noinput"), t0))
	}},
	{"InvalidItemWritesNothing", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		held := wiSetup(t, b, "a", "b")
		bad := wiDone("b", held["b"].PopReceipt)
		bad.Output.Info.Size = 99
		_, err := b.WorkItemComplete(t.Context(), &store.WorkItemCompleteParams{Queue: qWork,
			Items: []*store.WorkItemDone{wiDone("a", held["a"].PopReceipt), bad}})
		wantErr(t, "WorkItemComplete with an invalid output", err, store.ErrInvalid)
		wantItemUntouched(t, b, "a")
		wantItemUntouched(t, b, "b")
		wantInbox(t, b, "run", farFuture, createParams("run", t0).Started)
		for _, p := range []*store.WorkItemCompleteParams{{Queue: "", Items: []*store.WorkItemDone{wiDone("a", "x")}},
			{Queue: qWork, Items: []*store.WorkItemDone{{MessageID: "a"}}}} {
			_, err := b.WorkItemComplete(t.Context(), p)
			wantErr(t, fmt.Sprintf("WorkItemComplete(%+v)", p), err, store.ErrInvalid)
		}
	}},
	{"NoItems", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		out, err := b.WorkItemComplete(t.Context(), &store.WorkItemCompleteParams{Queue: qWork})
		if err != nil || len(out) != 0 {
			t.Fatalf("WorkItemComplete of no items = %v, %v", out, err)
		}
	}},
}
