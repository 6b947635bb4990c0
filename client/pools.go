package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Pool is a worker pool the server's scaler sizes: its policy, its workers by state and its
// last decision.
type Pool struct {
	Name                   string      `json:"name"`
	Queue                  string      `json:"queue"`
	Provider               string      `json:"provider"`
	Min                    int         `json:"min"`
	Max                    int         `json:"max"`
	TargetQueueLength      int64       `json:"targetQueueLength"`
	ActivationQueueLength  int64       `json:"activationQueueLength"`
	PollingIntervalSeconds float64     `json:"pollingIntervalSeconds"`
	CooldownSeconds        float64     `json:"cooldownSeconds"`
	Workers                PoolWorkers `json:"workers"`
	// Desired, Metric and Active are the last decision's.
	Desired    int       `json:"desired"`
	Metric     int64     `json:"metric"`
	Active     bool      `json:"active"`
	LastActive time.Time `json:"lastActive"`
	// Decisions counts the decisions taken since the server started.
	Decisions int `json:"decisions"`
}

// PoolWorkers counts a pool's workers by state.
type PoolWorkers struct {
	Starting int `json:"starting"`
	Ready    int `json:"ready"`
	Stopping int `json:"stopping"`
}

// PoolDecision is one scaling decision: the queue length seen (-1 for a decision taken on an
// event), whether the pool was active, the workers it had and the workers decided.
type PoolDecision struct {
	Time    time.Time `json:"time"`
	Pool    string    `json:"pool"`
	Metric  int64     `json:"metric"`
	Active  bool      `json:"active"`
	Desired int       `json:"desired"`
	Actual  int       `json:"actual"`
	Reason  string    `json:"reason"`
	Wake    bool      `json:"wake"`
}

// Pools returns the server's worker pools (none when it runs no scaler).
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	var out struct {
		Pools []Pool `json:"pools"`
	}
	if err := c.doJSON(ctx, http.MethodGet, "/api/pools", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("pools: %w", err)
	}
	return out.Pools, nil
}

// PoolDecisions returns a pool's most recent decisions, oldest first: at most limit (0: the
// server's default, 100; at most 1,000), only those that resized the pool with changesOnly.
func (c *Client) PoolDecisions(ctx context.Context, pool string, limit int, changesOnly bool) ([]PoolDecision, error) {
	q := url.Values{"changesOnly": {strconv.FormatBool(changesOnly)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Decisions []PoolDecision `json:"decisions"`
	}
	if err := c.doJSON(ctx, http.MethodGet, "/api/pools/"+url.PathEscape(pool)+"/decisions", q, nil, &out); err != nil {
		return nil, fmt.Errorf("decisions of pool %s: %w", pool, err)
	}
	return out.Decisions, nil
}
