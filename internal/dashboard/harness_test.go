package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/testenv"
	"github.com/orcahq/orca/internal/workers"
	"github.com/orcahq/orca/worker"
)

// chromium returns the browser the tests drive: $ORCA_CHROMIUM if set, else Debian's
// chromium. Without one the browser tests skip loudly, and fail when REQUIRE_INTEGRATION=1 (CI,
// where scripts/install-test-deps.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser"}
	if p := os.Getenv("ORCA_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	testenv.Missing(t, "Chromium is not installed (apt-get install chromium, or scripts/install-test-deps.sh): the dashboard's browser tests did not run")
	return ""
}

// artifactsDir is where the screenshots are kept: $ORCA_TEST_ARTIFACTS/dashboard, else
// artifacts/dashboard at the repository's root (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ORCA_TEST_ARTIFACTS")
	if base == "" {
		var err error
		if base, err = filepath.Abs(filepath.Join("..", "..", "artifacts")); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "dashboard")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// itemDelay is how long the test workers take per item: slow enough for the charts to move.
const itemDelay = 120 * time.Millisecond

// node is an orca node for the browser tests: the test orchestrators, a scaler sizing a pool
// of in-process workers, samples every 200ms.
type node struct {
	app    *app.App
	base   string
	scaler *scaler.Scaler
}

// registry holds WaitEvent (waits for "go" and returns its data) and Fail.
func registry(t *testing.T) *orca.Registry {
	t.Helper()
	reg := orca.NewRegistry()
	for _, err := range []error{
		reg.AddOrchestrator("WaitEvent", func(ctx orca.OrchestrationContext) (any, error) {
			if err := ctx.SetCustomStatus(map[string]string{"waitingFor": "go"}); err != nil {
				return nil, err
			}
			var data json.RawMessage
			if err := ctx.WaitForExternalEvent("go").Await(&data); err != nil {
				return nil, err
			}
			return data, nil
		}),
		reg.AddOrchestrator("Fail", func(orca.OrchestrationContext) (any, error) {
			return nil, errors.New("boom: the input was not what it should be")
		}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

func startNode(t *testing.T, keys *auth.Keys) *node {
	t.Helper()
	ctx := context.Background()
	a := apptest.Start(t, app.Config{Registry: registry(t), Keys: keys, MaxDequeueCount: 1, SampleInterval: 200 * time.Millisecond})
	pool := workers.NewGoroutinePool(worker.Config{Source: a.Source(), Algorithm: worker.Demo(itemDelay),
		Queue: a.WorkQueue(), PollWait: 500 * time.Millisecond, ShutdownGrace: 2 * time.Second})
	err := a.StartPools(ctx, []scaler.Pool{{Name: "compute", Queue: a.WorkQueue(), Provider: pool,
		Policy: scaler.Policy{Max: 4, TargetQueueLength: 5, PollingInterval: 250 * time.Millisecond,
			Cooldown: 1500 * time.Millisecond, ScaleDownStabilization: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	return &node{app: a, base: a.BaseURL, scaler: a.Scaler()}
}

// call sends a request to the node's API with an optional key and returns the status and body.
func (n *node) call(t *testing.T, method, path, body, key string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, n.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("x-functions-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// start starts an orchestration through DF's route and returns its id.
func (n *node) start(t *testing.T, name, id, input, key string) string {
	t.Helper()
	path := "/runtime/webhooks/durabletask/orchestrators/" + name
	if id != "" {
		path += "/" + id
	}
	code, body := n.call(t, "POST", path, input, key)
	if code != http.StatusAccepted {
		t.Fatalf("start %s: %d %s", name, code, body)
	}
	var cs struct{ ID string }
	if err := json.Unmarshal(body, &cs); err != nil || cs.ID == "" {
		t.Fatalf("start %s: %s (%v)", name, body, err)
	}
	return cs.ID
}

// runtimeStatus is an instance's status through the API.
func (n *node) runtimeStatus(t *testing.T, id, key string) string {
	t.Helper()
	code, body := n.call(t, "GET", "/runtime/webhooks/durabletask/instances/"+escapeID(id)+"?showInput=false", "", key)
	if code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("status of %s: %d %s", id, code, body)
	}
	var st struct{ RuntimeStatus string }
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return st.RuntimeStatus
}

// escapeID escapes an instance id for a DF path (a + too: DF reads a bare + as a space).
func escapeID(id string) string { return strings.ReplaceAll(url.PathEscape(id), "+", "%2B") }

// browser is a headless Chromium with one tab, whose console errors are collected.
type browser struct {
	ctx     context.Context
	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newBrowser starts Chromium with the flags that work on CI machines and a fresh profile.
func newBrowser(t *testing.T, path string) *browser {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("force-color-profile", "srgb"), chromedp.Flag("hide-scrollbars", true))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	b.listen(ctx)
	return b
}

func (b *browser) listen(ctx context.Context) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
}

// errors returns the console's errors and exceptions that keep does not accept.
func (b *browser) errors(keep func(chromedp.ConsoleMessage) bool) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		if (m.Type == chromedp.ConsoleError || m.IsException()) && (keep == nil || !keep(m)) {
			out = append(out, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
		}
	}
	return out
}

// do runs actions with a time limit.
func (b *browser) do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is true.
func (b *browser) waitJS(t *testing.T, what, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// screenshot saves the viewport (full: the whole page) as dir/name.png.
func (b *browser) screenshot(t *testing.T, dir, name string, full bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
