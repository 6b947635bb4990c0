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

// PutSubscription creates or replaces a subscription from its JSON form (filter, destination,
// retryPolicy) and returns it as stored.
func (c *Client) PutSubscription(ctx context.Context, name string, spec any) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.doJSON(ctx, http.MethodPut, "/api/subscriptions/"+url.PathEscape(name), nil, spec, &out)
	return out, err
}

// DeleteSubscription deletes a subscription.
func (c *Client) DeleteSubscription(ctx context.Context, name string) error {
	err := c.doJSON(ctx, http.MethodDelete, "/api/subscriptions/"+url.PathEscape(name), nil, nil, nil)
	return err
}

// Subscriptions lists the subscriptions.
func (c *Client) Subscriptions(ctx context.Context) ([]json.RawMessage, error) {
	var out struct {
		Subscriptions []json.RawMessage `json:"subscriptions"`
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
