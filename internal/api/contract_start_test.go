package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/api"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// Contract: DF's start and its check-status payload (docs/api.md) and df.go/routes.go.

// checkStatusKeys are the check-status payload's keys in DF's order (HttpManagementPayload).
var checkStatusKeys = []string{"id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri",
	"purgeHistoryDeleteUri", "restartPostUri", "suspendPostUri", "resumePostUri"}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// wantCheckStatus checks a check-status answer (202, Location, Retry-After: 10, the keys in
// order) and returns the payload.
func wantCheckStatus(t testing.TB, r *result) map[string]string {
	t.Helper()
	r.want(t, http.StatusAccepted)
	r.jsonContentType(t)
	if keys := objectKeys(t, r.body); !slices.Equal(keys, checkStatusKeys) {
		t.Fatalf("check-status keys %v, want %v", keys, checkStatusKeys)
	}
	out := map[string]string{}
	for k, v := range r.object(t) {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("check-status %s is %T, want a string", k, v)
		}
		out[k] = s
	}
	if loc := r.header.Get("Location"); loc != out["statusQueryGetUri"] {
		t.Fatalf("Location %q, want statusQueryGetUri %q", loc, out["statusQueryGetUri"])
	}
	if ra := r.header.Get("Retry-After"); ra != "10" {
		t.Fatalf("Retry-After %q, want 10", ra)
	}
	return out
}

// managementURLs are the URLs DF builds for an instance on origin; extra is appended to
// the common query (the code= of the request).
func managementURLs(origin, escapedID, extra string) map[string]string {
	base := origin + df + "/instances/" + escapedID
	common := "taskHub=orca&connection=Storage" + extra
	return map[string]string{
		"statusQueryGetUri":     base + "?" + common,
		"sendEventPostUri":      base + "/raiseEvent/{eventName}?" + common,
		"terminatePostUri":      base + "/terminate?reason={text}&" + common,
		"purgeHistoryDeleteUri": base + "?" + common,
		"restartPostUri":        base + "/restart?" + common,
		"suspendPostUri":        base + "/suspend?reason={text}&" + common,
		"resumePostUri":         base + "/resume?reason={text}&" + common,
	}
}

func wantURLs(t testing.TB, got map[string]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestStartCheckStatusPayload(t *testing.T) {
	n := newNode(t, nodeConfig{})
	r := n.do(t, "POST", df+"/orchestrators/Hello/order-1?taskHub=x&connection=y", `"Tokyo"`, withJSON())
	p := wantCheckStatus(t, r)
	if p["id"] != "order-1" {
		t.Fatalf("id %q, want order-1", p["id"])
	}
	wantURLs(t, p, managementURLs(n.base, "order-1", ""))
	if st := n.waitStatus(t, "order-1", "Completed"); st["output"] != "Hello Tokyo" {
		t.Fatalf("output %v, want Hello Tokyo", st["output"])
	}

	t.Run("generated id", func(t *testing.T) {
		p := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/Hello", ""))
		if !generatedID.MatchString(p["id"]) {
			t.Fatalf("generated id %q is not 32 lowercase hex digits", p["id"])
		}
		wantURLs(t, p, managementURLs(n.base, p["id"], ""))
	})

	t.Run("id escaped as DF: space becomes +", func(t *testing.T) {
		p := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/Hello/a%20b%2Bc%25", ""))
		if p["id"] != "a b+c%" {
			t.Fatalf("id %q, want %q", p["id"], "a b+c%")
		}
		wantURLs(t, p, managementURLs(n.base, "a+b%2Bc%25", ""))
	})
}

// TestManagementURLsWork follows every management URL of an id that needs escaping: the URLs
// the server hands out must reach the instance they name.
func TestManagementURLsWork(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for _, id := range []string{"plain-id", "with+plus", "with%percent", "with space"} {
		t.Run(id, func(t *testing.T) {
			p := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/WaitEvent/"+escapeID(id), ""))
			get := func(u string) *result {
				req, err := http.NewRequest(http.MethodGet, u, nil)
				if err != nil {
					t.Fatal(err)
				}
				return n.send(t, req)
			}
			if r := get(p["statusQueryGetUri"]); r.code != http.StatusAccepted {
				t.Fatalf("GET statusQueryGetUri %s: status %d, want 202 (the running instance)", p["statusQueryGetUri"], r.code)
			}
			raise := strings.Replace(p["sendEventPostUri"], "{eventName}", "go", 1)
			req, err := http.NewRequest(http.MethodPost, raise, strings.NewReader(`"done"`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if r := n.send(t, req); r.code != http.StatusAccepted {
				t.Fatalf("POST sendEventPostUri %s: status %d, want 202; body %s", raise, r.code, r.body)
			}
			n.waitStatus(t, id, "Completed")
		})
	}
}

func TestStartInput(t *testing.T) {
	n := newNode(t, nodeConfig{})
	cases := []struct {
		name, body, want string
	}{
		{"no body", "", `null`},
		{"empty JSON string means no input", `""`, `null`},
		{"whitespace", " \n ", `null`},
		{"object", `{"a":[1,2],"b":null}`, `{"a":[1,2],"b":null}`},
		{"string", `"x"`, `"x"`},
		{"number", `42`, `42`},
		{"null", `null`, `null`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := n.start(t, "Echo", "", c.body)
			st := n.waitStatus(t, id, "Completed")
			sameJSON(t, "input", st["input"], c.want)
			sameJSON(t, "output", st["output"], c.want)
		})
	}
}

// dfArgumentError checks DF's ArgumentException shape (a 400 with Message and ExceptionMessage)
// and that the message says what is wrong.
func dfArgumentError(t testing.TB, r *result, contains string) {
	t.Helper()
	r.want(t, http.StatusBadRequest)
	m := r.object(t)
	if m["Message"] != "One or more of the arguments submitted is incorrect" && m["Message"] != contains {
		t.Fatalf("Message %q is not DF's", m["Message"])
	}
	if !strings.Contains(string(r.body), contains) {
		t.Fatalf("400 body does not say %q: %s", contains, r.body)
	}
}

func TestStartErrors(t *testing.T) {
	n := newNode(t, nodeConfig{})
	long := strings.Repeat("x", 257)
	cases := []struct {
		name, path, body, says string
	}{
		{"unknown orchestrator", "/orchestrators/Nope", "", "Nope"},
		{"unknown orchestrator with id", "/orchestrators/Nope/id-1", "", "Nope"},
		{"id with slash", "/orchestrators/Hello/a%2Fb", "", "instance id"},
		{"id with backslash", "/orchestrators/Hello/a%5Cb", "", "instance id"},
		{"id with hash", "/orchestrators/Hello/a%23b", "", "instance id"},
		{"id with question mark", "/orchestrators/Hello/a%3Fb", "", "instance id"},
		{"id with control character", "/orchestrators/Hello/a%01b", "", "instance id"},
		{"id with DEL", "/orchestrators/Hello/a%7Fb", "", "instance id"},
		{"id with C1 control", "/orchestrators/Hello/a%C2%85b", "", "instance id"},
		{"id with leading @", "/orchestrators/Hello/%40entity", "", "instance id"},
		{"id longer than 256", "/orchestrators/Hello/" + long, "", "instance id"},
		{"invalid JSON", "/orchestrators/Hello", `{"a":`, "Invalid JSON content"},
		{"invalid JSON word", "/orchestrators/Hello", `hello`, "Invalid JSON content"},
		{"two JSON values", "/orchestrators/Hello", `1 2`, "Invalid JSON content"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := n.do(t, "POST", df+c.path, c.body, withJSON())
			dfArgumentError(t, r, c.says)
			r.jsonContentType(t)
		})
	}
	if got := n.instanceCount(t); got != 0 {
		t.Fatalf("%d instances exist after refused starts", got)
	}

	t.Run("id of 256 characters and @ inside are fine", func(t *testing.T) {
		n.start(t, "Echo", strings.Repeat("y", 256), "")
		n.start(t, "Echo", "a@b", "")
		n.start(t, "Echo", "über-ñ", "")
	})

	t.Run("409 while running, replaced when finished", func(t *testing.T) {
		n.start(t, "WaitEvent", "dup-1", "")
		r := n.do(t, "POST", df+"/orchestrators/WaitEvent/dup-1", "").want(t, http.StatusConflict)
		if m := r.object(t); m["Message"] == nil {
			t.Fatalf("409 body is not DF's short shape: %s", r.body)
		}
		n.do(t, "POST", df+"/orchestrators/Echo/dup-1", "").want(t, http.StatusConflict)
		n.start(t, "Echo", "dup-2", `1`)
		n.waitStatus(t, "dup-2", "Completed")
		n.start(t, "Echo", "dup-2", `2`)
		if st := n.waitStatus(t, "dup-2", "Completed"); st["output"] != float64(2) {
			t.Fatalf("restarted dup-2 output %v, want 2", st["output"])
		}
	})
}

// TestDFErrorMessages checks the Message of DF's named 400s: DF answers these with
// CreateErrorResponse(400, message, exception), so Message is the text itself (start, raise
// event, restart).
func TestDFErrorMessages(t *testing.T) {
	n := newNode(t, nodeConfig{})
	id := n.start(t, "WaitEvent", "", "")
	cases := []struct {
		name      string
		r         *result
		wantField string
	}{
		{"start: Invalid JSON content", n.do(t, "POST", df+"/orchestrators/Hello", `{`, withJSON()), "Invalid JSON content"},
		{"raiseEvent: media type", n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/go", `1`, withHeader("Content-Type", "text/plain")),
			"Only application/json request content is supported"},
		{"raiseEvent: Invalid JSON content", n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/go", `{`, withJSON()), "Invalid JSON content"},
		{"restart: unknown id", n.do(t, "POST", df+"/instances/nope/restart", ""), "InstanceId does not match a valid orchestration instance."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.r.want(t, http.StatusBadRequest)
			if m := c.r.object(t); m["Message"] != c.wantField {
				t.Errorf("Message = %q, want %q (DF's CreateErrorResponse); body %s", m["Message"], c.wantField, c.r.body)
			}
		})
	}
}

func TestStartAndWait(t *testing.T) {
	n := newNode(t, nodeConfig{})
	t.Run("completes: 200 with the raw output", func(t *testing.T) {
		r := n.do(t, "POST", df+"/orchestrators/Echo?timeout=30&pollingInterval=1", `{"k":[1,"two"]}`, withJSON()).want(t, http.StatusOK)
		r.jsonContentType(t)
		if got := strings.TrimSpace(string(r.body)); got != `{"k":[1,"two"]}` {
			t.Fatalf("body %s, want the output itself", got)
		}
		if loc := r.header.Get("Location"); loc != "" {
			t.Fatalf("Location %q on a finished wait", loc)
		}
	})
	t.Run("completes with a string output", func(t *testing.T) {
		r := n.do(t, "POST", df+"/orchestrators/Hello/wait-hello?timeout=30&pollingInterval=0.5", `"Oslo"`).want(t, http.StatusOK)
		if got := strings.TrimSpace(string(r.body)); got != `"Hello Oslo"` {
			t.Fatalf("body %s, want \"Hello Oslo\"", got)
		}
	})
	t.Run("completes without output: null", func(t *testing.T) {
		r := n.do(t, "POST", df+"/orchestrators/Echo?timeout=30&pollingInterval=1", "").want(t, http.StatusOK)
		if got := strings.TrimSpace(string(r.body)); got != `null` {
			t.Fatalf("body %s, want null", got)
		}
	})
	t.Run("fails: the status", func(t *testing.T) {
		r := n.do(t, "POST", df+"/orchestrators/Fail/wait-fail?timeout=30&pollingInterval=1", "").want(t, http.StatusOK)
		m := r.object(t)
		if m["runtimeStatus"] != "Failed" || m["instanceId"] != "wait-fail" || m["name"] != "Fail" {
			t.Fatalf("body %s, want the Failed status of wait-fail", r.body)
		}
		if keys := objectKeys(t, r.body); !slices.Equal(keys, statusKeys) {
			t.Fatalf("status keys %v, want %v", keys, statusKeys)
		}
	})
	t.Run("terminated while waiting: the status", func(t *testing.T) {
		type answer struct {
			r   *result
			err error
		}
		done := make(chan answer, 1)
		go func() {
			resp, err := n.client.Post(n.base+df+"/orchestrators/WaitEvent/wait-term?timeout=30&pollingInterval=0.5", "application/json", nil)
			if err != nil {
				done <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			done <- answer{&result{code: resp.StatusCode, header: resp.Header, body: b}, err}
		}()
		wait.For(t, waitLimit, func() bool {
			code, _ := n.status(t, "wait-term", "")
			return code == http.StatusAccepted
		}, "wait-term to exist")
		n.do(t, "POST", df+"/instances/wait-term/terminate?reason=enough", "").want(t, http.StatusAccepted)
		a := <-done
		if a.err != nil {
			t.Fatal(a.err)
		}
		m := a.r.want(t, http.StatusOK).object(t)
		if m["runtimeStatus"] != "Terminated" || m["output"] != "enough" {
			t.Fatalf("body %s, want the Terminated status with the reason as output", a.r.body)
		}
	})
	t.Run("times out: 202 check-status", func(t *testing.T) {
		p := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/WaitEvent/wait-slow?timeout=0.2&pollingInterval=0.1", ""))
		if p["id"] != "wait-slow" {
			t.Fatalf("id %q", p["id"])
		}
	})
	t.Run("timeout without pollingInterval does not wait", func(t *testing.T) {
		wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/WaitEvent?timeout=600", ""))
	})
	for _, q := range []string{
		"timeout=1&pollingInterval=2",   // pollingInterval > timeout
		"timeout=0&pollingInterval=0.1", // pollingInterval > timeout
		"timeout=abc&pollingInterval=1",
		"timeout=1&pollingInterval=abc",
		"timeout=-1&pollingInterval=1",
		"timeout=1&pollingInterval=0",
		"timeout=601&pollingInterval=1", // beyond the documented 600 s
		"timeout=Inf&pollingInterval=1",
		"timeout=NaN&pollingInterval=1", // .NET's TimeSpan.FromSeconds(NaN) throws ArgumentException: 400
		"timeout=1&pollingInterval=NaN",
	} {
		t.Run("400 "+q, func(t *testing.T) {
			before := n.instanceCount(t)
			r := n.do(t, "POST", df+"/orchestrators/WaitEvent?"+q, "")
			dfArgumentError(t, r, "")
			if after := n.instanceCount(t); after != before {
				t.Fatalf("a refused start-and-wait started an instance (%d → %d)", before, after)
			}
		})
	}
}

func TestSeedsStarter(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for _, c := range []struct {
		method, query, input string
	}{
		{"POST", "inputCount=5", "5"},
		{"GET", "inputCount=5", "5"},
		{"POST", "inputCount=1000000", "1000000"},
		{"POST", "inputcount=%205%20", "5"}, // names are case-insensitive; the value is trimmed
	} {
		t.Run(c.method+" "+c.query, func(t *testing.T) {
			p := wantCheckStatus(t, n.do(t, c.method, "/api/orchestrators/Echo?"+c.query, ""))
			wantURLs(t, p, managementURLs(n.base, p["id"], ""))
			if st := n.waitStatus(t, p["id"], "Completed"); st["input"] != c.input {
				t.Fatalf("input %#v, want the string %q", st["input"], c.input)
			}
		})
	}
	t.Run("with an id", func(t *testing.T) {
		p := wantCheckStatus(t, n.do(t, "POST", "/api/orchestrators/Echo/seed-run-1?inputCount=3", ""))
		if p["id"] != "seed-run-1" {
			t.Fatalf("id %q", p["id"])
		}
	})
	t.Run("body as input without inputCount", func(t *testing.T) {
		id := wantCheckStatus(t, n.do(t, "POST", "/api/orchestrators/Echo", `{"inputCount":2}`, withJSON()))["id"]
		sameJSON(t, "input", n.waitStatus(t, id, "Completed")["input"], `{"inputCount":2}`)
	})
	for _, bad := range []string{"0", "-1", "abc", "1000001", "", "1.5", "99999999999999999999"} {
		t.Run("400 inputCount="+bad, func(t *testing.T) {
			r := n.do(t, "POST", "/api/orchestrators/Echo?inputCount="+url.QueryEscape(bad), "").want(t, http.StatusBadRequest)
			if !strings.Contains(string(r.body), "inputCount") {
				t.Fatalf("400 does not name inputCount: %s", r.body)
			}
		})
	}
	t.Run("400 unknown orchestrator", func(t *testing.T) {
		n.do(t, "POST", "/api/orchestrators/Nope?inputCount=1", "").want(t, http.StatusBadRequest)
	})
	t.Run("409 running id", func(t *testing.T) {
		n.do(t, "POST", "/api/orchestrators/WaitEvent/seed-dup", "").want(t, http.StatusAccepted)
		n.do(t, "POST", "/api/orchestrators/WaitEvent/seed-dup", "").want(t, http.StatusConflict)
	})
}

func TestManagementURLOrigin(t *testing.T) {
	n := newNode(t, nodeConfig{})
	cases := []struct {
		name    string
		headers map[string]string
		origin  string
	}{
		{"request host", nil, n.base},
		{"forwarded proto and host", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "proxy.example:8443"},
			"https://proxy.example:8443"},
		{"first forwarded values", map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.example, b.example"},
			"https://a.example"},
		{"forwarded host only", map[string]string{"X-Forwarded-Host": "gw.example"}, "http://gw.example"},
		{"bad forwarded host ignored", map[string]string{"X-Forwarded-Host": "evil.example/path"}, n.base},
		{"bad forwarded proto ignored", map[string]string{"X-Forwarded-Proto": "javascript"}, n.base},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []reqOpt
			for k, v := range c.headers {
				opts = append(opts, withHeader(k, v))
			}
			p := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/WaitEvent", "", opts...))
			wantURLs(t, p, managementURLs(c.origin, p["id"], ""))
			path := df + "/instances/" + p["id"] + "?showInput=false"
			r := n.do(t, "GET", path, "", opts...).want(t, http.StatusAccepted)
			if loc := r.header.Get("Location"); loc != c.origin+path {
				t.Fatalf("status Location %q, want %q", loc, c.origin+path)
			}
		})
	}

	t.Run("public base URL wins", func(t *testing.T) {
		pub := newNode(t, nodeConfig{publicBaseURL: "https://orca.example.com/"})
		p := wantCheckStatus(t, pub.do(t, "POST", df+"/orchestrators/WaitEvent", "",
			withHeader("X-Forwarded-Proto", "http"), withHeader("X-Forwarded-Host", "proxy.example")))
		wantURLs(t, p, managementURLs("https://orca.example.com", p["id"], ""))
		path := df + "/instances/" + p["id"]
		if loc := pub.do(t, "GET", path, "").want(t, http.StatusAccepted).header.Get("Location"); loc != "https://orca.example.com"+path {
			t.Fatalf("status Location %q", loc)
		}
	})
}

func TestCodeEchoedIntoManagementURLs(t *testing.T) {
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	code := "&code=" + url.QueryEscape(adminKey)

	p := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/WaitEvent?code="+url.QueryEscape(adminKey), ""))
	wantURLs(t, p, managementURLs(n.base, p["id"], code))
	// The URL works as handed out, with no other key.
	req, err := http.NewRequest(http.MethodGet, p["statusQueryGetUri"], nil)
	if err != nil {
		t.Fatal(err)
	}
	n.send(t, req).want(t, http.StatusAccepted)

	t.Run("restart echoes it too", func(t *testing.T) {
		r := n.do(t, "POST", df+"/instances/"+p["id"]+"/restart?code="+url.QueryEscape(adminKey), "")
		q := wantCheckStatus(t, r)
		wantURLs(t, q, managementURLs(n.base, q["id"], code))
	})
	t.Run("a key in a header is not echoed", func(t *testing.T) {
		for _, h := range [][2]string{{"x-functions-key", adminKey}, {"Authorization", "Bearer " + adminKey}} {
			q := wantCheckStatus(t, n.do(t, "POST", df+"/orchestrators/WaitEvent", "", withHeader(h[0], h[1])))
			wantURLs(t, q, managementURLs(n.base, q["id"], ""))
		}
	})
}

func TestBodyLimit(t *testing.T) {
	n := newNode(t, nodeConfig{})
	srv, err := api.New(api.Config{Engine: n.app.Engine, Blobs: n.app.Blobs, Queues: n.app.Queues, Router: n.app.Router,
		MaxBodyBytes: 1024, MaxBlobBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	small := &node{base: ts.URL, client: n.client}
	running := n.start(t, "WaitEvent", "", "")
	big := `"` + strings.Repeat("a", 2000) + `"`
	cases := []struct {
		name, method, path, body string
		df                       bool
	}{
		{"start", "POST", df + "/orchestrators/Echo", big, true},
		{"start with id", "POST", df + "/orchestrators/Echo/big-1", big, true},
		{"seeds' starter", "POST", "/api/orchestrators/Echo", big, true},
		{"raise event", "POST", df + "/instances/" + running + "/raiseEvent/go", big, true},
		{"enqueue", "POST", "/api/queues/work/messages", `{"messages":[{"body":` + big + `}]}`, false},
		{"ingest events", "POST", "/api/events", `[` + big + `]`, false},
		{"put subscription", "PUT", "/api/subscriptions/big", `{"name":` + big + `}`, false},
		{"put blob", "PUT", "/api/blobs/data/big.bin", strings.Repeat("b", 4096), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := small.do(t, c.method, c.path, c.body, withJSON()).want(t, http.StatusRequestEntityTooLarge)
			m := r.object(t)
			if c.df && m["Message"] == nil {
				t.Fatalf("DF route's 413 is not DF's shape: %s", r.body)
			}
			if !c.df && m["error"] == nil {
				t.Fatalf("orca route's 413 is not orca's shape: %s", r.body)
			}
		})
	}

	t.Run("default limit is 4 MiB", func(t *testing.T) {
		body := `"` + strings.Repeat("a", 4<<20) + `"`
		n.do(t, "POST", df+"/orchestrators/Echo", body, withJSON()).want(t, http.StatusRequestEntityTooLarge)
		just := `"` + strings.Repeat("a", 4<<20-2) + `"`
		n.do(t, "POST", df+"/orchestrators/Echo", just, withJSON()).want(t, http.StatusAccepted)
	})
}
