package app_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// TestStopEndsEverythingStartDid runs a node — API, KEDA's scaler API, engine, dispatchers, a
// compute run — and stops it: no goroutine of it may outlive Stop.
func TestStopEndsEverythingStartDid(t *testing.T) {
	a := apptest.Start(t, app.Config{KEDAListen: "127.0.0.1:0", KEDATarget: 128})
	httpc := &http.Client{Transport: &http.Transport{}}
	defer httpc.CloseIdleConnections()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := httpc.Get(a.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
	}
	c, err := client.New(a.BaseURL, client.WithHTTPClient(httpc))
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.StartOrchestration(context.Background(), compute.OrchestratorName, "", "3")
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, 30*time.Second, func() bool {
		st, err := c.Status(context.Background(), id)
		return err == nil && st.RuntimeStatus != ""
	}, "the run to be known")
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	httpc.CloseIdleConnections()
	goleak.VerifyNone(t)
}
