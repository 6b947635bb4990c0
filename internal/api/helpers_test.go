package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/dashboard"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/testutil/syncbuf"
	"github.com/orcahq/orca/internal/testutil/wait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// df is the Durable Functions base path.
const df = "/runtime/webhooks/durabletask"

// waitLimit bounds every wait for an instance to reach a state.
const waitLimit = 30 * time.Second

// Keys of the keyed nodes, one per scope. The admin key holds characters that need escaping in
// a query, to check that code= is echoed escaped.
const (
	adminKey  = "admin+key/0123456789=="
	workerKey = "worker-key-0123456789"
	readerKey = "reader-key-0123456789"
	wrongKey  = "wrong-key-0123456789"
)

// testKeys is one key per scope.
func testKeys(t testing.TB) *auth.Keys {
	t.Helper()
	keys, err := auth.NewKeys([]auth.KeySpec{{Name: "admin", Scope: auth.ScopeAdmin, Key: adminKey},
		{Name: "worker", Scope: auth.ScopeWorker, Key: workerKey}, {Name: "reader", Scope: auth.ScopeReader, Key: readerKey}})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// nodeConfig says how to build a test node.
type nodeConfig struct {
	keys          *auth.Keys
	publicBaseURL string
	// idle leaves the engine stopped (and serves the API through httptest): instances stay
	// Pending.
	idle bool
	// quiet discards the log instead of keeping it (fuzzing runs long).
	quiet bool
	// pools are the worker pools the node shows (nil: none).
	pools dashboard.Pools
}

// node is an orca node under test with the test orchestrators registered.
type node struct {
	app *app.App
	// base is the URL the API is served on.
	base   string
	client *http.Client
	logs   *syncbuf.Buffer
	// gate holds the Gate activity until the node stops.
	gate chan struct{}
	// flaky makes FlakyAct fail while true.
	flaky atomic.Bool
}

// newNode starts a node listening on a free port, with its data under t.TempDir().
func newNode(t testing.TB, cfg nodeConfig) *node {
	t.Helper()
	n := &node{logs: &syncbuf.Buffer{}, gate: make(chan struct{})}
	n.flaky.Store(true)
	transport := &http.Transport{}
	n.client = &http.Client{Transport: transport, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.quiet {
		logger = slog.New(slog.DiscardHandler)
	}
	a, err := app.New(ctx, app.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Registry: n.registry(t),
		Keys: cfg.keys, PublicBaseURL: cfg.publicBaseURL, Logger: logger, Pools: cfg.pools,
		Engine: engine.Config{ShutdownGrace: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	n.app = a
	if cfg.idle {
		// App.Stop waits for the event dispatcher, which only ends once started: an idle node
		// closes what it opened itself.
		ts := httptest.NewServer(a.API.Handler())
		n.base = ts.URL
		t.Cleanup(func() {
			transport.CloseIdleConnections()
			ts.Close()
			a.Engine.Stop(ctx)
			_ = a.Store.Close()
		})
		return n
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n.base = a.BaseURL
	t.Cleanup(func() {
		close(n.gate)
		transport.CloseIdleConnections()
		_ = a.Stop(ctx)
	})
	return n
}

// registry holds the test orchestrators:
//
//	Hello      calls SayHello with its (string) input and returns "Hello <input>"
//	Echo       returns its input
//	WaitEvent  waits for the event "go" and returns its data
//	Fail       fails with "boom"
//	Block      calls Gate, which holds until the node stops
//	Flaky      calls FlakyAct, which fails while n.flaky is set
func (n *node) registry(t testing.TB) *orca.Registry {
	t.Helper()
	reg := orca.NewRegistry()
	for _, err := range []error{
		reg.AddActivity("SayHello", func(ctx orca.ActivityContext) (any, error) {
			var s string
			if err := ctx.Input(&s); err != nil {
				return nil, err
			}
			return "Hello " + s, nil
		}),
		reg.AddOrchestrator("Hello", func(ctx orca.OrchestrationContext) (any, error) {
			var s string
			if err := ctx.Input(&s); err != nil {
				return nil, err
			}
			return orca.Await[string](ctx.CallActivity("SayHello", s))
		}),
		reg.AddOrchestrator("Echo", func(ctx orca.OrchestrationContext) (any, error) {
			var in json.RawMessage
			if err := ctx.Input(&in); err != nil {
				return nil, err
			}
			return in, nil
		}),
		reg.AddOrchestrator("WaitEvent", func(ctx orca.OrchestrationContext) (any, error) {
			var data json.RawMessage
			if err := ctx.WaitForExternalEvent("go").Await(&data); err != nil {
				return nil, err
			}
			return data, nil
		}),
		reg.AddOrchestrator("Fail", func(orca.OrchestrationContext) (any, error) {
			return nil, errors.New("boom")
		}),
		reg.AddActivity("Gate", func(ctx orca.ActivityContext) (any, error) {
			select {
			case <-n.gate:
				return "open", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}),
		reg.AddOrchestrator("Block", func(ctx orca.OrchestrationContext) (any, error) {
			return orca.Await[string](ctx.CallActivity("Gate", "x"))
		}),
		reg.AddActivity("FlakyAct", func(orca.ActivityContext) (any, error) {
			if n.flaky.Load() {
				return nil, errors.New("flaky failure")
			}
			return "recovered", nil
		}),
		reg.AddOrchestrator("Flaky", func(ctx orca.OrchestrationContext) (any, error) {
			return orca.Await[string](ctx.CallActivity("FlakyAct", nil))
		}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// result is an answer of the API.
type result struct {
	code   int
	header http.Header
	body   []byte
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func withJSON() reqOpt { return withHeader("Content-Type", "application/json") }

// do sends a request to the node; an empty body sends none (Content-Length: 0).
func (n *node) do(t testing.TB, method, path, body string, opts ...reqOpt) *result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, n.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(req)
	}
	return n.send(t, req)
}

func (n *node) send(t testing.TB, req *http.Request) *result {
	t.Helper()
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL, err)
	}
	return &result{code: resp.StatusCode, header: resp.Header, body: b}
}

// raw sends a request line and headers as they are, bypassing Go's client (which would escape
// the target).
func (n *node) raw(t testing.TB, method, target string) *result {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, method+" "+target+" HTTP/1.1\r\nHost: orca.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &result{code: resp.StatusCode, header: resp.Header, body: b}
}

// want fails the test unless the answer has the status code.
func (r *result) want(t testing.TB, code int) *result {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body: %s", r.code, code, r.body)
	}
	return r
}

// wantEmpty fails the test unless the answer has the status code and no body.
func (r *result) wantEmpty(t testing.TB, code int) {
	t.Helper()
	r.want(t, code)
	if len(r.body) != 0 {
		t.Fatalf("status %d with body %q, want an empty body", code, r.body)
	}
}

// object decodes a JSON object answer.
func (r *result) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// array decodes a JSON array of objects answer.
func (r *result) array(t testing.TB) []map[string]any {
	t.Helper()
	var a []map[string]any
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("answer is not a JSON array of objects: %v: %s", err, r.body)
	}
	return a
}

// jsonContentType fails the test unless the answer is JSON as DF sends it.
func (r *result) jsonContentType(t testing.TB) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q, want application/json; charset=utf-8", ct)
	}
}

// objectKeys returns the keys of a JSON object in the order they appear.
func objectKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// sameJSON fails the test unless got and want are the same JSON value.
func sameJSON(t testing.TB, what string, got any, want string) {
	t.Helper()
	var g, w any
	raw, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s = %s, want %s", what, raw, want)
	}
}

// start starts an orchestration through the DF route and returns its id.
func (n *node) start(t testing.TB, name, id, input string) string {
	t.Helper()
	path := df + "/orchestrators/" + name
	if id != "" {
		path += "/" + id
	}
	r := n.do(t, "POST", path, input, withJSON()).want(t, http.StatusAccepted)
	got, _ := r.object(t)["id"].(string)
	if got == "" {
		t.Fatalf("start answered no id: %s", r.body)
	}
	return got
}

// status returns an instance's status (the DF route).
func (n *node) status(t testing.TB, id, query string) (int, map[string]any) {
	t.Helper()
	path := df + "/instances/" + escapeID(id)
	if query != "" {
		path += "?" + query
	}
	r := n.do(t, "GET", path, "")
	if r.code == http.StatusNotFound {
		return r.code, nil
	}
	return r.code, r.object(t)
}

// escapeID escapes an instance id for a path. A + is escaped too: DF's router URL-decodes the
// path, so a bare + there means a space.
func escapeID(id string) string { return strings.ReplaceAll(url.PathEscape(id), "+", "%2B") }

// waitStatus polls an instance until its runtimeStatus is one of want and returns its status.
func (n *node) waitStatus(t testing.TB, id string, want ...string) map[string]any {
	t.Helper()
	var last map[string]any
	wait.For(t, waitLimit, func() bool {
		_, last = n.status(t, id, "")
		st, _ := last["runtimeStatus"].(string)
		return slices.Contains(want, st)
	}, "instance "+id+" to be "+strings.Join(want, " or "))
	return last
}

// instanceCount counts the instances through the list route.
func (n *node) instanceCount(t testing.TB) int {
	t.Helper()
	return len(n.listAll(t, "", 1000))
}

// listAll walks the list route to the end and returns the ids in order.
func (n *node) listAll(t testing.TB, query string, top int) []string {
	t.Helper()
	var ids []string
	token := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("the listing does not end")
		}
		q := "top=" + strconv.Itoa(top)
		if query != "" {
			q += "&" + query
		}
		r := n.do(t, "GET", df+"/instances?"+q, "", withHeader("x-ms-continuation-token", token)).want(t, http.StatusOK)
		next, ok := r.header[http.CanonicalHeaderKey("x-ms-continuation-token")]
		if !ok || len(next) != 1 {
			t.Fatalf("page %d has no x-ms-continuation-token header: %v", page, r.header)
		}
		items := r.array(t)
		if len(items) > top {
			t.Fatalf("page %d has %d items, top is %d", page, len(items), top)
		}
		if next[0] != "" && len(items) == 0 {
			t.Fatalf("page %d is empty but carries the token %q", page, next[0])
		}
		for _, it := range items {
			ids = append(ids, it["instanceId"].(string))
		}
		if next[0] == "" {
			return ids
		}
		token = next[0]
	}
}
