package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/scaler"
)

// poolRoutes are the worker pools' routes. They exist without a scaler too: no pools.
func (s *Server) poolRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/pools", scope: auth.ScopeReader, handler: s.listPools,
			doc: opDoc{tag: "pools", summary: "Worker pools: policy, workers starting/ready/stopping, the last decision",
				responses: map[int]string{200: `{"pools": [...]}`}}},
		{method: "GET", pattern: "/api/pools/{name}/decisions", scope: auth.ScopeReader, handler: s.poolDecisions,
			doc: opDoc{tag: "pools", summary: "A pool's recent scaling decisions, oldest first",
				query: []param{{"limit", "at most this many, the latest (default 100, at most 1000)", "integer"},
					{"changesOnly", "only the decisions that resized the pool", "boolean"}},
				responses: map[int]string{200: `{"pool": name, "decisions": [...]}`, 404: "no such pool"}}},
	}
}

func (s *Server) listPools(w http.ResponseWriter, _ *http.Request) {
	var pools []scaler.PoolStatus
	if s.cfg.Pools != nil {
		pools = s.cfg.Pools.Pools()
	}
	if pools == nil {
		pools = []scaler.PoolStatus{} // [] rather than null: no pools
	}
	writeJSON(w, http.StatusOK, map[string]any{"pools": pools})
}

func (s *Server) poolDecisions(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	limit := 100
	if v, ok := queryValue(r, "limit"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 {
			s.writeError(w, r, badRequest("InvalidArgument", "limit must be a positive whole number"))
			return
		}
		limit = min(n, 1000)
	}
	var ds []scaler.Decision
	ok := false
	if s.cfg.Pools != nil {
		ds, ok = s.cfg.Pools.Decisions(name, limit, queryBool(r, "changesOnly", false))
	}
	if !ok {
		s.writeError(w, r, &apiError{http.StatusNotFound, "NotFound", "no pool named " + strconv.Quote(name)})
		return
	}
	if ds == nil {
		ds = []scaler.Decision{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pool": name, "decisions": ds})
}
