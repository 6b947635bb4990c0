package orcatest_test

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/orcatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustRun(t *testing.T, tester *orcatest.Tester, id, name string, input any) *orcatest.Result {
	t.Helper()
	res, err := tester.Run(id, name, input)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func wantStatus(t *testing.T, res *orcatest.Result, want orcatest.Status) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("status = %s, want %s (failure: %v, output %s)", res.Status, want, res.Failure, res.Output)
	}
}

// wantOutput checks that the orchestration completed with output want (JSON).
func wantOutput(t *testing.T, res *orcatest.Result, want string) {
	t.Helper()
	wantStatus(t, res, orcatest.StatusCompleted)
	if string(res.Output) != want {
		t.Fatalf("output = %s, want %s", res.Output, want)
	}
}

func registry(t *testing.T, orchestrators map[string]orca.Orchestrator, activities map[string]orca.Activity) *orca.Registry {
	t.Helper()
	r := orca.NewRegistry()
	for n, fn := range orchestrators {
		if err := r.AddOrchestrator(n, fn); err != nil {
			t.Fatal(err)
		}
	}
	for n, fn := range activities {
		if err := r.AddActivity(n, fn); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func double(ctx orca.ActivityContext) (any, error) {
	var n int
	if err := ctx.Input(&n); err != nil {
		return nil, err
	}
	return 2 * n, nil
}

func TestSequenceAndFanOut(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Seq": func(ctx orca.OrchestrationContext) (any, error) {
			sum := 0
			for i := 1; i <= 5; i++ {
				v, err := orca.Await[int](ctx.CallActivity("Double", i))
				if err != nil {
					return nil, err
				}
				sum += v
			}
			return sum, nil
		},
		"FanOut": func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			tasks := make([]orca.Task, n)
			for i := range tasks {
				tasks[i] = ctx.CallActivity("Double", i)
			}
			var out []int
			err := ctx.WhenAll(tasks...).Await(&out)
			return out, err
		},
	}, map[string]orca.Activity{"Double": double})
	tester := orcatest.New(r)

	res := mustRun(t, tester, "seq", "Seq", nil)
	wantStatus(t, res, orcatest.StatusCompleted)
	var sum int
	if err := res.Decode(&sum); err != nil || sum != 30 {
		t.Fatalf("sum = %d (%v), want 30", sum, err)
	}

	res = mustRun(t, tester, "fan", "FanOut", 100)
	wantStatus(t, res, orcatest.StatusCompleted)
	var out []int
	if err := res.Decode(&out); err != nil || len(out) != 100 || out[99] != 198 {
		t.Fatalf("out = %v (%v)", out, err)
	}
}

func TestTimersUseVirtualClock(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Sleepy": func(ctx orca.OrchestrationContext) (any, error) {
			start := ctx.CurrentTime()
			if err := ctx.CreateTimer(72 * time.Hour).Await(nil); err != nil {
				return nil, err
			}
			return ctx.CurrentTime().Sub(start).String(), nil
		},
	}, nil)
	res := mustRun(t, orcatest.New(r), "i", "Sleepy", nil)
	wantOutput(t, res, `"72h0m0s"`)
}

func TestExternalEventsFIFOAndBufferedBeforeWait(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Collect": func(ctx orca.OrchestrationContext) (any, error) {
			// Sleep first: the events arrive while nobody waits and must not be lost.
			if err := ctx.CreateTimer(time.Hour).Await(nil); err != nil {
				return nil, err
			}
			var got []string
			for i := 0; i < 3; i++ {
				v, err := orca.Await[string](ctx.WaitForExternalEvent("Item"))
				if err != nil {
					return nil, err
				}
				got = append(got, v)
			}
			return strings.Join(got, ","), nil
		},
	}, nil)
	tester := orcatest.New(r)
	for i, v := range []string{"a", "b", "c"} {
		if err := tester.RaiseEvent(time.Duration(i)*time.Minute, "i", "item", v); err != nil {
			t.Fatal(err)
		}
	}
	res := mustRun(t, tester, "i", "Collect", nil)
	wantOutput(t, res, `"a,b,c"`)
}

func TestWaitForExternalEventTimeout(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Approve": func(ctx orca.OrchestrationContext) (any, error) {
			err := ctx.WaitForExternalEvent("Approval", orca.WaitTimeout(time.Hour)).Await(nil)
			if errors.Is(err, orca.ErrTimedOut) {
				// A late event must go to the next waiter, not to the timed-out one.
				v, err := orca.Await[string](ctx.WaitForExternalEvent("Approval"))
				return "timed out, then " + v, err
			}
			return "approved", err
		},
	}, nil)
	tester := orcatest.New(r)
	if err := tester.RaiseEvent(2*time.Hour, "i", "Approval", "late"); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, tester, "i", "Approve", nil)
	wantOutput(t, res, `"timed out, then late"`)
}

func TestRetryPolicy(t *testing.T) {
	calls := 0
	r := registry(t, map[string]orca.Orchestrator{
		"Retry": func(ctx orca.OrchestrationContext) (any, error) {
			start := ctx.CurrentTime()
			v, err := orca.Await[string](ctx.CallActivity("Flaky", nil, orca.WithRetry(orca.RetryPolicy{
				MaxAttempts: 4, FirstRetryInterval: time.Second, BackoffCoefficient: 2,
			})))
			return fmt.Sprintf("%s after %s", v, ctx.CurrentTime().Sub(start)), err
		},
		"GiveUp": func(ctx orca.OrchestrationContext) (any, error) {
			return nil, ctx.CallActivity("Flaky", nil, orca.WithRetry(orca.RetryPolicy{
				MaxAttempts: 5, FirstRetryInterval: time.Second,
				Handle: func(err error) bool { return !strings.Contains(err.Error(), "fatal") },
			})).Await(nil)
		},
	}, map[string]orca.Activity{"Flaky": func(ctx orca.ActivityContext) (any, error) {
		calls++
		if calls < 3 {
			return nil, fmt.Errorf("transient %d", calls)
		}
		if calls < 10 && calls >= 5 {
			return nil, errors.New("fatal")
		}
		return "ok", nil
	}})
	tester := orcatest.New(r)
	res := mustRun(t, tester, "a", "Retry", nil)
	wantStatus(t, res, orcatest.StatusCompleted)
	// Two failures: waits of 1s and 2s.
	if string(res.Output) != `"ok after 3s"` || calls != 3 {
		t.Fatalf("output = %s after %d calls", res.Output, calls)
	}
	calls = 4
	res = mustRun(t, tester, "b", "GiveUp", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if calls != 5 || !strings.Contains(res.Failure.ErrorMessage, "fatal") {
		t.Fatalf("calls = %d, failure = %v: the handler must stop retries", calls, res.Failure)
	}
}

func TestNonRetriableStopsRetries(t *testing.T) {
	calls := 0
	r := registry(t, map[string]orca.Orchestrator{
		"O": func(ctx orca.OrchestrationContext) (any, error) {
			return nil, ctx.CallActivity("A", nil, orca.WithRetry(orca.RetryPolicy{MaxAttempts: 5, FirstRetryInterval: time.Second})).Await(nil)
		},
	}, map[string]orca.Activity{"A": func(orca.ActivityContext) (any, error) {
		calls++
		return nil, orca.NonRetriable(errors.New("bad input"))
	}})
	res := mustRun(t, orcatest.New(r), "i", "O", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if calls != 1 {
		t.Fatalf("calls = %d, want 1", calls)
	}
}

func TestSubOrchestratorsAndWhenAny(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Parent": func(ctx orca.OrchestrationContext) (any, error) {
			child := ctx.CallSubOrchestrator("Child", 21, orca.WithInstanceID("kid"))
			timeout := ctx.CreateTimer(time.Hour)
			i, err := orca.Await[int](ctx.WhenAny(child, timeout))
			if err != nil || i != 0 {
				return nil, fmt.Errorf("winner %d: %w", i, err)
			}
			return orca.Await[int](child)
		},
		"Child": func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			return orca.Await[int](ctx.CallActivity("Double", n))
		},
		"FailingParent": func(ctx orca.OrchestrationContext) (any, error) {
			err := ctx.CallSubOrchestrator("Failing", nil).Await(nil)
			var tf *orca.TaskFailedError
			if !errors.As(err, &tf) {
				return nil, fmt.Errorf("want TaskFailedError, got %w", err)
			}
			return tf.Failure.ErrorMessage, nil
		},
		"Failing": func(ctx orca.OrchestrationContext) (any, error) { return nil, errors.New("boom") },
	}, map[string]orca.Activity{"Double": double})
	tester := orcatest.New(r)
	res := mustRun(t, tester, "p", "Parent", nil)
	wantOutput(t, res, "42")
	res = mustRun(t, tester, "fp", "FailingParent", nil)
	wantOutput(t, res, `"boom"`)
}

func TestContinueAsNewCarriesOverEvents(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Counter": func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			if n == 3 {
				return orca.Await[string](ctx.WaitForExternalEvent("Done"))
			}
			// Let the event arrive during the first execution, unconsumed.
			if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
				return nil, err
			}
			ctx.ContinueAsNew(n + 1)
			return nil, nil
		},
	}, nil)
	tester := orcatest.New(r)
	if err := tester.RaiseEvent(30*time.Second, "c", "Done", "carried"); err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, tester, "c", "Counter", 0)
	wantOutput(t, res, `"carried"`)
	if res.History[1] != "ExecutionStarted" || len(res.History) > 12 {
		t.Fatalf("history of the last execution = %v", res.History)
	}
}

func TestSuspendResumeTerminate(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Waiter": func(ctx orca.OrchestrationContext) (any, error) {
			v, err := orca.Await[string](ctx.WaitForExternalEvent("Go"))
			return "got " + v, err
		},
	}, nil)
	tester := orcatest.New(r)
	tester.Suspend(time.Minute, "w", "pause")
	if err := tester.RaiseEvent(2*time.Minute, "w", "Go", "x"); err != nil {
		t.Fatal(err)
	}
	tester.Resume(3*time.Minute, "w", "continue")
	res := mustRun(t, tester, "w", "Waiter", nil)
	wantStatus(t, res, orcatest.StatusCompleted)
	if !res.Time.Equal(time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC)) {
		t.Fatalf("completed at %s: the event must wait for the resume", res.Time)
	}

	tester = orcatest.New(r)
	tester.Terminate(time.Minute, "w", "no longer needed")
	res = mustRun(t, tester, "w", "Waiter", nil)
	wantStatus(t, res, orcatest.StatusTerminated)
	if string(res.Output) != `"no longer needed"` {
		t.Fatalf("output = %s", res.Output)
	}
}

func TestBlockedInstanceIsReported(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Forever": func(ctx orca.OrchestrationContext) (any, error) {
			return nil, ctx.WaitForExternalEvent("never").Await(nil)
		},
	}, nil)
	res := mustRun(t, orcatest.New(r), "f", "Forever", nil)
	if res.Status != orcatest.StatusRunning || !res.Blocked {
		t.Fatalf("status = %s blocked=%v", res.Status, res.Blocked)
	}
}

func TestNonDeterminismIsCaught(t *testing.T) {
	flip := false
	r := registry(t, map[string]orca.Orchestrator{
		"Flaky": func(ctx orca.OrchestrationContext) (any, error) {
			// Wrong: branches on state outside the history.
			flip = !flip
			name := "A"
			if !flip {
				name = "B"
			}
			if err := ctx.CallActivity(name, nil).Await(nil); err != nil {
				return nil, err
			}
			return nil, ctx.CallActivity("A", nil).Await(nil)
		},
	}, map[string]orca.Activity{
		"A": func(orca.ActivityContext) (any, error) { return nil, nil },
		"B": func(orca.ActivityContext) (any, error) { return nil, nil },
	})
	res := mustRun(t, orcatest.New(r), "n", "Flaky", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if res.Failure.ErrorType != "NonDeterminismError" || !strings.Contains(res.Failure.ErrorMessage, `activity "A"`) ||
		!strings.Contains(res.Failure.ErrorMessage, `activity "B"`) {
		t.Fatalf("failure = %v, want a NonDeterminismError naming both activities", res.Failure)
	}
}

func TestPanicsAndMissingFunctionsFailCleanly(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Panics": func(ctx orca.OrchestrationContext) (any, error) { panic("oh no") },
		"CallsMissing": func(ctx orca.OrchestrationContext) (any, error) {
			return nil, ctx.CallActivity("Nope", nil).Await(nil)
		},
		"CallsMissingChild": func(ctx orca.OrchestrationContext) (any, error) {
			return nil, ctx.CallSubOrchestrator("Nope", nil).Await(nil)
		},
	}, nil)
	tester := orcatest.New(r)
	res := mustRun(t, tester, "p", "Panics", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if res.Failure.ErrorType != "panic" || res.Failure.StackTrace == "" {
		t.Fatalf("failure = %+v", res.Failure)
	}
	res = mustRun(t, tester, "m", "CallsMissing", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	res = mustRun(t, tester, "c", "CallsMissingChild", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if !strings.Contains(res.Failure.ErrorMessage, "OrchestratorNotFound") {
		t.Fatalf("failure = %v", res.Failure)
	}
}

// An activity declared remote has no function here: a test stubs it, and one that does not is
// told so.
func TestRemoteActivitiesAreStubbed(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"CallsRemote": func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			err := ctx.CallActivity("Remote", 21).Await(&n)
			return n, err
		},
	}, nil).MustAddRemoteActivity("Remote")
	res := mustRun(t, orcatest.New(r), "unstubbed", "CallsRemote", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if !strings.Contains(res.Failure.ErrorMessage, "declared remote") {
		t.Fatalf("failure = %v, want it to say the activity is declared remote", res.Failure)
	}
	tester := orcatest.New(r)
	tester.Stub("Remote", double)
	res = mustRun(t, tester, "stubbed", "CallsRemote", nil)
	wantStatus(t, res, orcatest.StatusCompleted)
	if string(res.Output) != "42" {
		t.Fatalf("output %s, want 42", res.Output)
	}
}

func TestGUIDsAreDeterministicAndUnique(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"G": func(ctx orca.OrchestrationContext) (any, error) {
			a := ctx.NewGUID()
			if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
				return nil, err
			}
			return []string{a, ctx.NewGUID(), ctx.NewGUID()}, nil
		},
	}, nil)
	res1 := mustRun(t, orcatest.New(r), "g", "G", nil)
	res2 := mustRun(t, orcatest.New(r), "g", "G", nil)
	var a, b []string
	if err := res1.Decode(&a); err != nil {
		t.Fatal(err)
	}
	if err := res2.Decode(&b); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(a) != fmt.Sprint(b) || a[0] == a[1] || a[1] == a[2] {
		t.Fatalf("guids %v vs %v", a, b)
	}
}

func TestCustomStatus(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"S": func(ctx orca.OrchestrationContext) (any, error) {
			for i := 1; i <= 3; i++ {
				if err := ctx.SetCustomStatus(map[string]int{"done": i}); err != nil {
					return nil, err
				}
				if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
					return nil, err
				}
			}
			return nil, nil
		},
	}, nil)
	res := mustRun(t, orcatest.New(r), "s", "S", nil)
	if string(res.CustomStatus) != `{"done":3}` {
		t.Fatalf("custom status = %s", res.CustomStatus)
	}
}

// TestReplayAndCacheAgree runs the same orchestrations twice: once on one executor kept across
// turns (the engine's cache hit) and once replaying the whole history on a fresh executor before
// every turn (a cache miss). Outputs, statuses and histories must be identical.
func TestReplayAndCacheAgree(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Mixed": func(ctx orca.OrchestrationContext) (any, error) {
			var total int
			tasks := make([]orca.Task, 20)
			for i := range tasks {
				tasks[i] = ctx.CallActivity("Double", i, orca.WithRetry(orca.RetryPolicy{MaxAttempts: 3, FirstRetryInterval: time.Second}))
			}
			for i, task := range tasks {
				v, err := orca.Await[int](task)
				if err != nil {
					return nil, err
				}
				total += v
				if i%5 == 0 {
					if err := ctx.CreateTimer(time.Minute).Await(nil); err != nil {
						return nil, err
					}
					if err := ctx.SetCustomStatus(i); err != nil {
						return nil, err
					}
				}
			}
			ev, err := orca.Await[int](ctx.WaitForExternalEvent("bonus", orca.WaitTimeout(time.Hour)))
			if err != nil {
				return nil, err
			}
			child, err := orca.Await[int](ctx.CallSubOrchestrator("Child", total))
			if err != nil {
				return nil, err
			}
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			if n < 2 {
				ctx.ContinueAsNew(n + 1)
				return nil, nil
			}
			return []any{total, ev, child, ctx.NewGUID()}, nil
		},
		"Child": func(ctx orca.OrchestrationContext) (any, error) {
			var n int
			if err := ctx.Input(&n); err != nil {
				return nil, err
			}
			return orca.Await[int](ctx.CallActivity("Double", n))
		},
	}, map[string]orca.Activity{"Double": double})
	run := func(opts ...orcatest.Option) *orcatest.Result {
		tester := orcatest.New(r, opts...)
		for i := 0; i < 3; i++ {
			if err := tester.RaiseEvent(time.Duration(i)*30*time.Minute, "m", "bonus", i+1); err != nil {
				t.Fatal(err)
			}
		}
		return mustRun(t, tester, "m", "Mixed", 0)
	}
	cached := run(orcatest.WithoutReplayCheck())
	replayed := run()
	wantStatus(t, cached, orcatest.StatusCompleted)
	if !reflect.DeepEqual(cached, replayed) {
		t.Fatalf("cached and replayed runs differ:\n cached   %+v\n replayed %+v", cached, replayed)
	}
}

// TestLoggerIsQuietDuringReplay: the tester replays every turn from history, so without the
// replay-aware logger each line would be logged once per later turn.
func TestLoggerIsQuietDuringReplay(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	r := registry(t, map[string]orca.Orchestrator{
		"Chatty": func(ctx orca.OrchestrationContext) (any, error) {
			for i := 0; i < 4; i++ {
				ctx.Logger().Info("step", "i", i, "replaying", ctx.IsReplaying())
				if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
					return nil, err
				}
			}
			return nil, nil
		},
	}, nil)
	res := mustRun(t, orcatest.New(r, orcatest.WithLogger(logger)), "c", "Chatty", nil)
	wantStatus(t, res, orcatest.StatusCompleted)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("logged %d lines, want 4 (one per step):\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, fmt.Sprintf("i=%d replaying=false", i)) || !strings.Contains(l, "instance_id=c") {
			t.Fatalf("line %d = %q", i, l)
		}
	}
}

func TestFailWithOutputKeepsTheOutput(t *testing.T) {
	r := registry(t, map[string]orca.Orchestrator{
		"Partial": func(ctx orca.OrchestrationContext) (any, error) {
			return nil, orca.FailWithOutput(map[string]int{"done": 9, "failed": 1}, errors.New("1 of 10 items failed"))
		},
	}, nil)
	res := mustRun(t, orcatest.New(r), "p", "Partial", nil)
	wantStatus(t, res, orcatest.StatusFailed)
	if string(res.Output) != `{"done":9,"failed":1}` || res.Failure.ErrorMessage != "1 of 10 items failed" {
		t.Fatalf("output %s, failure %+v", res.Output, res.Failure)
	}
}
