package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/testutil/wait"
)

// Contract: DF's raise event, terminate/suspend/resume, rewind, restart and purge (docs/api.md)
// and the deviations documented at the top of df.go.

// finished starts name and waits until it reaches status.
func (n *node) finished(t testing.TB, name, id, input, status string) string {
	t.Helper()
	id = n.start(t, name, id, input)
	n.waitStatus(t, id, status)
	return id
}

// terminated starts a WaitEvent and terminates it.
func (n *node) terminated(t testing.TB, id string) string {
	t.Helper()
	id = n.start(t, "WaitEvent", id, "")
	n.do(t, "POST", df+"/instances/"+id+"/terminate", "").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Terminated")
	return id
}

func TestRaiseEvent(t *testing.T) {
	n := newNode(t, nodeConfig{})
	completed := n.finished(t, "Echo", "re-done", "", "Completed")
	failed := n.finished(t, "Fail", "re-failed", "", "Failed")
	terminated := n.terminated(t, "re-terminated")
	running := n.start(t, "WaitEvent", "re-running", "")
	n.waitStatus(t, running, "Running")

	// Each case breaks every later check too, so the order of the checks shows.
	cases := []struct {
		name, id, contentType, body string
		code                        int
		says                        string
	}{
		{"404 before everything", "nope", "text/plain", "{", http.StatusNotFound, ""},
		{"410 Completed before media type", completed, "text/plain", "{", http.StatusGone, ""},
		{"410 Failed", failed, "text/plain", "{", http.StatusGone, ""},
		{"410 Terminated", terminated, "application/json", `1`, http.StatusGone, ""},
		{"400 media type before JSON", running, "text/plain", "{", http.StatusBadRequest, "Only application/json request content is supported"},
		{"400 media type with valid JSON", running, "application/xml", `1`, http.StatusBadRequest, "Only application/json request content is supported"},
		{"400 invalid JSON", running, "application/json", "{", http.StatusBadRequest, "Invalid JSON content"},
		{"400 two JSON values", running, "application/json", "1 2", http.StatusBadRequest, "Invalid JSON content"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := n.do(t, "POST", df+"/instances/"+c.id+"/raiseEvent/go", c.body, withHeader("Content-Type", c.contentType))
			switch c.code {
			case http.StatusNotFound:
				r.wantEmpty(t, c.code)
			case http.StatusBadRequest:
				dfArgumentError(t, r, c.says)
			default:
				r.want(t, c.code)
			}
		})
	}
	st := n.waitStatus(t, running, "Running")
	if st["output"] != nil {
		t.Fatalf("a refused event reached the instance: %v", st)
	}

	t.Run("202 delivers the event", func(t *testing.T) {
		n.do(t, "POST", df+"/instances/"+running+"/raiseEvent/other", `"ignored"`, withJSON()).wantEmpty(t, http.StatusAccepted)
		n.do(t, "POST", df+"/instances/"+running+"/raiseEvent/go", `{"x":[1,2]}`,
			withHeader("Content-Type", "Application/JSON; charset=utf-8")).wantEmpty(t, http.StatusAccepted)
		sameJSON(t, "output", n.waitStatus(t, running, "Completed")["output"], `{"x":[1,2]}`)
		n.do(t, "POST", df+"/instances/"+running+"/raiseEvent/go", `1`, withJSON()).want(t, http.StatusGone)
	})

	// df.go: an empty body without a content type is a null event (DF would refuse the missing
	// media type with 400).
	t.Run("empty body without a content type: a null event", func(t *testing.T) {
		id := n.start(t, "WaitEvent", "", "")
		n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/go", "").wantEmpty(t, http.StatusAccepted)
		if st := n.waitStatus(t, id, "Completed"); st["output"] != nil {
			t.Fatalf("output %v, want null", st["output"])
		}
	})

	t.Run("event names are case-insensitive", func(t *testing.T) {
		id := n.start(t, "WaitEvent", "", "")
		n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/GO", `"upper"`, withJSON()).wantEmpty(t, http.StatusAccepted)
		if st := n.waitStatus(t, id, "Completed"); st["output"] != "upper" {
			t.Fatalf("output %v", st["output"])
		}
	})

	t.Run("kept for a Pending instance", func(t *testing.T) {
		idle := newNode(t, nodeConfig{idle: true})
		id := idle.start(t, "WaitEvent", "", "")
		idle.do(t, "POST", df+"/instances/"+id+"/raiseEvent/go", `"early"`, withJSON()).wantEmpty(t, http.StatusAccepted)
		if _, m := idle.status(t, id, ""); m["runtimeStatus"] != "Pending" {
			t.Fatalf("status %v", m)
		}
	})

	t.Run("accepted while Suspended, consumed on resume", func(t *testing.T) {
		id := n.start(t, "WaitEvent", "", "")
		n.waitStatus(t, id, "Running")
		n.do(t, "POST", df+"/instances/"+id+"/suspend", "").wantEmpty(t, http.StatusAccepted)
		n.waitStatus(t, id, "Suspended")
		n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/go", `"later"`, withJSON()).wantEmpty(t, http.StatusAccepted)
		n.do(t, "POST", df+"/instances/"+id+"/resume", "").wantEmpty(t, http.StatusAccepted)
		if st := n.waitStatus(t, id, "Completed"); st["output"] != "later" {
			t.Fatalf("output %v", st["output"])
		}
	})

	t.Run("invalid event name", func(t *testing.T) {
		id := n.start(t, "WaitEvent", "", "")
		r := n.do(t, "POST", df+"/instances/"+id+"/raiseEvent/a%01b", `1`, withJSON())
		dfArgumentError(t, r, "event name")
	})
}

func TestTerminateSuspendResume(t *testing.T) {
	n := newNode(t, nodeConfig{})
	op := func(id, name, query string) *result {
		path := df + "/instances/" + id + "/" + name
		if query != "" {
			path += "?" + query
		}
		return n.do(t, "POST", path, "")
	}
	id := n.start(t, "WaitEvent", "tsr-1", "")
	n.waitStatus(t, id, "Running")

	op(id, "suspend", "reason=pause").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Suspended")
	op(id, "suspend", "").want(t, http.StatusConflict)
	op(id, "resume", "reason=go%20on").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Running")
	op(id, "resume", "").want(t, http.StatusConflict)
	op(id, "suspend", "").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Suspended")
	op(id, "terminate", "reason=stop+now").wantEmpty(t, http.StatusAccepted)
	if st := n.waitStatus(t, id, "Terminated"); st["output"] != "stop now" {
		t.Fatalf("terminated output %v, want the reason", st["output"])
	}
	for _, name := range []string{"terminate", "suspend", "resume"} {
		op(id, name, "").want(t, http.StatusGone)
	}

	t.Run("unknown: 404 empty", func(t *testing.T) {
		for _, name := range []string{"terminate", "suspend", "resume", "rewind"} {
			op("nope", name, "").wantEmpty(t, http.StatusNotFound)
		}
	})
	t.Run("finished: 410", func(t *testing.T) {
		completed := n.finished(t, "Echo", "", "", "Completed")
		failed := n.finished(t, "Fail", "", "", "Failed")
		for _, id := range []string{completed, failed} {
			for _, name := range []string{"terminate", "suspend", "resume"} {
				if r := op(id, name, ""); r.code != http.StatusGone {
					t.Errorf("%s %s: status %d, want 410", name, id, r.code)
				}
			}
		}
	})
	t.Run("terminate a Pending instance", func(t *testing.T) {
		idle := newNode(t, nodeConfig{idle: true})
		id := idle.start(t, "WaitEvent", "", "")
		idle.do(t, "POST", df+"/instances/"+id+"/terminate", "").wantEmpty(t, http.StatusAccepted)
		idle.do(t, "POST", df+"/instances/"+id+"/suspend", "").wantEmpty(t, http.StatusAccepted)
	})
}

// TestReasonUnencoded sends reason= the way some clients do: not URL-encoded.
func TestReasonUnencoded(t *testing.T) {
	n := newNode(t, nodeConfig{})
	cases := []struct {
		name, rawQuery, want string
	}{
		{"lone percent", "reason=100%", "100%"},
		{"lone percent before another parameter", "reason=50%+off&taskHub=hub", "50% off"},
		{"bad escape", "reason=a%zzb", "a%zzb"},
		{"encoded", "reason=a%20b%26c", "a b&c"},
		{"plus", "reason=a+b", "a b"},
		{"name in another case", "REASON=upper", "upper"},
	}
	for _, c := range cases {
		t.Run("raw request: "+c.name, func(t *testing.T) {
			id := n.start(t, "WaitEvent", "", "")
			n.raw(t, "POST", df+"/instances/"+id+"/terminate?"+c.rawQuery).wantEmpty(t, http.StatusAccepted)
			if st := n.waitStatus(t, id, "Terminated"); st["output"] != c.want {
				t.Fatalf("output %q, want %q", st["output"], c.want)
			}
		})
	}
	// A space cannot cross Go's HTTP/1.1 server (it splits the request line on spaces and
	// answers 400 before any handler); behind a proxy that forwards it, the handler sees it.
	t.Run("space, at the handler", func(t *testing.T) {
		id := n.start(t, "WaitEvent", "", "")
		req := httptest.NewRequest(http.MethodPost, df+"/instances/"+id+"/terminate", nil)
		req.URL.RawQuery = "reason=two words&x=1"
		rec := httptest.NewRecorder()
		n.app.API.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("status %d", rec.Code)
		}
		if st := n.waitStatus(t, id, "Terminated"); st["output"] != "two words" {
			t.Fatalf("output %q, want %q", st["output"], "two words")
		}
	})
	t.Run("space, raw over the wire", func(t *testing.T) {
		if r := n.raw(t, "POST", df+"/instances/x/terminate?reason=two words"); r.code >= 500 {
			t.Fatalf("status %d", r.code)
		}
	})
}

func TestRewind(t *testing.T) {
	n := newNode(t, nodeConfig{})
	failed := n.finished(t, "Flaky", "rw-1", "", "Failed")
	n.flaky.Store(false)
	n.do(t, "POST", df+"/instances/"+failed+"/rewind?reason=retry", "").wantEmpty(t, http.StatusAccepted)
	if st := n.waitStatus(t, failed, "Completed"); st["output"] != "recovered" {
		t.Fatalf("rewound output %v", st["output"])
	}

	completed := n.finished(t, "Echo", "", "", "Completed")
	terminated := n.terminated(t, "rw-terminated")
	running := n.start(t, "WaitEvent", "", "")
	n.waitStatus(t, running, "Running")
	suspended := n.start(t, "WaitEvent", "", "")
	n.waitStatus(t, suspended, "Running")
	n.do(t, "POST", df+"/instances/"+suspended+"/suspend", "").want(t, http.StatusAccepted)
	n.waitStatus(t, suspended, "Suspended")
	for _, c := range []struct {
		name, id string
		code     int
	}{
		{"Completed: 410", completed, http.StatusGone},
		{"Terminated: 410", terminated, http.StatusGone},
		{"Running: 412", running, http.StatusPreconditionFailed},
		{"Suspended: 412", suspended, http.StatusPreconditionFailed},
		{"unknown: 404", "nope", http.StatusNotFound},
		{"Completed after rewind: 410", failed, http.StatusGone},
	} {
		t.Run(c.name, func(t *testing.T) {
			n.do(t, "POST", df+"/instances/"+c.id+"/rewind", "").want(t, c.code)
		})
	}
	t.Run("Pending: 412", func(t *testing.T) {
		idle := newNode(t, nodeConfig{idle: true})
		id := idle.start(t, "Echo", "", "")
		idle.do(t, "POST", df+"/instances/"+id+"/rewind", "").want(t, http.StatusPreconditionFailed)
	})
}

func TestRestart(t *testing.T) {
	n := newNode(t, nodeConfig{})
	orig := n.finished(t, "Echo", "rs-1", `{"n":1}`, "Completed")

	t.Run("new id by default", func(t *testing.T) {
		for _, q := range []string{"", "?restartWithNewInstanceId=true", "?restartWithNewInstanceId=nonsense"} {
			p := wantCheckStatus(t, n.do(t, "POST", df+"/instances/"+orig+"/restart"+q, ""))
			if p["id"] == orig || !generatedID.MatchString(p["id"]) {
				t.Fatalf("%q: restarted as %q, want a new generated id", q, p["id"])
			}
			wantURLs(t, p, managementURLs(n.base, p["id"], ""))
			st := n.waitStatus(t, p["id"], "Completed")
			sameJSON(t, "input", st["input"], `{"n":1}`)
			if st["name"] != "Echo" {
				t.Fatalf("restarted name %v", st["name"])
			}
		}
	})
	t.Run("same id", func(t *testing.T) {
		_, before := n.status(t, orig, "")
		p := wantCheckStatus(t, n.do(t, "POST", df+"/instances/"+orig+"/restart?restartWithNewInstanceId=false", ""))
		if p["id"] != orig {
			t.Fatalf("restarted as %q, want %q", p["id"], orig)
		}
		wait.For(t, waitLimit, func() bool {
			_, st := n.status(t, orig, "")
			return st["runtimeStatus"] == "Completed" && st["createdTime"].(string) >= before["createdTime"].(string)
		}, "the same-id restart to finish again")
	})
	t.Run("same id while running: 409", func(t *testing.T) {
		id := n.start(t, "WaitEvent", "", "")
		n.do(t, "POST", df+"/instances/"+id+"/restart?restartWithNewInstanceId=false", "").want(t, http.StatusConflict)
		wantCheckStatus(t, n.do(t, "POST", df+"/instances/"+id+"/restart", ""))
	})
	t.Run("unknown: 400", func(t *testing.T) {
		dfArgumentError(t, n.do(t, "POST", df+"/instances/nope/restart", ""), "InstanceId does not match a valid orchestration instance.")
	})
	t.Run("and wait", func(t *testing.T) {
		r := n.do(t, "POST", df+"/instances/"+orig+"/restart?timeout=30&pollingInterval=1", "").want(t, http.StatusOK)
		if got := strings.TrimSpace(string(r.body)); got != `{"n":1}` {
			t.Fatalf("body %s, want the output", got)
		}
		dfArgumentError(t, n.do(t, "POST", df+"/instances/"+orig+"/restart?timeout=1&pollingInterval=2", ""), "pollingInterval")
	})
}

func TestPurgeOne(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for _, id := range []string{n.finished(t, "Echo", "", "", "Completed"), n.finished(t, "Fail", "", "", "Failed"), n.terminated(t, "pg-t")} {
		r := n.do(t, "DELETE", df+"/instances/"+id, "").want(t, http.StatusOK)
		r.jsonContentType(t)
		if got := strings.TrimSpace(string(r.body)); got != `{"instancesDeleted":1}` {
			t.Fatalf("body %s", got)
		}
		n.do(t, "GET", df+"/instances/"+id, "").wantEmpty(t, http.StatusNotFound)
		n.do(t, "GET", df+"/instances/"+id+"/history", "").wantEmpty(t, http.StatusNotFound)
		n.do(t, "DELETE", df+"/instances/"+id, "").wantEmpty(t, http.StatusNotFound)
	}
	running := n.start(t, "WaitEvent", "", "")
	n.do(t, "DELETE", df+"/instances/"+running, "").want(t, http.StatusConflict)
	n.waitStatus(t, running, "Running")
	n.do(t, "DELETE", df+"/instances/nope", "").wantEmpty(t, http.StatusNotFound)
}

// purgeManyPaths are both spellings of the purge-many route: DF's JavaScript client builds the
// second from statusQueryGetUri with an empty instance id, and DF routes both to the same handler.
var purgeManyPaths = []string{df + "/instances", df + "/instances/"}

func TestPurgeMany(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for range 3 {
		n.finished(t, "Echo", "", "", "Completed")
	}
	n.finished(t, "Fail", "", "", "Failed")
	n.terminated(t, "pm-terminated")
	running := n.start(t, "WaitEvent", "", "")
	n.waitStatus(t, running, "Running")
	const total = 6
	from := "createdTimeFrom=2000-01-01T00:00:00Z"

	t.Run("createdTimeFrom missing: 400 with a bare JSON string", func(t *testing.T) {
		for _, q := range []string{"", "?createdTimeFrom=", "?createdTimeFrom=%20", "?runtimeStatus=Completed", "?createdTimeTo=2999-01-01T00:00:00Z"} {
			for _, path := range purgeManyPaths {
				r := n.do(t, "DELETE", path+q, "").want(t, http.StatusBadRequest)
				if got := strings.TrimSpace(string(r.body)); got != `"Please provide value for 'createdTimeFrom' parameter."` {
					t.Fatalf("%s%s: body %s", path, q, got)
				}
			}
		}
	})
	for _, c := range []struct{ name, query, says string }{
		{"unknown status", from + "&runtimeStatus=bogus", "runtimeStatus"},
		{"lower-case status", from + "&runtimeStatus=completed", "runtimeStatus"},
		{"empty status", from + "&runtimeStatus=", "runtimeStatus"},
		{"unfinished status", from + "&runtimeStatus=Running", "runtimeStatus"},
		{"unfinished status among finished", from + "&runtimeStatus=Completed,Pending", "runtimeStatus"},
		{"Suspended", from + "&runtimeStatus=Failed&runtimeStatus=Suspended", "runtimeStatus"},
		{"numeric unfinished", from + "&runtimeStatus=0", "runtimeStatus"},
		{"unparsable from", "createdTimeFrom=yesterday", "createdTimeFrom"},
		{"unparsable to", from + "&createdTimeTo=tomorrow", "createdTimeTo"},
	} {
		t.Run("400 "+c.name, func(t *testing.T) {
			for _, path := range purgeManyPaths {
				dfArgumentError(t, n.do(t, "DELETE", path+"?"+c.query, ""), c.says)
			}
			if got := n.instanceCount(t); got != total {
				t.Fatalf("%d instances left after a refused purge, want %d", got, total)
			}
		})
	}
	t.Run("nothing in range: 404", func(t *testing.T) {
		for _, path := range purgeManyPaths {
			n.do(t, "DELETE", path+"?createdTimeFrom=2200-01-01T00:00:00Z", "").wantEmpty(t, http.StatusNotFound)
			n.do(t, "DELETE", path+"?"+from+"&createdTimeTo=2001-01-01T00:00:00Z", "").wantEmpty(t, http.StatusNotFound)
		}
		if got := n.instanceCount(t); got != total {
			t.Fatalf("%d instances left, want %d", got, total)
		}
	})
	purge := func(t *testing.T, path, query string, want int) {
		t.Helper()
		r := n.do(t, "DELETE", path+"?"+query, "").want(t, http.StatusOK)
		if got := strings.TrimSpace(string(r.body)); got != `{"instancesDeleted":`+strconv.Itoa(want)+`}` {
			t.Fatalf("DELETE %s?%s: body %s, want %d deleted", path, query, got, want)
		}
	}
	t.Run("by status", func(t *testing.T) {
		purge(t, df+"/instances", from+"&runtimeStatus=Failed,bogus", 1)
		purge(t, df+"/instances/", from+"&runtimeStatus=5", 1) // Terminated, by number; the JS client's spelling
	})
	t.Run("every finished status by default", func(t *testing.T) {
		purge(t, df+"/instances/", from, 3)
		if ids := n.listAll(t, "", 100); len(ids) != 1 || ids[0] != running {
			t.Fatalf("left %v, want only the running %s", ids, running)
		}
		for _, path := range purgeManyPaths {
			n.do(t, "DELETE", path+"?"+from, "").wantEmpty(t, http.StatusNotFound)
		}
	})
}

// TestPurgeManyFarDates purges with the bounds .NET clients send for "any time"
// (DateTime.MinValue, DateTime.MaxValue) and other dates outside 1678–2262.
func TestPurgeManyFarDates(t *testing.T) {
	for _, c := range []struct {
		query   string
		deleted int
	}{
		{"createdTimeFrom=0001-01-01T00:00:00Z&createdTimeTo=9999-12-31T23:59:59Z", 1},
		{"createdTimeFrom=1600-01-01T00:00:00Z", 1},
		{"createdTimeFrom=2000-01-01T00:00:00Z&createdTimeTo=2999-01-01T00:00:00Z", 1},
		{"createdTimeFrom=2999-01-01T00:00:00Z", 0},
		{"createdTimeFrom=0001-01-01T00:00:00Z&createdTimeTo=1600-01-01T00:00:00Z", 0},
	} {
		t.Run(c.query, func(t *testing.T) {
			n := newNode(t, nodeConfig{})
			id := n.finished(t, "Echo", "", "", "Completed")
			r := n.do(t, "DELETE", df+"/instances?"+c.query, "")
			if c.deleted == 0 {
				r.wantEmpty(t, http.StatusNotFound)
				if code, _ := n.status(t, id, ""); code != http.StatusOK {
					t.Fatalf("the instance outside the range was purged (status %d)", code)
				}
				return
			}
			if r.code != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"instancesDeleted":1}` {
				t.Fatalf("status %d body %q, want 200 {\"instancesDeleted\":1}", r.code, r.body)
			}
		})
	}
}

func TestOperationNamesCaseInsensitive(t *testing.T) {
	n := newNode(t, nodeConfig{})
	id := n.start(t, "WaitEvent", "", "")
	n.waitStatus(t, id, "Running")
	n.do(t, "POST", df+"/instances/"+id+"/SUSPEND", "").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Suspended")
	n.do(t, "POST", df+"/instances/"+id+"/Resume", "").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Running")
	for _, op := range []string{"RaiseEvent", "raiseevent", "RAISEEVENT"} {
		n.do(t, "POST", df+"/instances/"+id+"/"+op+"/other", `1`, withJSON()).wantEmpty(t, http.StatusAccepted)
	}
	n.do(t, "POST", df+"/instances/"+id+"/TERMINATE?reason=r", "").wantEmpty(t, http.StatusAccepted)
	n.waitStatus(t, id, "Terminated")
	wantCheckStatus(t, n.do(t, "POST", df+"/instances/"+id+"/ReStArT", ""))
	n.do(t, "POST", df+"/instances/"+id+"/REWIND", "").want(t, http.StatusGone)
}

func TestUnknownRoutes(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		cfg := nodeConfig{}
		if keyed {
			cfg.keys = testKeys(t)
		}
		n := newNode(t, cfg)
		for _, c := range []struct{ method, path string }{
			{"GET", df + "/orchestrators/Echo"}, // start is POST only
			{"PUT", df + "/orchestrators/Echo"},
			{"DELETE", df + "/orchestrators/Echo/x"},
			{"GET", df + "/orchestrators"},
			{"POST", df + "/orchestrators/"},
			{"PUT", df + "/instances/x"},
			{"PATCH", df + "/instances"},
			{"POST", df + "/instances"},
			{"POST", df + "/instances/x"},
			{"POST", df + "/instances/x/unknownop"},
			{"POST", df + "/instances/x/raiseEvent"},
			{"POST", df + "/instances/x/terminate/extra"},
			{"POST", df + "/instances/x/raiseEvent/e/extra"},
			{"GET", df + "/instances/x/terminate"},
			{"DELETE", df + "/instances/x/history"},
			{"POST", df + "/instances/x/history"},
			{"GET", df + "/entities/counter/one"},
			{"POST", df + "/makeprimary"},
			{"GET", df + "/"},
			{"GET", df + "/nope"},
			{"GET", df}, // the bare prefix: DF's router matches no template
		} {
			t.Run(c.method+" "+c.path+map[bool]string{true: " keyed"}[keyed], func(t *testing.T) {
				var opts []reqOpt
				if keyed {
					opts = append(opts, withHeader("x-functions-key", adminKey))
				}
				n.do(t, c.method, c.path, "", opts...).wantEmpty(t, http.StatusNotFound)
			})
		}
	}
}
