package leader_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/leader"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ttl = 600 * time.Millisecond

func openStore(t *testing.T) store.Backend {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "orca.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// partitionable cuts a holder off from the store's leases while cut is set: its calls fail as
// they would with the database unreachable.
type partitionable struct {
	store.Backend
	cut atomic.Bool
}

func (p *partitionable) LeaderAcquire(ctx context.Context, a *store.LeaderAcquireParams) (store.LeaderLease, bool, error) {
	if p.cut.Load() {
		return store.LeaderLease{}, false, errors.New("connection refused")
	}
	return p.Backend.LeaderAcquire(ctx, a)
}

// tenures records when each server played the role, to check that no two tenures overlap.
type tenures struct {
	mu      sync.Mutex
	playing map[string]bool
	overlap bool
	starts  map[string]int
	fences  []int64
}

func newTenures() *tenures { return &tenures{playing: map[string]bool{}, starts: map[string]int{}} }

func (tn *tenures) task(holder string) func(ctx context.Context, f store.LeaderFence) {
	return func(ctx context.Context, f store.LeaderFence) {
		tn.mu.Lock()
		for h, p := range tn.playing {
			if p && h != holder {
				tn.overlap = true
			}
		}
		tn.playing[holder] = true
		tn.starts[holder]++
		tn.fences = append(tn.fences, f.Fence)
		tn.mu.Unlock()
		<-ctx.Done()
		tn.mu.Lock()
		tn.playing[holder] = false
		tn.mu.Unlock()
	}
}

func (tn *tenures) leader() string {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	for h, p := range tn.playing {
		if p {
			return h
		}
	}
	return ""
}

// One server plays the role at a time; when it stops, another takes over at once (it released
// the lease) under a higher fence. It runs on the bubble's virtual clock: synctest.Wait returns
// once every goroutine is parked, so "a still leads" is checked after b's attempts have run.
func TestOneLeaderAndHandOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t)
		tn := newTenures()
		ctxA, stopA := context.WithCancel(t.Context())
		ctxB, stopB := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { leader.Run(ctxA, leader.Config{Store: st, Role: "r", Holder: "a", TTL: ttl}, tn.task("a")) })
		synctest.Wait()
		if l := tn.leader(); l != "a" {
			t.Fatalf("leader = %q, want a", l)
		}
		wg.Go(func() { leader.Run(ctxB, leader.Config{Store: st, Role: "r", Holder: "b", TTL: ttl}, tn.task("b")) })
		time.Sleep(3 * ttl) // a renews and b tries, every TTL/3
		synctest.Wait()
		if l := tn.leader(); l != "a" {
			t.Fatalf("leader after %v = %q, want a still", 3*ttl, l)
		}
		stopA()
		// b tries every TTL/3; without the release it would wait for the lease to expire first.
		time.Sleep(ttl / 3)
		synctest.Wait()
		if l := tn.leader(); l != "b" {
			t.Fatalf("leader %v after a stopped = %q; a released the lease, so b's next try takes it", ttl/3, l)
		}
		stopB()
		wg.Wait()
		tn.mu.Lock()
		defer tn.mu.Unlock()
		if tn.overlap || tn.starts["a"] != 1 || tn.starts["b"] != 1 || len(tn.fences) != 2 || tn.fences[1] <= tn.fences[0] {
			t.Fatalf("overlap=%v starts=%v fences=%v; want one tenure each, no overlap, growing fences", tn.overlap, tn.starts, tn.fences)
		}
	})
}

// A leader cut off from the store stops playing the role before its lease expires, so the
// server that takes it over never plays it at the same time; its late fenced writes fail.
func TestPartitionedLeaderStepsDownBeforeTakeOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t)
		cutA := &partitionable{Backend: st}
		tn := newTenures()
		var wg sync.WaitGroup
		ctx, stop := context.WithCancel(t.Context())
		wg.Go(func() { leader.Run(ctx, leader.Config{Store: cutA, Role: "r", Holder: "a", TTL: ttl}, tn.task("a")) })
		synctest.Wait()
		if l := tn.leader(); l != "a" {
			t.Fatalf("leader = %q, want a", l)
		}
		wg.Go(func() { leader.Run(ctx, leader.Config{Store: st, Role: "r", Holder: "b", TTL: ttl}, tn.task("b")) })
		cutA.cut.Store(true)
		wait.For(t, 10*ttl, func() bool { return tn.leader() == "b" }, "b to take over")
		tn.mu.Lock()
		overlap, fences := tn.overlap, append([]int64(nil), tn.fences...)
		tn.mu.Unlock()
		if overlap {
			t.Fatal("b started playing the role while a still did")
		}
		err := st.QueuePoisonNotify(t.Context(), &store.QueuePoisonNotifyParams{Queue: "work-poison", IDs: []string{"x"}, Now: time.Now(),
			Fence: &store.LeaderFence{Role: "r", Fence: fences[0]}})
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Fatalf("a write fenced by a's tenure after b took over = %v, want ErrLeaseLost", err)
		}
		// a comes back: it stays a follower while b renews.
		cutA.cut.Store(false)
		time.Sleep(2 * ttl)
		synctest.Wait()
		tn.mu.Lock()
		overlap, aStarts := tn.overlap, tn.starts["a"]
		tn.mu.Unlock()
		if l := tn.leader(); l != "b" || overlap || aStarts != 1 {
			t.Fatalf("%v after a came back: leader %q, overlap %v, a's tenures %d; want b alone, a once", 2*ttl, l, overlap, aStarts)
		}
		stop()
		wg.Wait()
	})
}
