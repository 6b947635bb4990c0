package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func blobEvent(id, container, name string) *events.Event {
	return &events.Event{ID: id, Subject: events.BlobSubject(container, name), EventType: events.TypeBlobCreated,
		EventTime: time.Now().UTC(), Data: json.RawMessage(`{"url":"x"}`), MetadataVersion: "1"}
}

func TestFilterMatches(t *testing.T) {
	ev := blobEvent("1", "output", "abc/1.json")
	cases := []struct {
		f    events.Filter
		want bool
	}{
		{events.Filter{}, true},
		{events.Filter{SubjectBeginsWith: "/blobServices/default/containers/output/"}, true},
		{events.Filter{SubjectBeginsWith: "/BLOBSERVICES/default/containers/OUTPUT/"}, true},
		{events.Filter{SubjectBeginsWith: "/BLOBSERVICES/", IsSubjectCaseSensitive: true}, false},
		{events.Filter{SubjectBeginsWith: "/blobServices/default/containers/input/"}, false},
		{events.Filter{SubjectEndsWith: ".json"}, true},
		{events.Filter{SubjectEndsWith: ".csv"}, false},
		{events.Filter{IncludedEventTypes: []string{"Microsoft.Storage.BlobDeleted"}}, false},
		{events.Filter{IncludedEventTypes: []string{"Microsoft.Storage.BlobDeleted", "microsoft.storage.blobcreated"}}, true},
	}
	for i, c := range cases {
		if got := c.f.Matches(ev); got != c.want {
			t.Errorf("case %d: %+v matches = %v, want %v", i, c.f, got, c.want)
		}
	}
}

func TestSubscriptionNormalizeNamesTheBadField(t *testing.T) {
	bad := map[string]events.Subscription{
		"name":                   {Name: "x", Destination: events.Destination{Type: events.DestinationHandler, Handler: "h"}},
		"endpointUrl":            {Name: "hook", Destination: events.Destination{Type: events.DestinationWebHook, EndpointURL: "ftp://x"}},
		"eventDeliverySchema":    {Name: "hook", Destination: events.Destination{Type: events.DestinationWebHook, EndpointURL: "http://x", Schema: "Nope"}},
		"eventName":              {Name: "orch", Destination: events.Destination{Type: events.DestinationOrchestration}},
		"instanceIdPattern":      {Name: "orch", Destination: events.Destination{Type: events.DestinationOrchestration, EventName: "E", InstanceIDPattern: "(x"}},
		"maxDeliveryAttempts":    {Name: "hook", RetryPolicy: events.RetryPolicy{MaxDeliveryAttempts: 31}, Destination: events.Destination{Type: events.DestinationHandler, Handler: "h"}},
		"eventTimeToLive":        {Name: "hook", RetryPolicy: events.RetryPolicy{EventTimeToLiveInMinutes: 2000}, Destination: events.Destination{Type: events.DestinationHandler, Handler: "h"}},
		"endpointType":           {Name: "what", Destination: events.Destination{Type: "Queue"}},
		`group named "instance"`: {Name: "orch", Destination: events.Destination{Type: events.DestinationOrchestration, EventName: "E", InstanceIDPattern: "x(y)"}},
	}
	for field, s := range bad {
		err := s.Normalize()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v, want it to name %q", field, err, field)
		}
	}
	good := events.Subscription{Name: "hook-1", Destination: events.Destination{Type: events.DestinationWebHook, EndpointURL: "https://example.com/x"}}
	if err := good.Normalize(); err != nil {
		t.Fatal(err)
	}
	if good.RetryPolicy.MaxDeliveryAttempts != 30 || good.RetryPolicy.EventTimeToLiveInMinutes != 1440 || good.Destination.Schema != events.SchemaEventGrid {
		t.Fatalf("defaults not applied: %+v", good)
	}
}

// TestOrchestrationDestinationRaisesEventExactlyOnce publishes the same event twice through
// ingestion: the first raises the event on the instance, the second is a duplicate.
func TestOrchestrationDestinationRaisesEventExactlyOnce(t *testing.T) {
	st := sqlitetest.Open(t, sqlite.Config{})
	ctx := context.Background()
	now := time.Now()
	if err := st.InstanceCreate(ctx, &store.InstanceCreateParams{ID: "run1", Name: "X", CreatedAt: now,
		Started: history.NewExecutionStarted(now, history.ExecutionStartedAttrs{Name: "X", ExecutionID: "e"})}); err != nil {
		t.Fatal(err)
	}
	var notified []string
	outcomes := &outcomes{}
	r := events.NewRouter(events.RouterConfig{Store: st, Notify: func(id string) { notified = append(notified, id) },
		Observe: outcomes.observe})
	// Routing before the subscriptions are loaded is refused, not silently matched to none.
	if _, err := r.Publish(ctx, blobEvent("ev-early", "output", "run1/0.json")); !errors.Is(err, events.ErrNotLoaded) {
		t.Fatalf("publish before Load: %v, want ErrNotLoaded", err)
	}
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Put(ctx, events.Subscription{Name: "done", Filter: events.Filter{SubjectBeginsWith: events.BlobSubject("output", "")},
		Destination: events.Destination{Type: events.DestinationOrchestration, EventName: "Done"}}, false); err != nil {
		t.Fatal(err)
	}
	// An event whose subject names no instance is not delivered.
	if _, err := r.Publish(ctx, blobEvent("ev-0", "output", "")); err != nil {
		t.Fatal(err)
	}
	ev := blobEvent("ev-1", "output", "run1/0.json")
	for i, wantDup := range []bool{false, true} {
		dup, err := r.Publish(ctx, ev)
		if err != nil || dup != wantDup {
			t.Fatalf("publish %d: duplicate=%v err=%v, want duplicate=%v", i, dup, err, wantDup)
		}
	}
	msgs, err := st.OrchestrationInbox(ctx, "run1", now.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var raised []*history.Event
	for _, m := range msgs {
		if m.Event.Type == history.EventRaised {
			raised = append(raised, m.Event)
		}
	}
	if len(raised) != 1 || raised[0].EventRaised.Name != "Done" {
		t.Fatalf("raised events %v", raised)
	}
	var got events.Event
	if err := json.Unmarshal(raised[0].EventRaised.Input, &got); err != nil || got.ID != "ev-1" {
		t.Fatalf("event data %s", raised[0].EventRaised.Input)
	}
	if len(notified) != 1 || notified[0] != "run1" {
		t.Fatalf("notified %v", notified)
	}
	outcomes.want(t, "done delivered")
}

// outcomes records what a DeliveryObserver is told.
type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *outcomes) observe(sub string, outcome events.DeliveryOutcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, sub+" "+string(outcome))
}

func (o *outcomes) want(t *testing.T, want ...string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !slices.Equal(o.got, want) {
		t.Fatalf("delivery outcomes %q, want %q", o.got, want)
	}
}

// webhook is a test endpoint that can be down, answer with a status, and record deliveries.
type webhook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	status   int
	bodies   []string
	headers  []http.Header
	validate bool // answer the Event Grid validation handshake
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{status: http.StatusOK, validate: true}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if r.Method == http.MethodOptions {
			rw.Header().Set("WebHook-Allowed-Origin", r.Header.Get("WebHook-Request-Origin"))
			return
		}
		if r.Header.Get("aeg-event-type") == "SubscriptionValidation" {
			if !w.validate {
				rw.WriteHeader(http.StatusForbidden)
				return
			}
			var evs []events.Event
			_ = json.Unmarshal(body, &evs)
			var data struct{ ValidationCode string }
			_ = json.Unmarshal(evs[0].Data, &data)
			_ = json.NewEncoder(rw).Encode(map[string]string{"validationResponse": data.ValidationCode})
			return
		}
		w.bodies = append(w.bodies, string(body))
		w.headers = append(w.headers, r.Header.Clone())
		rw.WriteHeader(w.status)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) set(status int) {
	w.mu.Lock()
	w.status = status
	w.mu.Unlock()
}

func (w *webhook) delivered() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.bodies...)
}

type rig struct {
	st       *sqlite.Backend
	r        *events.Router
	d        *events.Dispatcher
	clk      *clock.Fake
	outcomes *outcomes
}

func newRig(t *testing.T) *rig {
	st := sqlitetest.Open(t, sqlite.Config{})
	clk := clock.NewFake(time.Now())
	o := &outcomes{}
	r := events.NewRouter(events.RouterConfig{Store: st, Clock: clk, Observe: o.observe})
	d := events.NewDispatcher(events.DispatcherConfig{Store: st, Router: r, Clock: clk, Owner: "n1",
		RetryDelays: []time.Duration{time.Minute, 5 * time.Minute}, Observe: o.observe})
	r.SetValidator(d.Validate)
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &rig{st: st, r: r, d: d, clk: clk, outcomes: o}
}

func (g *rig) publish(t *testing.T, ev *events.Event) {
	t.Helper()
	if _, err := g.r.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

func (g *rig) deliver(t *testing.T) {
	t.Helper()
	events.RunDispatcherOnce(g.d)
}

// put adds subscription sub (not from config).
func (g *rig) put(t *testing.T, sub events.Subscription) {
	t.Helper()
	if _, err := g.r.Put(context.Background(), sub, false); err != nil {
		t.Fatal(err)
	}
}

// putWebhook adds subscription sub with a new test endpoint as its webhook destination, and
// returns the endpoint.
func (g *rig) putWebhook(t *testing.T, sub events.Subscription) *webhook {
	t.Helper()
	hook := newWebhook(t)
	sub.Destination.Type, sub.Destination.EndpointURL = events.DestinationWebHook, hook.srv.URL
	g.put(t, sub)
	return hook
}

func TestWebhookDeliveryRetriesUntilTheSubscriberIsBack(t *testing.T) {
	g := newRig(t)
	hook := g.putWebhook(t, events.Subscription{Name: "hook"})
	hook.set(http.StatusServiceUnavailable)
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	g.deliver(t)
	if n := len(hook.delivered()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	g.deliver(t) // not due yet: nothing happens
	if n := len(hook.delivered()); n != 1 {
		t.Fatalf("%d attempts before the backoff passed", n)
	}
	hook.set(http.StatusOK)
	g.clk.Advance(time.Minute * 5 / 4) // the first delay, a minute, spread by up to a quarter
	g.deliver(t)
	bodies := hook.delivered()
	if len(bodies) != 2 || !strings.Contains(bodies[1], `"id":"e1"`) || !strings.HasPrefix(bodies[1], "[") {
		t.Fatalf("deliveries %q", bodies)
	}
	if h := hook.headers[1]; h.Get("aeg-event-type") != "Notification" || h.Get("aeg-subscription-name") != "HOOK" || h.Get("aeg-delivery-count") != "1" {
		t.Fatalf("headers %v", h)
	}
	pending, dead, err := g.st.DeliveryStats(context.Background())
	if err != nil || pending["hook"] != 0 || dead["hook"] != 0 {
		t.Fatalf("pending %v dead %v (%v)", pending, dead, err)
	}
	g.outcomes.want(t, "hook retried", "hook delivered")
}

func TestWebhookDeadLettersAfterMaxAttempts(t *testing.T) {
	g := newRig(t)
	hook := g.putWebhook(t, events.Subscription{Name: "hook", RetryPolicy: events.RetryPolicy{MaxDeliveryAttempts: 3}})
	hook.set(http.StatusInternalServerError)
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	for i := 0; i < 5; i++ {
		g.deliver(t)
		g.clk.Advance(10 * time.Minute)
	}
	if n := len(hook.delivered()); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	dls, err := g.st.DeadLetterList(context.Background(), "hook", 10)
	if err != nil || len(dls) != 1 || dls[0].EventID != "e1" || !strings.Contains(dls[0].Reason, "after 3 attempts") {
		t.Fatalf("dead letters %+v (%v)", dls, err)
	}
	g.outcomes.want(t, "hook retried", "hook retried", "hook dead_lettered")
}

func TestWebhookDeadLettersWhenTheEventExpires(t *testing.T) {
	g := newRig(t)
	hook := g.putWebhook(t, events.Subscription{Name: "hook", RetryPolicy: events.RetryPolicy{EventTimeToLiveInMinutes: 3}})
	hook.set(http.StatusBadGateway)
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	g.deliver(t)
	g.clk.Advance(3 * time.Minute)
	g.deliver(t)
	dls, err := g.st.DeadLetterList(context.Background(), "", 10)
	if err != nil || len(dls) != 1 || !strings.Contains(dls[0].Reason, "time-to-live") {
		t.Fatalf("dead letters %+v (%v)", dls, err)
	}
}

func TestBadRequestIsDeadLetteredAtOnce(t *testing.T) {
	g := newRig(t)
	hook := g.putWebhook(t, events.Subscription{Name: "hook"})
	hook.set(http.StatusBadRequest)
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	g.deliver(t)
	if dls, _ := g.st.DeadLetterList(context.Background(), "hook", 10); len(dls) != 1 {
		t.Fatalf("dead letters %d, want 1", len(dls))
	}
}

func TestCloudEventsDelivery(t *testing.T) {
	g := newRig(t)
	hook := g.putWebhook(t, events.Subscription{Name: "cloud", Destination: events.Destination{Schema: events.SchemaCloudEvents}})
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	g.deliver(t)
	bodies := hook.delivered()
	if len(bodies) != 1 {
		t.Fatalf("deliveries %q", bodies)
	}
	var ce events.CloudEvent
	if err := json.Unmarshal([]byte(bodies[0]), &ce); err != nil || ce.SpecVersion != "1.0" || ce.ID != "e1" ||
		ce.Type != events.TypeBlobCreated || ce.Subject != events.BlobSubject("output", "a/1.json") {
		t.Fatalf("cloud event %s (%v)", bodies[0], err)
	}
	if ct := hook.headers[0].Get("Content-Type"); !strings.HasPrefix(ct, "application/cloudevents+json") {
		t.Fatalf("content type %q", ct)
	}
}

func TestValidationHandshake(t *testing.T) {
	g := newRig(t)
	hook := newWebhook(t)
	ctx := context.Background()
	hook.validate = false
	_, err := g.r.Put(ctx, events.Subscription{Name: "hook", Destination: events.Destination{Type: events.DestinationWebHook,
		EndpointURL: hook.srv.URL}}, false)
	if err == nil || !strings.Contains(err.Error(), "validation handshake") {
		t.Fatalf("err = %v, want a failed handshake", err)
	}
	if _, ok := g.r.Get("hook"); ok {
		t.Fatal("a subscription that failed its handshake was stored")
	}
	// Declared in config, it is kept waiting, and deliveries wait with it.
	s, err := g.r.Put(ctx, events.Subscription{Name: "hook", Destination: events.Destination{Type: events.DestinationWebHook,
		EndpointURL: hook.srv.URL}}, true)
	if err != nil || s.State != events.StateAwaitingValidation {
		t.Fatalf("state %v err %v", s, err)
	}
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	g.deliver(t)
	if n := len(hook.delivered()); n != 0 {
		t.Fatalf("delivered %d events to an unvalidated endpoint", n)
	}
	hook.mu.Lock()
	hook.validate = true
	hook.mu.Unlock()
	g.clk.Advance(time.Minute * 5 / 4)
	g.deliver(t)
	if n := len(hook.delivered()); n != 1 {
		t.Fatalf("delivered %d events after validation, want 1", n)
	}
	if s, _ := g.r.Get("hook"); s.State != events.StateActive {
		t.Fatalf("state %s after validation", s.State)
	}
}

func TestHandlerDestination(t *testing.T) {
	g := newRig(t)
	var after atomic.Int32
	g.r.RegisterHandler("count", events.Handler{After: func(*events.Event) { after.Add(1) }})
	g.put(t, events.Subscription{Name: "counter", Destination: events.Destination{Type: events.DestinationHandler, Handler: "count"}})
	if _, err := g.r.Put(context.Background(), events.Subscription{Name: "bad", Destination: events.Destination{Type: events.DestinationHandler,
		Handler: "nope"}}, false); err == nil {
		t.Fatal("a subscription to an unknown handler was accepted")
	}
	g.publish(t, blobEvent("e1", "output", "a/1.json"))
	g.publish(t, blobEvent("e1", "output", "a/1.json")) // duplicate: After does not run again
	if after.Load() != 1 {
		t.Fatalf("handler ran %d times, want 1", after.Load())
	}
	g.outcomes.want(t, "counter delivered")
}
