package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/scaler"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestDashboardPage(t *testing.T) {
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	// The page and its files are open: they hold no data, and the browser must load them to ask
	// for a key.
	page := n.do(t, "GET", "/", "").want(t, http.StatusOK)
	if ct := page.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q", ct)
	}
	if !strings.Contains(string(page.body), `src="ui/app.js"`) {
		t.Fatalf("the page does not load its script:\n%s", page.body)
	}
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if page.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no nosniff: %v", page.header)
	}
	n.do(t, "GET", "/", "", withHeader("If-None-Match", page.header.Get("ETag"))).want(t, http.StatusNotModified)

	js := n.do(t, "GET", "/ui/app.js", "").want(t, http.StatusOK)
	if ct := js.header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Fatalf("app.js Content-Type %q", ct)
	}
	for _, path := range []string{"/ui/nope.js", "/ui/index.html", "/ui/..%2fdashboard.go", "/ui/"} {
		r := n.do(t, "GET", path, "")
		if r.code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.code)
		}
	}
	// Any other path is still the mux's 404, and the DF prefix keeps DF's empty 404.
	n.do(t, "GET", "/nope", "").want(t, http.StatusNotFound)
	n.do(t, "GET", df+"/nope", "").wantEmpty(t, http.StatusNotFound)
	n.do(t, "POST", "/", "").want(t, http.StatusMethodNotAllowed)
}

// series is the part of /api/dashboard/series the tests read.
type series struct {
	WorkQueue       string  `json:"workQueue"`
	IntervalSeconds float64 `json:"intervalSeconds"`
	Samples         []struct {
		T        int64 `json:"t"`
		Visible  int   `json:"visible"`
		InFlight int   `json:"inFlight"`
		Nodes    int   `json:"nodes"`
		Pools    []struct {
			Name    string `json:"name"`
			Ready   int    `json:"ready"`
			Desired int    `json:"desired"`
		} `json:"pools"`
	} `json:"samples"`
	Decisions []scaler.Decision `json:"decisions"`
}

func (n *node) series(t *testing.T, query string) series {
	t.Helper()
	var s series
	if err := json.Unmarshal(n.do(t, "GET", "/api/dashboard/series"+query, "").want(t, http.StatusOK).body, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// fakePools is one pool with fixed state and decisions.
type fakePools struct{}

var poolDecisions = []scaler.Decision{
	{Time: time.Now().Add(-3 * time.Second), Pool: "compute", Desired: 2, Actual: 0, Reason: "activated"},
	{Time: time.Now().Add(-2 * time.Second), Pool: "compute", Desired: 2, Actual: 2, Reason: "right"},
	{Time: time.Now().Add(-time.Second), Pool: "compute", Desired: 1, Actual: 2, Reason: "scale in"},
}

func (fakePools) Pools() []scaler.PoolStatus {
	return []scaler.PoolStatus{{Name: "compute", Queue: "input", Provider: "process", Max: 4, Desired: 1,
		Workers: scaler.Workers{Ready: 1, Stopping: 1}}}
}

func (fakePools) Decisions(pool string, limit int, changesOnly bool) ([]scaler.Decision, bool) {
	if pool != "compute" {
		return nil, false
	}
	var out []scaler.Decision
	for _, d := range poolDecisions {
		if !changesOnly || d.Changed() {
			out = append(out, d)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, true
}

func TestDashboardSeries(t *testing.T) {
	n := newNode(t, nodeConfig{pools: fakePools{}})
	var first series
	wait.For(t, waitLimit, func() bool {
		first = n.series(t, "")
		return len(first.Samples) >= 2
	}, "two samples")
	if first.WorkQueue != "input" || first.IntervalSeconds != 1 {
		t.Fatalf("series header %+v", first)
	}
	s := first.Samples[0]
	if s.Nodes != 1 || len(s.Pools) != 1 || s.Pools[0].Name != "compute" || s.Pools[0].Ready != 1 || s.Pools[0].Desired != 1 {
		t.Fatalf("sample %+v", s)
	}
	if len(first.Decisions) != 2 || first.Decisions[0].Reason != "activated" || first.Decisions[1].Reason != "scale in" {
		t.Fatalf("decisions %+v, want the two resizes", first.Decisions)
	}
	last := first.Samples[len(first.Samples)-1].T
	wait.For(t, waitLimit, func() bool {
		next := n.series(t, "?since="+strconv.FormatInt(last, 10))
		for _, s := range next.Samples {
			if s.T <= last {
				t.Fatalf("since=%d returned the sample of %d", last, s.T)
			}
		}
		return len(next.Samples) > 0
	}, "a newer sample")
	for _, bad := range []string{"abc", "1.5", "2026-01-01T00:00:00Z"} {
		n.do(t, "GET", "/api/dashboard/series?since="+bad, "").want(t, http.StatusBadRequest)
	}

	// Work in the queue shows in the samples.
	if _, err := n.app.Queues.Enqueue(t.Context(), "input", []byte("{}"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, waitLimit, func() bool {
		ss := n.series(t, "").Samples
		return len(ss) > 0 && ss[len(ss)-1].Visible == 1
	}, "the queued message in a sample")
}

func TestPools(t *testing.T) {
	t.Run("without a scaler", func(t *testing.T) {
		n := newNode(t, nodeConfig{})
		sameJSON(t, "pools", n.do(t, "GET", "/api/pools", "").want(t, http.StatusOK).object(t), `{"pools": []}`)
		n.do(t, "GET", "/api/pools/compute/decisions", "").want(t, http.StatusNotFound)
	})
	n := newNode(t, nodeConfig{pools: fakePools{}})
	pools := n.do(t, "GET", "/api/pools", "").want(t, http.StatusOK).object(t)["pools"].([]any)
	if len(pools) != 1 || pools[0].(map[string]any)["name"] != "compute" || pools[0].(map[string]any)["workers"] == nil {
		t.Fatalf("pools %v", pools)
	}
	reasons := func(query string) []string {
		var out struct {
			Pool      string
			Decisions []scaler.Decision
		}
		if err := json.Unmarshal(n.do(t, "GET", "/api/pools/compute/decisions"+query, "").want(t, http.StatusOK).body, &out); err != nil {
			t.Fatal(err)
		}
		if out.Pool != "compute" {
			t.Fatalf("pool %q", out.Pool)
		}
		var rs []string
		for _, d := range out.Decisions {
			rs = append(rs, d.Reason)
		}
		return rs
	}
	for q, want := range map[string]string{
		"":                          "activated,right,scale in",
		"?changesOnly=true":         "activated,scale in",
		"?limit=1":                  "scale in",
		"?limit=2&changesOnly=true": "activated,scale in",
		"?limit=5000":               "activated,right,scale in",
	} {
		if got := strings.Join(reasons(q), ","); got != want {
			t.Errorf("decisions%s = %s, want %s", q, got, want)
		}
	}
	for _, bad := range []string{"?limit=0", "?limit=-1", "?limit=x"} {
		n.do(t, "GET", "/api/pools/compute/decisions"+bad, "").want(t, http.StatusBadRequest)
	}
	n.do(t, "GET", "/api/pools/nope/decisions", "").want(t, http.StatusNotFound)
}
