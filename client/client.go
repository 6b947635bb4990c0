// Package client is the Go client of an orca server's HTTP API: the data plane (queues, blobs)
// that workers use, event ingestion and subscriptions, and the orchestration management API.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to one orca server. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	http     *http.Client
	key      string
	ua       string
	workerID string
}

// Option configures a Client.
type Option func(*Client)

// WithKey authenticates every request with an API key (sent as a Bearer token).
func WithKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient replaces the HTTP client (default: no overall timeout, since dequeues
// long-poll; each call is bounded by its context).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// WorkerIDHeader carries a worker's id (WithWorkerID), so the server can tell when a worker it
// started polls its queue.
const WorkerIDHeader = "X-Orca-Worker"

// WithWorkerID sends the worker's id with every request (orca's own pools give their workers
// one in ORCA_WORKER_ID).
func WithWorkerID(id string) Option { return func(c *Client) { c.workerID = id } }

// New returns a client of the server at baseURL (e.g. http://127.0.0.1:7071).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q must be http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Transport: defaultTransport()}, ua: "orca-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// BaseURL returns the server's URL.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is an error answer of the server. The helpers IsNotFound, IsConflict, IsGone and the
// others test an error for one status code.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is orca's stable error code ({"error": {"code"}}); empty for Durable Functions routes.
	Code string
	// Message is the server's message, or the status text when the answer had none.
	Message string
	// Detail is the specific cause when the server answered Durable Functions' shape
	// {"Message", "ExceptionMessage"} (the ExceptionMessage); often empty.
	Detail string
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Detail != "" && e.Detail != e.Message {
		msg += ": " + e.Detail
	}
	if e.Code == "" {
		return fmt.Sprintf("orca server answered %d: %s", e.StatusCode, msg)
	}
	return fmt.Sprintf("orca server answered %d %s: %s", e.StatusCode, e.Code, msg)
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// IsConflict reports whether err is a 409 or 412 answer (a stale pop receipt, an existing
// instance).
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusConflict || e.StatusCode == http.StatusPreconditionFailed)
}

// request is one call.
type request struct {
	method      string
	path        string // already escaped
	query       url.Values
	body        io.Reader
	contentType string
	header      http.Header
}

func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u := *c.base
	u.RawPath = c.base.Path + r.path
	u.Path, _ = url.PathUnescape(u.RawPath)
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), r.body)
	if err != nil {
		return nil, err
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("User-Agent", c.ua)
	if c.workerID != "" {
		req.Header.Set(WorkerIDHeader, c.workerID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

// decodeError reads orca's error shape {"error": {"code", "message"}}, DF's
// {"Message", "ExceptionMessage"}, or a bare JSON string (DF's purge without createdTimeFrom).
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{StatusCode: resp.StatusCode}
	var shapes struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Message          string `json:"Message"`
		ExceptionMessage string `json:"ExceptionMessage"`
	}
	var bare string
	switch {
	case json.Unmarshal(b, &bare) == nil:
		e.Message = bare
	case json.Unmarshal(b, &shapes) == nil:
		e.Code, e.Message = shapes.Error.Code, shapes.Error.Message
		if e.Message == "" {
			e.Message, e.Detail = shapes.Message, shapes.ExceptionMessage
		}
		if e.Message == "" {
			e.Message, e.Detail = e.Detail, ""
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// doJSON sends body as JSON (when not nil) and decodes the answer into out (when not nil).
func (c *Client) doJSON(ctx context.Context, method, path string, query url.Values, body, out any) error {
	r := request{method: method, path: path, query: query}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r.body, r.contentType = bytes.NewReader(b), "application/json"
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("decode %s %s answer: %w", method, path, err)
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	return nil
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
