package api

import (
	"net/http"

	"github.com/orcahq/orca/internal/auth"
)

// RouteEntry is one entry of the server's route table, as the external tests see it.
type RouteEntry struct {
	Method, Pattern string
	Scope           auth.Scope
	// DocPaths are the paths the OpenAPI document lists for a generic pattern; empty means the
	// pattern itself.
	DocPaths []string
}

// MuxPattern is the pattern the route is registered under.
func (e RouteEntry) MuxPattern() string {
	if e.Method == "" {
		return e.Pattern
	}
	return e.Method + " " + e.Pattern
}

// RouteTable returns the table the router and the OpenAPI document are built from.
func (s *Server) RouteTable() []RouteEntry {
	var out []RouteEntry
	for _, rt := range s.table() {
		out = append(out, RouteEntry{Method: rt.method, Pattern: rt.pattern, Scope: rt.scope,
			DocPaths: append([]string(nil), rt.docPaths...)})
	}
	return out
}

// MatchedPattern returns the mux pattern that serves r, "" when none does (404 or 405 from the
// mux itself).
func (s *Server) MatchedPattern(r *http.Request) string {
	_, p := s.mux.Handler(r)
	return p
}

// DFPrefix is the Durable Functions base path.
const DFPrefix = dfPrefix
