package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/store"
)

const roleSweeper = "poison-sweeper"

// acquire calls LeaderAcquire for holder at now, for a lease of ttl.
func acquire(t *testing.T, b store.Backend, holder string, now time.Time, ttl time.Duration) (store.LeaderLease, bool) {
	t.Helper()
	lease, held, err := b.LeaderAcquire(t.Context(), &store.LeaderAcquireParams{Role: roleSweeper, Holder: holder, Now: now,
		Expiry: now.Add(ttl)})
	if err != nil {
		t.Fatalf("LeaderAcquire(%s at %v): %v", holder, now, err)
	}
	return lease, held
}

func wantLease(t *testing.T, what string, got store.LeaderLease, held, wantHeld bool, holder string, fence int64, expiry time.Time) {
	t.Helper()
	if held != wantHeld || got.Role != roleSweeper || got.Holder != holder || got.Fence != fence || !got.Expiry.Equal(expiry) {
		t.Fatalf("%s = %+v held=%v, want holder %s fence %d until %v held=%v", what, got, held, holder, fence, expiry, wantHeld)
	}
}

// poisonReport reports nothing, fenced with fence: it succeeds only while fence is current.
func poisonReport(b store.Backend, t *testing.T, fence int64) error {
	return b.QueuePoisonNotify(t.Context(), &store.QueuePoisonNotifyParams{Queue: qPoison, IDs: []string{"none"}, Now: t0,
		Fence: &store.LeaderFence{Role: roleSweeper, Fence: fence}})
}

var leaderCases = []testCase{
	{"AcquireRenewTakeOver", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		ttl := 10 * time.Second
		l, held := acquire(t, b, ownerA, t0, ttl)
		wantLease(t, "first acquire by A", l, held, true, ownerA, 1, t0.Add(ttl))
		l, held = acquire(t, b, ownerB, at(5*time.Second), ttl)
		wantLease(t, "B while A holds", l, held, false, ownerA, 1, t0.Add(ttl))
		l, held = acquire(t, b, ownerA, at(8*time.Second), ttl)
		wantLease(t, "A renews", l, held, true, ownerA, 1, at(18*time.Second))
		l, held = acquire(t, b, ownerB, at(17*time.Second), ttl)
		wantLease(t, "B before the renewed lease expires", l, held, false, ownerA, 1, at(18*time.Second))
		l, held = acquire(t, b, ownerB, at(18*time.Second), ttl)
		wantLease(t, "B at expiry", l, held, true, ownerB, 2, at(28*time.Second))
		l, held = acquire(t, b, ownerA, at(20*time.Second), ttl)
		wantLease(t, "A after losing it", l, held, false, ownerB, 2, at(28*time.Second))
		// A holder that renews after its own lease expired, with no one taking it meanwhile,
		// keeps its fence: nobody else can have written under a newer one.
		l, held = acquire(t, b, ownerB, at(40*time.Second), ttl)
		wantLease(t, "B renews late", l, held, true, ownerB, 2, at(50*time.Second))
	}},
	{"ReleaseLetsAnotherTakeOverAtOnce", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		l, _ := acquire(t, b, ownerA, t0, time.Hour)
		// A release with a stale fence or by another holder changes nothing.
		for _, r := range []struct {
			holder string
			fence  int64
		}{{ownerB, l.Fence}, {ownerA, l.Fence + 1}} {
			if err := b.LeaderRelease(t.Context(), roleSweeper, r.holder, r.fence); err != nil {
				t.Fatalf("LeaderRelease(%s, %d): %v", r.holder, r.fence, err)
			}
		}
		if _, held := acquire(t, b, ownerB, at(time.Second), time.Hour); held {
			t.Fatal("B took the lease after releases that should have changed nothing")
		}
		if err := b.LeaderRelease(t.Context(), roleSweeper, ownerA, l.Fence); err != nil {
			t.Fatalf("LeaderRelease: %v", err)
		}
		l, held := acquire(t, b, ownerB, at(2*time.Second), time.Hour)
		wantLease(t, "B after A released", l, held, true, ownerB, 2, at(2*time.Second).Add(time.Hour))
	}},
	{"FencedWriteFailsAfterTakeOver", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		a, _ := acquire(t, b, ownerA, t0, time.Second)
		if err := poisonReport(b, t, a.Fence); err != nil {
			t.Fatalf("a fenced write by the holder: %v", err)
		}
		// Expired but not taken over: nobody wrote under a newer fence, so A's write is safe.
		if err := poisonReport(b, t, a.Fence); err != nil {
			t.Fatalf("a fenced write after expiry, before a takeover: %v", err)
		}
		nb, held := acquire(t, b, ownerB, at(time.Minute), time.Hour)
		if !held {
			t.Fatal("B could not take over an expired lease")
		}
		if err := poisonReport(b, t, a.Fence); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("A's fenced write after B took over = %v, want ErrLeaseLost", err)
		}
		if err := poisonReport(b, t, nb.Fence); err != nil {
			t.Fatalf("B's fenced write: %v", err)
		}
		if err := b.QueuePoisonNotify(t.Context(), &store.QueuePoisonNotifyParams{Queue: qPoison, IDs: []string{"none"}, Now: t0,
			Fence: &store.LeaderFence{Role: "never-held", Fence: 1}}); !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a write fenced by a role never held = %v, want ErrLeaseLost", err)
		}
	}},
	{"OneHolderAmongRivals", func(t *testing.T, newBackend backendFunc) {
		// Rivals race for a free lease many times over: each round exactly one is granted it,
		// with a fence one higher than the last.
		b := newBackend(t)
		const rivals, rounds = 8, 20
		for round := range rounds {
			now := at(time.Duration(round) * time.Hour) // every earlier lease has expired
			var mu sync.Mutex
			var winners []store.LeaderLease
			var wg sync.WaitGroup
			for r := range rivals {
				wg.Go(func() {
					l, held, err := b.LeaderAcquire(t.Context(), &store.LeaderAcquireParams{Role: roleSweeper,
						Holder: fmt.Sprintf("rival-%d-%d", round, r), Now: now, Expiry: now.Add(time.Minute)})
					if err != nil {
						t.Errorf("LeaderAcquire: %v", err)
						return
					}
					if held {
						mu.Lock()
						winners = append(winners, l)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(winners) != 1 || winners[0].Fence != int64(round+1) {
				t.Fatalf("round %d: winners %+v, want exactly one with fence %d", round, winners, round+1)
			}
		}
	}},
	{"Invalid", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for _, p := range []store.LeaderAcquireParams{{Holder: ownerA, Now: t0, Expiry: t0}, {Role: roleSweeper, Now: t0, Expiry: t0}} {
			if _, _, err := b.LeaderAcquire(t.Context(), &p); !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("LeaderAcquire(%+v) = %v, want ErrInvalid", p, err)
			}
		}
	}},
}
