package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Contract: DF's instance list (docs/api.md) and the paged history route of df.go/history.go.

func TestList(t *testing.T) {
	n := newNode(t, nodeConfig{})
	for _, id := range []string{"done-1", "done-2"} {
		n.start(t, "Echo", id, `{"in":"`+id+`"}`)
		n.waitStatus(t, id, "Completed")
	}
	mid := time.Now().UTC()
	n.start(t, "Fail", "fail-1", "")
	n.waitStatus(t, "fail-1", "Failed")
	for _, id := range []string{"wait-1", "wait-2"} {
		n.start(t, "WaitEvent", id, `"w"`)
		n.waitStatus(t, id, "Running")
	}
	all := []string{"done-1", "done-2", "fail-1", "wait-1", "wait-2"}
	cases := []struct {
		query string
		want  []string
	}{
		{"", all},
		{"runtimeStatus=Completed", []string{"done-1", "done-2"}},
		{"runtimeStatus=Completed,Failed", []string{"done-1", "done-2", "fail-1"}},
		{"runtimeStatus=Completed&runtimeStatus=Failed", []string{"done-1", "done-2", "fail-1"}},
		{"runtimeStatus=Failed&runtimeStatus=Running,Completed", all},
		{"runtimeStatus=1", []string{"done-1", "done-2"}},
		{"runtimeStatus=3,0", []string{"fail-1", "wait-1", "wait-2"}},
		{"runtimeStatus=Completed,bogus", []string{"done-1", "done-2"}},
		{"runtimeStatus=completed", all},             // Enum.TryParse is case-sensitive: dropped, no filter left
		{"runtimeStatus=bogus,,", all},               // nothing valid: no filter
		{"runtimeStatus=Canceled", nil},              // a status orca never produces
		{"RUNTIMESTATUS=Failed", []string{"fail-1"}}, // parameter names are case-insensitive
		{"runtimeStatus=%20Failed%20", []string{"fail-1"}},
		{"instanceIdPrefix=wait-", []string{"wait-1", "wait-2"}},
		{"instanceIdPrefix=nothing", nil},
		{"instanceIdPrefix=done-&runtimeStatus=Failed", nil},
		{"createdTimeFrom=2000-01-01T00:00:00Z", all},
		{"createdTimeFrom=2999-01-01T00:00:00Z", nil},
		{"createdTimeTo=2000-01-01T00:00:00Z", nil},
		{"createdTimeTo=2999-01-01", all},
		{"createdTimeFrom=0001-01-01T00:00:00Z", all},       // DateTime.MinValue
		{"createdTimeTo=9999-12-31T23:59:59.9999999Z", all}, // DateTime.MaxValue
		{"createdTimeFrom=1600-01-01T00:00:00Z", all},
		{"createdTimeFrom=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{"fail-1", "wait-1", "wait-2"}},
		{"createdTimeTo=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), []string{"done-1", "done-2"}},
		{"createdTimeFrom=not-a-time", all}, // DateTime.TryParse fails: no filter
		{"showHistory=true&showHistoryOutput=true", all},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := n.do(t, "GET", df+"/instances?"+c.query, "").want(t, http.StatusOK)
			r.jsonContentType(t)
			if tok, ok := r.header[http.CanonicalHeaderKey("x-ms-continuation-token")]; !ok || len(tok) != 1 || tok[0] != "" {
				t.Fatalf("x-ms-continuation-token %v (present %v), want present and empty", tok, ok)
			}
			var raw []json.RawMessage
			if err := json.Unmarshal(r.body, &raw); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, item := range raw {
				// Same shape as the status, without historyEvents even when asked.
				m := wantStatusShape(t, item, false)
				got = append(got, m["instanceId"].(string))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Fatalf("ids %v, want %v", got, c.want)
			}
		})
	}

	t.Run("trailing slash lists the same", func(t *testing.T) {
		a := n.do(t, "GET", df+"/instances?runtimeStatus=Running", "").want(t, http.StatusOK)
		b := n.do(t, "GET", df+"/instances/?runtimeStatus=Running", "").want(t, http.StatusOK)
		if string(a.body) != string(b.body) {
			t.Fatalf("/instances and /instances/ differ:\n%s\n%s", a.body, b.body)
		}
	})

	t.Run("showInput", func(t *testing.T) {
		for q, shown := range map[string]bool{"": true, "showInput=false": false, "showinput=False": false, "showInput=x": true} {
			for _, it := range n.do(t, "GET", df+"/instances?instanceIdPrefix=done-&"+q, "").want(t, http.StatusOK).array(t) {
				if got := it["input"] != nil; got != shown {
					t.Errorf("%q: %s input shown = %v, want %v", q, it["instanceId"], got, shown)
				}
			}
		}
	})

	t.Run("showOutput (beyond DF)", func(t *testing.T) {
		for q, shown := range map[string]bool{"": true, "showOutput=false": false, "showOutput=false&showInput=false": false} {
			for _, it := range n.do(t, "GET", df+"/instances?runtimeStatus=Completed,Failed&"+q, "").want(t, http.StatusOK).array(t) {
				// A failure's message stays: it is what a list of runs shows.
				want := shown || it["runtimeStatus"] == "Failed"
				if got := it["output"] != nil; got != want {
					t.Errorf("%q: %s output shown = %v, want %v", q, it["instanceId"], got, want)
				}
			}
		}
	})

	t.Run("newestFirst (beyond DF)", func(t *testing.T) {
		newest := n.listAll(t, "newestFirst=true", 2)
		oldest := n.listAll(t, "", 2)
		slices.Reverse(oldest)
		if !slices.Equal(newest, oldest) {
			t.Fatalf("newest first %v, want %v", newest, oldest)
		}
		// A token continues only a listing in its own order.
		r := n.do(t, "GET", df+"/instances?top=2", "").want(t, http.StatusOK)
		tok := r.header.Get("x-ms-continuation-token")
		if r := n.do(t, "GET", df+"/instances?top=2&newestFirst=true", "", withHeader("x-ms-continuation-token", tok)); r.code != http.StatusBadRequest {
			t.Fatalf("a token of the other order: status %d, want 400; body %s", r.code, r.body)
		}
	})

	t.Run("bad continuation token", func(t *testing.T) {
		for _, tok := range []string{"garbage!", base64.RawURLEncoding.EncodeToString([]byte(`{}`)), "bnVsbA=="} {
			r := n.do(t, "GET", df+"/instances", "", withHeader("x-ms-continuation-token", tok))
			if r.code != http.StatusBadRequest {
				t.Errorf("token %q: status %d, want 400; body %s", tok, r.code, r.body)
			}
		}
	})
}

func TestListPaging(t *testing.T) {
	n := newNode(t, nodeConfig{})
	var want []string
	for i := range 7 {
		id := "page-" + strconv.Itoa(i)
		n.start(t, "Echo", id, "")
		want = append(want, id)
	}
	n.start(t, "Echo", "other", "")
	for _, top := range []int{1, 2, 3, 6, 7, 8, 100} {
		t.Run("top="+strconv.Itoa(top), func(t *testing.T) {
			got := n.listAll(t, "instanceIdPrefix=page-", top)
			sorted := slices.Sorted(slices.Values(got))
			if !slices.Equal(sorted, want) || len(got) != len(want) {
				t.Fatalf("walked %v, want each of %v once", got, want)
			}
		})
	}
	t.Run("by status while they finish", func(t *testing.T) {
		for _, id := range want {
			n.waitStatus(t, id, "Completed")
		}
		got := n.listAll(t, "runtimeStatus=Completed&instanceIdPrefix=page-", 2)
		if len(got) != 7 {
			t.Fatalf("walked %v", got)
		}
	})
	for _, top := range []string{"0", "-1", "abc", "", "1.5"} {
		t.Run("top="+top+" means 100", func(t *testing.T) {
			r := n.do(t, "GET", df+"/instances?top="+top, "").want(t, http.StatusOK)
			if items := r.array(t); len(items) != 8 || r.header.Get("x-ms-continuation-token") != "" {
				t.Fatalf("%d items, token %q", len(items), r.header.Get("x-ms-continuation-token"))
			}
		})
	}
}

func TestPagedHistory(t *testing.T) {
	n := newNode(t, nodeConfig{})
	id := n.start(t, "Hello", "paged-1", `"Lima"`)
	n.waitStatus(t, id, "Completed")
	path := df + "/instances/" + id + "/history"

	r := n.do(t, "GET", path, "").want(t, http.StatusOK)
	r.jsonContentType(t)
	if tok, ok := r.header[http.CanonicalHeaderKey("x-ms-continuation-token")]; !ok || tok[0] != "" {
		t.Fatalf("x-ms-continuation-token %v (present %v), want present and empty", tok, ok)
	}
	all := r.array(t)
	types := eventTypes(all)
	for _, want := range []string{"ExecutionStarted", "OrchestratorStarted", "TaskScheduled", "OrchestratorCompleted", "TaskCompleted", "ExecutionCompleted"} {
		if !slices.Contains(types, want) {
			t.Errorf("the paged history has no %s: %v", want, types)
		}
	}
	var rawEvents []json.RawMessage
	if err := json.Unmarshal(r.body, &rawEvents); err != nil {
		t.Fatal(err)
	}
	for i, raw := range rawEvents {
		if keys := objectKeys(t, raw); !slices.Equal(keys[:4], []string{"Sequence", "EventId", "EventType", "Timestamp"}) {
			t.Errorf("event %d keys %v", i, keys)
		}
		if i > 0 && all[i]["Sequence"].(float64) <= all[i-1]["Sequence"].(float64) {
			t.Errorf("Sequence not increasing at %d", i)
		}
	}

	t.Run("eventType filter", func(t *testing.T) {
		for _, q := range []string{"eventType=TaskScheduled,TaskCompleted", "eventType=TaskScheduled&eventType=TaskCompleted",
			"EVENTTYPE=TaskCompleted,%20TaskScheduled"} {
			got := eventTypes(n.do(t, "GET", path+"?"+q, "").want(t, http.StatusOK).array(t))
			if !slices.Equal(got, []string{"TaskScheduled", "TaskCompleted"}) {
				t.Errorf("%s: %v", q, got)
			}
		}
		for _, q := range []string{"eventType=Bogus", "eventType=TaskScheduled,taskcompleted"} {
			if r := n.do(t, "GET", path+"?"+q, ""); r.code != http.StatusBadRequest || !strings.Contains(string(r.body), "eventType") {
				t.Errorf("%s: status %d, want 400 naming eventType; body %s", q, r.code, r.body)
			}
		}
	})

	for _, top := range []int{1, 2, 3, len(all), len(all) + 1} {
		t.Run("walk top="+strconv.Itoa(top), func(t *testing.T) {
			var walked []map[string]any
			token := ""
			for page := 0; ; page++ {
				if page > len(all)+1 {
					t.Fatal("the history listing does not end")
				}
				r := n.do(t, "GET", path+"?top="+strconv.Itoa(top), "", withHeader("x-ms-continuation-token", token)).want(t, http.StatusOK)
				items := r.array(t)
				next, ok := r.header[http.CanonicalHeaderKey("x-ms-continuation-token")]
				if !ok {
					t.Fatal("no x-ms-continuation-token header")
				}
				if len(items) > top || (next[0] != "" && len(items) == 0) {
					t.Fatalf("page %d: %d items with token %q (top %d)", page, len(items), next[0], top)
				}
				walked = append(walked, items...)
				if next[0] == "" {
					break
				}
				token = next[0]
			}
			if len(walked) != len(all) {
				t.Fatalf("walked %d events, want %d", len(walked), len(all))
			}
			for i := range walked {
				if walked[i]["Sequence"] != all[i]["Sequence"] || walked[i]["EventType"] != all[i]["EventType"] {
					t.Fatalf("event %d: %v, want %v", i, walked[i], all[i])
				}
			}
		})
	}

	t.Run("filtered walk", func(t *testing.T) {
		r := n.do(t, "GET", path+"?top=1&eventType=OrchestratorStarted", "").want(t, http.StatusOK)
		tok := r.header.Get("x-ms-continuation-token")
		if len(r.array(t)) != 1 || tok == "" {
			t.Fatalf("first filtered page: %s token %q", r.body, tok)
		}
		r = n.do(t, "GET", path+"?top=1&eventType=OrchestratorStarted", "", withHeader("x-ms-continuation-token", tok)).want(t, http.StatusOK)
		if got := eventTypes(r.array(t)); !slices.Equal(got, []string{"OrchestratorStarted"}) {
			t.Fatalf("second filtered page: %v", got)
		}
	})

	t.Run("unknown instance: 404 empty", func(t *testing.T) {
		n.do(t, "GET", df+"/instances/nope/history", "").wantEmpty(t, http.StatusNotFound)
	})
	t.Run("bad token: 400", func(t *testing.T) {
		for _, tok := range []string{"!!", base64.RawURLEncoding.EncodeToString([]byte("-5")), base64.RawURLEncoding.EncodeToString([]byte("x"))} {
			if r := n.do(t, "GET", path, "", withHeader("x-ms-continuation-token", tok)); r.code != http.StatusBadRequest {
				t.Errorf("token %q: status %d, want 400", tok, r.code)
			}
		}
	})
	t.Run("token past the end: empty last page", func(t *testing.T) {
		tok := base64.RawURLEncoding.EncodeToString([]byte("1000000"))
		r := n.do(t, "GET", path, "", withHeader("x-ms-continuation-token", tok)).want(t, http.StatusOK)
		if len(r.array(t)) != 0 || r.header.Get("x-ms-continuation-token") != "" {
			t.Fatalf("%s token %q", r.body, r.header.Get("x-ms-continuation-token"))
		}
	})
}
