// Package queueopen opens the work queue service a URL names:
//
//	""                                  the queue in orca's store (queue/embedded), the default
//	azqueue://ACCOUNT[?endpoint=URL&encoding=text|base64&prefix=PREFIX]
//	azqueue://[?encoding=…&prefix=…]    Azure Storage Queue (queue/azqueue), the account of
//	                                    $AZURE_STORAGE_CONNECTION_STRING without ACCOUNT
//
// An Azure queue is what lets the seeds' own compute containers and KEDA's azure-queue trigger
// work unchanged with orca as the orchestrator: they read the storage account's queues, and orca
// writes its work items there. Credentials never appear in the URL (see azqueue.Open).
package queueopen

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/clock"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/azqueue"
	"github.com/orcahq/orca/internal/queue/embedded"
	"github.com/orcahq/orca/internal/store"
)

// Deps are what the backends need besides their URL.
type Deps struct {
	// Store is orca's store: the embedded queue keeps its messages there, and the Azure queue
	// publishes its poison reports to it (required).
	Store store.ComputeBackend
	// Poison builds the report of every message moved to a poison queue (nil: none).
	Poison queue.PoisonEvents
	// MaxDequeueCount moves a message to its poison queue after this many dequeues (0: 5).
	MaxDequeueCount int
	Clock           clock.Clock
	Logger          *slog.Logger
	// ObserveDelete is told of every message the embedded queue deletes, with how long it was
	// queued. The Azure queue does not know when a message it deletes was enqueued and tells
	// nothing.
	ObserveDelete func(queue string, sinceEnqueue time.Duration)
	// Getenv reads the environment (default os.Getenv).
	Getenv func(string) string
}

// Check validates rawURL's form without opening anything.
func Check(rawURL string) error {
	if rawURL == "" {
		return nil
	}
	if !strings.HasPrefix(rawURL, "azqueue:") {
		return fmt.Errorf("queue URL %q: the work queue lives in orca's store (no URL) or in Azure Storage Queue (azqueue://ACCOUNT or azqueue://)", schemeOf(rawURL))
	}
	return azqueue.CheckURL(rawURL)
}

// schemeOf returns the scheme of a URL for messages, which must not quote what could be a
// credential.
func schemeOf(rawURL string) string {
	if i := strings.Index(rawURL, ":"); i > 0 {
		return rawURL[:i] + ":…"
	}
	return "…"
}

// Open opens the queue service rawURL names. An Azure queue is checked against the service
// (its endpoint and credentials) before Open returns, so that a wrong account fails the start
// rather than the first run.
func Open(ctx context.Context, rawURL string, d Deps) (queue.Service, error) {
	if err := Check(rawURL); err != nil {
		return nil, err
	}
	if rawURL == "" {
		return embedded.New(embedded.Config{Store: d.Store, MaxDequeueCount: d.MaxDequeueCount, Poison: d.Poison,
			Clock: d.Clock, Logger: d.Logger, ObserveDelete: d.ObserveDelete})
	}
	s, err := azqueue.Open(rawURL, azqueue.Config{MaxDequeueCount: d.MaxDequeueCount, Poison: d.Poison, Store: d.Store,
		Clock: d.Clock, Logger: d.Logger}, d.Getenv)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		return nil, fmt.Errorf("%w (check the account, its queue endpoint and its key)", err)
	}
	return s, nil
}

// CheckQueue reports whether the service can hold queue q (Azure's queue names are shorter
// once a prefix and the poison suffix are added).
func CheckQueue(s queue.Service, q string) error {
	if c, ok := s.(interface{ CheckQueue(string) error }); ok {
		return c.CheckQueue(q)
	}
	return queue.ValidateName(q)
}

// Describe says where the queue is, for banners.
func Describe(rawURL string) string {
	if rawURL == "" {
		return "in the store"
	}
	return rawURL // queue URLs never carry credentials (Check refuses them)
}
