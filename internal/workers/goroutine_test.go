// An external test package: internal/app, which assembles the pools, imports this one.
package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/testutil/wait"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

func TestGoroutinePoolCountsWorkersByState(t *testing.T) {
	ctx := context.Background()
	a, err := app.New(ctx, app.Config{DataDir: t.TempDir(), NoHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Stop(ctx) }()

	p := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue(),
		PollWait: 50 * time.Millisecond})
	p.Scale(3)
	if w := p.Workers(); w.Starting+w.Ready != 3 {
		t.Fatalf("after Scale(3): %+v", w)
	}
	wait.For(t, 10*time.Second, func() bool { return p.Workers() == scaler.Workers{Ready: 3} }, "3 ready workers")
	p.Scale(1)
	if w := p.Workers(); w.Ready != 1 || w.Stopping != 2 {
		t.Fatalf("after Scale(1): %+v", w)
	}
	wait.For(t, 10*time.Second, func() bool { return p.Workers() == scaler.Workers{Ready: 1} }, "2 workers to stop")
	p.Stop(ctx)
	if w := p.Workers(); w != (scaler.Workers{}) {
		t.Fatalf("after Stop: %+v", w)
	}
}
