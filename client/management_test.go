package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake serves handler and returns a client of it.
func fake(t *testing.T, handler http.HandlerFunc) *client.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func answer(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func TestErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		body        string
		wantMessage string
		wantDetail  string
		wantCode    string
		is          func(error) bool
	}{
		{"df long form", 400, `{"Message":"One or more of the arguments submitted is incorrect","ExceptionMessage":"unknown orchestrator X","ExceptionType":"System.ArgumentException","StackTrace":null}`,
			"One or more of the arguments submitted is incorrect", "unknown orchestrator X", "", client.IsBadRequest},
		{"df short form", 410, `{"Message":"instance a has finished (Completed)"}`, "instance a has finished (Completed)", "", "", client.IsGone},
		{"df exception only", 409, `{"ExceptionMessage":"wrong state"}`, "wrong state", "", "", client.IsConflict},
		{"bare string", 400, `"Please provide value for 'createdTimeFrom' parameter."`, "Please provide value for 'createdTimeFrom' parameter.", "", "", client.IsBadRequest},
		{"orca shape", 404, `{"error":{"code":"NotFound","message":"no such blob"}}`, "no such blob", "", "NotFound", client.IsNotFound},
		{"empty 404", 404, ``, "Not Found", "", "", client.IsNotFound},
		{"text", 500, "panic: oops\n", "panic: oops", "", "", func(err error) bool { return client.StatusCode(err) == 500 }},
		{"412", 412, `{"Message":"only a Failed instance can be rewound"}`, "only a Failed instance can be rewound", "", "", client.IsPreconditionFailed},
		{"401", 401, `{"error":{"code":"Unauthorized","message":"a key is required"}}`, "a key is required", "", "Unauthorized", client.IsUnauthorized},
		{"403", 403, `{"error":{"code":"Forbidden","message":"scope"}}`, "scope", "", "Forbidden", client.IsForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake(t, answer(tc.status, "application/json", tc.body))
			err := c.Terminate(context.Background(), "a", "")
			var ae *client.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not a *client.Error", err, err)
			}
			if ae.StatusCode != tc.status || ae.Message != tc.wantMessage || ae.Detail != tc.wantDetail || ae.Code != tc.wantCode {
				t.Fatalf("got %+v", ae)
			}
			if !tc.is(err) {
				t.Fatalf("the helper does not recognize %v", err)
			}
			if tc.wantDetail != "" && !strings.Contains(err.Error(), tc.wantDetail) {
				t.Fatalf("Error() = %q lacks the detail", err.Error())
			}
		})
	}
	if client.IsGone(errors.New("x")) || client.StatusCode(nil) != 0 || client.IsNotFound(nil) {
		t.Fatal("helpers recognize errors that are not answers")
	}
	if !client.IsConflict(&client.Error{StatusCode: 412}) || !client.IsConflict(&client.Error{StatusCode: 409}) {
		t.Fatal("IsConflict must keep covering 409 and 412")
	}
}

func TestStartAnswers(t *testing.T) {
	ctx := context.Background()
	var gotPath, gotQuery, gotBody, gotType string
	record := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			gotPath, gotQuery, gotType = r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Content-Type")
			b := make([]byte, 1024)
			n, _ := r.Body.Read(b)
			gotBody = string(b[:n])
			answer(status, "application/json", body)(w, r)
		}
	}

	c := fake(t, record(202, `{"id":"abc","statusQueryGetUri":"http://x/instances/abc"}`))
	id, err := c.StartOrchestration(ctx, "My Orch", "", map[string]int{"n": 1})
	if err != nil || id != "abc" {
		t.Fatalf("start: %q %v", id, err)
	}
	if gotPath != "/runtime/webhooks/durabletask/orchestrators/My%20Orch" || gotQuery != "" || gotBody != `{"n":1}` || gotType != "application/json" {
		t.Fatalf("request: %s?%s %s (%s)", gotPath, gotQuery, gotBody, gotType)
	}
	if _, err := c.StartOrchestration(ctx, "O", "my/id", nil); err != nil || gotPath != "/runtime/webhooks/durabletask/orchestrators/O/my%2Fid" || gotBody != "" {
		t.Fatalf("start with id: %s body %q %v", gotPath, gotBody, err)
	}

	// Completed within the wait: the output alone, under the id the client made up.
	c = fake(t, record(200, `{"sum": 3}`))
	res, err := c.StartOrchestrationWithOptions(ctx, "O", nil, client.StartOptions{WaitTimeout: 30 * time.Second})
	if err != nil || !res.Finished() || res.RuntimeStatus != client.RuntimeStatusCompleted || string(res.Output) != `{"sum": 3}` || len(res.ID) != 32 {
		t.Fatalf("completed: %+v %v", res, err)
	}
	if gotPath != "/runtime/webhooks/durabletask/orchestrators/O/"+res.ID || gotQuery != "pollingInterval=1&timeout=30" {
		t.Fatalf("request: %s?%s", gotPath, gotQuery)
	}
	_, _ = c.StartOrchestrationWithOptions(ctx, "O", nil, client.StartOptions{InstanceID: "i", WaitTimeout: 500 * time.Millisecond})
	if gotQuery != "pollingInterval=0.5&timeout=0.5" {
		t.Fatalf("a polling interval over the timeout: %s", gotQuery)
	}

	// Failed within the wait: the status.
	c = fake(t, record(200, `{"name":"O","instanceId":"i","runtimeStatus":"Failed","input":null,"customStatus":null,"output":"boom","createdTime":"2026-01-02T03:04:05Z","lastUpdatedTime":"2026-01-02T03:04:06Z"}`))
	res, err = c.StartOrchestrationWithOptions(ctx, "O", nil, client.StartOptions{InstanceID: "i", WaitTimeout: time.Second})
	if err != nil || res.RuntimeStatus != client.RuntimeStatusFailed || res.Status == nil || string(res.Output) != `"boom"` ||
		!res.Status.CreatedTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("failed: %+v %v", res, err)
	}

	// Still running at the timeout: the check-status payload.
	c = fake(t, record(202, `{"id":"i","statusQueryGetUri":"u"}`))
	res, err = c.StartOrchestrationWithOptions(ctx, "O", nil, client.StartOptions{InstanceID: "i", WaitTimeout: time.Second})
	if err != nil || res.Finished() || res.CheckStatus == nil || res.CheckStatus.StatusQueryGetURI != "u" {
		t.Fatalf("running: %+v %v", res, err)
	}

	// Restart under a new id that completes within the wait: the id is unknown.
	c = fake(t, record(200, `42`))
	res, err = c.Restart(ctx, "i", client.RestartOptions{WaitTimeout: time.Second})
	if err != nil || res.ID != "" || string(res.Output) != "42" {
		t.Fatalf("restart: %+v %v", res, err)
	}
	if gotPath != "/runtime/webhooks/durabletask/instances/i/restart" || !strings.Contains(gotQuery, "restartWithNewInstanceId=true") {
		t.Fatalf("restart request: %s?%s", gotPath, gotQuery)
	}

	c = fake(t, answer(409, "application/json", `{"Message":"instance i is running"}`))
	if _, err := c.StartOrchestration(ctx, "O", "i", nil); !client.IsConflict(err) {
		t.Fatalf("start of a running id: %v", err)
	}
}

// pager serves n items in pages of ?top=, with the offset as the continuation token.
func pager(t *testing.T, n int, requests *[]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("x-ms-continuation-token")
		*requests = append(*requests, token)
		from := 0
		if token != "" {
			var err error
			if from, err = strconv.Atoi(token); err != nil {
				t.Errorf("token %q", token)
			}
		}
		top, _ := strconv.Atoi(r.URL.Query().Get("top"))
		to := min(n, from+top)
		var page []json.RawMessage
		for i := from; i < to; i++ {
			if strings.HasSuffix(r.URL.Path, "/history") {
				page = append(page, json.RawMessage(fmt.Sprintf(`{"EventId":%d,"EventType":"TaskScheduled","Name":"A","Timestamp":"2026-01-02T03:04:05.1234567Z"}`, i)))
			} else {
				page = append(page, json.RawMessage(fmt.Sprintf(`{"name":"O","instanceId":"i-%d","runtimeStatus":"Completed","createdTime":"2026-01-02T03:04:05Z","lastUpdatedTime":"2026-01-02T03:04:05Z"}`, i)))
			}
		}
		next := ""
		if to < n {
			next = strconv.Itoa(to)
		}
		w.Header().Set("x-ms-continuation-token", next)
		w.Header().Set("Content-Type", "application/json")
		if page == nil {
			page = []json.RawMessage{}
		}
		_ = json.NewEncoder(w).Encode(page)
	}
}

func TestWalkInstancesAndHistory(t *testing.T) {
	ctx := context.Background()
	var requests []string
	c := fake(t, pager(t, 7, &requests))

	page, next, err := c.ListInstances(ctx, client.ListOptions{PageSize: 3})
	if err != nil || len(page) != 3 || next != "3" || page[0].InstanceID != "i-0" {
		t.Fatalf("first page: %d items, next %q, %v", len(page), next, err)
	}
	var ids []string
	for st, err := range c.WalkInstances(ctx, client.ListOptions{PageSize: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.InstanceID)
	}
	if strings.Join(ids, ",") != "i-0,i-1,i-2,i-3,i-4,i-5,i-6" || strings.Join(requests[1:], ",") != ",3,6" {
		t.Fatalf("walked %v with tokens %q", ids, requests)
	}

	// Stopping early reads no more pages.
	requests = nil
	for _, err := range c.WalkInstances(ctx, client.ListOptions{PageSize: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(requests) != 1 {
		t.Fatalf("a walk stopped at once made %d requests", len(requests))
	}

	requests = nil
	var events []*client.HistoryEvent
	for e, err := range c.WalkHistory(ctx, "i", client.HistoryOptions{PageSize: 2, EventTypes: []string{"TaskScheduled"}}) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if len(events) != 7 || len(requests) != 4 || events[6].EventID != 6 || events[0].Name != "A" || events[0].EventType != "TaskScheduled" ||
		events[0].Timestamp.Nanosecond() != 123456700 {
		t.Fatalf("history walk: %d events in %d requests: %+v", len(events), len(requests), events[0])
	}
	if b, _ := json.Marshal(events[0]); string(b) != `{"EventId":0,"EventType":"TaskScheduled","Name":"A","Timestamp":"2026-01-02T03:04:05.1234567Z"}` {
		t.Fatalf("an event marshals to %s, want its raw form", b)
	}
}

func TestListQuery(t *testing.T) {
	var got http.Header
	var q map[string][]string
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		got, q = r.Header, r.URL.Query()
		w.Header().Set("x-ms-continuation-token", "")
		_, _ = w.Write([]byte(`[]`))
	})
	from := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	_, _, err := c.ListInstances(context.Background(), client.ListOptions{
		RuntimeStatus: []client.RuntimeStatus{client.RuntimeStatusRunning, client.RuntimeStatusPending},
		CreatedFrom:   from, InstanceIDPrefix: "run-", PageSize: 5, ContinuationToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"runtimeStatus": "Running,Pending", "createdTimeFrom": "2026-01-02T02:04:05Z",
		"instanceIdPrefix": "run-", "top": "5", "showInput": "false"}
	for k, v := range want {
		if q[k] == nil || q[k][0] != v {
			t.Errorf("%s = %v, want %s", k, q[k], v)
		}
	}
	if got.Get("x-ms-continuation-token") != "tok" {
		t.Errorf("token header %q", got.Get("x-ms-continuation-token"))
	}
}

func TestWalkStopsOnARepeatedToken(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-ms-continuation-token", "bnVsbA==")
		_, _ = w.Write([]byte(`[]`))
	})
	n := 0
	var last error
	for _, err := range c.WalkInstances(context.Background(), client.ListOptions{}) {
		n++
		last = err
	}
	if n != 1 || last == nil || !strings.Contains(last.Error(), "twice") {
		t.Fatalf("walk yielded %d times, last error %v", n, last)
	}
}

func TestPurgeMany(t *testing.T) {
	ctx := context.Background()
	var query string
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		if r.Method != http.MethodDelete || r.URL.Path != "/runtime/webhooks/durabletask/instances" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		answer(200, "application/json", `{"instancesDeleted":4}`)(w, r)
	})
	if _, err := c.PurgeMany(ctx, client.PurgeOptions{}); err == nil {
		t.Fatal("a purge without CreatedFrom was sent")
	}
	n, err := c.PurgeMany(ctx, client.PurgeOptions{CreatedFrom: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		RuntimeStatus: []client.RuntimeStatus{client.RuntimeStatusCompleted, client.RuntimeStatusFailed}})
	if err != nil || n != 4 || query != "createdTimeFrom=2026-01-02T00%3A00%3A00Z&runtimeStatus=Completed%2CFailed" {
		t.Fatalf("purge: %d %v (query %s)", n, err, query)
	}
	c = fake(t, answer(404, "", ""))
	if n, err := c.PurgeMany(ctx, client.PurgeOptions{CreatedFrom: time.Now()}); n != 0 || err != nil {
		t.Fatalf("nothing to purge: %d %v", n, err)
	}
}

func TestParseRuntimeStatus(t *testing.T) {
	if s, err := client.ParseRuntimeStatus("continuedasnew"); err != nil || s != client.RuntimeStatusContinuedAsNew {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := client.ParseRuntimeStatus("Done"); err == nil {
		t.Fatal("Done parsed")
	}
	for _, s := range client.RuntimeStatuses() {
		want := s == client.RuntimeStatusCompleted || s == client.RuntimeStatusFailed || s == client.RuntimeStatusTerminated || s == client.RuntimeStatusCanceled
		if s.Finished() != want {
			t.Errorf("%s.Finished() = %v", s, !want)
		}
	}
}
