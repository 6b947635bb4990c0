package scaler

import (
	"strings"
	"testing"
	"time"
)

// step is one poll of a timeline: at second t the queue holds metric messages and the decision
// must be want workers (the pool then has what was decided). wake: an event instead of a poll.
type step struct {
	t      int
	metric int64
	want   int
	reason string // a substring of the decision's reason, when it matters
	wake   bool
}

func runTimeline(t *testing.T, p Policy, steps []step) {
	t.Helper()
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	var st State
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	actual := 0
	for _, s := range steps {
		now := t0.Add(time.Duration(s.t) * time.Second)
		var d Decision
		if s.wake {
			if actual != 0 {
				t.Fatalf("t=%d: a wake decision is for an idle pool", s.t)
			}
			d = p.Woken(&st, now)
		} else {
			d = p.Decide(&st, s.metric, actual, now)
		}
		if d.Desired != s.want || d.Actual != actual {
			t.Fatalf("t=%ds metric %d with %d workers: desired %d, want %d (%s)", s.t, s.metric, actual, d.Desired, s.want, d.Reason)
		}
		if s.reason != "" && !strings.Contains(d.Reason, s.reason) {
			t.Fatalf("t=%ds: reason %q does not mention %q", s.t, d.Reason, s.reason)
		}
		actual = d.Desired
	}
}

func TestPolicyTimelines(t *testing.T) {
	seeds := Policy{Max: 8} // the seeds' ScaledObject: min 0, target 5, activation 0, cooldown 30s
	cases := []struct {
		name   string
		policy Policy
		steps  []step
	}{
		{"seeds: activate, grow at the HPA's rate, hold while draining, cool down to zero", seeds, []step{
			{t: 0, metric: 0, want: 0, reason: "idle"},
			{t: 5, metric: 100, want: 1, reason: "activated"},
			{t: 10, metric: 100, want: 5, reason: "limited to 5"}, // 1 + 4
			{t: 15, metric: 100, want: 5, reason: "limited to 5"}, // the +4 is spent until t=25
			{t: 25, metric: 100, want: 8},                         // 5 → max(9, 10), capped at max 8
			{t: 30, metric: 20, want: 8, reason: "stabilization"}, // wants 4, holds the window's 8
			{t: 35, metric: 0, want: 8, reason: "cooling down"},   // inactive since after t=30
			{t: 59, metric: 0, want: 8, reason: "cooling down"},
			{t: 60, metric: 0, want: 0, reason: "scale to zero"}, // 30 s after the last active poll
			{t: 65, metric: 0, want: 0, reason: "idle"},
			{t: 70, metric: 1, want: 1, reason: "activated"}, // one message activates again
		}},
		{"in-flight messages keep the pool", seeds, []step{
			{t: 0, metric: 3, want: 1},
			{t: 100, metric: 1, want: 1}, // one item in flight: still active, no cooldown
			{t: 200, metric: 1, want: 1},
			{t: 229, metric: 0, want: 1, reason: "cooling down"},
			{t: 230, metric: 0, want: 0},
		}},
		{"activation length beats the target (KEDA's docs example)", Policy{Max: 10, TargetQueueLength: 10, ActivationQueueLength: 50}, []step{
			{t: 0, metric: 40, want: 0, reason: "idle"},
			{t: 5, metric: 50, want: 0}, // strictly more than the activation length is needed
			{t: 10, metric: 51, want: 1, reason: "activated"},
			{t: 15, metric: 51, want: 5}, // ceil(51/10) = 6, limited to 1 + 4
			{t: 20, metric: 40, want: 5, reason: "cooling down"},
			{t: 50, metric: 40, want: 0}, // 40 messages left and yet inactive: KEDA's rule
		}},
		{"min > 0 is always active and never goes to zero", Policy{Min: 2, Max: 6}, []step{
			{t: 0, metric: 0, want: 2, reason: "activated"},
			{t: 5, metric: 0, want: 2},
			{t: 500, metric: 0, want: 2},
			{t: 505, metric: 30, want: 6},
			{t: 510, metric: 0, want: 6, reason: "stabilization"},
			{t: 806, metric: 0, want: 2}, // the window's recommendations have aged out
		}},
		{"percent policy beats +4 on a large pool", Policy{Max: 100, ScaleDownStabilization: -1}, []step{
			{t: 0, metric: 1, want: 1},
			{t: 5, metric: 50, want: 5},
			{t: 20, metric: 50, want: 10},  // 5 → max(9, 10)
			{t: 35, metric: 500, want: 20}, // 10 → max(14, 20)
			{t: 50, metric: 500, want: 40},
			{t: 65, metric: 500, want: 80},
			{t: 80, metric: 500, want: 100},
			{t: 85, metric: 50, want: 10, reason: "scale in to 10"}, // no stabilization: at once
		}},
		{"HPA tolerance: within 10% of the target changes nothing", Policy{Max: 20, ScaleUpPeriod: time.Second}, []step{
			{t: 0, metric: 40, want: 1},
			{t: 2, metric: 40, want: 5},
			{t: 4, metric: 40, want: 8},
			{t: 6, metric: 42, want: 8, reason: "8 is right"}, // 42/40 = 1.05
			{t: 8, metric: 45, want: 9},                       // 45/40 = 1.125
		}},
		{"a wake starts an idle pool and counts as activity", Policy{Max: 4, Cooldown: 10 * time.Second}, []step{
			{t: 0, metric: 0, want: 0},
			{t: 1, wake: true, want: 1, reason: "work arrived"},
			{t: 5, metric: 0, want: 1, reason: "cooling down"}, // the message is not there yet
			{t: 11, metric: 0, want: 0},
		}},
		{"configurable scale-up period", Policy{Max: 8, ScaleUpPeriod: 2 * time.Second}, []step{
			{t: 0, metric: 40, want: 1},
			{t: 1, metric: 40, want: 5},
			{t: 2, metric: 40, want: 5},
			{t: 3, metric: 40, want: 8},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runTimeline(t, c.policy, c.steps) })
	}
}

// TestPolicyNeverExceedsBounds drives random queue lengths through a policy and checks the
// invariants every decision must keep.
func TestPolicyNeverExceedsBounds(t *testing.T) {
	for _, p := range []Policy{{Max: 8}, {Min: 2, Max: 5}, {Max: 1}, {Min: 3, Max: 3}, {Max: 50, ActivationQueueLength: 7}} {
		p = p.WithDefaults()
		var st State
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		actual := 0
		seed := uint64(42)
		for i := range 5000 {
			seed = seed*6364136223846793005 + 1442695040888963407
			metric := int64(seed>>33) % 300
			if i%400 > 300 {
				metric = 0 // long idle stretches, so the cooldown is exercised
			}
			now = now.Add(p.PollingInterval)
			d := p.Decide(&st, metric, actual, now)
			switch {
			case d.Desired > p.Max:
				t.Fatalf("%+v: desired %d above max", p, d.Desired)
			case d.Desired < p.Min:
				t.Fatalf("%+v: desired %d below min", p, d.Desired)
			case d.Desired == 0 && d.Active:
				t.Fatalf("%+v: an active pool scaled to zero: %s", p, d.Reason)
			case actual > 0 && d.Desired > max(actual+p.ScaleUpPods, 2*actual):
				t.Fatalf("%+v: grew %d → %d in one step", p, actual, d.Desired)
			}
			actual = d.Desired
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, c := range []struct {
		p    Policy
		want string
	}{
		{Policy{}, "max workers"},
		{Policy{Max: 2, Min: 3}, "min workers"},
		{Policy{Max: 2, Min: -1}, "min workers"},
		{Policy{Max: 2, TargetQueueLength: -5}, "target queue length"},
		{Policy{Max: 2, ActivationQueueLength: -1}, "activation"},
		{Policy{Max: 2, PollingInterval: time.Millisecond}, "polling interval"},
		{Policy{Max: 2, Cooldown: -time.Second}, "cooldown"},
	} {
		err := c.p.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.p, err, c.want)
		}
	}
	if err := (Policy{Max: 1}).WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
}
