package storetest

import (
	"testing"
	"time"

	"github.com/orcahq/orca/internal/store"
)

// closedCalls are calls of every kind a closed backend must refuse with store.ErrClosed.
var closedCalls = []struct {
	name string
	call func(t *testing.T, b store.Backend) error
}{
	{"InstanceCreate", func(t *testing.T, b store.Backend) error {
		return b.InstanceCreate(t.Context(), createParams("new", t0))
	}},
	{"MessageSend", func(t *testing.T, b store.Backend) error {
		return b.MessageSend(t.Context(), &store.MessageSendParams{InstanceID: "i1",
			Messages: []*store.Message{message("i1", "", event("e", t0), t0)}})
	}},
	{"OrchestrationLease", func(t *testing.T, b store.Backend) error {
		_, err := b.OrchestrationLease(t.Context(), &store.OrchestrationLeaseParams{Owner: ownerA, Now: t0,
			LockExpiry: at(lockFor), Limit: 1})
		return err
	}},
	{"OrchestrationCommit", func(t *testing.T, b store.Backend) error {
		return b.OrchestrationCommit(t.Context(), step("i1", ownerA, 0, t0))
	}},
	{"TaskLease", func(t *testing.T, b store.Backend) error {
		_, err := b.TaskLease(t.Context(), &store.TaskLeaseParams{Owner: ownerA, Now: t0, LockExpiry: at(lockFor), Limit: 1})
		return err
	}},
	{"InstancePurge", func(t *testing.T, b store.Backend) error { return b.InstancePurge(t.Context(), "i1") }},
	{"InstanceGet", func(t *testing.T, b store.Backend) error {
		_, err := b.InstanceGet(t.Context(), "i1", true)
		return err
	}},
	{"InstanceList", func(t *testing.T, b store.Backend) error {
		_, err := b.InstanceList(t.Context(), &store.InstanceListParams{Limit: 10})
		return err
	}},
	{"InstanceCounts", func(t *testing.T, b store.Backend) error {
		_, err := b.InstanceCounts(t.Context())
		return err
	}},
	{"HistoryRead", func(t *testing.T, b store.Backend) error {
		_, err := b.HistoryRead(t.Context(), &store.HistoryReadParams{InstanceID: "i1", After: -1, Limit: 10})
		return err
	}},
	{"OrchestrationInbox", func(t *testing.T, b store.Backend) error {
		_, err := b.OrchestrationInbox(t.Context(), "i1", t0, 10)
		return err
	}},
	{"OrchestrationNextVisible", func(t *testing.T, b store.Backend) error {
		_, _, err := b.OrchestrationNextVisible(t.Context(), t0)
		return err
	}},
	{"OrchestrationOwned", func(t *testing.T, b store.Backend) error {
		_, err := b.OrchestrationOwned(t.Context(), ownerA, at(time.Minute), 10)
		return err
	}},
}

var closeCases = []testCase{
	{"CallsAfterCloseFail", func(t *testing.T, newBackend backendFunc) {
		for _, c := range closedCalls {
			t.Run(c.name, func(t *testing.T) {
				b := newBackend(t)
				create(t, b, "i1", t0)
				if err := b.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantErr(t, c.name+" after Close", c.call(t, b), store.ErrClosed)
			})
		}
	}},
}
