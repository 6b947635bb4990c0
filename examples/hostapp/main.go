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
	listen := flag.String("listen", "127.0.0.1:7072", "API address (port 0 picks a free one)")
	data := flag.String("data", "hostapp-data", "data directory (SQLite store and blob files)")
	flag.Parse()
	if err := run(*listen, *data); err != nil {
		fmt.Fprintln(os.Stderr, "hostapp:", err)
		os.Exit(1)
	}
}

func run(listen, data string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := orca.NewRegistry().
		MustAddActivity("Square", square).
		MustAddOrchestrator("SumOfSquares", sumOfSquares)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := host.Start(ctx, host.Options{Registry: r, DataDir: data, Listen: listen, Logger: log})
	if err != nil {
		return err
	}
	fmt.Println(h.URL())
	<-ctx.Done()
	return h.Stop(context.Background())
}
