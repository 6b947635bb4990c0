package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Poison reports. A dequeue moves messages dequeued too often to "<queue>-poison" and marks
// them unreported in the same transaction; the same Dequeue call then reports them: the
// PoisonEvents hook builds the report, QueuePoisonNotify writes its effects and marks the
// messages reported in one transaction, then the hook's after() runs. A crash between the move
// and the report, or a failed report, leaves messages marked unreported; the sweeper reports
// them. A report is written at least once per move.

// sweepBatch is how many unreported messages the sweeper reads at a time; sweepRounds bounds
// the batches of one run.
const (
	sweepBatch  = 100
	sweepRounds = 100
)

// report reports messages that a dequeue of queue source moved to its poison queue.
func (s *Service) report(ctx context.Context, source string, poisoned []*store.QueueMessage) error {
	return s.reportFenced(ctx, source, poisoned, nil)
}

// reportFenced is report, as the holder of fence when it is set (the sweeper on its leader).
func (s *Service) reportFenced(ctx context.Context, source string, poisoned []*store.QueueMessage, fence *store.LeaderFence) error {
	var eff store.Effects
	after := func() {}
	if s.cfg.Poison != nil {
		e, a, err := s.cfg.Poison.Poisoned(ctx, source, fromStoreAll(poisoned))
		if err != nil {
			return fmt.Errorf("report poisoned messages of %s: %w", source, err)
		}
		eff = stamp(e, s.clk.Now())
		if a != nil {
			after = a
		}
	}
	ids := make([]string, len(poisoned))
	for i, m := range poisoned {
		ids[i] = m.ID
	}
	err := s.st.QueuePoisonNotify(ctx, &store.QueuePoisonNotifyParams{Queue: queue.PoisonName(source), IDs: ids, Effects: eff,
		Now: s.clk.Now(), Fence: fence})
	if err != nil {
		return fmt.Errorf("report poisoned messages of %s: %w", source, storeErr(err))
	}
	after()
	return nil
}

// stamp returns a copy of e with the time of the report on every inbox message and delivery
// that has none (store.QueuePoisonNotifyParams carries no time of its own).
func stamp(e store.Effects, now time.Time) store.Effects {
	out := store.Effects{Messages: make([]*store.Message, len(e.Messages)), Deliveries: make([]*store.DeliveryCreate, len(e.Deliveries))}
	for i, m := range e.Messages {
		c := *m
		if c.VisibleAt.IsZero() {
			c.VisibleAt = now
		}
		out.Messages[i] = &c
	}
	for i, d := range e.Deliveries {
		c := *d
		if c.NotBefore.IsZero() {
			c.NotBefore = now
		}
		out.Deliveries[i] = &c
	}
	return out
}

// Start runs the poison sweeper until Stop or until ctx ends: once at once (a previous process may have crashed
// between a move and its report), then every SweepInterval. A store shared by several processes
// wants one sweeper: run Sweep on the leader instead.
func (s *Service) Start(ctx context.Context) error {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.cancel != nil {
		return errors.New("embedded queue: already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancel, s.done = cancel, make(chan struct{})
	go func() {
		defer close(s.done)
		s.Sweep(ctx, nil)
	}()
	return nil
}

// Stop stops the sweeper and waits for it. Long polls in progress are not affected: they end
// with their Wait or their context.
func (s *Service) Stop() {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel, s.done = nil, nil
}

// Sweep runs the poison sweeper until ctx ends, as Start does. With fence set, its reports are
// fenced by that leader lease: once another process took the lease over, they fail (and the
// leader's context is about to end).
func (s *Service) Sweep(ctx context.Context, fence *store.LeaderFence) {
	for {
		if err := s.runOnce(ctx, fence); err != nil && ctx.Err() == nil {
			s.log.Warn("report poisoned messages", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clk.After(s.cfg.SweepInterval):
		}
	}
}

// runOnce reports every poisoned message left unreported.
func (s *Service) runOnce(ctx context.Context, fence *store.LeaderFence) error {
	for range sweepRounds {
		n, err := s.sweepBatch(ctx, fence)
		if err != nil || n < sweepBatch {
			return err
		}
	}
	return nil
}

// sweepBatch reports one batch of unreported messages and returns how many it read. It holds
// poisonMu exclusively: no dequeue is between a move and its report meanwhile, so whatever is
// unreported now was left so.
func (s *Service) sweepBatch(ctx context.Context, fence *store.LeaderFence) (int, error) {
	s.poisonMu.Lock()
	defer s.poisonMu.Unlock()
	msgs, err := s.st.QueuePoisonUnreported(ctx, sweepBatch)
	if err != nil {
		return 0, fmt.Errorf("unreported poisoned messages: %w", storeErr(err))
	}
	var errs []error
	for from := 0; from < len(msgs); {
		to := from + 1
		for to < len(msgs) && msgs[to].Queue == msgs[from].Queue {
			to++
		}
		source, ok := strings.CutSuffix(msgs[from].Queue, poisonSuffix)
		if !ok {
			errs = append(errs, fmt.Errorf("poisoned message %s is in %s, not a poison queue", msgs[from].ID, msgs[from].Queue))
		} else if err := s.reportFenced(ctx, source, msgs[from:to], fence); err != nil {
			errs = append(errs, err)
		}
		from = to
	}
	if len(errs) > 0 {
		return len(msgs), errors.Join(errs...)
	}
	return len(msgs), nil
}
