package api

import (
	"net/http"

	"github.com/orcahq/orca/internal/auth"
)

// route is one entry of the router: its method and Go mux pattern, the scope a key needs, the
// handler, and what the OpenAPI document says of it. The router and the document are built from
// the same table.
type route struct {
	method  string
	pattern string
	scope   auth.Scope
	handler http.HandlerFunc
	doc     opDoc
	// docPaths are the paths the document lists for a generic pattern (the DF operations share
	// one pattern, matched case-insensitively); empty means the pattern itself.
	docPaths []string
}

// opDoc is the OpenAPI description of an operation.
type opDoc struct {
	tag       string
	summary   string
	query     []param
	headers   []param
	body      string // "", "json" or "binary"
	responses map[int]string
}

type param struct {
	name, desc, typ string // typ: string, integer, boolean, number
}

const dfPrefix = "/runtime/webhooks/durabletask"

func (s *Server) table() []route {
	df := []param{{"taskHub", "accepted and ignored", "string"}, {"connection", "accepted and ignored", "string"},
		{"code", "API key (echoed into the management URLs returned)", "string"}}
	wait := []param{{"timeout", "seconds to wait for the instance to finish", "number"},
		{"pollingInterval", "seconds between checks (must not exceed timeout)", "number"}}
	listFilters := []param{{"runtimeStatus", "statuses, comma-separated or repeated", "string"},
		{"createdTimeFrom", "RFC 3339", "string"}, {"createdTimeTo", "RFC 3339", "string"},
		{"instanceIdPrefix", "", "string"}, {"showInput", "default true", "boolean"}, {"top", "page size (default 100, at most 1000)", "integer"},
		{"newestFirst", "newest created first (beyond DF); a token continues only a listing in its own order", "boolean"},
		{"showOutput", "default true; false leaves outputs out, not a failure's message (beyond DF)", "boolean"}}
	token := []param{{"x-ms-continuation-token", "continues a listing; the answer's is empty on the last page", "string"}}
	starter := opDoc{tag: "management", summary: "Start an orchestration (the seeds' starter)", body: "json",
		query:     []param{{"inputCount", "item count passed as the string input (1 to 1,000,000)", "integer"}},
		responses: map[int]string{202: "check-status payload", 400: "unknown orchestrator, bad id, bad input", 409: "instance running"}}
	r := []route{
		{method: "GET", pattern: "/healthz", handler: s.healthz, doc: opDoc{tag: "health", summary: "Liveness", responses: map[int]string{200: "up"}}},
		{method: "GET", pattern: "/readyz", handler: s.readyz, doc: opDoc{tag: "health", summary: "Readiness (fails while draining)", responses: map[int]string{200: "ready", 503: "draining"}}},
		{method: "GET", pattern: "/api/openapi.json", handler: s.openapi, doc: opDoc{tag: "meta", summary: "This document", responses: map[int]string{200: "OpenAPI 3 document"}}},

		{method: "POST", pattern: "/api/orchestrators/{name}", scope: auth.ScopeAdmin, handler: s.start, doc: starter},
		{method: "GET", pattern: "/api/orchestrators/{name}", scope: auth.ScopeAdmin, handler: s.start, doc: starter},
		{method: "POST", pattern: "/api/orchestrators/{name}/{id}", scope: auth.ScopeAdmin, handler: s.start, doc: starter},

		{method: "POST", pattern: dfPrefix + "/orchestrators/{name}", scope: auth.ScopeAdmin, handler: s.start,
			doc: opDoc{tag: "management", summary: "Start an orchestration (DF), optionally waiting", body: "json", query: append(wait, df...),
				responses: map[int]string{200: "finished within timeout: the output (or the status if it failed)", 202: "check-status payload", 400: "unknown orchestrator, bad id or JSON", 409: "instance running"}}},
		{method: "POST", pattern: dfPrefix + "/orchestrators/{name}/{id}", scope: auth.ScopeAdmin, handler: s.start,
			doc: opDoc{tag: "management", summary: "Start an orchestration with an instance id (DF)", body: "json", query: append(wait, df...),
				responses: map[int]string{200: "finished within timeout", 202: "check-status payload", 400: "bad request", 409: "instance running"}}},
		{method: "GET", pattern: dfPrefix + "/instances/{id}", scope: auth.ScopeReader, handler: s.status,
			doc: opDoc{tag: "management", summary: "Instance status (DF)", query: append([]param{{"showHistory", "", "boolean"},
				{"showHistoryOutput", "", "boolean"}, {"showInput", "default true", "boolean"},
				{"returnInternalServerErrorOnFailure", "", "boolean"}}, df...),
				responses: map[int]string{200: "finished", 202: "running", 404: "unknown (empty body)", 500: "failed, with returnInternalServerErrorOnFailure"}}},
		{method: "GET", pattern: dfPrefix + "/instances", scope: auth.ScopeReader, handler: s.list, docPaths: []string{dfPrefix + "/instances"},
			doc: opDoc{tag: "management", summary: "List instances (DF)", query: append(listFilters, df...), headers: token,
				responses: map[int]string{200: "a page of statuses; x-ms-continuation-token empty when done"}}},
		{method: "GET", pattern: dfPrefix + "/instances/{$}", scope: auth.ScopeReader, handler: s.list,
			doc: opDoc{tag: "management", summary: "List instances (DF, trailing slash)", query: listFilters, headers: token,
				responses: map[int]string{200: "a page of statuses"}}},
		{method: "DELETE", pattern: dfPrefix + "/instances/{id}", scope: auth.ScopeAdmin, handler: s.purge,
			doc: opDoc{tag: "management", summary: "Purge a finished instance (DF)", query: df,
				responses: map[int]string{200: `{"instancesDeleted": 1}`, 404: "unknown", 409: "not finished"}}},
		{method: "DELETE", pattern: dfPrefix + "/instances", scope: auth.ScopeAdmin, handler: s.purgeMany,
			doc: opDoc{tag: "management", summary: "Purge finished instances created in a time range (DF)",
				query:     append([]param{{"createdTimeFrom", "required, RFC 3339", "string"}, {"createdTimeTo", "default now", "string"}, {"runtimeStatus", "Completed, Failed, Terminated", "string"}}, df...),
				responses: map[int]string{200: `{"instancesDeleted": N}`, 400: "createdTimeFrom missing or a filter that parses to nothing", 404: "nothing matched"}}},
		{method: "DELETE", pattern: dfPrefix + "/instances/{$}", scope: auth.ScopeAdmin, handler: s.purgeMany,
			doc: opDoc{tag: "management", summary: "Purge finished instances (DF, trailing slash: the URL the DF JavaScript client builds)",
				query:     []param{{"createdTimeFrom", "required, RFC 3339", "string"}, {"createdTimeTo", "default now", "string"}, {"runtimeStatus", "Completed, Failed, Terminated", "string"}},
				responses: map[int]string{200: `{"instancesDeleted": N}`, 400: "createdTimeFrom missing or a filter that parses to nothing", 404: "nothing matched"}}},
		{method: "POST", pattern: dfPrefix + "/instances/{id}/{op}", scope: auth.ScopeAdmin, handler: s.operation,
			docPaths: []string{dfPrefix + "/instances/{id}/terminate", dfPrefix + "/instances/{id}/suspend",
				dfPrefix + "/instances/{id}/resume", dfPrefix + "/instances/{id}/rewind", dfPrefix + "/instances/{id}/restart"},
			doc: opDoc{tag: "management", summary: "terminate, suspend, resume, rewind or restart an instance (DF; the operation name is case-insensitive)",
				query:     append([]param{{"reason", "recorded with the operation", "string"}, {"restartWithNewInstanceId", "restart only; default true", "boolean"}}, append(wait, df...)...),
				responses: map[int]string{202: "accepted (restart: check-status payload)", 400: "restart of an unknown instance", 404: "unknown instance", 409: "wrong state", 410: "finished", 412: "rewind of an instance that did not fail"}}},
		{method: "POST", pattern: dfPrefix + "/instances/{id}/{op}/{event}", scope: auth.ScopeAdmin, handler: s.operation,
			docPaths: []string{dfPrefix + "/instances/{id}/raiseEvent/{event}"},
			doc: opDoc{tag: "management", summary: "Raise an event on an instance (DF)", body: "json", query: df,
				responses: map[int]string{202: "accepted", 400: "not application/json, or invalid JSON", 404: "unknown instance", 410: "finished"}}},
		{method: "GET", pattern: dfPrefix + "/instances/{id}/history", scope: auth.ScopeReader, handler: s.history,
			doc: opDoc{tag: "management", summary: "History by pages, every event, with an event-type filter (beyond DF)",
				query:     []param{{"eventType", "types, comma-separated or repeated", "string"}, {"top", "page size (default 100, at most 1000)", "integer"}},
				headers:   token,
				responses: map[int]string{200: "a page of events", 404: "unknown instance"}}},
		{pattern: dfPrefix, handler: s.dfNotFound, doc: opDoc{tag: "management", summary: "The DF prefix itself: 404 with an empty body, as DF",
			responses: map[int]string{404: "empty"}}},
		{pattern: dfPrefix + "/", handler: s.dfNotFound, doc: opDoc{tag: "management", summary: "Any other route under the DF prefix: 404 with an empty body, as DF",
			responses: map[int]string{404: "empty"}}},
		{method: "GET", pattern: "/api/runs/summary", scope: auth.ScopeReader, handler: s.summary,
			doc: opDoc{tag: "management", summary: "Instance counts by status (beyond DF)", responses: map[int]string{200: `{"counts": {...}, "total": N}`}}},
	}
	if s.cfg.Metrics != nil {
		r = append(r, route{method: "GET", pattern: "/metrics", scope: auth.ScopeReader, handler: s.cfg.Metrics.ServeHTTP,
			doc: opDoc{tag: "health", summary: "Prometheus metrics (text exposition format; docs/metrics.md lists them)",
				responses: map[int]string{200: "metrics"}}})
	}
	r = append(r, s.poolRoutes()...)
	if s.cfg.Work != nil {
		r = append(r, s.workRoutes()...)
	}
	if s.cfg.Dashboard != nil {
		r = append(r, s.dashboardRoutes()...)
	}
	if s.cfg.Queues != nil {
		r = append(r,
			route{method: "GET", pattern: "/api/queues", scope: auth.ScopeWorker, handler: s.listQueues,
				doc: opDoc{tag: "queues", summary: "Queues with their counts", responses: map[int]string{200: "queues"}}},
			route{method: "GET", pattern: "/api/queues/{queue}", scope: auth.ScopeWorker, handler: s.queueStats,
				doc: opDoc{tag: "queues", summary: "A queue's counts", responses: map[int]string{200: "counts", 400: "bad name"}}},
			route{method: "POST", pattern: "/api/queues/{queue}/messages", scope: auth.ScopeWorker, handler: s.enqueue,
				doc: opDoc{tag: "queues", summary: "Enqueue messages", body: "json", responses: map[int]string{201: "enqueued", 400: "bad request", 413: "too large"}}},
			route{method: "GET", pattern: "/api/queues/{queue}/messages", scope: auth.ScopeWorker, handler: s.dequeue,
				doc: opDoc{tag: "queues", summary: "Dequeue (or peek) messages, long-polling with wait",
					query: []param{{"numofmessages", "1 to 32", "integer"}, {"visibilitytimeout", "seconds", "number"},
						{"wait", "seconds to wait for a message (at most 60)", "number"}, {"peekonly", "", "boolean"}},
					responses: map[int]string{200: "messages"}}},
			route{method: "PUT", pattern: "/api/queues/{queue}/messages/{id}", scope: auth.ScopeWorker, handler: s.updateMessage,
				doc: opDoc{tag: "queues", summary: "Renew or give back a message", body: "json",
					query:     []param{{"popreceipt", "required", "string"}, {"visibilitytimeout", "seconds", "number"}},
					responses: map[int]string{200: "new pop receipt", 400: "pop receipt mismatch", 404: "gone"}}},
			route{method: "DELETE", pattern: "/api/queues/{queue}/messages/{id}", scope: auth.ScopeWorker, handler: s.deleteMessage,
				doc: opDoc{tag: "queues", summary: "Delete a message", query: []param{{"popreceipt", "required", "string"}},
					responses: map[int]string{204: "deleted", 400: "pop receipt mismatch", 404: "gone"}}})
	}
	if s.cfg.Blobs != nil {
		r = append(r,
			route{method: "GET", pattern: "/api/blobs/{container}", scope: auth.ScopeWorker, handler: s.listBlobs,
				doc: opDoc{tag: "blobs", summary: "List blobs", query: []param{{"prefix", "", "string"}, {"marker", "", "string"}, {"maxresults", "1 to 5000", "integer"}},
					responses: map[int]string{200: "a page of blobs"}}},
			route{method: "PUT", pattern: "/api/blobs/{container}/{name...}", scope: auth.ScopeWorker, handler: s.putBlob,
				doc: opDoc{tag: "blobs", summary: "Write a blob (emits BlobCreated)", body: "binary", responses: map[int]string{201: "written", 400: "bad name", 413: "too large"}}},
			route{method: "GET", pattern: "/api/blobs/{container}/{name...}", scope: auth.ScopeWorker, handler: s.getBlob,
				doc: opDoc{tag: "blobs", summary: "Read a blob", responses: map[int]string{200: "content", 404: "not found"}}},
			route{method: "HEAD", pattern: "/api/blobs/{container}/{name...}", scope: auth.ScopeWorker, handler: s.getBlob,
				doc: opDoc{tag: "blobs", summary: "Describe a blob", responses: map[int]string{200: "headers", 404: "not found"}}},
			route{method: "DELETE", pattern: "/api/blobs/{container}/{name...}", scope: auth.ScopeWorker, handler: s.deleteBlob,
				doc: opDoc{tag: "blobs", summary: "Delete a blob", responses: map[int]string{204: "deleted", 404: "not found"}}})
	}
	if s.cfg.Router != nil {
		r = append(r,
			route{method: "POST", pattern: "/api/events", scope: auth.ScopeAdmin, handler: s.ingestEvents,
				doc: opDoc{tag: "events", summary: "Ingest Event Grid or CloudEvents events (deduplicated by id)", body: "json",
					responses: map[int]string{200: "accepted and duplicates (or the validation response)", 400: "malformed"}}},
			route{method: "OPTIONS", pattern: "/api/events", handler: s.eventsAbuseProtection,
				doc: opDoc{tag: "events", summary: "CloudEvents webhook validation", responses: map[int]string{200: "allowed"}}},
			route{method: "GET", pattern: "/api/subscriptions", scope: auth.ScopeReader, handler: s.listSubscriptions,
				doc: opDoc{tag: "events", summary: "List subscriptions", responses: map[int]string{200: "subscriptions"}}},
			route{method: "GET", pattern: "/api/subscriptions/{name}", scope: auth.ScopeReader, handler: s.getSubscription,
				doc: opDoc{tag: "events", summary: "A subscription", responses: map[int]string{200: "the subscription", 404: "not found"}}},
			route{method: "PUT", pattern: "/api/subscriptions/{name}", scope: auth.ScopeAdmin, handler: s.putSubscription,
				doc: opDoc{tag: "events", summary: "Create or replace a subscription (webhooks must pass validation)", body: "json",
					responses: map[int]string{200: "stored", 400: "invalid"}}},
			route{method: "DELETE", pattern: "/api/subscriptions/{name}", scope: auth.ScopeAdmin, handler: s.deleteSubscription,
				doc: opDoc{tag: "events", summary: "Delete a subscription and its pending deliveries", responses: map[int]string{204: "deleted", 404: "not found"}}},
			route{method: "GET", pattern: "/api/deadletters", scope: auth.ScopeReader, handler: s.listDeadLetters,
				doc: opDoc{tag: "events", summary: "Given-up deliveries, newest first", query: []param{{"subscription", "", "string"}, {"limit", "1 to 1000", "integer"}},
					responses: map[int]string{200: "dead letters"}}})
	}
	return r
}

// muxPattern is the pattern the mux registers for a route.
func (rt route) muxPattern() string {
	if rt.method == "" {
		return rt.pattern
	}
	return rt.method + " " + rt.pattern
}
