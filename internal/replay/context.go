package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
)

// guidNamespace seeds the deterministic GUIDs of NewGUID (UUID v5).
var guidNamespace = uuid.MustParse("6f3a1c52-8d2e-4b7a-9e0f-3c5d7b9a1e24")

// orchContext is the orca.OrchestrationContext handed to orchestrator functions.
type orchContext struct {
	e      *Executor
	logger *slog.Logger
}

var _ orca.OrchestrationContext = (*orchContext)(nil)

func (c *orchContext) InstanceID() string                { return c.e.cfg.InstanceID }
func (c *orchContext) Name() string                      { return c.e.name }
func (c *orchContext) CurrentTime() time.Time            { return c.e.currentTime }
func (c *orchContext) IsReplaying() bool                 { return c.e.replaying }
func (c *orchContext) Input(v any) error                 { return orca.UnmarshalPayload(c.e.input, v) }
func (c *orchContext) WhenAll(ts ...orca.Task) orca.Task { return c.e.whenAll(ts) }
func (c *orchContext) WhenAny(ts ...orca.Task) orca.Task { return c.e.whenAny(ts) }

func (c *orchContext) NewGUID() string {
	c.e.guidCounter++
	name := c.e.cfg.InstanceID + "_" + c.e.currentTime.Format(time.RFC3339Nano) + "_" + strconv.Itoa(c.e.guidCounter)
	return uuid.NewSHA1(guidNamespace, []byte(name)).String()
}

func (c *orchContext) Logger() *slog.Logger {
	if c.logger == nil {
		h := &replayHandler{inner: c.e.cfg.Logger.Handler(), e: c.e}
		c.logger = slog.New(h).With("instance_id", c.e.cfg.InstanceID, "orchestrator", c.e.name)
	}
	return c.logger
}

func (c *orchContext) SetCustomStatus(v any) error {
	b, err := orca.MarshalPayload(v)
	if err != nil {
		return fmt.Errorf("set custom status: %w", err)
	}
	c.e.customStatus = b
	return nil
}

func (c *orchContext) CallActivity(name string, input any, opts ...orca.CallOption) orca.Task {
	o := resolveCall(opts)
	if o.InstanceID != "" {
		return c.e.failedTask(name, fmt.Errorf("call activity %q: WithInstanceID applies only to sub-orchestrations", name))
	}
	in, err := orca.MarshalPayload(input)
	if err != nil {
		return c.e.failedTask(name, fmt.Errorf("call activity %q: %w", name, err))
	}
	attempt := func(int) *task {
		return c.e.takeAction(&history.Event{Type: history.TaskScheduled,
			TaskScheduled: &history.TaskScheduledAttrs{Name: name, Input: in}}, name)
	}
	return c.e.withRetry(name, o.Retry, attempt)
}

func (c *orchContext) CallSubOrchestrator(name string, input any, opts ...orca.CallOption) orca.Task {
	o := resolveCall(opts)
	in, err := orca.MarshalPayload(input)
	if err != nil {
		return c.e.failedTask(name, fmt.Errorf("call sub-orchestrator %q: %w", name, err))
	}
	attempt := func(int) *task {
		id := o.InstanceID
		if id == "" {
			id = c.e.cfg.InstanceID + ":" + strconv.Itoa(int(c.e.nextSeq))
		}
		return c.e.takeAction(&history.Event{Type: history.SubOrchestrationInstanceCreated,
			SubOrchestrationInstanceCreated: &history.SubOrchestrationInstanceCreatedAttrs{Name: name, InstanceID: id, Input: in}}, name)
	}
	return c.e.withRetry(name, o.Retry, attempt)
}

func (c *orchContext) CreateTimer(d time.Duration) orca.Task { return c.e.newTimer(d) }

func (c *orchContext) WaitForExternalEvent(name string, opts ...orca.WaitOption) orca.Task {
	var o orca.WaitOptions
	for _, opt := range opts {
		opt(&o)
	}
	e := c.e
	t := &task{e: e, name: name, id: -1}
	q := e.queue(strings.ToLower(name))
	if len(q.buffered) > 0 {
		ev := q.buffered[0].event
		q.buffered = q.buffered[1:]
		t.complete(ev.EventRaised.Input, nil)
		return t
	}
	q.waiters = append(q.waiters, t)
	if o.Timeout > 0 {
		timer := e.newTimer(o.Timeout)
		timer.onDone(func() {
			if t.done {
				return
			}
			for i, w := range q.waiters {
				if w == t {
					q.waiters = append(q.waiters[:i:i], q.waiters[i+1:]...)
					break
				}
			}
			t.complete(nil, orca.ErrTimedOut)
		})
	}
	return t
}

func (c *orchContext) SendEvent(instanceID, name string, data any) error {
	in, err := orca.MarshalPayload(data)
	if err != nil {
		return fmt.Errorf("send event %q: %w", name, err)
	}
	c.e.takeAction(&history.Event{Type: history.EventSent,
		EventSent: &history.EventSentAttrs{InstanceID: instanceID, Name: name, Input: in}}, name)
	return nil
}

func (c *orchContext) ContinueAsNew(input any, opts ...orca.ContinueAsNewOption) {
	var o orca.ContinueAsNewOptions
	for _, opt := range opts {
		opt(&o)
	}
	in, err := orca.MarshalPayload(input)
	if err != nil {
		c.e.fail(&history.FailureDetails{ErrorType: "MarshalError", ErrorMessage: "continue as new: " + err.Error()})
		c.e.aborting = true
		panic(abortSignal{})
	}
	c.e.continueInput = in
	c.e.continueOpts = &o
}

func resolveCall(opts []orca.CallOption) orca.CallOptions {
	var o orca.CallOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// replayHandler drops log records while the orchestrator replays, so each line is logged once.
type replayHandler struct {
	inner slog.Handler
	e     *Executor
}

func (h *replayHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return !h.e.replaying && h.inner.Enabled(ctx, l)
}

func (h *replayHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.e.replaying {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *replayHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &replayHandler{inner: h.inner.WithAttrs(as), e: h.e}
}

func (h *replayHandler) WithGroup(name string) slog.Handler {
	return &replayHandler{inner: h.inner.WithGroup(name), e: h.e}
}

// marshalIndex encodes a WhenAny result.
func marshalIndex(i int) json.RawMessage { return json.RawMessage(strconv.Itoa(i)) }
