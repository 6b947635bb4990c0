package api

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/dashboard"
)

// pageSecurity are the headers of the page and its assets: no inline script or style, no
// framing, nothing leaves for another origin (the page escapes what it shows; this is the net
// under it).
var pageSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"X-Frame-Options":        "DENY",
	"Cache-Control":          "no-cache",
}

// dashboardRoutes are the monitoring page's routes. The page and its assets are open (they hold
// no data, and the browser must load them to ask for a key); the series needs a reader key like
// every other read.
func (s *Server) dashboardRoutes() []route {
	return []route{
		{method: "GET", pattern: "/{$}", handler: s.page,
			doc: opDoc{tag: "dashboard", summary: "The monitoring page", responses: map[int]string{200: "HTML"}}},
		{method: "GET", pattern: "/ui/{file}", handler: s.pageAsset,
			doc: opDoc{tag: "dashboard", summary: "The page's scripts, styles and icons", responses: map[int]string{200: "the file", 404: "no such file"}}},
		{method: "GET", pattern: "/api/dashboard/series", scope: auth.ScopeReader, handler: s.dashboardSeries,
			doc: opDoc{tag: "dashboard", summary: "The sampled time series: work queue, poison queue, workers per pool, nodes, items finished; and the scaling decisions that resized a pool",
				query:     []param{{"since", "Unix milliseconds: only samples after it (a sample's t); default the whole window", "integer"}},
				responses: map[int]string{200: "the series", 400: "since is not a whole number"}}},
	}
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	a, _ := dashboard.LookupAsset(dashboard.IndexName)
	serveAsset(w, r, a)
}

func (s *Server) pageAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	a, ok := dashboard.LookupAsset(name)
	if !ok || name == dashboard.IndexName {
		s.writeError(w, r, &apiError{http.StatusNotFound, "NotFound", "no such file"})
		return
	}
	serveAsset(w, r, a)
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *dashboard.Asset) {
	for k, v := range pageSecurity {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("ETag", a.ETag)
	http.ServeContent(w, r, a.Name, time.Time{}, bytes.NewReader(a.Content))
}

func (s *Server) dashboardSeries(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if v, ok := queryValue(r, "since"); ok && strings.TrimSpace(v) != "" {
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			s.writeError(w, r, badRequest("InvalidArgument", "since must be Unix milliseconds (a sample's t)"))
			return
		}
		since = time.UnixMilli(ms)
	}
	writeJSON(w, http.StatusOK, s.cfg.Dashboard.Series(since))
}
