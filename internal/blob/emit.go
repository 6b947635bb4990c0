package blob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/store"
)

// EventContentLimit is the largest content a backend that emits after the put (Emitter) hands
// to Events.BlobCreated; larger blobs are announced without their content. It equals the
// embedded backend's default inline limit.
const EventContentLimit = 64 << 10

// eventSeenFor is how long the event id of an emitted BlobCreated is remembered, so that an
// emission repeated within that time is written once (as for ingested events).
const eventSeenFor = 24 * time.Hour

// Publisher writes the effects of an event in a transaction of their own, once per event id.
// store.ComputeBackend implements it.
type Publisher interface {
	EventPublish(ctx context.Context, p *store.EventPublishParams) (duplicate bool, err error)
}

// Emitter emits BlobCreated for backends whose blobs live outside orca's store (S3, Azure Blob),
// which cannot write the event's effects in the transaction that makes the blob visible.
// They call Created after the put succeeded and before Put returns, and fail the put when it
// fails.
//
// Why this keeps the guarantee that every put through orca emits BlobCreated: a put that returns
// success has emitted it durably (the effects are committed with store.EventPublish before Put
// returns). A put whose emission fails returns an error even though the blob is written, and a
// crash between the write and the emission never returns at all; either way the caller has no
// success, so a worker does not acknowledge its work item, which becomes visible again and is
// redone: the put is repeated and emits. What changes compared with the embedded backend is
// only that the blob can be seen for a moment before its event exists, and that a failure can
// leave a written blob without an event until the retry. The consumers of BlobCreated already
// deduplicate (by input_id), so the retry's second event for an item is harmless, and none of
// them needs the event before the blob (the event still never precedes the blob).
type Emitter struct {
	// Events builds the event; nil emits nothing.
	Events Events
	// Store writes its effects (required when Events is set).
	Store Publisher
	// Clock is the time for the deduplication window (default time.Now).
	Clock func() time.Time
}

// Validate checks the emitter's configuration.
func (e *Emitter) Validate() error {
	if e.Events != nil && e.Store == nil {
		return fmt.Errorf("blob events: a store to publish to is required when events are emitted")
	}
	return nil
}

// Created builds BlobCreated for a put that succeeded and commits its effects in their own
// transaction, then runs the event's after hook. content is the blob's content when at most
// EventContentLimit bytes were held in memory, else nil. The event id derives from the blob and
// its ETag, so calling Created twice for one put writes the effects once.
func (e *Emitter) Created(ctx context.Context, info *Info, content []byte) error {
	if e == nil || e.Events == nil {
		return nil
	}
	if len(content) > EventContentLimit {
		content = nil
	}
	ci := *info
	eff, after, err := e.Events.BlobCreated(ctx, &ci, content)
	if err != nil {
		return fmt.Errorf("put blob %s/%s: BlobCreated event: %w", info.Container, info.Name, err)
	}
	now := time.Now()
	if e.Clock != nil {
		now = e.Clock()
	}
	sum := sha256.Sum256([]byte(info.Container + "\x00" + info.Name + "\x00" + info.ETag))
	dup, err := e.Store.EventPublish(ctx, &store.EventPublishParams{EventID: "blob-created-" + hex.EncodeToString(sum[:]),
		Now: now, SeenUntil: now.Add(eventSeenFor), Effects: eff})
	if err != nil {
		return fmt.Errorf("put blob %s/%s: BlobCreated event: %w", info.Container, info.Name, err)
	}
	if !dup && after != nil {
		after()
	}
	return nil
}

// NewETag returns a new quoted random ETag, for backends whose store does not make one that
// changes with every put.
func NewETag() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return `"` + hex.EncodeToString(b[:]) + `"`
}
