package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/orcahq/orca/compute"
)

// The batched work-item routes (/api/work/{queue}/…) are the data plane of orca's own workers:
// a lease returns many items with their inputs inline, a completion writes many outputs with
// their message and input deletes at once. Durations are seconds, as the queue routes take
// them. Every call answers per item, in the order of the request.

// WorkLeaseRequest is the body of POST /api/work/{queue}/lease.
type WorkLeaseRequest struct {
	// Max is the most items to lease (1 to 256).
	Max int `json:"max"`
	// VisibilityTimeout is the lease, in seconds (default 30).
	VisibilityTimeout float64 `json:"visibilityTimeout,omitempty"`
	// Wait long-polls: the server holds the request up to this many seconds for an item.
	Wait float64 `json:"wait,omitempty"`
}

// LeasedItem is a leased work item with its input.
type LeasedItem struct {
	ID              string    `json:"id"`
	PopReceipt      string    `json:"popReceipt"`
	DequeueCount    int       `json:"dequeueCount"`
	NextVisibleTime time.Time `json:"nextVisibleTime"`
	// Item is the message: {input_id, instance_id, path_to_data}.
	Item compute.WorkItem `json:"item"`
	// Input is the input blob's content ({input_id, instance_id, input_data}); absent when
	// Problem says why the item cannot run (fail it: it ends in the poison queue).
	Input   json.RawMessage `json:"input,omitempty"`
	Problem string          `json:"problem,omitempty"`
}

// LeasedItems is the answer of a lease.
type LeasedItems struct {
	Items []*LeasedItem `json:"items"`
}

// WorkCompletion is one finished item of POST /api/work/{queue}/complete: the server writes
// output/{instance_id}/{input_id}.json as {input_id, instance_id, result}, deletes the message
// and the input blob.
type WorkCompletion struct {
	ID         string           `json:"id"`
	PopReceipt string           `json:"popReceipt"`
	Item       compute.WorkItem `json:"item"`
	Result     json.RawMessage  `json:"result"`
}

// WorkCompleteRequest is the body of a completion.
type WorkCompleteRequest struct {
	Items []WorkCompletion `json:"items"`
}

// WorkRelease is one item given back by POST /api/work/{queue}/release: visible again after
// VisibilityTimeout seconds (0: at once), Error recorded as the message's last error. Unstarted
// says the worker never began it (it was leased ahead and the worker is stopping): the delivery
// does not count toward the poison limit where the queue backend can take it back.
type WorkRelease struct {
	ID                string  `json:"id"`
	PopReceipt        string  `json:"popReceipt"`
	VisibilityTimeout float64 `json:"visibilityTimeout,omitempty"`
	Error             string  `json:"error,omitempty"`
	Unstarted         bool    `json:"unstarted,omitempty"`
}

// WorkReleaseRequest is the body of a release.
type WorkReleaseRequest struct {
	Items []WorkRelease `json:"items"`
}

// WorkLease names a held item.
type WorkLease struct {
	ID         string `json:"id"`
	PopReceipt string `json:"popReceipt"`
}

// WorkRenewRequest is the body of POST /api/work/{queue}/renew: every item's lease is extended
// by VisibilityTimeout seconds.
type WorkRenewRequest struct {
	VisibilityTimeout float64     `json:"visibilityTimeout"`
	Items             []WorkLease `json:"items"`
}

// Work outcome statuses.
const (
	// WorkDone: the item was completed, released or renewed.
	WorkDone = "done"
	// WorkLeaseLost: the pop receipt is no longer the message's (its lease ran out and another
	// worker holds it); nothing changed.
	WorkLeaseLost = "leaseLost"
	// WorkNotFound: the message is gone (completed already); nothing changed.
	WorkNotFound = "notFound"
	// WorkInvalid: the item cannot be done as sent (Error says why); nothing changed.
	WorkInvalid = "invalid"
	// WorkFailed: the server could not do it now (Error says why); try again.
	WorkFailed = "failed"
)

// WorkOutcome is what a call did with one item.
type WorkOutcome struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
	// PopReceipt and NextVisibleTime are a renewed lease's.
	PopReceipt      string    `json:"popReceipt,omitempty"`
	NextVisibleTime time.Time `json:"nextVisibleTime,omitzero"`
}

// WorkOutcomes is the answer of a completion, a release or a renewal: one outcome per item, in
// the request's order.
type WorkOutcomes struct {
	Items []WorkOutcome `json:"items"`
}

func workPath(queue, op string) string { return "/api/work/" + url.PathEscape(queue) + "/" + op }

// LeaseWork leases up to req.Max items of queue with their inputs.
func (c *Client) LeaseWork(ctx context.Context, queue string, req WorkLeaseRequest) ([]*LeasedItem, error) {
	var out LeasedItems
	err := c.doJSON(ctx, http.MethodPost, workPath(queue, "lease"), nil, req, &out)
	return out.Items, err
}

// CompleteWork completes items.
func (c *Client) CompleteWork(ctx context.Context, queue string, items []WorkCompletion) ([]WorkOutcome, error) {
	var out WorkOutcomes
	err := c.doJSON(ctx, http.MethodPost, workPath(queue, "complete"), nil, WorkCompleteRequest{Items: items}, &out)
	return out.Items, err
}

// ReleaseWork gives items back.
func (c *Client) ReleaseWork(ctx context.Context, queue string, items []WorkRelease) ([]WorkOutcome, error) {
	var out WorkOutcomes
	err := c.doJSON(ctx, http.MethodPost, workPath(queue, "release"), nil, WorkReleaseRequest{Items: items}, &out)
	return out.Items, err
}

// RenewWork extends the leases of held items by visibility.
func (c *Client) RenewWork(ctx context.Context, queue string, visibility time.Duration, items []WorkLease) ([]WorkOutcome, error) {
	var out WorkOutcomes
	err := c.doJSON(ctx, http.MethodPost, workPath(queue, "renew"), nil,
		WorkRenewRequest{VisibilityTimeout: visibility.Seconds(), Items: items}, &out)
	return out.Items, err
}
