package dtgrpc_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/dtgrpc"
	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// dial starts a node serving the protocol and returns a client of it.
func dial(t *testing.T) (*app.App, dtpb.TaskHubSidecarServiceClient) {
	t.Helper()
	a := apptest.Start(t, app.Config{GRPCListen: "127.0.0.1:0"})
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(2*dtgrpc.MaxMessageBytes)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return a, dtpb.NewTaskHubSidecarServiceClient(conn)
}

func code(err error) codes.Code { return status.Code(err) }

// fakeWorker is a hand-driven worker: the test reads its work items and answers them.
type fakeWorker struct {
	items  chan *dtpb.WorkItem
	cancel context.CancelFunc
}

func startFakeWorker(t *testing.T, a *app.App, c dtpb.TaskHubSidecarServiceClient) *fakeWorker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.GetWorkItems(ctx, &dtpb.GetWorkItemsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWorker{items: make(chan *dtpb.WorkItem, 16), cancel: cancel}
	go func() {
		for {
			item, err := stream.Recv()
			if err != nil {
				close(w.items)
				return
			}
			w.items <- item
		}
	}()
	t.Cleanup(cancel)
	wait.For(t, 10*time.Second, func() bool { return a.DT.Remote().Connected() }, "the worker to connect")
	return w
}

func (w *fakeWorker) next(t *testing.T) *dtpb.WorkItem {
	t.Helper()
	select {
	case item, ok := <-w.items:
		if !ok {
			t.Fatal("the work item stream ended")
		}
		return item
	case <-time.After(20 * time.Second):
		t.Fatal("no work item in 20s")
	}
	return nil
}

func timer(id int32, at time.Time) *dtpb.OrchestratorAction {
	return &dtpb.OrchestratorAction{Id: id, OrchestratorActionType: &dtpb.OrchestratorAction_CreateTimer{
		CreateTimer: &dtpb.CreateTimerAction{FireAt: timestamppb.New(at)}}}
}

// TestNonDeterministicWorkerFailsTheRun: a worker that answers a later turn with an action the
// history already records (the code changed under a running instance) fails the instance with a
// NonDeterminismError that says which action, and the server serves on.
func TestNonDeterministicWorkerFailsTheRun(t *testing.T) {
	a, c := dial(t)
	ctx := context.Background()
	w := startFakeWorker(t, a, c)
	if _, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{InstanceId: "nd", Name: "changing"}); err != nil {
		t.Fatal(err)
	}
	first := w.next(t)
	if first.GetOrchestratorRequest().GetInstanceId() != "nd" {
		t.Fatalf("first work item %v", first)
	}
	if _, err := c.CompleteOrchestratorTask(ctx, &dtpb.OrchestratorResponse{InstanceId: "nd", CompletionToken: first.GetCompletionToken(),
		Actions: []*dtpb.OrchestratorAction{timer(1, time.Now().Add(50*time.Millisecond))}}); err != nil {
		t.Fatal(err)
	}
	second := w.next(t) // the timer fired
	req := second.GetOrchestratorRequest()
	if len(req.GetPastEvents()) == 0 || req.GetNewEvents()[0].GetOrchestratorStarted() == nil {
		t.Fatalf("second turn: past %d events, new %v", len(req.GetPastEvents()), req.GetNewEvents())
	}
	// The same timer again, under the id the history gave the first one.
	if _, err := c.CompleteOrchestratorTask(ctx, &dtpb.OrchestratorResponse{InstanceId: "nd", CompletionToken: second.GetCompletionToken(),
		Actions: []*dtpb.OrchestratorAction{timer(1, time.Now().Add(time.Hour))}}); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	resp, err := c.WaitForInstanceCompletion(waitCtx, &dtpb.GetInstanceRequest{InstanceId: "nd", GetInputsAndOutputs: true})
	if err != nil {
		t.Fatalf("the instance did not end: %v", err)
	}
	st := resp.GetOrchestrationState()
	f := st.GetFailureDetails()
	if st.GetOrchestrationStatus() != dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_FAILED || f.GetErrorType() != "NonDeterminismError" ||
		!strings.Contains(f.GetErrorMessage(), "action #1") {
		t.Fatalf("status %s, failure %v", st.GetOrchestrationStatus(), f)
	}
	if _, err := c.Hello(ctx, &emptypb.Empty{}); err != nil {
		t.Fatalf("the server stopped serving: %v", err)
	}
}

// TestLostWorkerItemsGoToAnotherWorker: a worker that goes away (its stream cut) with a work item
// unanswered has that item sent to the next worker; the lost worker's late answer changes
// nothing.
func TestLostWorkerItemsGoToAnotherWorker(t *testing.T) {
	a, c := dial(t)
	ctx := context.Background()
	lost := startFakeWorker(t, a, c)
	if _, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{InstanceId: "moved", Name: "anything"}); err != nil {
		t.Fatal(err)
	}
	item := lost.next(t)
	lost.cancel()
	wait.For(t, 10*time.Second, func() bool { return !a.DT.Remote().Connected() }, "the lost worker to be gone")
	late := item.GetCompletionToken()

	next := startFakeWorker(t, a, c)
	again := next.next(t)
	if again.GetOrchestratorRequest().GetInstanceId() != "moved" || again.GetCompletionToken() == late {
		t.Fatalf("redelivered item %v (lost token %s)", again, late)
	}
	_, err := c.CompleteOrchestratorTask(ctx, &dtpb.OrchestratorResponse{InstanceId: "moved", CompletionToken: late,
		Actions: []*dtpb.OrchestratorAction{{Id: 1, OrchestratorActionType: &dtpb.OrchestratorAction_CompleteOrchestration{
			CompleteOrchestration: &dtpb.CompleteOrchestrationAction{OrchestrationStatus: dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED,
				Result: wrapperspb.String(`"from the lost worker"`)}}}}})
	if code(err) != codes.NotFound {
		t.Fatalf("the lost worker's completion: %v, want NOT_FOUND", err)
	}
	if _, err := c.CompleteOrchestratorTask(ctx, &dtpb.OrchestratorResponse{InstanceId: "moved", CompletionToken: again.GetCompletionToken(),
		Actions: []*dtpb.OrchestratorAction{{Id: 1, OrchestratorActionType: &dtpb.OrchestratorAction_CompleteOrchestration{
			CompleteOrchestration: &dtpb.CompleteOrchestrationAction{OrchestrationStatus: dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED,
				Result: wrapperspb.String(`"from the next worker"`)}}}}}); err != nil {
		t.Fatal(err)
	}
	in, err := a.Engine.WaitForFinish(ctx, "moved")
	if err != nil || in.Status != store.StatusCompleted || string(in.Output) != `"from the next worker"` {
		t.Fatalf("instance %+v (%v)", in, err)
	}
}

// TestNoWorkerLeavesTheRunPending: an orchestrator no connected worker serves waits; it does not
// fail, and it runs once a worker connects.
func TestNoWorkerLeavesTheRunPending(t *testing.T) {
	a, c := dial(t)
	ctx := context.Background()
	if _, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{InstanceId: "waits", Name: "nobody-serves-this"}); err != nil {
		t.Fatal(err)
	}
	// Two turns found no worker: the engine tried again after the first, and did not fail it.
	wait.For(t, 10*time.Second, func() bool { return a.DT.Unserved() >= 2 }, "two turns without a worker")
	in, err := a.Engine.Get(ctx, "waits", false)
	if err != nil || in.Status.Finished() {
		t.Fatalf("without a worker: %+v (%v)", in, err)
	}
	w := startFakeWorker(t, a, c)
	if got := w.next(t).GetOrchestratorRequest().GetInstanceId(); got != "waits" {
		t.Fatalf("work item for %q", got)
	}
}

// TestBadInputGetsAStatus: malformed and unknown requests get the proper gRPC status, and the
// server serves on.
func TestBadInputGetsAStatus(t *testing.T) {
	_, c := dial(t)
	ctx := context.Background()
	for _, tc := range []struct {
		what string
		call func() error
		want codes.Code
	}{
		{"start without a name", func() error {
			_, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{InstanceId: "x"})
			return err
		}, codes.InvalidArgument},
		{"start with input that is not JSON", func() error {
			_, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{Name: "o", Input: wrapperspb.String("{not json")})
			return err
		}, codes.InvalidArgument},
		{"start with a bad instance id", func() error {
			_, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{Name: "o", InstanceId: "bad/id\x00"})
			return err
		}, codes.InvalidArgument},
		{"raise to an unknown instance", func() error {
			_, err := c.RaiseEvent(ctx, &dtpb.RaiseEventRequest{InstanceId: "nope", Name: "e"})
			return err
		}, codes.NotFound},
		{"terminate an unknown instance", func() error {
			_, err := c.TerminateInstance(ctx, &dtpb.TerminateRequest{InstanceId: "nope"})
			return err
		}, codes.NotFound},
		{"history of an unknown instance", func() error {
			s, err := c.StreamInstanceHistory(ctx, &dtpb.StreamInstanceHistoryRequest{InstanceId: "nope"})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		}, codes.NotFound},
		{"a completion never issued", func() error {
			_, err := c.CompleteActivityTask(ctx, &dtpb.ActivityResponse{InstanceId: "nope", CompletionToken: "never-issued"})
			return err
		}, codes.NotFound},
		{"an abandon never issued", func() error {
			_, err := c.AbandonTaskOrchestratorWorkItem(ctx, &dtpb.AbandonOrchestrationTaskRequest{CompletionToken: "never-issued"})
			return err
		}, codes.NotFound},
		{"an oversized message", func() error {
			_, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{Name: "o", Input: wrapperspb.String(`"` + strings.Repeat("x", dtgrpc.MaxMessageBytes) + `"`)})
			return err
		}, codes.ResourceExhausted},
		{"a query for a status orca has none in", func() error {
			_, err := c.QueryInstances(ctx, &dtpb.QueryInstancesRequest{Query: &dtpb.InstanceQuery{
				RuntimeStatus: []dtpb.OrchestrationStatus{dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_CANCELED}}})
			return err
		}, codes.InvalidArgument},
		{"entities", func() error {
			_, err := c.SignalEntity(ctx, &dtpb.SignalEntityRequest{})
			return err
		}, codes.Unimplemented},
	} {
		if err := tc.call(); code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.what, err, tc.want)
		}
	}
	resp, err := c.GetInstance(ctx, &dtpb.GetInstanceRequest{InstanceId: "nope"})
	if err != nil || resp.GetExists() {
		t.Errorf("an unknown instance: %v, %v; want exists=false", resp, err)
	}
	if _, err := c.Hello(ctx, &emptypb.Empty{}); err != nil {
		t.Fatalf("the server stopped serving: %v", err)
	}
}

// TestKeysAndScopes: with API keys, every call presents one in its metadata, and the key's
// scope must cover the method: a reader reads, a worker also takes work items, an admin also
// starts and controls instances.
func TestKeysAndScopes(t *testing.T) {
	const reader, worker, admin = "reader-key-0123456789abcdef", "worker-key-0123456789abcdef", "admin-key-0123456789abcdef"
	keys := &auth.Keys{}
	keys.Add("reader", auth.ScopeReader, reader)
	keys.Add("worker", auth.ScopeWorker, worker)
	keys.Add("admin", auth.ScopeAdmin, admin)
	a := apptest.Start(t, app.Config{GRPCListen: "127.0.0.1:0", Keys: keys})
	conn, err := grpc.NewClient(a.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := dtpb.NewTaskHubSidecarServiceClient(conn)
	as := func(key string) context.Context {
		if key == "" {
			return context.Background()
		}
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
	}
	start := func(ctx context.Context) error {
		_, err := c.StartInstance(ctx, &dtpb.CreateInstanceRequest{Name: "anything"})
		return err
	}
	read := func(ctx context.Context) error {
		_, err := c.GetInstance(ctx, &dtpb.GetInstanceRequest{InstanceId: "x"})
		return err
	}
	work := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		s, err := c.GetWorkItems(ctx, &dtpb.GetWorkItemsRequest{})
		if err == nil {
			_, err = s.Recv() // the stream opens; nothing to do within the timeout
		}
		// The stream opened and was not refused: it ends at the deadline, seen by the client
		// first (DEADLINE_EXCEEDED) or by the server (a clean end, EOF).
		if code(err) == codes.DeadlineExceeded || errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	for _, tc := range []struct {
		who  string
		key  string
		call func(context.Context) error
		want codes.Code
	}{
		{"no key reads", "", read, codes.Unauthenticated},
		{"no key says hello", "", func(ctx context.Context) error { _, err := c.Hello(ctx, &emptypb.Empty{}); return err }, codes.Unauthenticated},
		{"a wrong key reads", "not-one-of-the-keys-0123456789", read, codes.PermissionDenied},
		{"a reader reads", reader, read, codes.OK},
		{"a reader starts", reader, start, codes.PermissionDenied},
		{"a reader takes work", reader, work, codes.PermissionDenied},
		{"a worker takes work", worker, work, codes.OK},
		{"a worker starts", worker, start, codes.PermissionDenied},
		{"an admin starts", admin, start, codes.OK},
	} {
		if err := tc.call(as(tc.key)); code(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.who, err, tc.want)
		}
	}
}
