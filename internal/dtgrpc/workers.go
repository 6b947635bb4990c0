package dtgrpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
)

// workers is the engine's Remote: the SDK workers connected through GetWorkItems streams. Each
// work item it sends waits, under a completion token of its own, for the worker's Complete call;
// an item whose worker goes away is sent to another one (the SDKs lose the work items running
// when their stream breaks), and one nobody answers within the answer timeout goes back to the
// engine, which tries it again. A completion with an unknown token (never issued, or for an item
// that moved on) changes nothing.
type workers struct {
	log     *slog.Logger
	timeout time.Duration
	// connected is told when a worker connects, so that waiting work is tried at once.
	connected func()

	// unserved counts the work items that found no worker.
	unserved atomic.Int64

	mu      sync.Mutex
	streams []*stream
	next    int
	pending map[string]*pendingItem
}

// stream is one connected worker.
type stream struct {
	items chan *dtpb.WorkItem
	gone  chan struct{}
}

// pendingItem is a work item sent to a worker, waiting for its completion.
type pendingItem struct {
	answer    chan proto.Message // the worker's response; buffered
	abandoned chan struct{}      // closed when the worker gives the item back
}

// Errors of a work item that was not answered; each sends the work back to the engine.
var (
	errAbandoned  = errors.New("the worker abandoned the work item")
	errWorkerGone = errors.New("the worker went away")
)

func newWorkers(log *slog.Logger, timeout time.Duration) *workers {
	return &workers{log: log, timeout: timeout, pending: map[string]*pendingItem{}}
}

// Connected implements engine.Remote.
func (w *workers) Connected() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.streams) > 0
}

// serve runs one GetWorkItems stream until the worker leaves or ctx ends.
func (w *workers) serve(ctx context.Context, send func(*dtpb.WorkItem) error) error {
	s := &stream{items: make(chan *dtpb.WorkItem, 64), gone: make(chan struct{})}
	w.mu.Lock()
	w.streams = append(w.streams, s)
	n := len(w.streams)
	w.mu.Unlock()
	w.log.Info("worker connected", "workers", n)
	if w.connected != nil {
		w.connected()
	}
	defer func() {
		w.mu.Lock()
		for i, o := range w.streams {
			if o == s {
				w.streams = append(w.streams[:i], w.streams[i+1:]...)
				break
			}
		}
		n := len(w.streams)
		w.mu.Unlock()
		close(s.gone)
		w.log.Info("worker disconnected", "workers", n)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case item := <-s.items:
			if err := send(item); err != nil {
				return err
			}
		}
	}
}

// pick returns the next connected worker, round robin; nil when none is.
func (w *workers) pick() *stream {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.streams) == 0 {
		return nil
	}
	w.next = (w.next + 1) % len(w.streams)
	return w.streams[w.next]
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dispatch sends an item to a worker and returns its answer, sending it to another worker under
// a new token when its worker goes away.
func (w *workers) dispatch(ctx context.Context, item *dtpb.WorkItem) (proto.Message, error) {
	timer := time.NewTimer(w.timeout)
	defer timer.Stop()
	for {
		s := w.pick()
		if s == nil {
			w.unserved.Add(1)
			return nil, engine.ErrNoWorker
		}
		token := newToken()
		item.CompletionToken = token
		p := &pendingItem{answer: make(chan proto.Message, 1), abandoned: make(chan struct{})}
		w.mu.Lock()
		w.pending[token] = p
		w.mu.Unlock()
		answer, err := w.await(ctx, timer, s, item, p)
		w.mu.Lock()
		delete(w.pending, token)
		w.mu.Unlock()
		if !errors.Is(err, errWorkerGone) {
			return answer, err
		}
	}
}

func (w *workers) await(ctx context.Context, timer *time.Timer, s *stream, item *dtpb.WorkItem, p *pendingItem) (proto.Message, error) {
	select {
	case s.items <- item:
	case <-s.gone:
		return nil, errWorkerGone
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, fmt.Errorf("no worker took the work item in %s", w.timeout)
	}
	select {
	case a := <-p.answer:
		return a, nil
	case <-s.gone:
		return nil, errWorkerGone
	case <-p.abandoned:
		return nil, errAbandoned
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, fmt.Errorf("the worker did not answer in %s", w.timeout)
	}
}

// RunTurn implements engine.Remote.
func (w *workers) RunTurn(ctx context.Context, t *engine.RemoteTurn) (*engine.RemoteDecision, error) {
	req := &dtpb.OrchestratorRequest{InstanceId: t.InstanceID, ExecutionId: text(t.ExecutionID),
		PastEvents: pastOut(t.Past, t.InstanceID), NewEvents: eventsOut(t.New, t.InstanceID)}
	answer, err := w.dispatch(ctx, &dtpb.WorkItem{Request: &dtpb.WorkItem_OrchestratorRequest{OrchestratorRequest: req}})
	if err != nil {
		return nil, err
	}
	resp, ok := answer.(*dtpb.OrchestratorResponse)
	if !ok {
		return invalidResponse(fmt.Errorf("an orchestrator work item was answered with %T", answer)), nil
	}
	d, err := decide(resp, t.New[0].Timestamp)
	if err != nil {
		return invalidResponse(err), nil
	}
	return d, nil
}

// invalidResponse fails an execution whose worker answered with what orca cannot carry out.
func invalidResponse(err error) *engine.RemoteDecision {
	return &engine.RemoteDecision{Outcome: replay.Failed, Failure: &history.FailureDetails{
		ErrorType: "InvalidWorkerResponse", ErrorMessage: err.Error(), NonRetriable: true}}
}

// RunActivity implements engine.Remote.
func (w *workers) RunActivity(ctx context.Context, t *engine.RemoteActivity) (json.RawMessage, *history.FailureDetails, error) {
	req := &dtpb.ActivityRequest{Name: t.Name, Input: str(t.Input), TaskId: t.TaskID,
		OrchestrationInstance: &dtpb.OrchestrationInstance{InstanceId: t.InstanceID, ExecutionId: text(t.ExecutionID)}}
	answer, err := w.dispatch(ctx, &dtpb.WorkItem{Request: &dtpb.WorkItem_ActivityRequest{ActivityRequest: req}})
	if err != nil {
		return nil, nil, err
	}
	resp, ok := answer.(*dtpb.ActivityResponse)
	switch {
	case !ok:
		return nil, &history.FailureDetails{ErrorType: "InvalidWorkerResponse",
			ErrorMessage: fmt.Sprintf("an activity work item was answered with %T", answer), NonRetriable: true}, nil
	case resp.GetFailureDetails() != nil:
		return nil, failureIn(resp.GetFailureDetails()), nil
	}
	return raw(resp.GetResult()), nil, nil
}

// complete hands a worker's answer to the item waiting under its token. An unknown token is
// NOT_FOUND and changes nothing.
func (w *workers) complete(token string, answer proto.Message) error {
	p, err := w.take(token)
	if err != nil {
		return err
	}
	p.answer <- answer
	return nil
}

func (w *workers) abandon(token string) error {
	p, err := w.take(token)
	if err != nil {
		return err
	}
	close(p.abandoned)
	return nil
}

func (w *workers) take(token string) (*pendingItem, error) {
	w.mu.Lock()
	p := w.pending[token]
	delete(w.pending, token)
	w.mu.Unlock()
	if p == nil {
		return nil, status.Errorf(codes.NotFound, "no work item waits for completion token %q: "+
			"it was never issued, was answered already, or went to another worker", token)
	}
	return p, nil
}
