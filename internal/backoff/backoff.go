// Package backoff spaces out the retries of loops that keep failing. Its delays are random, so
// that the workers and nodes that failed together (a store restart, an endpoint going away) do
// not all retry at the same moment and fail together again.
//
// It is for in-process loops. An orchestration's RetryPolicy (the root package) is a different
// thing: its delays go into the history and must replay the same, so they have no jitter.
package backoff

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is the delay before each retry of one loop: capped exponential backoff with full
// jitter. The delay after the n-th failure in a row (counting from 0) is drawn uniformly from
// [0, min(Cap, Base·2ⁿ)]; Reset, after a success, starts again from n = 0. Full jitter spreads
// the retries of many loops over the whole interval (see "Exponential Backoff And Jitter", AWS
// Architecture Blog, 2015). The zero Backoff never waits. A Backoff is not safe for concurrent
// use.
type Backoff struct {
	// Base is the ceiling of the first delay.
	Base time.Duration
	// Cap bounds the ceiling as it doubles; 0 means Base (the ceiling does not grow).
	Cap time.Duration
	// Rand draws the delays; nil means math/rand/v2's global source, seeded at random per
	// process. Tests pass a seeded one.
	Rand *rand.Rand

	failures int
}

// Next returns the delay before the next retry and counts one more failure.
func (b *Backoff) Next() time.Duration {
	c := ceiling(b.Base, b.Cap, b.failures)
	if c < b.Cap {
		b.failures++ // once the ceiling is at Cap it stays there
	}
	return full(b.Rand, c)
}

// Reset starts again from the first delay, after a success.
func (b *Backoff) Reset() { b.failures = 0 }

// ceiling is the largest delay after n failures in a row: min(limit, base·2ⁿ), where a limit of
// 0 means base.
func ceiling(base, limit time.Duration, n int) time.Duration {
	if base <= 0 {
		return 0
	}
	if limit <= 0 {
		limit = base
	}
	d := base
	for ; n > 0 && d < limit; n-- {
		if d > limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// full draws a delay uniformly from [0, d]: full jitter.
func full(r *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(int64n(r, int64(min(d, math.MaxInt64-1))+1))
}

// Spread draws a delay uniformly from [¾d, 1¼d]: jitter for a fixed schedule whose steps are
// promised (a webhook's retries), which keeps each step's mean where the schedule puts it.
// r nil means the global source.
func Spread(r *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/4 + time.Duration(int64n(r, int64(d/2)+1))
}

func int64n(r *rand.Rand, n int64) int64 {
	if r == nil {
		return rand.Int64N(n)
	}
	return r.Int64N(n)
}
