// Package events is orca's Event Grid: events (in the Event Grid schema), subscriptions with
// Event Grid's filters and retry policy, and the router that turns a published event into
// effects. Built-in destinations (raise an event on an orchestration, orca's own handlers) take
// effect in the same transaction as the write that caused the event, so they are exactly-once;
// webhooks go through a durable outbox and are delivered at least once, with retries,
// exponential backoff and dead-lettering (dispatcher.go).
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Event types orca emits or understands.
const (
	TypeBlobCreated            = "Microsoft.Storage.BlobCreated"
	TypeSubscriptionValidation = "Microsoft.EventGrid.SubscriptionValidationEvent"
	// TypeMessagePoisoned is emitted when a queue message is moved to its poison queue.
	TypeMessagePoisoned = "Orca.Queue.MessagePoisoned"
)

// DeliveryOutcome is what became of an attempt to deliver an event to a subscription.
type DeliveryOutcome string

// Delivery outcomes. A built-in destination (an orchestration or a handler) is delivered once
// the write that caused the event commits; a webhook attempt is delivered (2xx), retried later,
// or dead-lettered.
const (
	Delivered    DeliveryOutcome = "delivered"
	Retried      DeliveryOutcome = "retried"
	DeadLettered DeliveryOutcome = "dead_lettered"
)

// DeliveryObserver is told of every delivery outcome. It must be fast and safe for concurrent
// use.
type DeliveryObserver func(subscription string, outcome DeliveryOutcome)

// Event is an event in the Event Grid schema.
type Event struct {
	ID              string          `json:"id"`
	Topic           string          `json:"topic,omitempty"`
	Subject         string          `json:"subject"`
	EventType       string          `json:"eventType"`
	EventTime       time.Time       `json:"eventTime"`
	Data            json.RawMessage `json:"data,omitempty"`
	DataVersion     string          `json:"dataVersion"`
	MetadataVersion string          `json:"metadataVersion"`
}

// Validate checks the fields every event needs.
func (e *Event) Validate() error {
	switch {
	case e.ID == "":
		return errors.New("event has no id")
	case e.Subject == "":
		return fmt.Errorf("event %s has no subject", e.ID)
	case e.EventType == "":
		return fmt.Errorf("event %s has no eventType", e.ID)
	case len(e.ID) > 512 || len(e.Subject) > 4096 || len(e.EventType) > 256:
		return fmt.Errorf("event %.64s: id, subject or eventType too long", e.ID)
	}
	return nil
}

// BlobCreatedData is the data of Microsoft.Storage.BlobCreated, in Event Grid's shape.
type BlobCreatedData struct {
	API           string `json:"api"`
	RequestID     string `json:"requestId,omitempty"`
	ETag          string `json:"eTag"`
	ContentType   string `json:"contentType"`
	ContentLength int64  `json:"contentLength"`
	BlobType      string `json:"blobType"`
	URL           string `json:"url"`
	Sequencer     string `json:"sequencer,omitempty"`
}

// MessagePoisonedData is the data of Orca.Queue.MessagePoisoned.
type MessagePoisonedData struct {
	Queue        string          `json:"queue"`
	PoisonQueue  string          `json:"poisonQueue"`
	MessageID    string          `json:"messageId"`
	DequeueCount int             `json:"dequeueCount"`
	LastError    string          `json:"lastError,omitempty"`
	Body         json.RawMessage `json:"body,omitempty"`
	BodyText     string          `json:"bodyText,omitempty"`
}

// BlobSubject is the Event Grid subject of a blob.
func BlobSubject(container, name string) string {
	return "/blobServices/default/containers/" + container + "/blobs/" + name
}

// ParseBlobSubject splits a blob subject into container and name.
func ParseBlobSubject(subject string) (container, name string, ok bool) {
	rest, ok := strings.CutPrefix(subject, "/blobServices/default/containers/")
	if !ok {
		return "", "", false
	}
	container, name, ok = strings.Cut(rest, "/blobs/")
	return container, name, ok && container != "" && name != ""
}

// QueueSubject is the subject of events about a queue.
func QueueSubject(queue string) string { return "/queueServices/default/queues/" + queue }

// Subscription routes the events its filter matches to a destination.
type Subscription struct {
	Name        string      `json:"name" yaml:"name,omitempty"`
	Filter      Filter      `json:"filter" yaml:"filter,omitempty"`
	Destination Destination `json:"destination" yaml:"destination,omitempty"`
	RetryPolicy RetryPolicy `json:"retryPolicy" yaml:"retryPolicy,omitempty"`
	// State is Active, or AwaitingValidation for a webhook whose endpoint has not completed the
	// validation handshake; deliveries wait until it does.
	State string `json:"provisioningState,omitempty" yaml:"provisioningState,omitempty"`
	// Builtin marks the subscriptions orca declares itself.
	Builtin bool `json:"builtin,omitempty" yaml:"builtin,omitempty"`
}

// Subscription states.
const (
	StateActive             = "Active"
	StateAwaitingValidation = "AwaitingValidation"
)

// Filter selects events, as Event Grid's: every set condition must hold. Subject matching is
// case-insensitive unless IsSubjectCaseSensitive.
type Filter struct {
	SubjectBeginsWith      string   `json:"subjectBeginsWith,omitempty" yaml:"subjectBeginsWith,omitempty"`
	SubjectEndsWith        string   `json:"subjectEndsWith,omitempty" yaml:"subjectEndsWith,omitempty"`
	IncludedEventTypes     []string `json:"includedEventTypes,omitempty" yaml:"includedEventTypes,omitempty"`
	IsSubjectCaseSensitive bool     `json:"isSubjectCaseSensitive,omitempty" yaml:"isSubjectCaseSensitive,omitempty"`
}

// Matches reports whether the filter selects the event.
func (f *Filter) Matches(e *Event) bool {
	if len(f.IncludedEventTypes) > 0 {
		found := false
		for _, t := range f.IncludedEventTypes {
			if strings.EqualFold(t, e.EventType) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	subject, begins, ends := e.Subject, f.SubjectBeginsWith, f.SubjectEndsWith
	if !f.IsSubjectCaseSensitive {
		subject, begins, ends = strings.ToLower(subject), strings.ToLower(begins), strings.ToLower(ends)
	}
	return strings.HasPrefix(subject, begins) && strings.HasSuffix(subject, ends)
}

// Destination types.
const (
	// DestinationWebHook POSTs events to EndpointURL.
	DestinationWebHook = "WebHook"
	// DestinationOrchestration raises EventName on the orchestration instance whose id
	// InstanceIDPattern captures from the subject (its group named "instance"), with the event
	// as data.
	DestinationOrchestration = "Orchestration"
	// DestinationHandler runs one of orca's built-in handlers (Handler).
	DestinationHandler = "Handler"
)

// Delivery schemas of webhooks.
const (
	SchemaEventGrid   = "EventGridSchema"
	SchemaCloudEvents = "CloudEventSchemaV1_0"
)

// Destination says where matched events go.
type Destination struct {
	Type string `json:"endpointType" yaml:"endpointType,omitempty"`
	// WebHook
	EndpointURL string `json:"endpointUrl,omitempty" yaml:"endpointUrl,omitempty"`
	Schema      string `json:"eventDeliverySchema,omitempty" yaml:"eventDeliverySchema,omitempty"`
	// Orchestration
	EventName         string `json:"eventName,omitempty" yaml:"eventName,omitempty"`
	InstanceIDPattern string `json:"instanceIdPattern,omitempty" yaml:"instanceIdPattern,omitempty"`
	// Handler
	Handler string `json:"handler,omitempty" yaml:"handler,omitempty"`
}

// RetryPolicy bounds webhook delivery, as Event Grid's (defaults 30 attempts, 1440 minutes).
type RetryPolicy struct {
	MaxDeliveryAttempts      int `json:"maxDeliveryAttempts,omitempty" yaml:"maxDeliveryAttempts,omitempty"`
	EventTimeToLiveInMinutes int `json:"eventTimeToLiveInMinutes,omitempty" yaml:"eventTimeToLiveInMinutes,omitempty"`
}

// Retry defaults and limits (Event Grid's).
const (
	DefaultMaxDeliveryAttempts = 30
	DefaultEventTTLMinutes     = 1440
)

// DefaultBlobInstancePattern captures the instance id from a blob subject whose name starts
// with it: .../blobs/{instance}/...
const DefaultBlobInstancePattern = `^/blobServices/default/containers/[^/]+/blobs/(?P<instance>[^/]+)/`

var subscriptionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{2,63}$`)

// Normalize fills in defaults and checks the subscription; the error names the bad field.
func (s *Subscription) Normalize() error {
	if !subscriptionName.MatchString(s.Name) {
		return fmt.Errorf("name %q: 3 to 64 letters, digits and hyphens, starting with a letter or digit", s.Name)
	}
	if s.RetryPolicy.MaxDeliveryAttempts == 0 {
		s.RetryPolicy.MaxDeliveryAttempts = DefaultMaxDeliveryAttempts
	}
	if s.RetryPolicy.EventTimeToLiveInMinutes == 0 {
		s.RetryPolicy.EventTimeToLiveInMinutes = DefaultEventTTLMinutes
	}
	if s.RetryPolicy.MaxDeliveryAttempts < 1 || s.RetryPolicy.MaxDeliveryAttempts > 30 {
		return fmt.Errorf("retryPolicy.maxDeliveryAttempts %d: must be 1 to 30", s.RetryPolicy.MaxDeliveryAttempts)
	}
	if s.RetryPolicy.EventTimeToLiveInMinutes < 1 || s.RetryPolicy.EventTimeToLiveInMinutes > 1440 {
		return fmt.Errorf("retryPolicy.eventTimeToLiveInMinutes %d: must be 1 to 1440", s.RetryPolicy.EventTimeToLiveInMinutes)
	}
	for _, t := range s.Filter.IncludedEventTypes {
		if t == "" {
			return errors.New("filter.includedEventTypes: empty event type")
		}
	}
	d := &s.Destination
	switch d.Type {
	case DestinationWebHook:
		if !strings.HasPrefix(d.EndpointURL, "http://") && !strings.HasPrefix(d.EndpointURL, "https://") {
			return fmt.Errorf("destination.endpointUrl %q: must be an http or https URL", d.EndpointURL)
		}
		if d.Schema == "" {
			d.Schema = SchemaEventGrid
		}
		if d.Schema != SchemaEventGrid && d.Schema != SchemaCloudEvents {
			return fmt.Errorf("destination.eventDeliverySchema %q: must be %s or %s", d.Schema, SchemaEventGrid, SchemaCloudEvents)
		}
	case DestinationOrchestration:
		if d.EventName == "" {
			return errors.New("destination.eventName: required for an Orchestration destination")
		}
		if d.InstanceIDPattern == "" {
			d.InstanceIDPattern = DefaultBlobInstancePattern
		}
		re, err := regexp.Compile(d.InstanceIDPattern)
		if err != nil {
			return fmt.Errorf("destination.instanceIdPattern: %w", err)
		}
		if re.SubexpIndex("instance") < 0 {
			return errors.New(`destination.instanceIdPattern: needs a group named "instance"`)
		}
	case DestinationHandler:
		if d.Handler == "" {
			return errors.New("destination.handler: required for a Handler destination")
		}
	default:
		return fmt.Errorf("destination.endpointType %q: must be %s, %s or %s", d.Type,
			DestinationWebHook, DestinationOrchestration, DestinationHandler)
	}
	if s.State == "" {
		s.State = StateActive
	}
	return nil
}
