// Command hostapp is a program of its own — a separate Go module — that hosts its orchestrators
// and activities in orca with package host and serves them through the Durable Functions API:
//
//	go run . --listen 127.0.0.1:7072 --data ./data
//	curl -X POST -H 'Content-Type: application/json' -d 10 \
//	  http://127.0.0.1:7072/runtime/webhooks/durabletask/orchestrators/SumOfSquares
//
// The answer is Durable Functions' check-status payload; its statusQueryGetUri shows the run,
// Completed with output 385 (1² + … + 10²). It prints the API's URL on stdout once it serves,
// logs on stderr, and stops cleanly on Ctrl-C; unfinished runs resume at the next start.
//
// On a PostgreSQL task hub, more copies share the work, and copies started with
// --activities-only run only its Square activities (no orchestrations, no API):
//
//	go run . --store postgres://… --blob file:///shared/dir --listen 127.0.0.1:7072
//	go run . --store postgres://… --activities-only
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/host"
)

// square is an activity: ordinary Go, run at least once per call, its result recorded once.
func square(ctx orca.ActivityContext) (any, error) {
	var x int
	err := ctx.Input(&x)
	return x * x, err
}

// sumOfSquares is an orchestrator: it fans out one Square per number from 1 to its input and
// adds the results. It is replayed from its history after a restart, so it only decides.
func sumOfSquares(ctx orca.OrchestrationContext) (any, error) {
	var n int
	if err := ctx.Input(&n); err != nil {
		return nil, orca.NonRetriable(err)
	}
	tasks := make([]orca.Task, n)
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
}

func main() {
	var opt host.Options
	flag.StringVar(&opt.Listen, "listen", "127.0.0.1:7072", "API address (port 0 picks a free one)")
	flag.StringVar(&opt.DataDir, "data", "hostapp-data", "data directory (SQLite store and blob files)")
	flag.StringVar(&opt.Store, "store", "", "store URL: empty for SQLite in the data directory, postgres://… for a shared task hub")
	flag.StringVar(&opt.Blob, "blob", "", "blob store URL (a PostgreSQL store needs one every copy reaches)")
	flag.BoolVar(&opt.ActivitiesOnly, "activities-only", false, "run only the activities, for a PostgreSQL task hub")
	flag.Parse()
	if err := run(opt); err != nil {
		fmt.Fprintln(os.Stderr, "hostapp:", err)
		os.Exit(1)
	}
}

func run(opt host.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt.Registry = orca.NewRegistry().
		MustAddActivity("Square", square).
		MustAddOrchestrator("SumOfSquares", sumOfSquares)
	opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := host.Start(ctx, opt)
	if err != nil {
		return err
	}
	if opt.ActivitiesOnly {
		fmt.Fprintln(os.Stderr, "hostapp: running Square for the task hub; Ctrl-C stops")
	} else {
		fmt.Println(h.URL())
	}
	<-ctx.Done()
	return h.Stop(context.Background())
}
