package api_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/api"
)

// openapiDoc is the part of the OpenAPI document the tests read.
type openapiDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]openapiOp `json:"paths"`
	Components struct {
		SecuritySchemes map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

type openapiOp struct {
	Summary    string `json:"summary"`
	Parameters []struct {
		Name     string         `json:"name"`
		In       string         `json:"in"`
		Required bool           `json:"required"`
		Schema   map[string]any `json:"schema"`
	} `json:"parameters"`
	Responses map[string]struct {
		Description *string `json:"description"`
	} `json:"responses"`
	Security []map[string][]string `json:"security"`
	Scope    string                `json:"x-orca-scope"`
}

var (
	templateParam = regexp.MustCompile(`\{([^{}]+)\}`)
	statusKey     = regexp.MustCompile(`^[1-5]\d\d$`)
)

// docPath turns a mux pattern into the path OpenAPI lists: {name...} is {name}, {$} goes.
func docPath(pattern string) string {
	p := strings.ReplaceAll(pattern, "{$}", "")
	return templateParam.ReplaceAllStringFunc(p, func(m string) string { return strings.Replace(m, "...}", "}", 1) })
}

// concrete fills a path template's parameters with sample values.
func concrete(path string) string {
	return templateParam.ReplaceAllStringFunc(path, func(m string) string {
		switch m {
		case "{container}":
			return "data"
		case "{queue}":
			return "work"
		case "{name}":
			return "some-name"
		}
		return "x1"
	})
}

func fetchOpenAPI(t testing.TB, n *node) *openapiDoc {
	t.Helper()
	r := n.do(t, "GET", "/api/openapi.json", "").want(t, http.StatusOK)
	r.jsonContentType(t)
	if !json.Valid(r.body) {
		t.Fatal("the document is not valid JSON")
	}
	var doc openapiDoc
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

func TestOpenAPIValid(t *testing.T) {
	// A keyed node, asked without a key: the document is open.
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	doc := fetchOpenAPI(t, n)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" {
		t.Fatalf("info %+v lacks title or version", doc.Info)
	}
	if len(doc.Paths) == 0 {
		t.Fatal("no paths")
	}
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q does not start with /", path)
		}
		params := templateParam.FindAllStringSubmatch(path, -1)
		for method, op := range ops {
			if !slices.Contains(methods, method) {
				t.Errorf("%s: %q is not an HTTP method", path, method)
			}
			if len(op.Responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			for code, resp := range op.Responses {
				if !statusKey.MatchString(code) || resp.Description == nil {
					t.Errorf("%s %s: response %q without a status code key or a description", method, path, code)
				}
			}
			for _, m := range params {
				found := false
				for _, p := range op.Parameters {
					found = found || (p.Name == m[1] && p.In == "path" && p.Required)
				}
				if !found {
					t.Errorf("%s %s: path parameter %s is not declared (in: path, required)", method, path, m[1])
				}
			}
			for _, p := range op.Parameters {
				if !slices.Contains([]string{"path", "query", "header", "cookie"}, p.In) || p.Name == "" || p.Schema == nil {
					t.Errorf("%s %s: bad parameter %+v", method, path, p)
				}
			}
			for _, req := range op.Security {
				for scheme := range req {
					if doc.Components.SecuritySchemes[scheme] == nil {
						t.Errorf("%s %s: security scheme %q is not defined", method, path, scheme)
					}
				}
			}
		}
	}
}

// TestOpenAPIMatchesRouter checks both directions between the route table (what the mux
// serves) and the document.
func TestOpenAPIMatchesRouter(t *testing.T) {
	n := newNode(t, nodeConfig{keys: testKeys(t)})
	doc := fetchOpenAPI(t, n)
	srv := n.app.API
	table := srv.RouteTable()

	t.Run("every route is documented", func(t *testing.T) {
		catchAll := 0
		for _, rt := range table {
			if rt.Method == "" {
				// Only the DF catch-all may go undocumented: it serves the 404 of any other route
				// under the prefix (and of the bare prefix).
				if rt.Pattern != api.DFPrefix+"/" && rt.Pattern != api.DFPrefix {
					t.Errorf("route %q has no method; only the DF catch-all may", rt.Pattern)
				}
				catchAll++
				continue
			}
			paths := rt.DocPaths
			if len(paths) == 0 {
				paths = []string{docPath(rt.Pattern)}
			}
			for _, p := range paths {
				op, ok := doc.Paths[p][strings.ToLower(rt.Method)]
				if !ok {
					t.Errorf("route %q is not in the document as %s %s", rt.MuxPattern(), rt.Method, p)
					continue
				}
				if op.Scope != string(rt.Scope) {
					t.Errorf("%s %s: x-orca-scope %q, the route needs %q", rt.Method, p, op.Scope, rt.Scope)
				}
				if (rt.Scope != "") != (len(op.Security) > 0) {
					t.Errorf("%s %s: security %v for scope %q", rt.Method, p, op.Security, rt.Scope)
				}
				// A documented path of a generic pattern must be served by that route.
				req, err := http.NewRequest(rt.Method, "http://orca.test"+concrete(p), nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := srv.MatchedPattern(req); got != rt.MuxPattern() {
					t.Errorf("documented %s %s is served by %q, not by its route %q", rt.Method, p, got, rt.MuxPattern())
				}
			}
		}
		if catchAll == 0 {
			t.Error("no DF catch-all route")
		}
	})

	t.Run("every documented operation is served", func(t *testing.T) {
		var paths []string
		for p := range doc.Paths {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			for method := range doc.Paths[p] {
				m := strings.ToUpper(method)
				req, err := http.NewRequest(m, "http://orca.test"+concrete(p), nil)
				if err != nil {
					t.Fatal(err)
				}
				pattern := srv.MatchedPattern(req)
				if pattern == "" || pattern == api.DFPrefix+"/" || pattern == api.DFPrefix {
					t.Errorf("documented %s %s is not served (the mux answers it with %q)", m, p, pattern)
					continue
				}
				// And over the wire: never the mux's own 404 or 405.
				r := n.do(t, m, concrete(p), "", withHeader("x-functions-key", adminKey))
				if r.code == http.StatusMethodNotAllowed || strings.HasPrefix(string(r.body), "404 page not found") {
					t.Errorf("documented %s %s: %d %s", m, p, r.code, r.body)
				}
			}
		}
	})

	t.Run("the DF operations are all listed", func(t *testing.T) {
		for _, op := range []string{"terminate", "suspend", "resume", "rewind", "restart", "raiseEvent/{event}"} {
			if _, ok := doc.Paths[df+"/instances/{id}/"+op]["post"]; !ok {
				t.Errorf("POST instances/{id}/%s is not documented", op)
			}
		}
	})
}
