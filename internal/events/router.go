package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Handler is a built-in destination. Messages runs while the event is published and returns
// inbox messages that are written in the same transaction as the write that caused the event;
// After runs once that transaction is durable. Either may be nil.
type Handler struct {
	Messages func(ctx context.Context, ev *Event, content []byte) ([]*store.Message, error)
	After    func(ev *Event)
}

// RouterConfig configures a Router.
type RouterConfig struct {
	Store  store.Backend
	Clock  clock.Clock
	Logger *slog.Logger
	// BlobURL returns the URL of a blob for BlobCreated's data.url (default: a path under
	// /api/blobs/).
	BlobURL func(container, name string) string
	// Notify is told which instances got messages once they are durable (the engine's wake-up).
	Notify func(instanceID string)
	// Validate runs a webhook's validation handshake (the dispatcher's); nil accepts every
	// endpoint without one.
	Validate func(ctx context.Context, s *Subscription) error
	// Observe, when set, is told of every delivery to a built-in destination once it is
	// durable (the dispatcher reports the webhooks').
	Observe DeliveryObserver
}

// Router matches published events against the subscriptions and turns them into effects. It
// implements blob.Events and queue.PoisonEvents, so every blob put and poison move through orca
// publishes its event.
type Router struct {
	cfg RouterConfig

	mu   sync.RWMutex
	subs map[string]*compiled
	// loaded: Load has read the subscriptions. Until then an event would match none of them,
	// and routing refuses it (ErrNotLoaded) instead of dropping it.
	loaded   bool
	handlers map[string]Handler
	// wake is called after a publish that queued webhook deliveries (the dispatcher's wake-up).
	wake func()
	seq  uint64
}

type compiled struct {
	sub     Subscription
	pattern *regexp.Regexp // Orchestration destinations
}

// ErrNotLoaded is returned by routing before Load has read the subscriptions from the store:
// the event would miss them, so it is refused, and its sender (an ingestion request, a blob put,
// a poison move) fails and retries rather than losing it.
var ErrNotLoaded = errors.New("events: the subscriptions are not loaded yet")

var (
	_                 blob.Events        = (*Router)(nil)
	_                 queue.PoisonEvents = (*Router)(nil)
	errUnknownHandler                    = errors.New("unknown handler")
)

// NewRouter returns a router with no subscriptions; Load reads them from the store, and it routes
// nothing before.
func NewRouter(cfg RouterConfig) *Router {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BlobURL == nil {
		cfg.BlobURL = func(container, name string) string { return "/api/blobs/" + container + "/" + name }
	}
	if cfg.Notify == nil {
		cfg.Notify = func(string) {}
	}
	return &Router{cfg: cfg, subs: map[string]*compiled{}, handlers: map[string]Handler{}, wake: func() {}}
}

// RegisterHandler makes a built-in handler available to Handler destinations.
func (r *Router) RegisterHandler(name string, h Handler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[name] = h
}

// SetValidator sets the webhook validation handshake run by Put (the dispatcher's Validate).
func (r *Router) SetValidator(v func(ctx context.Context, s *Subscription) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg.Validate = v
}

// OnDeliveries sets the function called after a publish that queued webhook deliveries.
func (r *Router) OnDeliveries(wake func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wake = wake
}

// Load replaces the router's subscriptions with the store's.
func (r *Router) Load(ctx context.Context) error {
	recs, err := r.cfg.Store.SubscriptionList(ctx)
	if err != nil {
		return fmt.Errorf("load subscriptions: %w", err)
	}
	subs := map[string]*compiled{}
	for _, rec := range recs {
		var s Subscription
		if err := json.Unmarshal(rec.Spec, &s); err != nil {
			return fmt.Errorf("load subscription %s: %w", rec.Name, err)
		}
		c, err := r.compile(s)
		if err != nil {
			r.cfg.Logger.Error("stored subscription is invalid; ignoring it", "subscription", rec.Name, "err", err)
			continue
		}
		subs[s.Name] = c
	}
	r.mu.Lock()
	r.subs, r.loaded = subs, true
	r.mu.Unlock()
	return nil
}

func (r *Router) compile(s Subscription) (*compiled, error) {
	if err := s.Normalize(); err != nil {
		return nil, err
	}
	c := &compiled{sub: s}
	switch s.Destination.Type {
	case DestinationOrchestration:
		c.pattern = regexp.MustCompile(s.Destination.InstanceIDPattern) // checked by Normalize
	case DestinationHandler:
		r.mu.RLock()
		_, ok := r.handlers[s.Destination.Handler]
		r.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("destination.handler %q: %w", s.Destination.Handler, errUnknownHandler)
		}
	}
	return c, nil
}

// ErrInvalidSubscription wraps what is wrong with a subscription.
var ErrInvalidSubscription = errors.New("invalid subscription")

// Put creates or replaces a subscription. A webhook runs its validation handshake first; a
// subscription that fails it is not stored unless allowPending, in which case it is stored
// AwaitingValidation (config-declared subscriptions whose endpoint is not up yet).
func (r *Router) Put(ctx context.Context, s Subscription, allowPending bool) (*Subscription, error) {
	c, err := r.compile(s)
	if err != nil {
		return nil, fmt.Errorf("subscription %q: %w: %w", s.Name, err, ErrInvalidSubscription)
	}
	r.mu.RLock()
	validate := r.cfg.Validate
	r.mu.RUnlock()
	if c.sub.Destination.Type == DestinationWebHook && validate != nil {
		if err := validate(ctx, &c.sub); err != nil {
			if !allowPending {
				return nil, fmt.Errorf("subscription %q: validation handshake with %s failed: %w: %w",
					s.Name, c.sub.Destination.EndpointURL, err, ErrInvalidSubscription)
			}
			c.sub.State = StateAwaitingValidation
		} else {
			c.sub.State = StateActive
		}
	}
	if err := r.store(ctx, &c.sub); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.subs[c.sub.Name] = c
	r.mu.Unlock()
	out := c.sub
	return &out, nil
}

func (r *Router) store(ctx context.Context, s *Subscription) error {
	spec, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return r.cfg.Store.SubscriptionPut(ctx, &store.SubscriptionRecord{Name: s.Name, Spec: spec, UpdatedAt: r.cfg.Clock.Now()})
}

// SetState records a webhook subscription's validation state.
func (r *Router) SetState(ctx context.Context, name, state string) error {
	r.mu.Lock()
	c, ok := r.subs[name]
	if !ok {
		r.mu.Unlock()
		return fmt.Errorf("subscription %s: %w", name, store.ErrNotFound)
	}
	next := *c
	next.sub.State = state
	r.subs[name] = &next
	r.mu.Unlock()
	return r.store(ctx, &next.sub)
}

// Delete deletes a subscription and its pending deliveries.
func (r *Router) Delete(ctx context.Context, name string) error {
	if err := r.cfg.Store.SubscriptionDelete(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.subs, name)
	r.mu.Unlock()
	return nil
}

// Get returns a subscription.
func (r *Router) Get(name string) (*Subscription, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.subs[name]
	if !ok {
		return nil, false
	}
	s := c.sub
	return &s, true
}

// List returns the subscriptions by name.
func (r *Router) List() []Subscription {
	r.mu.RLock()
	out := make([]Subscription, 0, len(r.subs))
	for _, c := range r.subs {
		out = append(out, c.sub)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Route returns the effects of an event: inbox messages of built-in destinations and outbox
// deliveries of webhooks, to be written with the write that caused the event, and the function
// to call once they are durable. content is the blob's content for blob events when the caller
// has it.
func (r *Router) Route(ctx context.Context, ev *Event, content []byte) (store.Effects, func(), error) {
	var eff store.Effects
	var afters []func()
	var notify []string
	now := r.cfg.Clock.Now()
	r.mu.RLock()
	if !r.loaded {
		r.mu.RUnlock()
		return store.Effects{}, nil, ErrNotLoaded
	}
	matched := make([]*compiled, 0, 2)
	for _, c := range r.subs {
		if c.sub.Filter.Matches(ev) {
			matched = append(matched, c)
		}
	}
	handlers := r.handlers
	wake := r.wake
	r.mu.RUnlock()
	sort.Slice(matched, func(i, j int) bool { return matched[i].sub.Name < matched[j].sub.Name })
	// delivered collects the built-in destinations that got the event, in matched's own array
	// (it never overtakes the loop over matched), to be reported once durable.
	delivered := matched[:0]
	var encoded []byte
	encode := func() ([]byte, error) {
		if encoded == nil {
			b, err := json.Marshal(ev)
			if err != nil {
				return nil, err
			}
			encoded = b
		}
		return encoded, nil
	}
	for _, c := range matched {
		d := &c.sub.Destination
		switch d.Type {
		case DestinationWebHook:
			b, err := encode()
			if err != nil {
				return eff, nil, err
			}
			eff.Deliveries = append(eff.Deliveries, &store.DeliveryCreate{Subscription: c.sub.Name, EventID: ev.ID, Event: b,
				NotBefore: now, ExpiresAt: now.Add(time.Duration(c.sub.RetryPolicy.EventTimeToLiveInMinutes) * time.Minute)})
		case DestinationOrchestration:
			m := c.pattern.FindStringSubmatch(ev.Subject)
			if m == nil || m[c.pattern.SubexpIndex("instance")] == "" {
				r.cfg.Logger.Warn("event subject names no instance; not delivered", "subscription", c.sub.Name,
					"event_id", ev.ID, "subject", ev.Subject)
				continue
			}
			b, err := encode()
			if err != nil {
				return eff, nil, err
			}
			id := m[c.pattern.SubexpIndex("instance")]
			eff.Messages = append(eff.Messages, &store.Message{InstanceID: id, Event: history.NewEventRaised(now, d.EventName, b)})
			notify = append(notify, id)
			delivered = append(delivered, c)
		case DestinationHandler:
			h := handlers[d.Handler]
			if h.Messages != nil {
				msgs, err := h.Messages(ctx, ev, content)
				if err != nil {
					return eff, nil, fmt.Errorf("handler %s: %w", d.Handler, err)
				}
				for _, m := range msgs {
					eff.Messages = append(eff.Messages, m)
					notify = append(notify, m.InstanceID)
				}
			}
			if h.After != nil {
				afters = append(afters, func() { h.After(ev) })
			}
			delivered = append(delivered, c)
		}
	}
	queued := len(eff.Deliveries) > 0
	after := func() {
		if observe := r.cfg.Observe; observe != nil {
			for _, c := range delivered {
				observe(c.sub.Name, Delivered)
			}
		}
		for _, id := range notify {
			r.cfg.Notify(id)
		}
		for _, f := range afters {
			f()
		}
		if queued {
			wake()
		}
	}
	return eff, after, nil
}

// Publish routes an event that arrived from outside (the ingestion endpoint) and writes its
// effects, once per event id: a duplicate is dropped and reported. Event ids are remembered for
// 24 hours.
func (r *Router) Publish(ctx context.Context, ev *Event) (duplicate bool, err error) {
	if err := ev.Validate(); err != nil {
		return false, err
	}
	eff, after, err := r.Route(ctx, ev, nil)
	if err != nil {
		return false, err
	}
	now := r.cfg.Clock.Now()
	dup, err := r.cfg.Store.EventPublish(ctx, &store.EventPublishParams{EventID: ev.ID, Now: now,
		SeenUntil: now.Add(24 * time.Hour), Effects: eff})
	if err != nil {
		return false, err
	}
	if !dup {
		after()
	}
	return dup, nil
}

func (r *Router) nextSequencer() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	return fmt.Sprintf("%016x", r.seq)
}

// BlobCreated builds and routes the BlobCreated event of a put (blob.Events).
func (r *Router) BlobCreated(ctx context.Context, info *blob.Info, content []byte) (store.Effects, func(), error) {
	data, err := json.Marshal(BlobCreatedData{API: "PutBlob", RequestID: uuid.NewString(), ETag: info.ETag,
		ContentType: info.ContentType, ContentLength: info.Size, BlobType: "BlockBlob",
		URL: r.cfg.BlobURL(info.Container, info.Name), Sequencer: r.nextSequencer()})
	if err != nil {
		return store.Effects{}, nil, err
	}
	ev := &Event{ID: uuid.NewString(), Topic: "orca", Subject: BlobSubject(info.Container, info.Name),
		EventType: TypeBlobCreated, EventTime: r.cfg.Clock.Now(), Data: data, DataVersion: "", MetadataVersion: "1"}
	return r.Route(ctx, ev, content)
}

// Poisoned builds and routes one MessagePoisoned event per message moved to a poison queue
// (queue.PoisonEvents).
func (r *Router) Poisoned(ctx context.Context, source string, msgs []*queue.Message) (store.Effects, func(), error) {
	var all store.Effects
	var afters []func()
	for _, m := range msgs {
		d := MessagePoisonedData{Queue: source, PoisonQueue: queue.PoisonName(source), MessageID: m.ID,
			DequeueCount: m.DequeueCount, LastError: m.LastError}
		if json.Valid(m.Body) {
			d.Body = m.Body
		} else {
			d.BodyText = string(m.Body)
		}
		data, err := json.Marshal(d)
		if err != nil {
			return all, nil, err
		}
		ev := &Event{ID: uuid.NewString(), Topic: "orca", Subject: QueueSubject(queue.PoisonName(source)) + "/messages/" + m.ID,
			EventType: TypeMessagePoisoned, EventTime: r.cfg.Clock.Now(), Data: data, MetadataVersion: "1"}
		eff, after, err := r.Route(ctx, ev, nil)
		if err != nil {
			return all, nil, err
		}
		all.Messages = append(all.Messages, eff.Messages...)
		all.Deliveries = append(all.Deliveries, eff.Deliveries...)
		afters = append(afters, after)
	}
	return all, func() {
		for _, f := range afters {
			f()
		}
	}, nil
}
