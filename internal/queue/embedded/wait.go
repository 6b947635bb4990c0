package embedded

import (
	"context"
	"slices"
	"time"
)

// Long polling. A consumer that finds a queue empty registers as a waiter of the queue and
// sleeps until woken; nothing polls the store. Waiters are woken one per message that became
// visible, oldest waiter first, so an enqueue wakes one consumer rather than all of them:
//
//   - Enqueue and Update with no delay wake one waiter (madeVisible).
//   - Messages that become visible later (a delay, a visibility timeout, an update) are covered
//     by one timer per queue, armed for the earliest such time the queue's waiters need: a
//     waiter arms it before sleeping (QueueNextVisible) and every write that creates a later
//     visibility arms it while waiters exist. When it fires it wakes one waiter and re-arms for
//     the next time. Any number of messages may have become visible at once, so a waiter woken
//     by time whose dequeue comes back full passes the turn to one more waiter, and so on.
//   - The first waiter of a queue to find it empty asks the store for the next visibility time;
//     while the queue keeps waiters, the timer stays right without asking again (every later
//     time is armed by the write that creates it), so later waiters go to sleep without a read.
//   - A waiter that leaves without using its wake-up (it got messages meanwhile, its Wait ran
//     out, its context ended) passes it on.
//
// A waiter is registered before its dequeue attempt, so a message committed after the attempt
// read the queue always finds it registered: no wake-up is lost between "empty" and "asleep".

// waitQueue is the long-poll state of one queue, guarded by Service.mu. It lives from the first
// registration until a waiter leaves with no waiter left on the list. A waiter is on the list
// from its registration through its dequeue attempt until it is woken or leaves; a woken one
// registers again before its next attempt, so a message made visible while the list is empty
// is found by the next attempt of every waiter that has not left.
type waitQueue struct {
	waiters []*waiter // oldest first
	// known: a waiter asked the store for the next visibility time after this state was
	// created, and the timer reflects it.
	known bool
	// timerAt is when the armed timer fires (zero: none); closing timerStop disarms it.
	timerAt   time.Time
	timerStop chan struct{}
}

type waiter struct {
	ch     chan wakeUp // receives the wake-up; capacity 1
	listed bool        // on the queue's list; a wake-up takes it off
	wq     *waitQueue  // the state it registered in
}

// wakeUp says why a waiter was woken: byTime when messages became visible with time (a timer),
// which may be many at once; otherwise one message was made visible.
type wakeUp struct{ byTime bool }

// register adds a waiter to queue q.
func (s *Service) register(q string) *waiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	wq := s.queues[q]
	if wq == nil {
		wq = &waitQueue{}
		s.queues[q] = wq
	}
	w := &waiter{ch: make(chan wakeUp, 1), listed: true, wq: wq}
	wq.waiters = append(wq.waiters, w)
	return w
}

// leave removes w from queue q for good. A wake-up w received and did not use goes to the next
// waiter. The last waiter to leave disarms the queue's timer.
func (s *Service) leave(q string, w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wq := s.queues[q]
	if wq == nil {
		return
	}
	if w.listed {
		wq.waiters = slices.DeleteFunc(wq.waiters, func(x *waiter) bool { return x == w })
		w.listed = false
	}
	select {
	case why := <-w.ch:
		s.wakeLocked(wq, 1, why)
	default:
	}
	if len(wq.waiters) == 0 {
		if wq.timerStop != nil {
			close(wq.timerStop)
		}
		delete(s.queues, q)
	}
}

// wake wakes up to n waiters of queue q.
func (s *Service) wake(q string, n int, why wakeUp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wq := s.queues[q]; wq != nil {
		s.wakeLocked(wq, n, why)
	}
}

func (s *Service) wakeLocked(wq *waitQueue, n int, why wakeUp) {
	n = min(n, len(wq.waiters))
	for _, w := range wq.waiters[:n] {
		w.listed = false
		w.ch <- why
	}
	wq.waiters = slices.Delete(wq.waiters, 0, n)
}

// WakeQueue tells waiters of queue q that another process made messages visible in it, or will
// (a store's wake-up): one waiter wakes as if by time — it re-reads the queue and passes the
// turn on when its batch comes back full — and the queue's timer is no longer trusted, so the
// next waiter to sleep asks the store for the next visibility time (another process's delayed
// message arms no timer here).
func (s *Service) WakeQueue(q string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wq := s.queues[q]; wq != nil {
		wq.known = false
		s.wakeLocked(wq, 1, wakeUp{byTime: true})
	}
}

// WakeAll is WakeQueue for every queue with waiters (wake-ups may have been missed).
func (s *Service) WakeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, wq := range s.queues {
		wq.known = false
		s.wakeLocked(wq, 1, wakeUp{byTime: true})
	}
}

// madeVisible tells waiters of queue q that a message becomes visible at t.
func (s *Service) madeVisible(q string, t time.Time) {
	if t.After(s.clk.Now()) {
		s.arm(q, t)
		return
	}
	s.wake(q, 1, wakeUp{})
}

// beforeSleep makes sure w's queue's timer is armed for the next message that becomes visible
// after now (the time of w's last attempt), asking the store unless a waiter of the same
// state did already.
func (s *Service) beforeSleep(ctx context.Context, q string, w *waiter, now time.Time) error {
	s.mu.Lock()
	known := w.wq.known && s.queues[q] == w.wq
	s.mu.Unlock()
	if known {
		return nil
	}
	if err := s.armNext(ctx, q, now); err != nil {
		return err
	}
	s.mu.Lock()
	if s.queues[q] == w.wq {
		w.wq.known = true
	}
	s.mu.Unlock()
	return nil
}

// armNext arms queue q's timer for the next message that becomes visible after now.
func (s *Service) armNext(ctx context.Context, q string, now time.Time) error {
	next, ok, err := s.st.QueueNextVisible(ctx, q, now)
	if err != nil {
		return storeErr(err)
	}
	if ok {
		s.arm(q, next)
	}
	return nil
}

// arm makes sure queue q's waiters are woken at t: it arms the queue's timer unless nobody
// waits on q or the timer fires no later than t. A time already reached fires at once.
func (s *Service) arm(q string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wq := s.queues[q]
	if wq == nil {
		return
	}
	if wq.timerStop != nil && !t.Before(wq.timerAt) {
		return
	}
	if wq.timerStop != nil {
		close(wq.timerStop)
	}
	stop := make(chan struct{})
	wq.timerAt, wq.timerStop = t, stop
	go s.fire(q, wq, t, s.clk.After(t.Sub(s.clk.Now())), stop)
}

// fire waits for a queue's timer, armed for at. When it fires before being disarmed it wakes
// one waiter and arms the timer for the next time after at: what became visible since at
// fires at once, in turn, and the rest when due, so no visibility time is skipped.
func (s *Service) fire(q string, wq *waitQueue, at time.Time, fired <-chan time.Time, stop chan struct{}) {
	select {
	case <-stop:
		return
	case <-fired:
	}
	s.mu.Lock()
	if s.queues[q] != wq || wq.timerStop != stop {
		s.mu.Unlock()
		return
	}
	wq.timerAt, wq.timerStop = time.Time{}, nil
	s.wakeLocked(wq, 1, wakeUp{byTime: true})
	s.mu.Unlock()
	if err := s.armNext(context.Background(), q, at); err != nil {
		// Nothing to return it to. The next waiter to go to sleep asks the store again, and
		// every waiter still ends when its Wait runs out.
		s.mu.Lock()
		if s.queues[q] == wq {
			wq.known = false
		}
		s.mu.Unlock()
		s.log.Warn("arm the long-poll timer", "queue", q, "error", err)
	}
}
