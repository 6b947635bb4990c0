package orca_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/orcatest"
)

// An orchestrator calls activities; the tester runs it in memory.
func Example() {
	r := orca.NewRegistry()
	r.MustAddActivity("SayHello", func(ctx orca.ActivityContext) (any, error) {
		var name string
		err := ctx.Input(&name)
		return "Hello, " + name + "!", err
	})
	r.MustAddOrchestrator("Greetings", func(ctx orca.OrchestrationContext) (any, error) {
		var out []string
		for _, city := range []string{"Tokyo", "Seattle", "London"} {
			s, err := orca.Await[string](ctx.CallActivity("SayHello", city))
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	})
	res, err := orcatest.New(r).Run("greet-1", "Greetings", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, string(res.Output))
	// Output: Completed ["Hello, Tokyo!","Hello, Seattle!","Hello, London!"]
}

// Fan out to parallel activities and fan in with WhenAll.
func ExampleOrchestrationContext_whenAll() {
	r := orca.NewRegistry()
	r.MustAddActivity("Square", func(ctx orca.ActivityContext) (any, error) {
		var x int
		err := ctx.Input(&x)
		return x * x, err
	})
	r.MustAddOrchestrator("SumOfSquares", func(ctx orca.OrchestrationContext) (any, error) {
		tasks := make([]orca.Task, 5)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("Square", i+1)
		}
		var squares []int
		if err := ctx.WhenAll(tasks...).Await(&squares); err != nil {
			return nil, err
		}
		sum := 0
		for _, s := range squares {
			sum += s
		}
		return sum, nil
	})
	res, _ := orcatest.New(r).Run("sum", "SumOfSquares", nil)
	fmt.Println(string(res.Output))
	// Output: 55
}

// Retry a flaky activity with exponential backoff; the waits are durable timers.
func ExampleWithRetry() {
	attempts := 0
	r := orca.NewRegistry()
	r.MustAddActivity("Flaky", func(ctx orca.ActivityContext) (any, error) {
		attempts++
		if attempts < 3 {
			return nil, errors.New("service unavailable")
		}
		return "done", nil
	})
	r.MustAddOrchestrator("Resilient", func(ctx orca.OrchestrationContext) (any, error) {
		start := ctx.CurrentTime()
		v, err := orca.Await[string](ctx.CallActivity("Flaky", nil, orca.WithRetry(orca.RetryPolicy{
			MaxAttempts:        5,
			FirstRetryInterval: time.Second,
			BackoffCoefficient: 2,
		})))
		return fmt.Sprintf("%s after %s", v, ctx.CurrentTime().Sub(start)), err
	})
	res, _ := orcatest.New(r).Run("r", "Resilient", nil)
	fmt.Println(string(res.Output), "in", attempts, "attempts")
	// Output: "done after 3s" in 3 attempts
}

// Wait for a human: an external event with a timeout.
func ExampleOrchestrationContext_waitForExternalEvent() {
	r := orca.NewRegistry()
	r.MustAddOrchestrator("Approval", func(ctx orca.OrchestrationContext) (any, error) {
		approver, err := orca.Await[string](ctx.WaitForExternalEvent("Approved", orca.WaitTimeout(24*time.Hour)))
		if errors.Is(err, orca.ErrTimedOut) {
			return "escalated", nil
		}
		return "approved by " + approver, err
	})
	tester := orcatest.New(r)
	_ = tester.RaiseEvent(2*time.Hour, "req-1", "Approved", "alice")
	res, _ := tester.Run("req-1", "Approval", nil)
	fmt.Println(string(res.Output))

	res, _ = orcatest.New(r).Run("req-2", "Approval", nil)
	fmt.Println(string(res.Output), "at", res.Time.Format(time.RFC3339))
	// Output:
	// "approved by alice"
	// "escalated" at 2026-01-02T00:00:00Z
}

// An eternal orchestration restarts itself with ContinueAsNew to keep its history short.
func ExampleOrchestrationContext_continueAsNew() {
	r := orca.NewRegistry()
	r.MustAddOrchestrator("Countdown", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return "liftoff", nil
		}
		if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
			return nil, err
		}
		ctx.ContinueAsNew(n - 1)
		return nil, nil
	})
	res, _ := orcatest.New(r).Run("c", "Countdown", 10)
	fmt.Println(string(res.Output), "after", res.Time.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	// Output: "liftoff" after 10s
}

// Sub-orchestrations compose workflows; a failure arrives as a TaskFailedError.
func ExampleOrchestrationContext_callSubOrchestrator() {
	r := orca.NewRegistry()
	r.MustAddOrchestrator("Child", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		_ = ctx.Input(&n)
		if n < 0 {
			return nil, errors.New("negative input")
		}
		return n + 1, nil
	})
	r.MustAddOrchestrator("Parent", func(ctx orca.OrchestrationContext) (any, error) {
		ok, err := orca.Await[int](ctx.CallSubOrchestrator("Child", 41))
		if err != nil {
			return nil, err
		}
		_, err = orca.Await[int](ctx.CallSubOrchestrator("Child", -1))
		var failed *orca.TaskFailedError
		if errors.As(err, &failed) {
			return fmt.Sprintf("%d, then %s", ok, failed.Failure.ErrorMessage), nil
		}
		return nil, err
	})
	res, _ := orcatest.New(r).Run("p", "Parent", nil)
	fmt.Println(string(res.Output))
	// Output: "42, then negative input"
}
