// Package host runs orca inside your own Go program: the engine hosting your orchestrators and
// activities, its store, the Durable Functions management API and the compute flow — what
// `orca server` runs, with your registry in it.
//
//	r := orca.NewRegistry().
//		MustAddActivity("Square", square).
//		MustAddOrchestrator("SumOfSquares", sumOfSquares)
//	h, err := host.Start(ctx, host.Options{Registry: r, DataDir: "data"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer h.Stop(context.Background())
//	// POST h.URL()+"/runtime/webhooks/durabletask/orchestrators/SumOfSquares" starts a run.
//
// The state lives in DataDir (SQLite and blob files) unless Store and Blob name shared
// services (PostgreSQL and S3 or Azure Blob), where several hosts — and `orca server`s that
// register the same functions — share one task hub. Every host that runs orchestrations must
// register every orchestrator the hub runs: any of them may take any instance.
//
// Activities can live elsewhere. A host takes only the tasks of the activities its registry has
// functions for; an orchestrator may call one it does not have once the registry declares it
// with [orca.Registry.AddRemoteActivity], and each such call waits in the store, pending, until a
// host that has the function takes it. That needs a PostgreSQL task hub: a host on SQLite
// refuses such a registry, as no other process could take the tasks. With ActivitiesOnly a host
// runs just that — its registry's activities, for a task hub that other hosts orchestrate — and
// no orchestrations, compute flow or API:
//
//	// The orchestrating host, with the API.
//	r := orca.NewRegistry().
//		MustAddRemoteActivity("Render").
//		MustAddOrchestrator("Report", report)
//	h, err := host.Start(ctx, host.Options{Registry: r, Store: "postgres://…", Blob: "s3://…"})
//
//	// A host on the machines that can render: Render's tasks, nothing else.
//	w, err := host.Start(ctx, host.Options{Registry: orca.NewRegistry().MustAddActivity("Render", render),
//		Store: "postgres://…", ActivitiesOnly: true})
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
)

// Options configure a host. Zero values take the defaults `orca server` has.
type Options struct {
	// Registry holds your orchestrators and activities (required). The compute flow's
	// ComputeOrchestrator and its activities are added to it.
	Registry *orca.Registry
	// DataDir holds the SQLite store and the blob files (default ./.orca).
	DataDir string
	// Store is the store's URL: empty for SQLite in DataDir, postgres://… for a task hub that
	// several hosts share.
	Store string
	// Blob is the blob store's URL: empty for files in DataDir; s3://BUCKET?…, azblob://ACCOUNT
	// or file:///DIR (a PostgreSQL store needs one every host reaches).
	Blob string
	// Queue is the work queue service's URL: empty for queues in the store, azqueue://… for an
	// Azure Storage Queue.
	Queue string
	// Listen is the API's address (default 127.0.0.1:7071; port 0 picks a free one).
	Listen string
	// AdminKey, when set, is the key every API call must present (the x-functions-key header,
	// a bearer token or ?code=); at least 16 characters. Without it the API is open, which Start
	// refuses on a non-loopback address unless Insecure is set.
	AdminKey string
	Insecure bool
	// Logger receives the host's logs (default: none).
	Logger *slog.Logger
	// ActivitiesOnly runs the registry's activities and nothing else for the task hub in Store,
	// which must be PostgreSQL (a SQLite store belongs to the one process that runs it): no
	// orchestrations, no compute flow, no API. DataDir, Blob, Queue, Listen, AdminKey and
	// Insecure are not used, so one program can start either kind of host from the same
	// Options; the registry needs at least one activity.
	ActivitiesOnly bool
}

// Host is a running orca node with your functions in it.
type Host struct {
	app *app.App
}

// Start opens the store, starts the engine and serves the API, or with ActivitiesOnly starts
// taking the registry's activity tasks. Stop it when done: its unfinished runs resume at the
// next Start on the same store.
func Start(ctx context.Context, opt Options) (*Host, error) {
	if opt.Registry == nil {
		return nil, errors.New("host: Options.Registry is required: the orchestrators and activities to host")
	}
	if opt.ActivitiesOnly {
		return start(ctx, app.Config{DataDir: opt.DataDir, StoreURL: opt.Store, Logger: opt.Logger,
			Registry: opt.Registry, ActivitiesOnly: true})
	}
	if opt.Listen == "" {
		opt.Listen = "127.0.0.1:7071"
	}
	keys := &auth.Keys{}
	if opt.AdminKey != "" {
		if len(opt.AdminKey) < auth.MinKeyLength {
			return nil, fmt.Errorf("host: AdminKey is shorter than %d characters", auth.MinKeyLength)
		}
		keys.Add("admin", auth.ScopeAdmin, opt.AdminKey)
	}
	return start(ctx, app.Config{DataDir: opt.DataDir, StoreURL: opt.Store, BlobURL: opt.Blob, QueueURL: opt.Queue,
		Listen: opt.Listen, Logger: opt.Logger, Registry: opt.Registry, Keys: keys, Insecure: opt.Insecure})
}

func start(ctx context.Context, cfg app.Config) (*Host, error) {
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return &Host{app: a}, nil
}

// URL is the base URL of the host's API (http://127.0.0.1:PORT): the Durable Functions routes
// are under /runtime/webhooks/durabletask, the seeds' starter under /api/orchestrators. An
// activities-only host has none: "".
func (h *Host) URL() string { return h.app.BaseURL }

// Stop drains the API, lets in-flight work finish within the engine's grace period (10 s),
// releases the rest for the next start, and closes the store.
func (h *Host) Stop(ctx context.Context) error { return h.app.Stop(ctx) }
