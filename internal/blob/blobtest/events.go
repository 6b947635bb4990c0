package blobtest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/store"
)

// Recorder is a blob.Events and a blob.Publisher for the tests of backends that emit
// BlobCreated after the put (blob.Emitter): it records the events it builds and the effects it
// is asked to publish, and fails publishing while Fail is set.
type Recorder struct {
	mu        sync.Mutex
	Infos     []blob.Info
	Content   [][]byte
	Published []*store.EventPublishParams
	After     atomic.Int32
	Fail      error
}

var (
	_ blob.Events    = (*Recorder)(nil)
	_ blob.Publisher = (*Recorder)(nil)
)

// BlobCreated records the event and returns one delivery with id "ev-" + ETag.
func (r *Recorder) BlobCreated(_ context.Context, info *blob.Info, content []byte) (store.Effects, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Infos = append(r.Infos, *info)
	r.Content = append(r.Content, content)
	eff := store.Effects{Deliveries: []*store.DeliveryCreate{{Subscription: "hook", EventID: "ev-" + info.ETag}}}
	return eff, func() { r.After.Add(1) }, nil
}

// EventPublish records the effects, or fails with Fail.
func (r *Recorder) EventPublish(_ context.Context, p *store.EventPublishParams) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Fail != nil {
		return false, r.Fail
	}
	r.Published = append(r.Published, p)
	return false, nil
}

// SetFail makes publishing fail with err (nil: succeed).
func (r *Recorder) SetFail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Fail = err
}
