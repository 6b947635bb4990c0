package metrics_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/worker"
)

const (
	readerKey = "reader-key-0123456789"
	workerKey = "worker-key-0123456789"
)

// TestNodeServesMetricsOfRuns runs the compute flow on a real node with an in-process worker:
// a run of two items that succeed and one of an item whose algorithm fails until it is
// poisoned (which fails the run); then it checks what GET /metrics says about them.
func TestNodeServesMetricsOfRuns(t *testing.T) {
	keys, err := auth.NewKeys([]auth.KeySpec{{Name: "reader", Scope: auth.ScopeReader, Key: readerKey},
		{Name: "worker", Scope: auth.ScopeWorker, Key: workerKey}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := apptest.Start(t, app.Config{Keys: keys, MaxDequeueCount: 1, Engine: engine.Config{ShutdownGrace: time.Second}})

	workCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- worker.Run(workCtx, worker.Config{Source: a.Source(), Algorithm: worker.Demo(0), Queue: a.WorkQueue(),
			Concurrency: 2, PollWait: 50 * time.Millisecond})
	}()
	runs := []struct {
		id, input string
		status    store.Status
		succeeded int
	}{{"metrics-ok", `{"items": [[1, 1], [2, 3]]}`, store.StatusCompleted, 2},
		{"metrics-poisoned", `{"items": ["not numbers"]}`, store.StatusFailed, 0}}
	for _, r := range runs {
		if _, err := a.Engine.StartInstance(ctx, engine.StartParams{Name: compute.OrchestratorName, ID: r.id,
			Input: json.RawMessage(r.input)}); err != nil {
			t.Fatal(err)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, r := range runs {
		in, err := a.Engine.WaitForFinish(waitCtx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		var out compute.RunOutput
		if err := json.Unmarshal(in.Output, &out); err != nil || in.Status != r.status || out.Succeeded != r.succeeded {
			t.Fatalf("run %s ended %s with %s (%v); want %s with %d succeeded", r.id, in.Status, in.Output, err, r.status, r.succeeded)
		}
	}
	// The worker deletes a message after writing its output, so after the run has seen the
	// output: once it has stopped, every delete is done.
	stopWorker()
	if err := <-workerDone; err != nil {
		t.Fatal(err)
	}

	if code, _ := scrape(t, a.BaseURL, ""); code != http.StatusUnauthorized {
		t.Fatalf("scrape without a key: %d, want 401", code)
	}
	if code, _ := scrape(t, a.BaseURL, workerKey); code != http.StatusForbidden {
		t.Fatalf("scrape with a worker key: %d, want 403", code)
	}
	code, families := scrape(t, a.BaseURL, readerKey)
	if code != http.StatusOK {
		t.Fatalf("scrape with a reader key: %d", code)
	}
	mfs := make([]*dto.MetricFamily, 0, len(families))
	for _, mf := range families {
		mfs = append(mfs, mf)
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"orca_items_completed_total", "", 2},
		{"orca_items_failed_total", "", 1},
		{"orca_orchestrations", `status="Completed"`, 1},
		{"orca_orchestrations", `status="Failed"`, 1},
		{"orca_orchestrations", `status="Running"`, 0},
		{"orca_queue_messages", `queue="input",state="visible"`, 0},
		{"orca_queue_messages", `queue="input",state="in_flight"`, 0},
		{"orca_queue_poison_messages", `queue="input"`, 1},
		{"orca_leader", "", 1}, // the only node of its SQLite task hub leads it
		{"orca_activity_duration_seconds_count", `activity="Compute",outcome="completed"`, 3},
		{"orca_item_duration_seconds_count", `queue="input"`, 2},
		{"orca_event_deliveries_total", `outcome="delivered",subscription="compute-complete"`, 2},
		{"orca_event_deliveries_total", `outcome="delivered",subscription="compute-poison"`, 1},
		{"orca_http_requests_total", `code="401",route="GET /metrics"`, 1},
		{"orca_http_requests_total", `code="403",route="GET /metrics"`, 1},
	} {
		if got := sampleValue(t, mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct{ name, labels string }{
		{"orca_item_duration_seconds_sum", `queue="input"`},
		{"orca_store_commit_duration_seconds_count", ""},
		{"orca_store_commit_writes_sum", ""},
		{"orca_orchestration_turns_total", ""},
		{"orca_http_request_duration_seconds_count", `route="GET /metrics"`},
		{"go_goroutines", ""},
	} {
		if got := sampleValue(t, mfs, c.name, c.labels); got <= 0 {
			t.Errorf("%s{%s} = %v, want more than 0", c.name, c.labels, got)
		}
	}
	// Activities are labelled by name: only the compute flow's own ran.
	if n := len(families["orca_activity_duration_seconds"].GetMetric()); n != 2 {
		t.Errorf("orca_activity_duration_seconds has %d series, want Compute's completed and failed", n)
	}
	lint(t, a.Metrics)
}

// scrape GETs /metrics with key (none when empty) and parses a 200 answer.
func scrape(t *testing.T, base, key string) (int, map[string]*dto.MetricFamily) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return resp.StatusCode, mfs
}
