package dtgrpc

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/orcahq/orca/internal/dtgrpc/dtpb"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// The client RPCs: each is one call of the engine, as the DF management API's routes are.

// StartInstance implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) StartInstance(ctx context.Context, req *dtpb.CreateInstanceRequest) (*dtpb.CreateInstanceResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name: the orchestrator to start is required")
	}
	if p := req.GetOrchestrationIdReusePolicy(); p != nil && len(p.GetReplaceableStatus()) > 0 {
		return nil, status.Error(codes.Unimplemented, "orca does not serve orchestrationIdReusePolicy: a finished instance's id is reused, a running one's refused")
	}
	id, err := s.eng.StartInstance(ctx, engine.StartParams{Name: req.GetName(), ID: req.GetInstanceId(), Input: raw(req.GetInput()),
		StartAt: when(req.GetScheduledStartTimestamp())})
	if err != nil {
		return nil, grpcError(err)
	}
	return &dtpb.CreateInstanceResponse{InstanceId: id}, nil
}

// GetInstance implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) GetInstance(ctx context.Context, req *dtpb.GetInstanceRequest) (*dtpb.GetInstanceResponse, error) {
	in, err := s.eng.Get(ctx, req.GetInstanceId(), req.GetGetInputsAndOutputs())
	return instanceResponse(in, err, req.GetGetInputsAndOutputs())
}

func instanceResponse(in *store.Instance, err error, payloads bool) (*dtpb.GetInstanceResponse, error) {
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && in == nil:
		return &dtpb.GetInstanceResponse{Exists: false}, nil
	case err != nil:
		return nil, grpcError(err)
	}
	return &dtpb.GetInstanceResponse{Exists: true, OrchestrationState: stateOut(in, payloads)}, nil
}

// WaitForInstanceStart implements dtpb.TaskHubSidecarServiceServer: until the instance is past
// Pending, or the call ends (the SDKs give up on their side and cancel nothing).
func (s *Server) WaitForInstanceStart(ctx context.Context, req *dtpb.GetInstanceRequest) (*dtpb.GetInstanceResponse, error) {
	in, err := s.eng.WaitFor(ctx, req.GetInstanceId(), req.GetGetInputsAndOutputs(),
		func(in *store.Instance) bool { return in.Status != store.StatusPending })
	return instanceResponse(in, err, req.GetGetInputsAndOutputs())
}

// WaitForInstanceCompletion implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) WaitForInstanceCompletion(ctx context.Context, req *dtpb.GetInstanceRequest) (*dtpb.GetInstanceResponse, error) {
	in, err := s.eng.WaitFor(ctx, req.GetInstanceId(), req.GetGetInputsAndOutputs(),
		func(in *store.Instance) bool { return in.Status.Finished() })
	return instanceResponse(in, err, req.GetGetInputsAndOutputs())
}

// RaiseEvent implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) RaiseEvent(ctx context.Context, req *dtpb.RaiseEventRequest) (*dtpb.RaiseEventResponse, error) {
	if err := s.eng.RaiseEvent(ctx, req.GetInstanceId(), req.GetName(), raw(req.GetInput())); err != nil {
		return nil, grpcError(err)
	}
	return &dtpb.RaiseEventResponse{}, nil
}

// TerminateInstance implements dtpb.TaskHubSidecarServiceServer. Its output (JSON) becomes the
// instance's output. With recursive, the unfinished sub-orchestrations below the instance are
// terminated too, with the same output, once the instance has ended (see terminateTree).
func (s *Server) TerminateInstance(ctx context.Context, req *dtpb.TerminateRequest) (*dtpb.TerminateResponse, error) {
	id, output := req.GetInstanceId(), req.GetOutput().GetValue()
	if err := s.eng.Terminate(ctx, id, output); err != nil {
		return nil, grpcError(err)
	}
	if req.GetRecursive() {
		if err := s.terminateChildren(ctx, id, output, 0); err != nil {
			return nil, grpcError(err)
		}
	}
	return &dtpb.TerminateResponse{}, nil
}

// SuspendInstance implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) SuspendInstance(ctx context.Context, req *dtpb.SuspendRequest) (*dtpb.SuspendResponse, error) {
	if err := s.eng.Suspend(ctx, req.GetInstanceId(), req.GetReason().GetValue()); err != nil {
		return nil, grpcError(err)
	}
	return &dtpb.SuspendResponse{}, nil
}

// ResumeInstance implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) ResumeInstance(ctx context.Context, req *dtpb.ResumeRequest) (*dtpb.ResumeResponse, error) {
	if err := s.eng.Resume(ctx, req.GetInstanceId(), req.GetReason().GetValue()); err != nil {
		return nil, grpcError(err)
	}
	return &dtpb.ResumeResponse{}, nil
}

// RewindInstance implements dtpb.TaskHubSidecarServiceServer as the DF API's rewind: a Failed
// instance runs again from before its failure (failed activities run again, failed
// sub-orchestrations are rewound, everything that succeeded is kept). An instance in another
// status is FAILED_PRECONDITION, an unknown one NOT_FOUND. orca rewinds in the engine: the
// worker never sees the request (no RewindOrchestration action), only the cut history.
//
// The call returns once the instance has been rewound (it is no longer Failed, or it has failed
// again), as the SDK's own backend does, so that a wait for its completion right after it does
// not see the old failure; after rewindWait it returns anyway: the request is kept and carried
// out when the instance next runs.
func (s *Server) RewindInstance(ctx context.Context, req *dtpb.RewindInstanceRequest) (*dtpb.RewindInstanceResponse, error) {
	id := req.GetInstanceId()
	before, err := s.eng.Get(ctx, id, false)
	if err != nil {
		return nil, grpcError(err)
	}
	if err := s.eng.Rewind(ctx, id, req.GetReason().GetValue()); err != nil {
		return nil, grpcError(err)
	}
	wctx, cancel := context.WithTimeout(ctx, rewindWait)
	defer cancel()
	_, err = s.eng.WaitFor(wctx, id, false, func(in *store.Instance) bool {
		return in.Status != store.StatusFailed || !in.UpdatedAt.Equal(before.UpdatedAt)
	})
	if err != nil && ctx.Err() != nil {
		return nil, grpcError(ctx.Err())
	}
	return &dtpb.RewindInstanceResponse{}, nil
}

// rewindWait bounds how long RewindInstance waits for the rewind to happen.
const rewindWait = 10 * time.Second

// RestartInstance implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) RestartInstance(ctx context.Context, req *dtpb.RestartInstanceRequest) (*dtpb.RestartInstanceResponse, error) {
	id, err := s.eng.Restart(ctx, req.GetInstanceId(), req.GetRestartWithNewInstanceId())
	if err != nil {
		return nil, grpcError(err)
	}
	return &dtpb.RestartInstanceResponse{InstanceId: id}, nil
}

// defaultPage is a query's page size when the caller sets none.
const defaultPage = 100

func statusesIn(in []dtpb.OrchestrationStatus) ([]store.Status, error) {
	out := make([]store.Status, 0, len(in))
	for _, s := range in {
		st, ok := statusIn(s)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "runtime status %s: orca has no instances in it", s)
		}
		out = append(out, st)
	}
	return out, nil
}

// QueryInstances implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) QueryInstances(ctx context.Context, req *dtpb.QueryInstancesRequest) (*dtpb.QueryInstancesResponse, error) {
	q := req.GetQuery()
	statuses, err := statusesIn(q.GetRuntimeStatus())
	if err != nil {
		return nil, err
	}
	limit := int(q.GetMaxInstanceCount())
	if limit <= 0 {
		limit = defaultPage
	}
	page, err := s.eng.List(ctx, &store.InstanceListParams{Statuses: statuses, CreatedFrom: when(q.GetCreatedTimeFrom()),
		CreatedTo: when(q.GetCreatedTimeTo()), IDPrefix: q.GetInstanceIdPrefix().GetValue(), Limit: min(limit, 1000),
		Token: q.GetContinuationToken().GetValue(), WithPayloads: q.GetFetchInputsAndOutputs()})
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &dtpb.QueryInstancesResponse{ContinuationToken: text(page.Token)}
	for _, in := range page.Instances {
		resp.OrchestrationState = append(resp.OrchestrationState, stateOut(in, q.GetFetchInputsAndOutputs()))
	}
	return resp, nil
}

// ListInstanceIds implements dtpb.TaskHubSidecarServiceServer. The completed-time bounds are not
// served: asking for them is INVALID_ARGUMENT rather than a silently wider answer.
func (s *Server) ListInstanceIds(ctx context.Context, req *dtpb.ListInstanceIdsRequest) (*dtpb.ListInstanceIdsResponse, error) {
	if req.GetCompletedTimeFrom() != nil || req.GetCompletedTimeTo() != nil {
		return nil, status.Error(codes.InvalidArgument, "orca does not filter instance ids by completion time")
	}
	statuses, err := statusesIn(req.GetRuntimeStatus())
	if err != nil {
		return nil, err
	}
	limit := int(req.GetPageSize())
	if limit <= 0 {
		limit = defaultPage
	}
	page, err := s.eng.List(ctx, &store.InstanceListParams{Statuses: statuses, Limit: min(limit, 1000),
		Token: req.GetLastInstanceKey().GetValue()})
	if err != nil {
		return nil, grpcError(err)
	}
	resp := &dtpb.ListInstanceIdsResponse{LastInstanceKey: text(page.Token)}
	for _, in := range page.Instances {
		resp.InstanceIds = append(resp.InstanceIds, in.ID)
	}
	return resp, nil
}

// PurgeInstances implements dtpb.TaskHubSidecarServiceServer: one finished instance, or every
// finished one a filter selects. With recursive, the finished sub-orchestrations below each are
// deleted too (see purgeTree) and counted.
func (s *Server) PurgeInstances(ctx context.Context, req *dtpb.PurgeInstancesRequest) (*dtpb.PurgeInstancesResponse, error) {
	switch r := req.GetRequest().(type) {
	case *dtpb.PurgeInstancesRequest_InstanceId:
		purge := func() (int, error) { return 1, s.eng.Purge(ctx, r.InstanceId) }
		if req.GetRecursive() {
			purge = func() (int, error) { return s.purgeTree(ctx, r.InstanceId, 0) }
		}
		n, err := purge()
		switch {
		case errors.Is(err, store.ErrNotFound):
			return &dtpb.PurgeInstancesResponse{DeletedInstanceCount: 0}, nil
		case err != nil:
			return nil, grpcError(err)
		}
		return &dtpb.PurgeInstancesResponse{DeletedInstanceCount: int32(n)}, nil
	case *dtpb.PurgeInstancesRequest_PurgeInstanceFilter:
		f := r.PurgeInstanceFilter
		statuses, err := statusesIn(f.GetRuntimeStatus())
		if err != nil {
			return nil, err
		}
		p := store.InstancePurgeParams{Statuses: statuses, CreatedFrom: when(f.GetCreatedTimeFrom()), CreatedTo: when(f.GetCreatedTimeTo())}
		var n int
		if req.GetRecursive() {
			n, err = s.purgeMatching(ctx, p)
		} else {
			n, err = s.eng.PurgeMany(ctx, p)
		}
		if err != nil {
			return nil, grpcError(err)
		}
		return &dtpb.PurgeInstancesResponse{DeletedInstanceCount: int32(n)}, nil
	}
	return nil, status.Error(codes.InvalidArgument, "purge: give an instanceId or a purgeInstanceFilter")
}

// StreamInstanceHistory implements dtpb.TaskHubSidecarServiceServer: the current execution's
// history, a chunk per page.
func (s *Server) StreamInstanceHistory(req *dtpb.StreamInstanceHistoryRequest, out grpc.ServerStreamingServer[dtpb.HistoryChunk]) error {
	ctx := out.Context()
	id := req.GetInstanceId()
	if _, err := s.eng.Get(ctx, id, false); err != nil {
		return grpcError(err)
	}
	for after := -1; ; {
		recs, err := s.eng.History(ctx, &store.HistoryReadParams{InstanceID: id, After: after, Limit: 1000})
		if err != nil {
			return grpcError(err)
		}
		if len(recs) == 0 {
			return nil
		}
		events := make([]*history.Event, len(recs))
		for i, r := range recs {
			events[i] = r.Event
		}
		if err := out.Send(&dtpb.HistoryChunk{Events: eventsOut(events, id)}); err != nil {
			return err
		}
		after = recs[len(recs)-1].Seq
	}
}

// The worker RPCs.

// GetWorkItems implements dtpb.TaskHubSidecarServiceServer: the worker's stream of work items,
// open until it leaves.
func (s *Server) GetWorkItems(req *dtpb.GetWorkItemsRequest, out grpc.ServerStreamingServer[dtpb.WorkItem]) error {
	if len(req.GetWorkItemFilters().GetOrchestrations()) > 0 || len(req.GetWorkItemFilters().GetActivities()) > 0 {
		s.log.Warn("a worker sent work item filters; orca sends every worker every kind of work item")
	}
	return s.workers.serve(out.Context(), out.Send)
}

// CompleteOrchestratorTask implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) CompleteOrchestratorTask(_ context.Context, resp *dtpb.OrchestratorResponse) (*dtpb.CompleteTaskResponse, error) {
	if err := s.workers.complete(resp.GetCompletionToken(), resp); err != nil {
		return nil, err
	}
	return &dtpb.CompleteTaskResponse{}, nil
}

// CompleteActivityTask implements dtpb.TaskHubSidecarServiceServer.
func (s *Server) CompleteActivityTask(_ context.Context, resp *dtpb.ActivityResponse) (*dtpb.CompleteTaskResponse, error) {
	if err := s.workers.complete(resp.GetCompletionToken(), resp); err != nil {
		return nil, err
	}
	return &dtpb.CompleteTaskResponse{}, nil
}

// AbandonTaskOrchestratorWorkItem implements dtpb.TaskHubSidecarServiceServer: the turn is tried
// again.
func (s *Server) AbandonTaskOrchestratorWorkItem(_ context.Context, req *dtpb.AbandonOrchestrationTaskRequest) (*dtpb.AbandonOrchestrationTaskResponse, error) {
	if err := s.workers.abandon(req.GetCompletionToken()); err != nil {
		return nil, err
	}
	return &dtpb.AbandonOrchestrationTaskResponse{}, nil
}

// AbandonTaskActivityWorkItem implements dtpb.TaskHubSidecarServiceServer: the task goes back to
// the store and runs again.
func (s *Server) AbandonTaskActivityWorkItem(_ context.Context, req *dtpb.AbandonActivityTaskRequest) (*dtpb.AbandonActivityTaskResponse, error) {
	if err := s.workers.abandon(req.GetCompletionToken()); err != nil {
		return nil, err
	}
	return &dtpb.AbandonActivityTaskResponse{}, nil
}
