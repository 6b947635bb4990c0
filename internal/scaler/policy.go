// Package scaler sizes worker pools on their queue's length with KEDA's semantics: a pool is
// active while its queue holds more than the activation length; while active it wants
// ceil(length / target) workers, clamped to [max(min, 1), max] and grown no faster than the
// HPA's default scale-up policy allows; it drops to zero only after a cooldown with the pool
// inactive. A BlobCreated in the pool's input starts the first workers without waiting for the
// next poll (the seeds' ACI path). The scaler decides; a Provider (local processes, goroutines,
// later Kubernetes through KEDA's external scaler) carries the decision out.
package scaler

import (
	"fmt"
	"math"
	"time"
)

// Policy is a pool's scaling rule. Zero values take the defaults named on each field, which are
// the seeds' ScaledObject values where they make sense.
type Policy struct {
	// Min is the fewest workers (default 0: scale to zero).
	Min int
	// Max is the most workers (required, ≥ 1).
	Max int
	// TargetQueueLength is the queue length one worker is meant for (KEDA's queueLength,
	// default 5).
	TargetQueueLength int64
	// ActivationQueueLength: the pool is active while the queue holds more than this (default 0).
	ActivationQueueLength int64
	// PollingInterval is how often the queue is measured (default 5s).
	PollingInterval time.Duration
	// Cooldown is how long the pool must be inactive before it scales to zero (default 30s).
	Cooldown time.Duration
	// ScaleUpPods and ScaleUpPercent limit growth per ScaleUpPeriod as the HPA's default
	// scale-up policies do: at most max(+ScaleUpPods, +ScaleUpPercent%) over the count at the
	// start of the period (defaults 4, 100%, 15s).
	ScaleUpPods    int
	ScaleUpPercent int
	ScaleUpPeriod  time.Duration
	// ScaleDownStabilization keeps the highest recommendation of this window when scaling in
	// between Max and one (the HPA's default is 300s; 0 takes it, a negative value turns it off).
	// Scaling to zero is the cooldown's business, not this window's.
	ScaleDownStabilization time.Duration
}

// Defaults.
const (
	DefaultTargetQueueLength      = 5
	DefaultPollingInterval        = 5 * time.Second
	DefaultCooldown               = 30 * time.Second
	DefaultScaleUpPods            = 4
	DefaultScaleUpPercent         = 100
	DefaultScaleUpPeriod          = 15 * time.Second
	DefaultScaleDownStabilization = 300 * time.Second
)

// WithDefaults returns the policy with its zero values replaced by the defaults.
func (p Policy) WithDefaults() Policy {
	if p.TargetQueueLength == 0 {
		p.TargetQueueLength = DefaultTargetQueueLength
	}
	if p.PollingInterval == 0 {
		p.PollingInterval = DefaultPollingInterval
	}
	if p.Cooldown == 0 {
		p.Cooldown = DefaultCooldown
	}
	if p.ScaleUpPods == 0 {
		p.ScaleUpPods = DefaultScaleUpPods
	}
	if p.ScaleUpPercent == 0 {
		p.ScaleUpPercent = DefaultScaleUpPercent
	}
	if p.ScaleUpPeriod == 0 {
		p.ScaleUpPeriod = DefaultScaleUpPeriod
	}
	switch {
	case p.ScaleDownStabilization == 0:
		p.ScaleDownStabilization = DefaultScaleDownStabilization
	case p.ScaleDownStabilization < 0:
		p.ScaleDownStabilization = 0
	}
	return p
}

// Validate says what is wrong with a policy (after WithDefaults).
func (p Policy) Validate() error {
	switch {
	case p.Max < 1:
		return fmt.Errorf("max workers must be at least 1, not %d", p.Max)
	case p.Min < 0 || p.Min > p.Max:
		return fmt.Errorf("min workers must be from 0 to max (%d), not %d", p.Max, p.Min)
	case p.TargetQueueLength < 1:
		return fmt.Errorf("target queue length must be at least 1, not %d", p.TargetQueueLength)
	case p.ActivationQueueLength < 0:
		return fmt.Errorf("activation queue length must not be negative")
	case p.PollingInterval < 10*time.Millisecond:
		return fmt.Errorf("polling interval must be at least 10ms, not %s", p.PollingInterval)
	case p.Cooldown < 0:
		return fmt.Errorf("cooldown must not be negative")
	case p.ScaleUpPods < 0 || p.ScaleUpPercent < 0 || p.ScaleUpPeriod < 0:
		return fmt.Errorf("scale-up limits must not be negative")
	}
	return nil
}

// State is what a pool's decisions remember between polls.
type State struct {
	// LastActive is the last time the pool was active (zero: never).
	LastActive time.Time
	// history holds recent decisions' counts: scale-ups within ScaleUpPeriod and
	// recommendations within ScaleDownStabilization.
	history []sample
}

type sample struct {
	at          time.Time
	recommended int // the clamped recommendation of that poll
	added       int // workers the HPA rule added (KEDA's own 0 → 1 is not counted)
}

// Decision is one poll's outcome.
type Decision struct {
	Time time.Time `json:"time"`
	Pool string    `json:"pool"`
	// Metric is the queue length the decision saw (visible + in flight), -1 if unknown.
	Metric int64 `json:"metric"`
	Active bool  `json:"active"`
	// Desired is the worker count decided; Actual the count the pool had (starting + ready).
	Desired int    `json:"desired"`
	Actual  int    `json:"actual"`
	Reason  string `json:"reason"`
	// Wake is true for a decision taken on an event rather than a poll.
	Wake bool `json:"wake,omitempty"`
}

// Changed reports whether the decision changes the pool's size.
func (d Decision) Changed() bool { return d.Desired != d.Actual }

// Decide applies KEDA's semantics to one measurement of the queue: metric is its approximate
// length (visible + in flight), actual the pool's current worker count.
func (p Policy) Decide(st *State, metric int64, actual int, now time.Time) Decision {
	d := Decision{Time: now, Metric: metric, Actual: actual}
	st.prune(now, p)
	d.Active = metric > p.ActivationQueueLength || p.Min > 0
	if d.Active {
		st.LastActive = now
	}
	switch {
	case !d.Active && actual == 0:
		d.Desired, d.Reason = 0, "idle"
	case !d.Active && p.Min == 0:
		// KEDA's executor: inactive, min 0 → straight to zero once the cooldown has passed.
		if !st.LastActive.IsZero() && now.Sub(st.LastActive) < p.Cooldown {
			d.Desired = actual
			d.Reason = fmt.Sprintf("inactive (%d ≤ activation %d); cooling down until %s", metric, p.ActivationQueueLength,
				st.LastActive.Add(p.Cooldown).Format(time.RFC3339))
		} else {
			d.Desired, d.Reason = 0, fmt.Sprintf("inactive for the cooldown (%s): scale to zero", p.Cooldown)
		}
	case actual == 0:
		// KEDA's activation 0 → max(min, 1); the HPA takes over from there.
		d.Desired = max(p.Min, 1)
		d.Reason = fmt.Sprintf("activated: queue %d > activation %d", metric, p.ActivationQueueLength)
	default:
		d.Desired, d.Reason = p.hpa(st, metric, actual, now)
	}
	added := 0
	if actual > 0 && d.Desired > actual {
		// Only the HPA's own scale-ups use its budget; KEDA's 0 → 1 does not.
		added = d.Desired - actual
	}
	st.history = append(st.history, sample{at: now, recommended: p.recommend(metric), added: added})
	return d
}

// Woken decides for an idle pool on an event that says work is arriving (a BlobCreated in the
// pool's input): it starts max(min, 1) workers at once and counts as active from now.
func (p Policy) Woken(st *State, now time.Time) Decision {
	st.prune(now, p)
	st.LastActive = now
	d := Decision{Time: now, Metric: -1, Active: true, Desired: max(p.Min, 1), Wake: true,
		Reason: "work arrived (BlobCreated in the pool's input): start without waiting for the next poll"}
	st.history = append(st.history, sample{at: now, recommended: d.Desired})
	return d
}

// hpaTolerance is the HPA's default: a usage ratio within 10% of 1 changes nothing.
const hpaTolerance = 0.1

// recommend is the HPA's AverageValue rule clamped to [max(min, 1), max].
func (p Policy) recommend(metric int64) int {
	want := int(math.Ceil(float64(metric) / float64(p.TargetQueueLength)))
	return min(max(want, p.Min, 1), p.Max)
}

// hpa sizes an active pool between one and Max: the recommendation, grown at most as the
// scale-up policy allows and shrunk no lower than the highest recommendation in the
// stabilization window.
func (p Policy) hpa(st *State, metric int64, actual int, now time.Time) (int, string) {
	want := p.recommend(metric)
	base := fmt.Sprintf("queue %d / target %d", metric, p.TargetQueueLength)
	if ratio := float64(metric) / float64(p.TargetQueueLength*int64(actual)); math.Abs(1-ratio) <= hpaTolerance {
		want = actual // within the HPA's tolerance: no change
	}
	switch {
	case want > actual:
		// The HPA's limit is relative to the count at the start of the period: the count now
		// less what it added within the period.
		start := actual
		for _, s := range st.history {
			if now.Sub(s.at) < p.ScaleUpPeriod {
				start -= s.added
			}
		}
		start = max(start, 0)
		limit := max(start+p.ScaleUpPods, start+start*p.ScaleUpPercent/100)
		if want > limit {
			return max(limit, actual), fmt.Sprintf("%s wants %d; scale-up limited to %d per %s", base, want, max(limit, actual), p.ScaleUpPeriod)
		}
		return want, fmt.Sprintf("%s: scale out to %d", base, want)
	case want < actual:
		keep := want
		for _, s := range st.history {
			if now.Sub(s.at) < p.ScaleDownStabilization && s.recommended > keep {
				keep = s.recommended
			}
		}
		keep = min(keep, actual)
		if keep > want {
			return keep, fmt.Sprintf("%s wants %d; holding %d (scale-down stabilization %s)", base, want, keep, p.ScaleDownStabilization)
		}
		return want, fmt.Sprintf("%s: scale in to %d", base, want)
	default:
		return actual, fmt.Sprintf("%s: %d is right", base, actual)
	}
}

// prune forgets samples older than both windows.
func (st *State) prune(now time.Time, p Policy) {
	keep := max(p.ScaleUpPeriod, p.ScaleDownStabilization)
	i := 0
	for i < len(st.history) && now.Sub(st.history[i].at) >= keep {
		i++
	}
	st.history = st.history[i:]
}
