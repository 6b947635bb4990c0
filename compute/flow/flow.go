// Package flow installs the compute flow on an orca node. Package compute holds the flow's
// shapes and its ComputeOrchestrator; this is the rest of it, inside orca: the orchestrator's
// activities on the node's blob store and queue, the flow's containers, the subscriptions and
// handlers that turn an output blob (BlobCreated) or a poisoned work item (MessagePoisoned) into
// the run's ComputeComplete event, and the wake of the scalers when input arrives.
//
// It takes orca's internal components, so only orca's own assembly (internal/app) can call it;
// a program hosts the flow through package host.
package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/events"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/store"
)

// Config is what the flow needs of its node.
type Config struct {
	// Registry receives ComputeOrchestrator and its activities.
	Registry *orca.Registry
	// Router routes the flow's events to its handlers.
	Router *events.Router
	Blobs  blob.Store
	Queues queue.Service
	// WorkQueue is the queue the work items go to (compute.DefaultQueue when empty).
	WorkQueue string
	Clock     clock.Clock
	Logger    *slog.Logger
	// Wake is told, once a blob put is durable, which container received it: a pool or a KEDA
	// stream whose input it is starts at once instead of at its next poll (the seeds'
	// BlobCreated → start a container path). Optional.
	Wake func(container string)
}

// Flow is the compute flow installed on a node.
type Flow struct {
	cfg Config
	// Items counts the items whose completion this node routed.
	Items ItemCounts
}

// Built-in handler and subscription names of the compute flow.
const (
	handlerComputeComplete = "compute-complete"
	handlerComputePoison   = "compute-poison"
	handlerScalerWake      = "scaler-wake"
)

// Install registers the flow's orchestrator, activities and event handlers; Start declares its
// subscriptions and containers.
func Install(cfg Config) (*Flow, error) {
	if cfg.WorkQueue == "" {
		cfg.WorkQueue = compute.DefaultQueue
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Flow{cfg: cfg}
	if err := compute.Register(cfg.Registry, storage{blobs: cfg.Blobs, queues: cfg.Queues}, cfg.WorkQueue); err != nil {
		return nil, fmt.Errorf("register the compute flow: %w", err)
	}
	cfg.Router.RegisterHandler(handlerComputeComplete, computeCompleteHandler(cfg.Blobs, cfg.Clock, cfg.Logger, &f.Items))
	cfg.Router.RegisterHandler(handlerComputePoison, computePoisonHandler(cfg.WorkQueue, cfg.Clock, cfg.Logger, &f.Items))
	wake := cfg.Wake
	if wake == nil {
		wake = func(string) {}
	}
	cfg.Router.RegisterHandler(handlerScalerWake, scalerWakeHandler(wake))
	return f, nil
}

// DeclareSubscriptions puts the flow's built-in subscriptions in place. It runs before the node
// takes a request: a blob put routed before would match none of them.
func (f *Flow) DeclareSubscriptions(ctx context.Context) error {
	for _, s := range subscriptions(f.cfg.WorkQueue) {
		if _, err := f.cfg.Router.Put(ctx, s, false); err != nil {
			return fmt.Errorf("declare subscription %s: %w", s.Name, err)
		}
	}
	return nil
}

// CreateContainers creates the flow's input and output containers where the blob store needs
// containers created (Azure Blob, S3).
func (f *Flow) CreateContainers(ctx context.Context) error {
	if c, ok := f.cfg.Blobs.(blob.ContainerCreator); ok {
		if err := c.CreateContainers(ctx, compute.InputContainer, compute.OutputContainer); err != nil {
			return fmt.Errorf("create the compute flow's containers: %w", err)
		}
	}
	return nil
}

// storage is compute.Storage on the node's blob store and queue.
type storage struct {
	blobs  blob.Store
	queues queue.Service
}

func (s storage) PutBlob(ctx context.Context, container, name string, data []byte, contentType string) error {
	_, err := s.blobs.Put(ctx, container, name, bytes.NewReader(data), contentType)
	return err
}

func (s storage) Enqueue(ctx context.Context, q string, body []byte) error {
	_, err := s.queues.Enqueue(ctx, q, body, queue.EnqueueOptions{})
	return err
}

// maxEventResult is the largest result copied into a ComputeComplete event; a larger one stays
// in its output blob and the run's output names the blob.
const maxEventResult = 64 << 10

// ItemCounts counts the compute items this node has seen finish since it started. They are
// counted as their completion is routed, inside the routing transaction: a transaction that
// rolls back and is retried may count an item twice, so these feed metrics and charts, never
// the run's own bookkeeping.
type ItemCounts struct {
	Completed atomic.Uint64
	Failed    atomic.Uint64
}

// subscriptions are the built-in subscriptions of the compute flow: BlobCreated in the
// output container completes an item, MessagePoisoned from the work queue fails one.
func subscriptions(workQueue string) []events.Subscription {
	return []events.Subscription{
		{Name: handlerComputeComplete, Builtin: true,
			Filter: events.Filter{SubjectBeginsWith: events.BlobSubject(compute.OutputContainer, ""),
				IncludedEventTypes: []string{events.TypeBlobCreated}},
			Destination: events.Destination{Type: events.DestinationHandler, Handler: handlerComputeComplete}},
		{Name: handlerComputePoison, Builtin: true,
			Filter: events.Filter{SubjectBeginsWith: events.QueueSubject(queue.PoisonName(workQueue)) + "/",
				IncludedEventTypes: []string{events.TypeMessagePoisoned}},
			Destination: events.Destination{Type: events.DestinationHandler, Handler: handlerComputePoison}},
		{Name: handlerScalerWake, Builtin: true,
			Filter:      events.Filter{IncludedEventTypes: []string{events.TypeBlobCreated}},
			Destination: events.Destination{Type: events.DestinationHandler, Handler: handlerScalerWake}},
	}
}

// scalerWakeHandler tells the scaler, once a put is durable, which container received a blob:
// a pool whose input it is starts its first workers without waiting for its next poll (the
// seeds' BlobCreated → start a container path).
func scalerWakeHandler(wake func(container string)) events.Handler {
	return events.Handler{After: func(ev *events.Event) {
		if container, _, ok := events.ParseBlobSubject(ev.Subject); ok {
			wake(container)
		}
	}}
}

// computeCompleteHandler raises ComputeComplete on the run an output blob belongs to, with the
// item's result (read from the blob when the event came without its content).
func computeCompleteHandler(blobs blob.Store, clk clock.Clock, log *slog.Logger, counts *ItemCounts) events.Handler {
	return events.Handler{Messages: func(ctx context.Context, ev *events.Event, content []byte) ([]*store.Message, error) {
		container, name, ok := events.ParseBlobSubject(ev.Subject)
		if !ok || container != compute.OutputContainer {
			return nil, nil
		}
		instanceID, inputID, err := compute.ParseOutputBlobName(name)
		if err != nil {
			log.Debug("output blob is not a compute item; ignored", "blob", name, "err", err)
			return nil, nil
		}
		c := compute.Completion{InputID: inputID, OK: true, Blob: container + "/" + name}
		if content == nil {
			content = readSmallBlob(ctx, blobs, ev, container, name, log)
		}
		if content != nil && len(content) <= maxEventResult {
			var out compute.Output
			if err := json.Unmarshal(content, &out); err != nil {
				c.OK, c.Reason = false, fmt.Sprintf("output blob %s is not {input_id, instance_id, result}: %v", c.Blob, err)
			} else {
				c.Result = out.Result
			}
		}
		data, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		if c.OK {
			counts.Completed.Add(1)
		} else {
			counts.Failed.Add(1)
		}
		return []*store.Message{{InstanceID: instanceID, Event: history.NewEventRaised(clk.Now(), compute.EventName, data)}}, nil
	}}
}

// readSmallBlob reads the output blob an event points at when it is small enough to carry its
// result in the event. Only the version the event describes counts (same ETag): an event routed
// before its put commits, or about a blob replaced since, leaves the result in the blob.
func readSmallBlob(ctx context.Context, blobs blob.Store, ev *events.Event, container, name string, log *slog.Logger) []byte {
	var d events.BlobCreatedData
	if err := json.Unmarshal(ev.Data, &d); err == nil && d.ContentLength > maxEventResult {
		return nil
	}
	b, info, err := blob.ReadAll(ctx, blobs, container, name)
	if err != nil {
		log.Debug("read output blob for its result", "blob", container+"/"+name, "err", err)
		return nil
	}
	if d.ETag != "" && !sameETag(info.ETag, d.ETag) {
		return nil
	}
	return b
}

// sameETag compares entity tags as their opaque values: orca's blob stores quote them as HTTP
// does, while Event Grid's BlobCreated (and S3's notifications) carry them bare.
func sameETag(a, b string) bool {
	bare := func(t string) string { return strings.Trim(strings.TrimPrefix(t, "W/"), `"`) }
	return bare(a) == bare(b)
}

// computePoisonHandler raises a failed ComputeComplete for an item whose message went to the
// poison queue, with the last error the workers reported.
func computePoisonHandler(workQueue string, clk clock.Clock, log *slog.Logger, counts *ItemCounts) events.Handler {
	return events.Handler{Messages: func(_ context.Context, ev *events.Event, _ []byte) ([]*store.Message, error) {
		d, item, ok := poisonedWorkItem(ev, workQueue)
		if !ok {
			if d.Queue == workQueue {
				log.Warn("poisoned message is not a compute work item; nobody to tell", "message_id", d.MessageID, "body", d.BodyText)
			}
			return nil, nil
		}
		reason := fmt.Sprintf("failed %d times and was moved to %s", d.DequeueCount, d.PoisonQueue)
		if d.LastError != "" {
			reason += ": " + d.LastError
		}
		data, err := json.Marshal(compute.Completion{InputID: item.InputID, OK: false, Reason: reason})
		if err != nil {
			return nil, err
		}
		counts.Failed.Add(1)
		return []*store.Message{{InstanceID: item.InstanceID, Event: history.NewEventRaised(clk.Now(), compute.EventName, data)}}, nil
	}}
}

// poisonedWorkItem decodes a MessagePoisoned event about the work queue; ok is false for any
// other event.
func poisonedWorkItem(ev *events.Event, workQueue string) (events.MessagePoisonedData, compute.WorkItem, bool) {
	var d events.MessagePoisonedData
	var item compute.WorkItem
	if json.Unmarshal(ev.Data, &d) != nil || d.Queue != workQueue {
		return d, item, false
	}
	if json.Unmarshal(d.Body, &item) != nil || item.InstanceID == "" {
		return d, item, false
	}
	return d, item, true
}
