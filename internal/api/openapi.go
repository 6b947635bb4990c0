package api

import (
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([A-Za-z_]+)(\.\.\.)?\}`)

// openapiPath turns a mux pattern into an OpenAPI path: {name...} becomes {name}, {$} goes.
func openapiPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return pathParam.ReplaceAllString(p, "{$1}")
}

// docPathsOf returns the paths the document lists for a route.
func docPathsOf(rt route) []string {
	if len(rt.docPaths) > 0 {
		return rt.docPaths
	}
	return []string{rt.pattern}
}

// openapiDoc builds the OpenAPI 3 document from the route table, so it lists exactly the routes
// the server serves.
func (s *Server) openapiDoc() map[string]any {
	paths := map[string]map[string]any{}
	for _, rt := range s.table() {
		if rt.method == "" {
			continue // the DF catch-all: any other route answers 404
		}
		for _, p := range docPathsOf(rt) {
			p = openapiPath(p)
			if paths[p] == nil {
				paths[p] = map[string]any{}
			}
			paths[p][strings.ToLower(rt.method)] = s.operationDoc(rt, p)
		}
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "orca", "version": "1",
			"description": "orca's HTTP API: Durable Functions' management routes under /runtime/webhooks/durabletask, " +
				"the seeds' starter, the compute data plane (queues, blobs) and events. Keys: x-functions-key, " +
				"Authorization: Bearer, or code=; scopes admin (everything), worker (queues and blobs), reader (reads)."},
		"paths": paths,
		"components": map[string]any{"securitySchemes": map[string]any{
			"functionsKey": map[string]any{"type": "apiKey", "in": "header", "name": "x-functions-key"},
			"code":         map[string]any{"type": "apiKey", "in": "query", "name": "code"},
			"bearer":       map[string]any{"type": "http", "scheme": "bearer"},
		}},
	}
}

func (s *Server) operationDoc(rt route, path string) map[string]any {
	op := map[string]any{"summary": rt.doc.summary, "tags": []string{rt.doc.tag}}
	var params []map[string]any
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
	}
	for _, q := range rt.doc.query {
		params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.desc, "schema": map[string]string{"type": q.typ}})
	}
	for _, h := range rt.doc.headers {
		params = append(params, map[string]any{"name": h.name, "in": "header", "description": h.desc, "schema": map[string]string{"type": h.typ}})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	switch rt.doc.body {
	case "json":
		op["requestBody"] = map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{}}}}
	case "binary":
		op["requestBody"] = map[string]any{"content": map[string]any{"application/octet-stream": map[string]any{
			"schema": map[string]string{"type": "string", "format": "binary"}}}}
	}
	codes := make([]int, 0, len(rt.doc.responses))
	for c := range rt.doc.responses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	responses := map[string]any{}
	for _, c := range codes {
		responses[strconv.Itoa(c)] = map[string]string{"description": rt.doc.responses[c]}
	}
	if rt.scope != "" {
		responses["401"] = map[string]string{"description": "no key, or a key that is not valid"}
		responses["403"] = map[string]string{"description": "the key's scope does not allow this route"}
		op["security"] = []map[string][]string{{"functionsKey": {}}, {"code": {}}, {"bearer": {}}}
		op["x-orca-scope"] = string(rt.scope)
	}
	op["responses"] = responses
	return op
}

func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.openapiDoc())
}
