package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// IngestResult is the answer of an event ingestion.
type IngestResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// IngestEvents publishes events in the Event Grid schema (values that marshal to Event Grid
// events); each is routed once per event id.
func (c *Client) IngestEvents(ctx context.Context, events []any) (*IngestResult, error) {
	var out IngestResult
	err := c.doJSON(ctx, http.MethodPost, "/api/events", nil, events, &out)
	return &out, err
}

// Subscription routes the events its filter matches to a destination, as in Event Grid; it is
// the JSON of /api/subscriptions (docs/operations.md, "Event subscriptions").
type Subscription struct {
	// Name is 3 to 64 letters, digits and hyphens. PutSubscription takes it from its argument; a
	// Name set here must be the same.
	Name        string                  `json:"name,omitempty"`
	Filter      SubscriptionFilter      `json:"filter"`
	Destination SubscriptionDestination `json:"destination"`
	RetryPolicy SubscriptionRetryPolicy `json:"retryPolicy"`
	// State is the server's: SubscriptionActive, or SubscriptionAwaitingValidation for a webhook
	// declared in the config file whose endpoint has not completed the validation handshake.
	State string `json:"provisioningState,omitempty"`
	// Builtin is the server's: it marks the subscriptions orca declares itself.
	Builtin bool `json:"builtin,omitempty"`
}

// Subscription states.
const (
	SubscriptionActive             = "Active"
	SubscriptionAwaitingValidation = "AwaitingValidation"
)

// SubscriptionFilter selects events: every condition set must hold. Event types, and subjects
// unless IsSubjectCaseSensitive, match without regard to case.
type SubscriptionFilter struct {
	SubjectBeginsWith      string   `json:"subjectBeginsWith,omitempty"`
	SubjectEndsWith        string   `json:"subjectEndsWith,omitempty"`
	IncludedEventTypes     []string `json:"includedEventTypes,omitempty"`
	IsSubjectCaseSensitive bool     `json:"isSubjectCaseSensitive,omitempty"`
}

// Destination types.
const (
	// DestinationWebHook POSTs each event to EndpointURL, at least once.
	DestinationWebHook = "WebHook"
	// DestinationOrchestration raises EventName on the instance whose id InstanceIDPattern
	// captures from the subject (its group named "instance"), exactly once.
	DestinationOrchestration = "Orchestration"
	// DestinationHandler runs one of orca's built-in handlers.
	DestinationHandler = "Handler"
)

// Delivery schemas of a webhook.
const (
	SchemaEventGrid   = "EventGridSchema"
	SchemaCloudEvents = "CloudEventSchemaV1_0"
)

// SubscriptionDestination says where matched events go; Type says which of the other fields
// apply.
type SubscriptionDestination struct {
	Type string `json:"endpointType"`
	// EndpointURL and Schema (default SchemaEventGrid) are a WebHook's.
	EndpointURL string `json:"endpointUrl,omitempty"`
	Schema      string `json:"eventDeliverySchema,omitempty"`
	// EventName and InstanceIDPattern (default: the first path segment of a blob's name) are an
	// Orchestration's.
	EventName         string `json:"eventName,omitempty"`
	InstanceIDPattern string `json:"instanceIdPattern,omitempty"`
	// Handler is a Handler's.
	Handler string `json:"handler,omitempty"`
}

// SubscriptionRetryPolicy bounds a webhook's deliveries, as Event Grid's; 0 means the default
// (30 attempts, 1440 minutes), which is also the most.
type SubscriptionRetryPolicy struct {
	MaxDeliveryAttempts      int `json:"maxDeliveryAttempts,omitempty"`
	EventTimeToLiveInMinutes int `json:"eventTimeToLiveInMinutes,omitempty"`
}

// PutSubscription creates or replaces the subscription name and returns it as stored, with
// the defaults filled in. A webhook must pass the validation handshake first.
func (c *Client) PutSubscription(ctx context.Context, name string, sub Subscription) (*Subscription, error) {
	var out Subscription
	if err := c.doJSON(ctx, http.MethodPut, "/api/subscriptions/"+url.PathEscape(name), nil, sub, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Subscription returns the subscription name.
func (c *Client) Subscription(ctx context.Context, name string) (*Subscription, error) {
	var out Subscription
	if err := c.doJSON(ctx, http.MethodGet, "/api/subscriptions/"+url.PathEscape(name), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSubscription deletes a subscription and its pending deliveries.
func (c *Client) DeleteSubscription(ctx context.Context, name string) error {
	return c.doJSON(ctx, http.MethodDelete, "/api/subscriptions/"+url.PathEscape(name), nil, nil, nil)
}

// Subscriptions lists the subscriptions, orca's own included.
func (c *Client) Subscriptions(ctx context.Context) ([]Subscription, error) {
	var out struct {
		Subscriptions []Subscription `json:"subscriptions"`
	}
	err := c.doJSON(ctx, http.MethodGet, "/api/subscriptions", nil, nil, &out)
	return out.Subscriptions, err
}

// DeadLetter is an event delivery that was given up.
type DeadLetter struct {
	Subscription string          `json:"subscription"`
	EventID      string          `json:"eventId"`
	Event        json.RawMessage `json:"event"`
	Attempts     int             `json:"deliveryAttempts"`
	Reason       string          `json:"deadLetterReason"`
	Time         time.Time       `json:"deadLetterTime"`
}

// DeadLetters lists dead-lettered deliveries, newest first (all subscriptions when empty).
func (c *Client) DeadLetters(ctx context.Context, subscription string) ([]DeadLetter, error) {
	q := url.Values{}
	if subscription != "" {
		q.Set("subscription", subscription)
	}
	var out struct {
		DeadLetters []DeadLetter `json:"deadLetters"`
	}
	err := c.doJSON(ctx, http.MethodGet, "/api/deadletters", q, nil, &out)
	return out.DeadLetters, err
}
