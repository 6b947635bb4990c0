package worker

import (
	"context"
	"encoding/json"

	"github.com/orcahq/orca/compute"
)

// ItemAlgorithm is an Algorithm told which item it computes (a long-lived process is sent the
// item's ids with its input_data). When the configured Algorithm implements it, the worker calls
// ComputeItem instead of Compute.
type ItemAlgorithm interface {
	Algorithm
	ComputeItem(ctx context.Context, item compute.WorkItem, input json.RawMessage) (json.RawMessage, error)
}

// Closer is an Algorithm holding resources (processes): whoever made it closes it once no Run
// uses it any more (Run does not: a pool may run it again).
type Closer interface {
	Close() error
}
