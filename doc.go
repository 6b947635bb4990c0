// Package orca is the Go SDK of orca, a durable orchestration engine with a compute plane.
//
// An orchestrator is a Go function that coordinates work: it calls activities, waits for external
// events and timers, starts sub-orchestrations and returns a result. orca records every step in a
// durable history and replays the function from that history after a restart, so orchestrators
// survive crashes and can run for days. An activity is an ordinary Go function that does the work;
// it runs at least once per call, and its result is recorded exactly once.
//
// # Orchestrators must be deterministic
//
// Replay re-runs the orchestrator function and feeds it the recorded results, so the function must
// take the same decisions every time it runs:
//
//   - use ctx.CurrentTime, ctx.NewGUID and ctx.CreateTimer instead of time.Now, random numbers and
//     time.Sleep;
//   - do I/O in activities, never in the orchestrator itself;
//   - do not start goroutines that use the context, and do not range over maps to decide which
//     actions to take.
//
// A replay that takes a different path than the recorded history fails the instance with a
// [NonDeterminismError] naming the mismatch; it never silently diverges.
//
// # Registering functions
//
//	r := orca.NewRegistry()
//	r.MustAddOrchestrator("Greet", func(ctx orca.OrchestrationContext) (any, error) {
//		var name string
//		if err := ctx.Input(&name); err != nil {
//			return nil, err
//		}
//		var greeting string
//		err := ctx.CallActivity("SayHello", name).Await(&greeting)
//		return greeting, err
//	})
//	r.MustAddActivity("SayHello", func(ctx orca.ActivityContext) (any, error) {
//		var name string
//		err := ctx.Input(&name)
//		return "Hello, " + name + "!", err
//	})
//
// Inputs and results travel as JSON: anything encoding/json can marshal can be passed, and Await
// and Input unmarshal into the value you point them at. Package orcatest runs orchestrators on a
// virtual clock with stubbed activities, for unit tests of your own orchestrators.
package orca
