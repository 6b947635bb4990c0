// Command goworker is a custom orca worker with its algorithm written in Go: it squares every
// number of input_data and returns the squares. Build it and point it at a running orca:
//
//	go run ./examples/goworker --server http://127.0.0.1:7071
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/worker"
)

func square(_ context.Context, input json.RawMessage) (json.RawMessage, error) {
	var xs []float64
	if err := json.Unmarshal(input, &xs); err != nil {
		return nil, fmt.Errorf("input_data must be an array of numbers: %w", err)
	}
	for i, x := range xs {
		xs[i] = x * x
	}
	return json.Marshal(xs)
}

func main() { os.Exit(run()) }

func run() int {
	server := flag.String("server", "http://127.0.0.1:7071", "orca server URL")
	concurrency := flag.Int("concurrency", 4, "items processed at once")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := client.New(*server, client.WithKey(os.Getenv("ORCA_KEY")))
	if err != nil {
		log.Error("client", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = worker.Run(ctx, worker.Config{Source: client.WorkerSource{C: c}, Algorithm: worker.AlgorithmFunc(square),
		Concurrency: *concurrency, Logger: log})
	if err != nil {
		log.Error("worker", "err", err)
		return 1
	}
	return 0
}
