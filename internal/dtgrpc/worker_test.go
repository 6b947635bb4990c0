package dtgrpc_test

import (
	"context"
	"net"
	"os/exec"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/testutil/syncbuf"
)

// workerServer plays the sidecar for one scripted orchestration: it hands the worker that
// connects to GetWorkItems the work items it is given, and passes on every completion.
type workerServer struct {
	dtpb.UnimplementedTaskHubSidecarServiceServer
	hello       chan struct{}
	requests    chan *dtpb.GetWorkItemsRequest
	workItems   chan *dtpb.WorkItem
	completions chan proto.Message
}

func (s *workerServer) Hello(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	select {
	case s.hello <- struct{}{}:
	default:
	}
	return &emptypb.Empty{}, nil
}

func (s *workerServer) GetWorkItems(req *dtpb.GetWorkItemsRequest, stream grpc.ServerStreamingServer[dtpb.WorkItem]) error {
	s.requests <- req
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case wi := <-s.workItems:
			if err := stream.Send(wi); err != nil {
				return err
			}
		}
	}
}

func (s *workerServer) CompleteOrchestratorTask(_ context.Context, res *dtpb.OrchestratorResponse) (*dtpb.CompleteTaskResponse, error) {
	s.completions <- res
	return &dtpb.CompleteTaskResponse{}, nil
}

func (s *workerServer) CompleteActivityTask(_ context.Context, res *dtpb.ActivityResponse) (*dtpb.CompleteTaskResponse, error) {
	s.completions <- res
	return &dtpb.CompleteTaskResponse{}, nil
}

func str(s string) *wrapperspb.StringValue { return wrapperspb.String(s) }

func event(id int32, at time.Time) *dtpb.HistoryEvent {
	return &dtpb.HistoryEvent{EventId: id, Timestamp: timestamppb.New(at)}
}

// TestJSWorkerRunsOrchestration drives @microsoft/durabletask-js 0.4.0's TaskHubGrpcWorker
// (testdata/js/worker.js) through one orchestration, as orca's server will: Hello, then the
// GetWorkItems stream; an orchestrator work item (orchestratorStarted, executionStarted) that
// the worker answers with a ScheduleTask action and its custom status; the activity work item it
// answers with the activity's result; and the replay with taskCompleted that it answers with
// CompleteOrchestration. It pins the encodings docs/dt-protocol-notes.md describes.
func TestJSWorkerRunsOrchestration(t *testing.T) {
	node, dir := jsSDK(t)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	impl := &workerServer{
		hello:       make(chan struct{}, 1),
		requests:    make(chan *dtpb.GetWorkItemsRequest, 4),
		workItems:   make(chan *dtpb.WorkItem),
		completions: make(chan proto.Message, 4),
	}
	dtpb.RegisterTaskHubSidecarServiceServer(srv, impl)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "worker.js", lis.Addr().String())
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = stdin.Close() // worker.js stops its worker when its standard input closes
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("node worker.js: %v\n%s", err, out.String())
			}
		case <-time.After(30 * time.Second):
			t.Errorf("node worker.js did not stop\n%s", out.String())
		}
		srv.Stop()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()

	recv := func(what string) proto.Message {
		t.Helper()
		select {
		case m := <-impl.completions:
			return m
		case <-ctx.Done():
		case err := <-exited:
			t.Fatalf("node worker.js exited before %s: %v\n%s", what, err, out.String())
		}
		t.Fatalf("no %s\n%s", what, out.String())
		return nil
	}
	send := func(wi *dtpb.WorkItem) {
		t.Helper()
		select {
		case impl.workItems <- wi:
		case <-ctx.Done():
			t.Fatalf("the worker took no work item\n%s", out.String())
		}
	}

	var req *dtpb.GetWorkItemsRequest
	select {
	case req = <-impl.requests:
	case <-ctx.Done():
		t.Fatalf("no GetWorkItems\n%s", out.String())
	}
	select {
	case <-impl.hello:
	default:
		t.Error("the worker opened GetWorkItems without calling Hello first")
	}
	if !proto.Equal(req, &dtpb.GetWorkItemsRequest{}) {
		t.Errorf("GetWorkItemsRequest %v, want an empty one (no capabilities, no filters)", req)
	}

	const instanceID, executionID = "greet-1", "exec-1"
	started := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	orchestratorStarted := func(at time.Time) *dtpb.HistoryEvent {
		e := event(-1, at)
		e.EventType = &dtpb.HistoryEvent_OrchestratorStarted{OrchestratorStarted: &dtpb.OrchestratorStartedEvent{}}
		return e
	}
	executionStarted := event(-1, started)
	executionStarted.EventType = &dtpb.HistoryEvent_ExecutionStarted{ExecutionStarted: &dtpb.ExecutionStartedEvent{
		Name:                  "greet",
		Input:                 str(`"orca"`),
		OrchestrationInstance: &dtpb.OrchestrationInstance{InstanceId: instanceID, ExecutionId: str(executionID)},
	}}

	// Turn 1: the orchestrator schedules its activity.
	send(&dtpb.WorkItem{CompletionToken: "turn-1", Request: &dtpb.WorkItem_OrchestratorRequest{OrchestratorRequest: &dtpb.OrchestratorRequest{
		InstanceId:  instanceID,
		ExecutionId: str(executionID),
		NewEvents:   []*dtpb.HistoryEvent{orchestratorStarted(started), executionStarted},
	}}})
	want := &dtpb.OrchestratorResponse{
		InstanceId:      instanceID,
		CompletionToken: "turn-1",
		CustomStatus:    str(`{"step":"calling hello"}`),
		Actions: []*dtpb.OrchestratorAction{{Id: 1, OrchestratorActionType: &dtpb.OrchestratorAction_ScheduleTask{
			ScheduleTask: &dtpb.ScheduleTaskAction{Name: "hello", Input: str(`"orca"`)},
		}}},
	}
	if got := recv("completion of turn 1"); !proto.Equal(got, want) {
		t.Fatalf("turn 1 completed with\n%s\nwant\n%s", prototext.Format(got), prototext.Format(want))
	}

	// The activity.
	send(&dtpb.WorkItem{CompletionToken: "activity-1", Request: &dtpb.WorkItem_ActivityRequest{ActivityRequest: &dtpb.ActivityRequest{
		Name:                  "hello",
		Input:                 str(`"orca"`),
		OrchestrationInstance: &dtpb.OrchestrationInstance{InstanceId: instanceID, ExecutionId: str(executionID)},
		TaskId:                1,
	}}})
	wantActivity := &dtpb.ActivityResponse{InstanceId: instanceID, TaskId: 1, CompletionToken: "activity-1", Result: str(`"Hello, orca!"`)}
	if got := recv("completion of the activity"); !proto.Equal(got, wantActivity) {
		t.Fatalf("the activity completed with\n%s\nwant\n%s", prototext.Format(got), prototext.Format(wantActivity))
	}

	// Turn 2: the replay, with the activity's result as the new event.
	scheduled := event(1, started)
	scheduled.EventType = &dtpb.HistoryEvent_TaskScheduled{TaskScheduled: &dtpb.TaskScheduledEvent{Name: "hello", Input: str(`"orca"`)}}
	completed := event(-1, started.Add(time.Second))
	completed.EventType = &dtpb.HistoryEvent_TaskCompleted{TaskCompleted: &dtpb.TaskCompletedEvent{TaskScheduledId: 1, Result: str(`"Hello, orca!"`)}}
	send(&dtpb.WorkItem{CompletionToken: "turn-2", Request: &dtpb.WorkItem_OrchestratorRequest{OrchestratorRequest: &dtpb.OrchestratorRequest{
		InstanceId:  instanceID,
		ExecutionId: str(executionID),
		PastEvents:  []*dtpb.HistoryEvent{orchestratorStarted(started), executionStarted, scheduled},
		NewEvents:   []*dtpb.HistoryEvent{orchestratorStarted(started.Add(time.Second)), completed},
	}}})
	want = &dtpb.OrchestratorResponse{
		InstanceId:      instanceID,
		CompletionToken: "turn-2",
		CustomStatus:    str(`{"step":"calling hello"}`),
		Actions: []*dtpb.OrchestratorAction{{Id: 2, OrchestratorActionType: &dtpb.OrchestratorAction_CompleteOrchestration{
			CompleteOrchestration: &dtpb.CompleteOrchestrationAction{
				OrchestrationStatus: dtpb.OrchestrationStatus_ORCHESTRATION_STATUS_COMPLETED,
				Result:              str(`"Hello, orca!"`),
			},
		}}},
	}
	if got := recv("completion of turn 2"); !proto.Equal(got, want) {
		t.Fatalf("turn 2 completed with\n%s\nwant\n%s", prototext.Format(got), prototext.Format(want))
	}
}
