package events

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orcahq/orca/internal/backoff"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/store"
)

// DefaultRetryDelays is Event Grid's backoff schedule between delivery attempts; after the last
// entry, attempts continue at its interval until the retry policy gives up. Each delay is
// spread by up to a quarter either way (backoff.Spread), so that the deliveries that failed
// together (an endpoint that was down) do not all come back at once. Full jitter would halve
// the time maxDeliveryAttempts lasts, and dead-letter events an endpoint down for half a day
// would have got.
var DefaultRetryDelays = []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute,
	10 * time.Minute, 30 * time.Minute, time.Hour}

// DispatcherConfig configures a Dispatcher. Zero values take the documented defaults.
type DispatcherConfig struct {
	Store  store.Backend
	Router *Router
	Clock  clock.Clock
	Logger *slog.Logger
	// Owner names this node in delivery leases.
	Owner string
	// Client makes the webhook requests (default: 30s timeout).
	Client *http.Client
	// RetryDelays is the backoff schedule (default DefaultRetryDelays).
	RetryDelays []time.Duration
	// PollInterval is how often due deliveries are looked for without a wake-up (default 1s).
	PollInterval time.Duration
	// Concurrency bounds the requests in flight (default 16).
	Concurrency int
	// LockDuration is how long a leased delivery is held (default 2m; longer than a request).
	LockDuration time.Duration
	// Origin is sent as WebHook-Request-Origin in the CloudEvents validation handshake
	// (default "orca").
	Origin string
	// Observe, when set, is told of the outcome of every webhook delivery attempt.
	Observe DeliveryObserver
}

// Dispatcher delivers the outbox's webhook deliveries at least once: a 2xx answer deletes the
// delivery; a failure schedules the next attempt by RetryDelays until the subscription's
// maxDeliveryAttempts or event time-to-live runs out, and the delivery moves to the dead
// letters (400 and 413 answers go there at once, as in Event Grid).
type Dispatcher struct {
	cfg  DispatcherConfig
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once
	// started says whether Start ran, so that Stop does not wait for a loop that never existed.
	started atomic.Bool

	mu        sync.Mutex
	validated map[string]time.Time // last handshake attempt of subscriptions awaiting validation
}

// NewDispatcher returns a dispatcher; Start runs it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if len(cfg.RetryDelays) == 0 {
		cfg.RetryDelays = DefaultRetryDelays
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.LockDuration <= 0 {
		cfg.LockDuration = 2 * time.Minute
	}
	if cfg.Origin == "" {
		cfg.Origin = "orca"
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string, DeliveryOutcome) {}
	}
	d := &Dispatcher{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		validated: map[string]time.Time{}}
	return d
}

// Wake makes the dispatcher look for due deliveries now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the delivery loop until Stop.
func (d *Dispatcher) Start(ctx context.Context) error {
	d.started.Store(true)
	go func() {
		defer close(d.done)
		for {
			n := d.runOnce(ctx)
			if n > 0 {
				continue
			}
			select {
			case <-d.stop:
				return
			case <-ctx.Done():
				return
			case <-d.wake:
			case <-d.cfg.Clock.After(d.cfg.PollInterval):
			}
		}
	}()
	return nil
}

// Stop ends the loop after the deliveries in flight (at once if it never started).
func (d *Dispatcher) Stop() {
	d.once.Do(func() {
		close(d.stop)
		if d.started.Load() {
			<-d.done
		}
	})
}

// runOnce leases due deliveries and attempts each; it returns how many it leased.
func (d *Dispatcher) runOnce(ctx context.Context) int {
	now := d.cfg.Clock.Now()
	batch, err := d.cfg.Store.DeliveryLease(ctx, &store.DeliveryLeaseParams{Owner: d.cfg.Owner, Now: now,
		LockExpiry: now.Add(d.cfg.LockDuration), Limit: d.cfg.Concurrency})
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("lease event deliveries", "err", err)
		}
		return 0
	}
	var wg sync.WaitGroup
	for _, del := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.attempt(ctx, del)
		}()
	}
	wg.Wait()
	return len(batch)
}

func (d *Dispatcher) attempt(ctx context.Context, del *store.Delivery) {
	log := d.cfg.Logger.With("subscription", del.Subscription, "event_id", del.EventID, "attempt", del.Attempts+1)
	sub, ok := d.cfg.Router.Get(del.Subscription)
	if !ok {
		d.finish(ctx, log, d.cfg.Store.DeliveryDone(ctx, del.ID, d.cfg.Owner))
		return
	}
	now := d.cfg.Clock.Now()
	if !now.Before(del.ExpiresAt) {
		d.deadLetter(ctx, log, del, fmt.Sprintf("event time-to-live of %d minutes expired after %d attempts (last error: %s)",
			sub.RetryPolicy.EventTimeToLiveInMinutes, del.Attempts, del.LastError))
		return
	}
	if sub.State == StateAwaitingValidation && !d.revalidate(ctx, sub) {
		d.retry(ctx, log, del, sub, "the endpoint has not completed the validation handshake")
		return
	}
	status, err := d.post(ctx, sub, del)
	switch {
	case err == nil && status >= 200 && status < 300:
		d.cfg.Observe(del.Subscription, Delivered)
		d.finish(ctx, log, d.cfg.Store.DeliveryDone(ctx, del.ID, d.cfg.Owner))
	case err == nil && (status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge):
		d.deadLetter(ctx, log, del, fmt.Sprintf("endpoint answered %d, which is not retried", status))
	default:
		reason := fmt.Sprintf("endpoint answered %d", status)
		if err != nil {
			reason = err.Error()
		}
		d.retry(ctx, log, del, sub, reason)
	}
}

func (d *Dispatcher) retry(ctx context.Context, log *slog.Logger, del *store.Delivery, sub *Subscription, reason string) {
	if del.Attempts+1 >= sub.RetryPolicy.MaxDeliveryAttempts {
		d.deadLetter(ctx, log, del, fmt.Sprintf("gave up after %d attempts: %s", del.Attempts+1, reason))
		return
	}
	delays := d.cfg.RetryDelays
	delay := backoff.Spread(nil, delays[min(del.Attempts, len(delays)-1)])
	log.Info("event delivery failed; will retry", "reason", reason, "in", delay)
	d.cfg.Observe(del.Subscription, Retried)
	next := d.cfg.Clock.Now().Add(delay)
	if next.After(del.ExpiresAt) {
		next = del.ExpiresAt // one last look, to dead-letter it on time
	}
	d.finish(ctx, log, d.cfg.Store.DeliveryRetry(ctx, &store.DeliveryRetryParams{ID: del.ID, Owner: d.cfg.Owner,
		NextAttempt: next, LastError: reason}))
}

func (d *Dispatcher) deadLetter(ctx context.Context, log *slog.Logger, del *store.Delivery, reason string) {
	log.Warn("event delivery dead-lettered", "reason", reason)
	d.cfg.Observe(del.Subscription, DeadLettered)
	d.finish(ctx, log, d.cfg.Store.DeliveryDeadLetter(ctx, &store.DeliveryDeadLetterParams{ID: del.ID, Owner: d.cfg.Owner,
		Reason: reason, At: d.cfg.Clock.Now()}))
}

func (d *Dispatcher) finish(ctx context.Context, log *slog.Logger, err error) {
	if err != nil && ctx.Err() == nil {
		log.Warn("record event delivery outcome", "err", err)
	}
}

// post sends one delivery in the subscription's schema and returns the HTTP status.
func (d *Dispatcher) post(ctx context.Context, sub *Subscription, del *store.Delivery) (int, error) {
	var ev Event
	if err := json.Unmarshal(del.Event, &ev); err != nil {
		return 0, fmt.Errorf("decode stored event: %w", err)
	}
	body, contentType, err := encodeFor(sub.Destination.Schema, &ev)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Destination.EndpointURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("aeg-event-type", "Notification")
	req.Header.Set("aeg-subscription-name", strings.ToUpper(sub.Name))
	req.Header.Set("aeg-delivery-count", strconv.Itoa(del.Attempts))
	req.Header.Set("aeg-data-version", ev.DataVersion)
	req.Header.Set("aeg-metadata-version", ev.MetadataVersion)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// CloudEvent is an event in the CloudEvents 1.0 JSON format, as Event Grid converts its own.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// ToCloudEvent converts an Event Grid event.
func ToCloudEvent(ev *Event) *CloudEvent {
	source := ev.Topic
	if source == "" {
		source = "orca"
	}
	return &CloudEvent{SpecVersion: "1.0", ID: ev.ID, Source: source, Type: ev.EventType, Subject: ev.Subject,
		Time: ev.EventTime, DataContentType: "application/json", Data: ev.Data}
}

// FromCloudEvent converts a CloudEvent into an Event Grid event.
func FromCloudEvent(ce *CloudEvent) *Event {
	return &Event{ID: ce.ID, Topic: ce.Source, Subject: ce.Subject, EventType: ce.Type, EventTime: ce.Time,
		Data: ce.Data, MetadataVersion: "1"}
}

func encodeFor(schema string, ev *Event) ([]byte, string, error) {
	if schema == SchemaCloudEvents {
		b, err := json.Marshal(ToCloudEvent(ev))
		return b, "application/cloudevents+json; charset=utf-8", err
	}
	b, err := json.Marshal([]*Event{ev})
	return b, "application/json", err
}

// Validate runs a webhook's validation handshake: Event Grid's SubscriptionValidationEvent
// (the endpoint answers {"validationResponse": code}) or CloudEvents' abuse protection (an
// OPTIONS request the endpoint answers with WebHook-Allowed-Origin).
func (d *Dispatcher) Validate(ctx context.Context, s *Subscription) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if s.Destination.Schema == SchemaCloudEvents {
		return d.validateCloudEvents(ctx, s)
	}
	var code [16]byte
	_, _ = rand.Read(code[:])
	want := strings.ToUpper(hex.EncodeToString(code[:]))
	data, _ := json.Marshal(map[string]string{"validationCode": want})
	ev := &Event{ID: hex.EncodeToString(code[:8]), Topic: "orca", Subject: "", EventType: TypeSubscriptionValidation,
		EventTime: d.cfg.Clock.Now(), Data: data, DataVersion: "1", MetadataVersion: "1"}
	body, _ := json.Marshal([]*Event{ev})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Destination.EndpointURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("aeg-event-type", "SubscriptionValidation")
	req.Header.Set("aeg-subscription-name", strings.ToUpper(s.Name))
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct {
		ValidationResponse string `json:"validationResponse"`
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("endpoint answered %d to the validation event", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer); err != nil {
		return fmt.Errorf("validation answer is not {\"validationResponse\": code}: %w", err)
	}
	if !strings.EqualFold(answer.ValidationResponse, want) {
		return errors.New("validation answer carries the wrong code")
	}
	return nil
}

func (d *Dispatcher) validateCloudEvents(ctx context.Context, s *Subscription) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodOptions, s.Destination.EndpointURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("WebHook-Request-Origin", d.cfg.Origin)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	allowed := resp.Header.Get("WebHook-Allowed-Origin")
	if resp.StatusCode != http.StatusOK || (allowed != "*" && !strings.EqualFold(allowed, d.cfg.Origin)) {
		return fmt.Errorf("endpoint answered %d with WebHook-Allowed-Origin %q to the abuse-protection request", resp.StatusCode, allowed)
	}
	return nil
}

// revalidate retries the handshake of a subscription awaiting validation, at most once a minute.
func (d *Dispatcher) revalidate(ctx context.Context, s *Subscription) bool {
	d.mu.Lock()
	last, tried := d.validated[s.Name]
	now := d.cfg.Clock.Now()
	if tried && now.Sub(last) < time.Minute {
		d.mu.Unlock()
		return false
	}
	d.validated[s.Name] = now
	d.mu.Unlock()
	if err := d.Validate(ctx, s); err != nil {
		d.cfg.Logger.Info("subscription still awaits validation", "subscription", s.Name, "err", err)
		return false
	}
	if err := d.cfg.Router.SetState(ctx, s.Name, StateActive); err != nil {
		d.cfg.Logger.Warn("record subscription validation", "subscription", s.Name, "err", err)
	}
	return true
}
