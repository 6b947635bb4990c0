package orca

import (
	"fmt"
	"math"
	"time"
)

// RetryPolicy retries a failed activity or sub-orchestration. Between attempts the orchestrator
// waits on a durable timer: FirstRetryInterval, multiplied by BackoffCoefficient per further
// attempt, capped at MaxRetryInterval. There is no jitter: the delay must come out the same when
// the orchestrator replays, and one instance's retries do not crowd anything.
type RetryPolicy struct {
	// MaxAttempts is the total number of attempts, the first included. Must be at least 1.
	MaxAttempts int
	// FirstRetryInterval is the wait before the second attempt. Must be positive.
	FirstRetryInterval time.Duration
	// BackoffCoefficient multiplies the interval per attempt; 0 means 1 (a constant interval).
	BackoffCoefficient float64
	// MaxRetryInterval caps the interval; 0 means no cap.
	MaxRetryInterval time.Duration
	// RetryTimeout stops retrying once this much time has passed since the first attempt was
	// scheduled; 0 means no limit.
	RetryTimeout time.Duration
	// Handle decides per failure whether to retry; nil retries every failure. It runs inside the
	// orchestrator, so it must be deterministic. Failures marked NonRetriable are never retried.
	Handle func(err error) bool
}

// Validate reports a policy that cannot be applied.
func (p *RetryPolicy) Validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("retry policy: MaxAttempts must be at least 1, got %d", p.MaxAttempts)
	case p.FirstRetryInterval <= 0:
		return fmt.Errorf("retry policy: FirstRetryInterval must be positive, got %s", p.FirstRetryInterval)
	case p.BackoffCoefficient < 0:
		return fmt.Errorf("retry policy: BackoffCoefficient must not be negative, got %g", p.BackoffCoefficient)
	case p.MaxRetryInterval < 0 || p.RetryTimeout < 0:
		return fmt.Errorf("retry policy: MaxRetryInterval and RetryTimeout must not be negative")
	}
	return nil
}

// Delay returns the wait before attempt number next (2 for the first retry).
func (p *RetryPolicy) Delay(next int) time.Duration {
	coef := p.BackoffCoefficient
	if coef == 0 {
		coef = 1
	}
	d := float64(p.FirstRetryInterval) * math.Pow(coef, float64(next-2))
	if p.MaxRetryInterval > 0 && d > float64(p.MaxRetryInterval) {
		return p.MaxRetryInterval
	}
	if d > float64(math.MaxInt64) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// ShouldRetry reports whether a failure of attempt number attempt, which was first scheduled at
// start, is retried at now.
func (p *RetryPolicy) ShouldRetry(err error, attempt int, start, now time.Time) bool {
	if attempt >= p.MaxAttempts || IsNonRetriable(err) {
		return false
	}
	if p.RetryTimeout > 0 && now.Add(p.Delay(attempt+1)).Sub(start) > p.RetryTimeout {
		return false
	}
	return p.Handle == nil || p.Handle(err)
}
