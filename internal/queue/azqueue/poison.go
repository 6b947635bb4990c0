package azqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"

	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Poison moves. Azure has no poison queue and no transaction across two queues, so a dequeue
// that gets a message dequeued more than MaxDequeueCount times moves it in three steps, as
// Azure Functions does, while the dequeue holds it (invisible, with its pop receipt):
//
//  1. enqueue a copy of its text into "<queue>-poison";
//  2. report the move: the PoisonEvents hook builds the report and Store.EventPublish commits
//     its effects under an event id derived from the original message (account, queue, id),
//     then after() runs unless the event was a duplicate;
//  3. delete the original with its pop receipt.
//
// A failure or a crash at any point leaves the original in its queue, invisible until the
// dequeue's visibility timeout ends; it is then dequeued again, still over the limit, and the
// move starts over. So no message is ever lost: the original is deleted only after its copy
// and its report are durable. What a repeat can cause is a second copy in the poison queue
// (at-least-once, as every delivery) but not a second report: the event id is the same, so
// EventPublish writes the effects once (within the dedup window, which outlives the time the
// original can stay invisible). Reporting before the delete is what makes this hold; deleting
// first would lose the report to a crash in between.

// reportSeenFor is how long after a move's visibility timeout its report's event id is
// remembered.
const reportSeenFor = 24 * time.Hour

// poison moves a message of queue q (Azure name full), dequeued with visibility timeout vis,
// to its poison queue. It logs a failure: the message becomes visible again and the move is
// retried.
func (s *Service) poison(ctx context.Context, q, full string, m *queue.Message, vis time.Duration) {
	if err := s.move(context.WithoutCancel(ctx), q, full, m, vis); err != nil {
		s.log.Warn("move a message to the poison queue; retried when it becomes visible again", "queue", q, "id", m.ID, "error", err)
	}
}

func (s *Service) move(ctx context.Context, q, full string, m *queue.Message, vis time.Duration) error {
	poisonFull := s.cfg.Prefix + queue.PoisonName(q)
	text, err := s.encode(q, m.Body)
	if err != nil {
		return err
	}
	eo := &azqueue.EnqueueMessageOptions{TimeToLive: to.Ptr(int32(-1))}
	if !m.ExpiresAt.IsZero() {
		eo.TimeToLive = to.Ptr(max(seconds(m.ExpiresAt.Sub(s.clk.Now())), 1))
	}
	cp, err := s.enqueue(ctx, poisonFull, text, eo)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", queue.PoisonName(q), err)
	}
	copyID := deref(cp.MessageID, "")
	if m.LastError != "" {
		s.errs.set(poisonFull, copyID, m.LastError)
	}
	if s.cfg.Poison != nil {
		report := &queue.Message{ID: copyID, Body: m.Body, InsertedAt: m.InsertedAt, ExpiresAt: timeOf(cp.ExpirationTime),
			NextVisible: timeOf(cp.TimeNextVisible), DequeueCount: min(m.DequeueCount-1, s.cfg.MaxDequeueCount), LastError: m.LastError}
		if err := s.report(ctx, q, full, m.ID, report, vis); err != nil {
			return err
		}
	}
	if _, err := s.svc.NewQueueClient(full).DeleteMessage(ctx, m.ID, m.PopReceipt, nil); err != nil {
		// Someone else holds it now (our visibility timeout ended): they move it again.
		return fmt.Errorf("delete the original: %w", mapErr(err))
	}
	s.errs.forget(full, m.ID)
	return nil
}

// report publishes the report of the move of message id of queue q.
func (s *Service) report(ctx context.Context, q, full, id string, m *queue.Message, vis time.Duration) error {
	eff, after, err := s.cfg.Poison.Poisoned(ctx, q, []*queue.Message{m})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	now := s.clk.Now()
	sum := sha256.Sum256([]byte(s.svc.URL() + "\x00" + full + "\x00" + id))
	dup, err := s.cfg.Store.EventPublish(ctx, &store.EventPublishParams{EventID: "queue-poisoned-" + hex.EncodeToString(sum[:]),
		Now: now, SeenUntil: now.Add(vis + reportSeenFor), Effects: eff})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if !dup && after != nil {
		after()
	}
	return nil
}
