package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/storeopen"
)

func newDemoCmd() *cobra.Command {
	var (
		data  string
		n     int
		delay time.Duration
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a demo orchestration on the embedded engine and show its progress",
		Long: `Run the embedded engine (SQLite store) and one orchestration that fans out N
activities, reports progress in its custom status, sleeps on a durable timer and waits for
an external event. Kill it and run it again with the same --data: it resumes where it was.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), cmd.OutOrStdout(), data, n, delay)
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "data directory (default: a temporary directory, removed afterwards)")
	cmd.Flags().IntVar(&n, "n", 1000, "number of activities to fan out")
	cmd.Flags().DurationVar(&delay, "delay", 20*time.Millisecond, "time each activity takes")
	return cmd
}

// demoResult is the demo orchestration's output.
type demoResult struct {
	Items      int    `json:"items"`
	SumSquares int    `json:"sumOfSquares"`
	ApprovedBy string `json:"approvedBy"`
}

func demoRegistry(delay time.Duration) *orca.Registry {
	r := orca.NewRegistry()
	_ = r.AddActivity("Square", func(ctx orca.ActivityContext) (any, error) {
		var x int
		if err := ctx.Input(&x); err != nil {
			return nil, err
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return x * x, nil
	})
	_ = r.AddOrchestrator("Demo", func(ctx orca.OrchestrationContext) (any, error) {
		var n int
		if err := ctx.Input(&n); err != nil {
			return nil, err
		}
		tasks := make([]orca.Task, n)
		for i := range tasks {
			tasks[i] = ctx.CallActivity("Square", i)
		}
		sum := 0
		for i, t := range tasks {
			v, err := orca.Await[int](t)
			if err != nil {
				return nil, err
			}
			sum += v
			if (i+1)%max(1, n/50) == 0 || i+1 == n {
				if err := ctx.SetCustomStatus(compute.Progress{Stage: "fan-out", Completed: i + 1, Total: n}); err != nil {
					return nil, err
				}
			}
		}
		if err := ctx.SetCustomStatus(compute.Progress{Stage: "durable timer", Completed: n, Total: n}); err != nil {
			return nil, err
		}
		if err := ctx.CreateTimer(time.Second).Await(nil); err != nil {
			return nil, err
		}
		if err := ctx.SetCustomStatus(compute.Progress{Stage: stageApproval, Completed: n, Total: n}); err != nil {
			return nil, err
		}
		who, err := orca.Await[string](ctx.WaitForExternalEvent("Approval", orca.WaitTimeout(time.Minute)))
		if err != nil {
			return nil, err
		}
		return demoResult{Items: n, SumSquares: sum, ApprovedBy: who}, nil
	})
	return r
}

// stageApproval is the demo's stage while it waits for its external event.
const stageApproval = "waiting for approval"

// runDemo runs the demo on a node of its own, without HTTP, and drives it through the engine.
func runDemo(ctx context.Context, out io.Writer, data string, n int, delay time.Duration) error {
	if data == "" {
		tmp, err := os.MkdirTemp("", "orca-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		data = tmp
	}
	node, err := app.Open(ctx, app.Config{DataDir: data, NoHTTP: true, Registry: demoRegistry(delay),
		Engine: engine.Config{ActivityConcurrency: 32}})
	if err != nil {
		return err
	}
	defer node.Stop(context.WithoutCancel(ctx))
	eng := node.Engine

	const id = "demo"
	fmt.Fprintf(out, "orca demo: embedded engine, store %s\n", storeopen.Describe("", data))
	if in, err := eng.Get(ctx, id, false); err == nil && !in.Status.Finished() {
		fmt.Fprintf(out, "resuming instance %q (%s) from its history\n", id, in.Status)
	} else {
		input, _ := json.Marshal(n)
		if _, err := eng.StartInstance(ctx, engine.StartParams{Name: "Demo", ID: id, Input: input}); err != nil {
			return err
		}
		fmt.Fprintf(out, "started instance %q: %d activities of %s each, then a 1s durable timer and an external event\n", id, n, delay)
	}
	start := time.Now()
	view := newProgressView(out)
	approved := false
	for {
		in, err := eng.Get(ctx, id, true)
		if err != nil {
			return err
		}
		if in.Status.Finished() {
			view.done()
			fmt.Fprintf(out, "%s in %.2fs, output: %s\n", in.Status, time.Since(start).Seconds(), in.Output)
			return printHistorySummary(ctx, out, eng, id)
		}
		view.show(id, string(in.Status), in.CustomStatus)
		if p, _ := compute.ParseProgress(in.CustomStatus); p.Stage == stageApproval && !approved {
			if err := eng.RaiseEvent(ctx, id, "Approval", json.RawMessage(`"orca demo"`)); err != nil {
				return err
			}
			approved = true
		}
		select {
		case <-ctx.Done():
			view.done()
			fmt.Fprintln(out, "interrupted; run again with the same --data to resume")
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func printHistorySummary(ctx context.Context, out io.Writer, eng *engine.Engine, id string) error {
	counts := map[string]int{}
	for after := -1; ; {
		recs, err := eng.History(ctx, &store.HistoryReadParams{InstanceID: id, After: after, Limit: 1000})
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			counts[string(r.Event.Type)]++
		}
		after = recs[len(recs)-1].Seq
	}
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	fmt.Fprintln(out, "history:")
	for _, t := range types {
		fmt.Fprintf(out, "  %-22s %d\n", t, counts[t])
	}
	return nil
}
