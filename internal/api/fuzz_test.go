package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/api"
	"github.com/orcahq/orca/internal/events"
)

// Fuzz targets for request parsing. The property: no request makes the API answer 5xx or
// panic (the handler's recover turns a panic into a 500). Each target drives the real handler
// in-process on one node of its own; the orchestrators used never fail, so the documented 500 of
// returnInternalServerErrorOnFailure cannot happen.
//
// Run one for a while with: go test ./internal/api -run '^$' -fuzz '^FuzzListQuery$' -fuzztime 20s

// fuzzRequestTimeout bounds a request; a start-and-wait answers 202 when it passes.
const fuzzRequestTimeout = 5 * time.Second

// serve sends one request to h and fails on a 5xx. target is the escaped path and query; a
// target no URL parser accepts is skipped (no server could receive it).
func serve(t *testing.T, h http.Handler, method, target string, header http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	u, err := url.Parse("http://orca.test" + target)
	if err != nil {
		t.Skip("not a URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuzzRequestTimeout)
	defer cancel()
	req := (&http.Request{Method: method, URL: u, Host: "orca.test", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), RequestURI: target}).WithContext(ctx)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	// A 504 because this harness gave up waiting is not the server's fault.
	harnessTimeout := rec.Code == http.StatusGatewayTimeout && errors.Is(ctx.Err(), context.DeadlineExceeded)
	if rec.Code >= 500 && !harnessTimeout {
		t.Fatalf("%s %s (headers %v, body %q): %d %s", method, target, header, body, rec.Code, rec.Body.String())
	}
	return rec
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			h.Set(kv[i], kv[i+1])
		}
	}
	return h
}

// fuzzNode is a node for one fuzz target, with a finished and a running instance.
func fuzzNode(f *testing.F) (*node, http.Handler) {
	f.Helper()
	n := newNode(f, nodeConfig{quiet: true})
	n.finished(f, "Echo", "fz-done", `{"a":1}`, "Completed")
	n.start(f, "WaitEvent", "fz-running", "")
	return n, n.app.API.Handler()
}

func FuzzInstanceIDPath(f *testing.F) {
	_, h := fuzzNode(f)
	for _, s := range [][2]string{{"fz-done", "terminate"}, {"fz-running", "suspend"}, {"", "resume"}, {"a/b", "rewind"},
		{"@x", "restart"}, {"a\x00b", "raiseEvent"}, {"%", "RaiseEvent"}, {"..", "history"}, {strings.Repeat("z", 300), "TERMINATE"},
		{"a b+c", "raiseevent"}, {"ü\u0085", ""}, {"?#", "x/y"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, id, op string) {
		p := df + "/instances/" + url.PathEscape(id)
		serve(t, h, "GET", p, nil, nil)
		serve(t, h, "GET", p+"/history", nil, nil)
		serve(t, h, "POST", df+"/orchestrators/Echo/"+url.PathEscape(id), nil, nil)
		serve(t, h, "POST", "/api/orchestrators/Echo/"+url.PathEscape(id)+"?inputCount=1", nil, nil)
		serve(t, h, "POST", p+"/"+url.PathEscape(op), nil, nil)
		serve(t, h, "POST", p+"/raiseEvent/"+url.PathEscape(op), header("Content-Type", "application/json"), []byte(`1`))
		serve(t, h, "DELETE", p, nil, nil)
	})
}

func FuzzListQuery(f *testing.F) {
	_, h := fuzzNode(f)
	seeds := [][2]string{
		{"", ""},
		{"runtimeStatus=Completed,Failed&runtimeStatus=1&top=2", ""},
		{"createdTimeFrom=2000-01-01T00:00:00Z&createdTimeTo=9999-12-31T23:59:59.9999999Z", ""},
		{"createdTimeFrom=0001-01-01&instanceIdPrefix=fz-&showInput=false", "garbage"},
		{"top=-1&top=99999999999999999999", base64.RawURLEncoding.EncodeToString([]byte(`{"c":1,"i":"x"}`))},
		{"runtimeStatus=%zz&createdTimeFrom=%", "bnVsbA=="},
		{"RUNTIMESTATUS=,,,&createdtimeto=2262-04-12T00:00:00Z", base64.RawURLEncoding.EncodeToString([]byte(`{"c":-1,"i":"\u0000"}`))},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, query, token string) {
		hdr := header("x-ms-continuation-token", token)
		serve(t, h, "GET", df+"/instances?"+query, hdr, nil)
		serve(t, h, "GET", df+"/instances/?"+query, hdr, nil)
		serve(t, h, "DELETE", df+"/instances?"+query, nil, nil)
		serve(t, h, "GET", "/api/runs/summary?"+query, nil, nil)
	})
}

func FuzzStatusQuery(f *testing.F) {
	_, h := fuzzNode(f)
	for _, s := range []string{"", "showHistory=true&showHistoryOutput=true&showInput=false", "returnInternalServerErrorOnFailure=true",
		"showHistory=True&showInput=%", "SHOWHISTORY=true&taskHub=&connection=&code="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		for _, id := range []string{"fz-done", "fz-running", "fz-none"} {
			serve(t, h, "GET", df+"/instances/"+id+"?"+query, nil, nil)
		}
	})
}

func FuzzOperationQuery(f *testing.F) {
	n, h := fuzzNode(f)
	seeds := [][2]string{
		{"terminate", "reason=100%"}, {"suspend", "reason=a b"}, {"resume", "reason=%zz&reason=x"}, {"rewind", ""},
		{"restart", "restartWithNewInstanceId=false"}, {"restart", "timeout=0.1&pollingInterval=0.05"},
		{"restart", "timeout=NaN&pollingInterval=NaN"}, {"restart", "timeout=1e308&pollingInterval=1e-308"},
		{"restart", "timeout=-0&pollingInterval=-0"}, {"RESTART", "restartwithnewinstanceid=False&timeout=1&pollingInterval=2"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, op, query string) {
		for _, id := range []string{n.start(t, "WaitEvent", "", ""), "fz-done", "fz-none"} {
			serve(t, h, "POST", df+"/instances/"+id+"/"+url.PathEscape(op)+"?"+query, nil, nil)
		}
	})
}

func FuzzStartRequest(f *testing.F) {
	_, h := fuzzNode(f)
	seeds := []struct {
		query, contentType string
		body               []byte
	}{
		{"", "", nil},
		{"", "application/json", []byte(`""`)},
		{"timeout=5&pollingInterval=1", "application/json", []byte(`{"a":[1,2,{"b":null}]}`)},
		{"inputCount=5", "", nil},
		{"inputCount=1000001&timeout=1&pollingInterval=2", "text/plain", []byte(`{`)},
		{"inputCount=%20%20", "", []byte("\xff\xfe")},
		{"timeout=NaN&pollingInterval=1", "application/json", []byte(`1e400`)},
		{"timeout=0.05&pollingInterval=0.05", "", []byte(`"\ud800"`)},
	}
	for _, s := range seeds {
		f.Add(s.query, s.contentType, s.body)
	}
	f.Fuzz(func(t *testing.T, query, contentType string, body []byte) {
		hdr := header("Content-Type", contentType)
		serve(t, h, "POST", df+"/orchestrators/Echo?"+query, hdr, body)
		serve(t, h, "POST", "/api/orchestrators/Echo?"+query, hdr, body)
		serve(t, h, "GET", "/api/orchestrators/Echo?"+query, hdr, nil)
	})
}

func FuzzRaiseEvent(f *testing.F) {
	n, h := fuzzNode(f)
	seeds := []struct {
		name, contentType string
		body              []byte
	}{
		{"go", "application/json", []byte(`{"x":1}`)},
		{"other", "", nil},
		{"other", "application/json; charset=utf-8", []byte(`  `)},
		{"other", "text/plain", []byte(`1`)},
		{"other", "application/json;;;", []byte(`{`)},
		{"\x00", "application/json", []byte(`1`)},
		{strings.Repeat("e", 300), "application/json", []byte(`null`)},
		{"GO", "APPLICATION/JSON", []byte(`[` + strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000) + `]`)},
	}
	for _, s := range seeds {
		f.Add(s.name, s.contentType, s.body)
	}
	f.Fuzz(func(t *testing.T, name, contentType string, body []byte) {
		id := n.start(t, "WaitEvent", "", "")
		hdr := header("Content-Type", contentType)
		serve(t, h, "POST", df+"/instances/"+id+"/raiseEvent/"+url.PathEscape(name), hdr, body)
		serve(t, h, "POST", df+"/instances/fz-done/raiseEvent/"+url.PathEscape(name), hdr, body)
	})
}

func FuzzSubscriptionSpec(f *testing.F) {
	n := newNode(f, nodeConfig{quiet: true})
	// A router of its own, whose webhook validation fails at once: fuzzed endpoint URLs must
	// not reach the network.
	router := events.NewRouter(events.RouterConfig{Store: n.app.Store,
		Validate: func(context.Context, *events.Subscription) error { return errors.New("fuzzing: no network") }})
	if err := router.Load(context.Background()); err != nil {
		f.Fatal(err)
	}
	srv, err := api.New(api.Config{Engine: n.app.Engine, Router: router})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	seeds := []struct {
		name string
		body []byte
	}{
		{"s1", []byte(`{"filter":{"includedEventTypes":["A"]},"destination":{"endpointType":"Orchestration","eventName":"e","instanceIdPattern":"^x$"}}`)},
		{"s2", []byte(`{"destination":{"endpointType":"WebHook","endpointUrl":"http://127.0.0.1:1/hook"}}`)},
		{"s3", []byte(`{"destination":{"endpointType":"Orchestration","instanceIdPattern":"(("}}`)},
		{"s4", []byte(`{"destination":{"endpointType":"Handler","handler":"compute-complete"},"builtin":true}`)},
		{"s5", []byte(`{"name":"other","retryPolicy":{"maxDeliveryAttempts":-1,"eventTimeToLiveInMinutes":99999999999}}`)},
		{"", nil},
		{"s6", []byte(`null`)},
		{"s7", []byte(`[]`)},
	}
	for _, s := range seeds {
		f.Add(s.name, s.body)
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		p := "/api/subscriptions/" + url.PathEscape(name)
		serve(t, h, "PUT", p, header("Content-Type", "application/json"), body)
		serve(t, h, "GET", p, nil, nil)
		serve(t, h, "GET", "/api/subscriptions", nil, nil)
		serve(t, h, "DELETE", p, nil, nil)
	})
}

func FuzzIngestEvents(f *testing.F) {
	_, h := fuzzNode(f)
	seeds := []struct {
		contentType string
		body        []byte
	}{
		{"application/json", []byte(`[{"id":"1","subject":"/a","eventType":"T","data":{}}]`)},
		{"", []byte(`{"id":"2","subject":"/a","eventType":"T","eventTime":"2024-01-01T00:00:00Z"}`)},
		{"application/json", []byte(`[{"id":"v","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationCode":"abc"}}]`)},
		{"application/json", []byte(`[{"id":"v2","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":"x"}]`)},
		{"application/cloudevents+json", []byte(`{"specversion":"1.0","id":"c1","source":"/s","type":"T","subject":"x","data":{"k":1}}`)},
		{"application/cloudevents-batch+json", []byte(`[{"specversion":"1.0","id":"c2","source":"/s","type":"T"},null]`)},
		{"application/json", []byte(`[{"id":"b1","subject":"/blobServices/default/containers/output/blobs/fz-running/3.json",` +
			`"eventType":"Microsoft.Storage.BlobCreated","data":{"contentLength":1,"eTag":"x"}}]`)},
		{"application/json", []byte(`[{"id":"b2","subject":"/blobServices/default/containers/output/blobs/nope/1.json",` +
			`"eventType":"Microsoft.Storage.BlobCreated","data":{}}]`)},
		{"application/json", []byte(`[{"id":"p1","subject":"/queueServices/default/queues/input-poison/messages/1",` +
			`"eventType":"Orca.Queue.MessagePoisoned","data":{"queue":"input","body":{"instance_id":"nope","input_id":1}}}]`)},
		{"application/json", []byte(`[null]`)},
		{"application/json", []byte(`[]`)},
	}
	for _, s := range seeds {
		f.Add(s.contentType, s.body)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		serve(t, h, "POST", "/api/events", header("Content-Type", contentType), body)
	})
}

func FuzzHistoryQuery(f *testing.F) {
	_, h := fuzzNode(f)
	tok := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	seeds := [][2]string{
		{"", ""}, {"top=1", tok("0")}, {"eventType=TaskScheduled,TaskCompleted&top=1000000", tok("-1")},
		{"eventType=&eventType=,", tok("99999999999999999999")}, {"EVENTTYPE=ExecutionStarted&top=0", "!!"},
		{"top=abc", tok("1\x00")},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, query, token string) {
		hdr := header("x-ms-continuation-token", token)
		for _, id := range []string{"fz-done", "fz-running", "fz-none"} {
			serve(t, h, "GET", df+"/instances/"+id+"/history?"+query, hdr, nil)
		}
	})
}
