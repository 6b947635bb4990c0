package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// authCase is a request of a route group and the scope it needs (ScopeNone: open).
type authCase struct {
	group, method, path, body string
	need                      auth.Scope
}

// authCases cover every route of the table (TestAuthCoversEveryRoute checks it); the
// expectations are written here, not read from the table.
func authCases() []authCase {
	event := `[{"id":"auth-ev","subject":"/things/1","eventType":"Test.Happened","data":{},"dataVersion":"1","metadataVersion":"1"}]`
	sub := `{"filter":{"includedEventTypes":["Test.Happened"]},"destination":{"endpointType":"Orchestration","eventName":"e","instanceIdPattern":"^x$"}}`
	return []authCase{
		{"management writes", "POST", df + "/orchestrators/Echo", "", auth.ScopeAdmin},
		{"management writes", "POST", df + "/orchestrators/Echo/auth-id", "", auth.ScopeAdmin},
		{"management writes", "POST", "/api/orchestrators/Echo?inputCount=1", "", auth.ScopeAdmin},
		{"management writes", "GET", "/api/orchestrators/Echo?inputCount=1", "", auth.ScopeAdmin},
		{"management writes", "POST", "/api/orchestrators/Echo/auth-seed?inputCount=1", "", auth.ScopeAdmin},
		{"management writes", "DELETE", df + "/instances/nope", "", auth.ScopeAdmin},
		{"management writes", "DELETE", df + "/instances?createdTimeFrom=2200-01-01T00:00:00Z", "", auth.ScopeAdmin},
		{"management writes", "DELETE", df + "/instances/?createdTimeFrom=2200-01-01T00:00:00Z", "", auth.ScopeAdmin},
		{"management writes", "POST", df + "/instances/nope/terminate", "", auth.ScopeAdmin},
		{"management writes", "POST", df + "/instances/nope/restart", "", auth.ScopeAdmin},
		{"management writes", "POST", df + "/instances/nope/raiseEvent/e", "1", auth.ScopeAdmin},
		{"management reads", "GET", df + "/instances/nope", "", auth.ScopeReader},
		{"management reads", "GET", df + "/instances", "", auth.ScopeReader},
		{"management reads", "GET", df + "/instances/", "", auth.ScopeReader},
		{"management reads", "GET", df + "/instances/nope/history", "", auth.ScopeReader},
		{"management reads", "GET", "/api/runs/summary", "", auth.ScopeReader},
		{"metrics", "GET", "/metrics", "", auth.ScopeReader},
		{"queues", "GET", "/api/queues", "", auth.ScopeWorker},
		{"queues", "GET", "/api/queues/work", "", auth.ScopeWorker},
		{"queues", "POST", "/api/queues/work/messages", `{"messages":[{"body":"x"}]}`, auth.ScopeWorker},
		{"queues", "GET", "/api/queues/work/messages?peekonly=true", "", auth.ScopeWorker},
		{"queues", "PUT", "/api/queues/work/messages/nope?popreceipt=p", "", auth.ScopeWorker},
		{"queues", "DELETE", "/api/queues/work/messages/nope?popreceipt=p", "", auth.ScopeWorker},
		{"work", "POST", "/api/work/work/lease", `{"max":1}`, auth.ScopeWorker},
		{"work", "POST", "/api/work/work/complete", `{"items":[{"id":"nope","popReceipt":"p","item":{},"result":1}]}`, auth.ScopeWorker},
		{"work", "POST", "/api/work/work/release", `{"items":[{"id":"nope","popReceipt":"p"}]}`, auth.ScopeWorker},
		{"work", "POST", "/api/work/work/renew", `{"visibilityTimeout":30,"items":[{"id":"nope","popReceipt":"p"}]}`, auth.ScopeWorker},
		{"blobs", "GET", "/api/blobs/data", "", auth.ScopeWorker},
		{"blobs", "PUT", "/api/blobs/data/dir/auth.txt", "content", auth.ScopeWorker},
		{"blobs", "GET", "/api/blobs/data/dir/auth.txt", "", auth.ScopeWorker},
		{"blobs", "HEAD", "/api/blobs/data/dir/auth.txt", "", auth.ScopeWorker},
		{"blobs", "DELETE", "/api/blobs/data/nope.txt", "", auth.ScopeWorker},
		{"events ingestion", "POST", "/api/events", event, auth.ScopeAdmin},
		{"subscriptions", "GET", "/api/subscriptions", "", auth.ScopeReader},
		{"subscriptions", "GET", "/api/subscriptions/auth-sub", "", auth.ScopeReader},
		{"subscriptions", "PUT", "/api/subscriptions/auth-sub", sub, auth.ScopeAdmin},
		{"subscriptions", "DELETE", "/api/subscriptions/nope", "", auth.ScopeAdmin},
		{"subscriptions", "GET", "/api/deadletters", "", auth.ScopeReader},
		{"pools", "GET", "/api/pools", "", auth.ScopeReader},
		{"pools", "GET", "/api/pools/nope/decisions", "", auth.ScopeReader},
		{"dashboard", "GET", "/api/dashboard/series", "", auth.ScopeReader},
		{"dashboard page", "GET", "/", "", auth.ScopeNone},
		{"dashboard page", "GET", "/ui/app.js", "", auth.ScopeNone},
		{"health", "GET", "/healthz", "", auth.ScopeNone},
		{"health", "GET", "/readyz", "", auth.ScopeNone},
		{"openapi", "GET", "/api/openapi.json", "", auth.ScopeNone},
		{"events validation", "OPTIONS", "/api/events", "", auth.ScopeNone},
		{"DF catch-all", "GET", df + "/nope", "", auth.ScopeNone},
		{"DF catch-all", "GET", df, "", auth.ScopeNone},
	}
}

// keyScopes are the test keys by scope ("" is no key, wrong an unknown key).
var keyScopes = []struct {
	name  string
	key   string
	scope auth.Scope
}{{"admin", adminKey, auth.ScopeAdmin}, {"worker", workerKey, auth.ScopeWorker}, {"reader", readerKey, auth.ScopeReader},
	{"no key", "", auth.ScopeNone}, {"wrong key", wrongKey, auth.ScopeNone}}

// wantDenied checks a refusal: DF routes answer with an empty body (as the Functions host),
// orca's routes with orca's error shape; neither names the key.
func wantDenied(t testing.TB, method, path string, r *result, code int) {
	t.Helper()
	r.want(t, code)
	if code == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 without WWW-Authenticate: Bearer: %v", r.header)
	}
	for _, key := range []string{adminKey, workerKey, readerKey, wrongKey} {
		if strings.Contains(string(r.body), key) {
			t.Errorf("the answer names a key: %s", r.body)
		}
	}
	switch {
	case method == "HEAD":
	case strings.HasPrefix(path, df+"/"):
		if len(r.body) != 0 {
			t.Errorf("DF route refused with a body: %s", r.body)
		}
	default:
		m := r.object(t)
		e, _ := m["error"].(map[string]any)
		if e == nil || e["code"] == nil || e["message"] == nil {
			t.Errorf("refusal is not orca's error shape: %s", r.body)
		}
	}
}

func TestAuthScopes(t *testing.T) {
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	for _, c := range authCases() {
		for _, k := range keyScopes {
			t.Run(c.group+"/"+c.method+" "+c.path+"/"+k.name, func(t *testing.T) {
				var opts []reqOpt
				if k.key != "" {
					opts = append(opts, withHeader("x-functions-key", k.key))
				}
				r := n.do(t, c.method, c.path, c.body, opts...)
				switch {
				case c.need == auth.ScopeNone || k.scope == auth.ScopeAdmin || k.scope == c.need:
					if r.code == http.StatusUnauthorized || r.code == http.StatusForbidden {
						t.Fatalf("refused with %d: %s", r.code, r.body)
					}
				case k.scope == auth.ScopeNone:
					wantDenied(t, c.method, c.path, r, http.StatusUnauthorized)
				default:
					wantDenied(t, c.method, c.path, r, http.StatusForbidden)
				}
			})
		}
	}
}

// TestAuthCoversEveryRoute makes a new route fail until it has an auth case.
func TestAuthCoversEveryRoute(t *testing.T) {
	n := newNode(t, nodeConfig{idle: true})
	covered := map[string]bool{}
	for _, c := range authCases() {
		req, err := http.NewRequest(c.method, "http://orca.test"+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		covered[n.app.API.MatchedPattern(req)] = true
	}
	for _, rt := range n.app.API.RouteTable() {
		if !covered[rt.MuxPattern()] {
			t.Errorf("route %q (scope %q) has no case in authCases", rt.MuxPattern(), rt.Scope)
		}
	}
}

func TestAuthPresentation(t *testing.T) {
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	routes := []struct{ method, path string }{
		{"GET", df + "/instances/nope"}, // DF: 404 once allowed
		{"GET", "/api/runs/summary"},
	}
	for _, rt := range routes {
		cases := []struct {
			name  string
			query string
			opts  []reqOpt
			code  int // 0: allowed
		}{
			{"code=", "code=" + url.QueryEscape(readerKey), nil, 0},
			{"CODE= (any case)", "CODE=" + url.QueryEscape(readerKey), nil, 0},
			{"x-functions-key", "", []reqOpt{withHeader("x-functions-key", readerKey)}, 0},
			{"Authorization: Bearer", "", []reqOpt{withHeader("Authorization", "Bearer "+readerKey)}, 0},
			{"Authorization: bearer", "", []reqOpt{withHeader("Authorization", "bearer  "+readerKey)}, 0},
			{"same key in three places", "code=" + url.QueryEscape(readerKey),
				[]reqOpt{withHeader("x-functions-key", readerKey), withHeader("Authorization", "Bearer "+readerKey)}, 0},
			{"admin key by code=", "code=" + url.QueryEscape(adminKey), nil, 0},
			{"worker key by code=", "code=" + url.QueryEscape(workerKey), nil, http.StatusForbidden},
			{"worker key by bearer", "", []reqOpt{withHeader("Authorization", "Bearer "+workerKey)}, http.StatusForbidden},
			{"wrong key by code=", "code=" + wrongKey, nil, http.StatusUnauthorized},
			{"wrong bearer", "", []reqOpt{withHeader("Authorization", "Bearer "+wrongKey)}, http.StatusUnauthorized},
			{"Basic is no key", "", []reqOpt{withHeader("Authorization", "Basic "+readerKey)}, http.StatusUnauthorized},
			{"empty code= is no key", "code=", nil, http.StatusUnauthorized},
			{"missing", "", nil, http.StatusUnauthorized},
			{"two valid keys", "code=" + url.QueryEscape(adminKey), []reqOpt{withHeader("x-functions-key", readerKey)}, http.StatusBadRequest},
			{"valid and wrong key", "", []reqOpt{withHeader("x-functions-key", readerKey), withHeader("Authorization", "Bearer "+wrongKey)},
				http.StatusBadRequest},
			{"header and bearer differ", "", []reqOpt{withHeader("x-functions-key", adminKey), withHeader("Authorization", "Bearer "+readerKey)},
				http.StatusBadRequest},
		}
		for _, c := range cases {
			t.Run(rt.path+"/"+c.name, func(t *testing.T) {
				path := rt.path
				if c.query != "" {
					path += "?" + c.query
				}
				r := n.do(t, rt.method, path, "", c.opts...)
				if c.code == 0 {
					if r.code == http.StatusUnauthorized || r.code == http.StatusForbidden || r.code == http.StatusBadRequest {
						t.Fatalf("refused with %d: %s", r.code, r.body)
					}
					return
				}
				if c.code == http.StatusBadRequest {
					r.want(t, c.code)
					if strings.HasPrefix(rt.path, df+"/") && len(r.body) != 0 {
						t.Fatalf("DF route answered the two-keys 400 with a body: %s", r.body)
					}
					for _, k := range []string{adminKey, readerKey, wrongKey} {
						if strings.Contains(string(r.body), k) {
							t.Fatalf("the answer names a key: %s", r.body)
						}
					}
					return
				}
				wantDenied(t, rt.method, rt.path, r, c.code)
			})
		}
	}
}

func TestAuthOpenWithoutKeys(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for _, c := range authCases() {
		for _, key := range []string{"", wrongKey} {
			t.Run(c.method+" "+c.path+"/"+map[bool]string{true: "no key", false: "any key"}[key == ""], func(t *testing.T) {
				var opts []reqOpt
				if key != "" {
					opts = append(opts, withHeader("x-functions-key", key), withHeader("Authorization", "Bearer other-"+key))
				}
				if r := n.do(t, c.method, c.path, c.body, opts...); r.code == http.StatusUnauthorized || r.code == http.StatusForbidden {
					t.Fatalf("refused with %d on an open node: %s", r.code, r.body)
				}
			})
		}
	}
}

// TestKeysNeverLogged captures the node's log (debug level) through failed authentications
// and a server error, and looks for the keys in it.
func TestKeysNeverLogged(t *testing.T) {
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	for _, path := range []string{df + "/instances/nope", "/api/runs/summary", "/api/queues"} {
		n.do(t, "GET", path+"?code="+wrongKey, "")
		n.do(t, "GET", path, "", withHeader("x-functions-key", wrongKey))
		n.do(t, "GET", path, "", withHeader("Authorization", "Bearer "+wrongKey))
		n.do(t, "GET", path+"?code="+url.QueryEscape(readerKey), "", withHeader("x-functions-key", adminKey))
		n.do(t, "POST", df+"/orchestrators/Echo?code="+url.QueryEscape(workerKey), "")
	}
	admin := withHeader("x-functions-key", adminKey)
	id := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/Echo", "", admin))["id"]
	wait.For(t, waitLimit, func() bool {
		return n.do(t, "GET", df+"/instances/"+id, "", admin).code == http.StatusOK
	}, id+" to complete")

	// A server error: the store goes away under the API.
	if err := n.app.Store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{df + "/instances/" + id, df + "/instances", "/api/runs/summary", df + "/instances/" + id + "/history"} {
		r := n.do(t, "GET", path+"?code="+url.QueryEscape(adminKey), "")
		if r.code < 500 {
			t.Fatalf("GET %s on a closed store: status %d, want a server error", path, r.code)
		}
		if strings.Contains(string(r.body), adminKey) {
			t.Fatalf("the error answer names the key: %s", r.body)
		}
	}
	r := n.do(t, "POST", df+"/orchestrators/Echo?code="+url.QueryEscape(adminKey), "")
	if r.code < 500 {
		t.Fatalf("start on a closed store: status %d", r.code)
	}

	logs := n.logs.String()
	if !strings.Contains(logs, "request failed") {
		t.Fatalf("the server errors were not logged; the check below would prove nothing:\n%s", logs)
	}
	for _, k := range []string{adminKey, workerKey, readerKey, wrongKey, url.QueryEscape(adminKey)} {
		if strings.Contains(logs, k) {
			t.Errorf("the log holds the key %q:\n%s", k, logs)
		}
	}
}
