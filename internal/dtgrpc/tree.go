package dtgrpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
)

// Recursive terminate and purge: an instance's sub-orchestrations are the instances its current
// execution's history records creating (SubOrchestrationInstanceCreated), and theirs in turn.
// Children an earlier execution created (before a continue-as-new) are not found: that history
// is gone.

// settleWait bounds how long a recursive terminate waits for an instance to end before it reads
// which children it created: a turn in flight when the termination arrived may still create one.
const settleWait = 10 * time.Second

// maxTreeDepth stops a walk down a tree of sub-orchestrations that is deeper than any real one
// (a cycle cannot happen: a child's id is taken only once it is free).
const maxTreeDepth = 100

// children returns the ids of the sub-orchestrations id's history records creating, each once,
// in the order they were created.
func (s *Server) children(ctx context.Context, id string) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for after := -1; ; {
		recs, err := s.eng.History(ctx, &store.HistoryReadParams{InstanceID: id, After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("read the history of %s: %w", id, err)
		}
		if len(recs) == 0 {
			return ids, nil
		}
		for _, r := range recs {
			if r.Event.Type == history.SubOrchestrationInstanceCreated {
				if c := r.Event.SubOrchestrationInstanceCreated.InstanceID; !seen[c] {
					seen[c] = true
					ids = append(ids, c)
				}
			}
		}
		after = recs[len(recs)-1].Seq
	}
}

// terminateTree terminates id and then, once it has ended (or after settleWait), every
// unfinished sub-orchestration below it. Children that have finished or are gone are skipped.
func (s *Server) terminateTree(ctx context.Context, id string, output string, depth int) error {
	if err := s.eng.Terminate(ctx, id, output); err != nil {
		return err
	}
	return s.terminateChildren(ctx, id, output, depth)
}

func (s *Server) terminateChildren(ctx context.Context, id string, output string, depth int) error {
	if depth >= maxTreeDepth {
		return fmt.Errorf("terminate %s: sub-orchestrations nested deeper than %d", id, maxTreeDepth)
	}
	wctx, cancel := context.WithTimeout(ctx, settleWait)
	_, err := s.eng.WaitFor(wctx, id, false, func(in *store.Instance) bool { return in.Status.Finished() })
	cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	kids, err := s.children(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range kids {
		err := s.terminateTree(ctx, c, output, depth+1)
		switch {
		case errors.Is(err, store.ErrWrongStatus):
			// The child has finished; its own children may not have.
			if err := s.terminateChildren(ctx, c, output, depth+1); err != nil {
				return err
			}
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		}
	}
	return nil
}

// purgeTree deletes the finished instance id and then every finished sub-orchestration below
// it, and returns how many instances it deleted. A child that has not finished is kept (with
// what is below it), as is one that is gone already.
func (s *Server) purgeTree(ctx context.Context, id string, depth int) (int, error) {
	if depth >= maxTreeDepth {
		return 0, fmt.Errorf("purge %s: sub-orchestrations nested deeper than %d", id, maxTreeDepth)
	}
	kids, err := s.children(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := s.eng.Purge(ctx, id); err != nil {
		return 0, err
	}
	n := 1
	for _, c := range kids {
		m, err := s.purgeTree(ctx, c, depth+1)
		n += m
		if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrWrongStatus) {
			return n, err
		}
	}
	return n, nil
}

// purgeMatching deletes every finished instance p selects with its finished sub-orchestrations,
// and returns how many instances it deleted.
func (s *Server) purgeMatching(ctx context.Context, p store.InstancePurgeParams) (int, error) {
	statuses := p.Statuses
	if len(statuses) == 0 {
		statuses = []store.Status{store.StatusCompleted, store.StatusFailed, store.StatusTerminated}
	}
	for _, st := range statuses {
		if !st.Finished() {
			return 0, fmt.Errorf("purge instances: status %s is not a finished status: %w", st, store.ErrInvalid)
		}
	}
	total := 0
	for token := ""; ; {
		page, err := s.eng.List(ctx, &store.InstanceListParams{Statuses: statuses, CreatedFrom: p.CreatedFrom,
			CreatedTo: p.CreatedTo, Limit: 500, Token: token})
		if err != nil {
			return total, err
		}
		for _, in := range page.Instances {
			n, err := s.purgeTree(ctx, in.ID, 0)
			total += n
			if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrWrongStatus) {
				return total, err
			}
		}
		if page.Token == "" {
			return total, nil
		}
		token = page.Token
	}
}
