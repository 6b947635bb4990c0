package api

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/workitems"
)

// workRoutes are the batched data plane of orca's own workers (package workitems).
func (s *Server) workRoutes() []route {
	outcomes := map[int]string{200: "one outcome per item, in order: done, leaseLost, notFound, invalid or failed",
		400: "malformed request, bad queue name, more than 256 items"}
	return []route{
		{method: "POST", pattern: "/api/work/{queue}/lease", scope: auth.ScopeWorker, handler: s.leaseWork,
			doc: opDoc{tag: "work", summary: "Lease up to max work items with their input blobs inline, long-polling with wait " +
				`(body {"max", "visibilityTimeout", "wait"}, seconds)`, body: "json",
				responses: map[int]string{200: `{"items": [{"id", "popReceipt", "dequeueCount", "item", "input" or "problem"}]}`,
					400: "max not 1 to 256, bad visibilityTimeout or wait"}}},
		{method: "POST", pattern: "/api/work/{queue}/complete", scope: auth.ScopeWorker, handler: s.completeWork,
			doc: opDoc{tag: "work", summary: "Complete work items: each item's output blob (with its BlobCreated), message delete and " +
				`input delete, in one store transaction on orca's own queue and blobs (body {"items": [{"id", "popReceipt", "item", "result"}]})`,
				body: "json", responses: outcomes}},
		{method: "POST", pattern: "/api/work/{queue}/release", scope: auth.ScopeWorker, handler: s.releaseWork,
			doc: opDoc{tag: "work", summary: `Give work items back, visible after visibilityTimeout seconds, recording error (body {"items": [{"id", "popReceipt", "visibilityTimeout", "error"}]})`,
				body: "json", responses: outcomes}},
		{method: "POST", pattern: "/api/work/{queue}/renew", scope: auth.ScopeWorker, handler: s.renewWork,
			doc: opDoc{tag: "work", summary: `Extend the leases of held items (body {"visibilityTimeout", "items": [{"id", "popReceipt"}]}); each outcome carries the new pop receipt`,
				body: "json", responses: outcomes}},
	}
}

// workSeconds checks a duration given in seconds in a work request's body.
func workSeconds(field string, v float64, lo, hi time.Duration) (time.Duration, error) {
	d := time.Duration(v * float64(time.Second))
	if math.IsNaN(v) || v < 0 || d < lo || d > hi {
		return 0, badRequest("InvalidArgument", field+" must be a number of seconds from "+
			strconv.FormatFloat(lo.Seconds(), 'f', -1, 64)+" to "+strconv.FormatFloat(hi.Seconds(), 'f', -1, 64))
	}
	return d, nil
}

// checkBatch checks the size of a completion, release or renewal.
func checkBatch(n int) error {
	if n < 1 || n > workitems.MaxBatch {
		return badRequest("InvalidArgument", "send 1 to "+strconv.Itoa(workitems.MaxBatch)+" items")
	}
	return nil
}

func (s *Server) leaseWork(w http.ResponseWriter, r *http.Request) {
	var req client.WorkLeaseRequest
	q, ok := s.decodeWork(w, r, &req, func() error {
		if req.Max < 1 || req.Max > workitems.MaxBatch {
			return badRequest("InvalidArgument", "max must be 1 to "+strconv.Itoa(workitems.MaxBatch))
		}
		return nil
	})
	if !ok {
		return
	}
	visibility := queue.DefaultVisibilityTimeout
	if req.VisibilityTimeout != 0 {
		var err error
		if visibility, err = workSeconds("visibilityTimeout", req.VisibilityTimeout, time.Second, queue.MaxVisibilityTimeout); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	wait, err := workSeconds("wait", req.Wait, 0, s.cfg.MaxPollWait)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if id := r.Header.Get(client.WorkerIDHeader); id != "" && s.cfg.WorkerPolled != nil {
		s.cfg.WorkerPolled(id)
	}
	items, err := s.cfg.Work.Lease(r.Context(), workitems.LeaseParams{Queue: q, Max: req.Max, Visibility: visibility, Wait: wait})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := client.LeasedItems{Items: make([]*client.LeasedItem, len(items))}
	for i, it := range items {
		out.Items[i] = &client.LeasedItem{ID: it.MessageID, PopReceipt: it.PopReceipt, DequeueCount: it.DequeueCount,
			NextVisibleTime: it.NextVisible, Item: it.Work, Input: it.Input, Problem: it.Problem}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) completeWork(w http.ResponseWriter, r *http.Request) {
	var req client.WorkCompleteRequest
	q, ok := s.decodeWork(w, r, &req, func() error { return checkBatch(len(req.Items)) })
	if !ok {
		return
	}
	items := make([]workitems.Completion, len(req.Items))
	for i, c := range req.Items {
		items[i] = workitems.Completion{MessageID: c.ID, PopReceipt: c.PopReceipt, Work: c.Item, Result: c.Result}
	}
	res, err := s.cfg.Work.Complete(r.Context(), q, items)
	s.answerWork(w, r, err, len(res), func(i int) client.WorkOutcome { return workOutcome(req.Items[i].ID, res[i].Err) })
}

func (s *Server) releaseWork(w http.ResponseWriter, r *http.Request) {
	var req client.WorkReleaseRequest
	q, ok := s.decodeWork(w, r, &req, func() error { return checkBatch(len(req.Items)) })
	if !ok {
		return
	}
	items := make([]workitems.Release, len(req.Items))
	for i, it := range req.Items {
		vis, err := workSeconds("items["+strconv.Itoa(i)+"].visibilityTimeout", it.VisibilityTimeout, 0, queue.MaxVisibilityTimeout)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		items[i] = workitems.Release{MessageID: it.ID, PopReceipt: it.PopReceipt, Visibility: vis, LastError: it.Error,
			Unstarted: it.Unstarted}
	}
	res, err := s.cfg.Work.Release(r.Context(), q, items)
	s.answerWork(w, r, err, len(res), func(i int) client.WorkOutcome { return workOutcome(req.Items[i].ID, res[i].Err) })
}

func (s *Server) renewWork(w http.ResponseWriter, r *http.Request) {
	var req client.WorkRenewRequest
	q, ok := s.decodeWork(w, r, &req, func() error { return checkBatch(len(req.Items)) })
	if !ok {
		return
	}
	vis, err := workSeconds("visibilityTimeout", req.VisibilityTimeout, time.Second, queue.MaxVisibilityTimeout)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	items := make([]workitems.Lease, len(req.Items))
	for i, it := range req.Items {
		items[i] = workitems.Lease{MessageID: it.ID, PopReceipt: it.PopReceipt}
	}
	res, err := s.cfg.Work.Renew(r.Context(), q, items, vis)
	s.answerWork(w, r, err, len(res), func(i int) client.WorkOutcome {
		o := workOutcome(req.Items[i].ID, res[i].Err)
		if res[i].Err == nil {
			o.PopReceipt, o.NextVisibleTime = res[i].PopReceipt, res[i].NextVisible
		}
		return o
	})
}

// decodeWork reads a work request: its body into req and its queue's name, then check checks
// the body. It answers the error itself when it returns false.
func (s *Server) decodeWork(w http.ResponseWriter, r *http.Request, req any, check func() error) (string, bool) {
	if err := s.decodeBody(w, r, req); err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	q := r.PathValue("queue")
	if err := queue.ValidateName(q); err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	if err := check(); err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	return q, true
}

// answerWork answers a completion, release or renewal: with the error that stopped the whole
// batch, else with the outcomes of its n items, in order.
func (s *Server) answerWork(w http.ResponseWriter, r *http.Request, err error, n int, outcome func(i int) client.WorkOutcome) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := client.WorkOutcomes{Items: make([]client.WorkOutcome, n)}
	for i := range out.Items {
		out.Items[i] = outcome(i)
	}
	writeJSON(w, http.StatusOK, out)
}

// workOutcome is an item's outcome on the wire.
func workOutcome(id string, err error) client.WorkOutcome {
	o := client.WorkOutcome{ID: id, Status: client.WorkDone}
	switch {
	case err == nil:
		return o
	case errors.Is(err, queue.ErrPopReceiptMismatch):
		o.Status = client.WorkLeaseLost
	case errors.Is(err, queue.ErrNotFound):
		o.Status = client.WorkNotFound
	case errors.Is(err, workitems.ErrInvalid), errors.Is(err, queue.ErrInvalid), classify(err).status == http.StatusBadRequest:
		o.Status = client.WorkInvalid
	default:
		o.Status = client.WorkFailed
	}
	o.Error = err.Error()
	return o
}
