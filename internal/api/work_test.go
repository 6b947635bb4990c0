package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// leaseWork leases up to max items of queue through the batched route.
func (n *node) leaseWork(t *testing.T, queue string, max int) []*client.LeasedItem {
	t.Helper()
	r := n.do(t, "POST", "/api/work/"+queue+"/lease", `{"max":`+strconv.Itoa(max)+`,"visibilityTimeout":60}`, withJSON()).want(t, http.StatusOK)
	var out client.LeasedItems
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("lease answer: %v: %s", err, r.body)
	}
	return out.Items
}

// workCall posts a batched call and returns its outcomes.
func (n *node) workCall(t *testing.T, queue, op string, body any) []client.WorkOutcome {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	r := n.do(t, "POST", "/api/work/"+queue+"/"+op, string(b), withJSON()).want(t, http.StatusOK)
	var out client.WorkOutcomes
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%s answer: %v: %s", op, err, r.body)
	}
	return out.Items
}

func completion(it *client.LeasedItem, popReceipt, result string) client.WorkCompletion {
	return client.WorkCompletion{ID: it.ID, PopReceipt: popReceipt, Item: it.Item, Result: json.RawMessage(result)}
}

func wantStatuses(t *testing.T, got []client.WorkOutcome, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d outcomes, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Status != want[i] {
			t.Errorf("outcome %d: %+v, want status %s", i, got[i], want[i])
		}
	}
}

// TestWorkBatchCompletionMix drives a ComputeOrchestrator run by hand through the batched
// routes: a lease returns the items with their inputs inline, one completion carries a valid
// item, a lost lease and an item completed already and answers each on its own; the lost and
// released items run again, and the run completes with every result once.
func TestWorkBatchCompletionMix(t *testing.T) {
	n := newNode(t, nodeConfig{})
	r := n.do(t, "POST", "/api/orchestrators/ComputeOrchestrator?inputCount=4", "").want(t, http.StatusAccepted)
	id, _ := r.object(t)["id"].(string)

	var items []*client.LeasedItem
	wait.For(t, waitLimit, func() bool {
		items = append(items, n.leaseWork(t, "input", 4-len(items))...)
		return len(items) == 4
	}, "4 items leased")
	byInput := map[int]*client.LeasedItem{}
	for _, it := range items {
		if it.Problem != "" || it.DequeueCount != 1 || it.Item.InstanceID != id {
			t.Fatalf("leased %+v", it)
		}
		var in struct {
			InputID   int             `json:"input_id"`
			InputData json.RawMessage `json:"input_data"`
		}
		if err := json.Unmarshal(it.Input, &in); err != nil || in.InputID != it.Item.InputID || string(in.InputData) != "[1,1]" {
			t.Fatalf("input inline %s (%v)", it.Input, err)
		}
		byInput[it.Item.InputID] = it
	}
	a, b, c, d := byInput[0], byInput[1], byInput[2], byInput[3]

	// c is completed first, on its own.
	wantStatuses(t, n.workCall(t, "input", "complete", client.WorkCompleteRequest{Items: []client.WorkCompletion{completion(c, c.PopReceipt, "2")}}),
		client.WorkDone)
	// One batch: a valid, b with a pop receipt that is not its lease's, c again, and an item
	// that names no path.
	bad := completion(d, d.PopReceipt, "2")
	bad.Item.PathToData = ""
	got := n.workCall(t, "input", "complete", client.WorkCompleteRequest{Items: []client.WorkCompletion{
		completion(a, a.PopReceipt, "2"), completion(b, "not-"+b.PopReceipt, "2"), completion(c, c.PopReceipt, "2"), bad}})
	wantStatuses(t, got, client.WorkDone, client.WorkLeaseLost, client.WorkNotFound, client.WorkInvalid)
	if got[1].ID != b.ID || !strings.Contains(got[3].Error, "path_to_data") {
		t.Errorf("outcomes %+v", got)
	}

	// b's lease is renewed (the old pop receipt is then refused), d is released with a reason
	// and comes back with its dequeue count up.
	ren := n.workCall(t, "input", "renew", client.WorkRenewRequest{VisibilityTimeout: 60, Items: []client.WorkLease{{ID: b.ID, PopReceipt: b.PopReceipt}}})
	wantStatuses(t, ren, client.WorkDone)
	if ren[0].PopReceipt == "" || ren[0].PopReceipt == b.PopReceipt || ren[0].NextVisibleTime.IsZero() {
		t.Fatalf("renewal %+v", ren[0])
	}
	wantStatuses(t, n.workCall(t, "input", "complete", client.WorkCompleteRequest{Items: []client.WorkCompletion{completion(b, b.PopReceipt, "2")}}),
		client.WorkLeaseLost)
	wantStatuses(t, n.workCall(t, "input", "release", client.WorkReleaseRequest{Items: []client.WorkRelease{{ID: d.ID, PopReceipt: d.PopReceipt, Error: "try again"}}}),
		client.WorkDone)
	again := n.leaseWork(t, "input", 4)
	if len(again) != 1 || again[0].ID != d.ID || again[0].DequeueCount != 2 {
		t.Fatalf("leased again %+v", again)
	}
	wantStatuses(t, n.workCall(t, "input", "complete", client.WorkCompleteRequest{Items: []client.WorkCompletion{
		completion(b, ren[0].PopReceipt, "2"), completion(again[0], again[0].PopReceipt, "2")}}), client.WorkDone, client.WorkDone)

	st := n.waitStatus(t, id, "Completed", "Failed")
	out, _ := json.Marshal(st["output"])
	if st["runtimeStatus"] != "Completed" || !strings.Contains(string(out), `"succeeded":4`) {
		t.Fatalf("run ended %v: %s", st["runtimeStatus"], out)
	}
	// Nothing is left: the queue is empty, the inputs are deleted, the outputs are there.
	q := n.do(t, "GET", "/api/queues/input", "").want(t, http.StatusOK).object(t)
	if q["visible"] != 0.0 || q["inFlight"] != 0.0 {
		t.Errorf("queue after the run: %v", q)
	}
	for i := range 4 {
		n.do(t, "HEAD", "/api/blobs/input/"+id+"/"+strconv.Itoa(i)+".json", "").want(t, http.StatusNotFound)
		n.do(t, "HEAD", "/api/blobs/output/"+id+"/"+strconv.Itoa(i)+".json", "").want(t, http.StatusOK)
	}
}

// TestWorkLeaseReportsItemsThatCannotRun: a malformed message and one whose input is gone come
// back with a problem to fail them with, not an input.
func TestWorkLeaseReportsItemsThatCannotRun(t *testing.T) {
	n := newNode(t, nodeConfig{})
	n.do(t, "POST", "/api/queues/other/messages", `{"messages":[{"body":"not a work item"},`+
		`{"body":"{\"input_id\":0,\"instance_id\":\"x\",\"path_to_data\":\"input/x/0.json\"}"}]}`, withJSON()).want(t, http.StatusCreated)
	items := n.leaseWork(t, "other", 2)
	if len(items) != 2 {
		t.Fatalf("leased %d items", len(items))
	}
	problems := items[0].Problem + " | " + items[1].Problem
	if !strings.Contains(problems, "malformed work item") || !strings.Contains(problems, "input/x/0.json is gone") {
		t.Fatalf("problems %q", problems)
	}
	for _, it := range items {
		if it.Input != nil {
			t.Errorf("an item that cannot run has an input: %+v", it)
		}
	}
}

func TestWorkRejectsBadCalls(t *testing.T) {
	n := newNode(t, nodeConfig{})
	many := `{"items":[` + strings.Repeat(`{"id":"m","popReceipt":"p"},`, 256) + `{"id":"m","popReceipt":"p"}]}`
	for _, c := range []struct{ path, body, want string }{
		{"/api/work/input/lease", `{"max":0}`, "max must be 1 to 256"},
		{"/api/work/input/lease", `{"max":257}`, "max must be 1 to 256"},
		{"/api/work/input/lease", `{"max":1,"wait":-1}`, "wait"},
		{"/api/work/input/lease", `{"max":1,"visibilityTimeout":999999999}`, "visibilityTimeout"},
		{"/api/work/input/lease", `{"max":`, "JSON"},
		{"/api/work/Bad_Name/lease", `{"max":1}`, "queue"},
		{"/api/work/input/complete", `{"items":[]}`, "1 to 256 items"},
		{"/api/work/input/release", many, "1 to 256 items"},
		{"/api/work/input/renew", `{"visibilityTimeout":0,"items":[{"id":"m","popReceipt":"p"}]}`, "visibilityTimeout"},
	} {
		r := n.do(t, "POST", c.path, c.body, withJSON()).want(t, http.StatusBadRequest)
		if !strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(c.want)) {
			t.Errorf("%s %s: %s, want it to name %q", c.path, c.body, r.body, c.want)
		}
	}
}
