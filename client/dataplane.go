package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// QueueMessage is a queue message on the wire. Bodies are text (orca's work items are JSON).
type QueueMessage struct {
	ID              string    `json:"id"`
	PopReceipt      string    `json:"popReceipt,omitempty"`
	Body            string    `json:"body"`
	DequeueCount    int       `json:"dequeueCount"`
	InsertedTime    time.Time `json:"insertedTime"`
	ExpirationTime  time.Time `json:"expirationTime,omitzero"`
	NextVisibleTime time.Time `json:"nextVisibleTime"`
	LastError       string    `json:"lastError,omitempty"`
}

// QueueMessages is the answer of a dequeue or a peek.
type QueueMessages struct {
	Messages []*QueueMessage `json:"messages"`
}

// EnqueueRequest is the body of an enqueue.
type EnqueueRequest struct {
	Messages []EnqueueMessage `json:"messages"`
}

// EnqueueMessage is one message to enqueue. VisibilityDelay and TTL are Go durations ("30s");
// a TTL of "-1s" never expires.
type EnqueueMessage struct {
	Body            string `json:"body"`
	VisibilityDelay string `json:"visibilityDelay,omitempty"`
	TTL             string `json:"ttl,omitempty"`
}

// UpdateRequest is the optional body of a message update.
type UpdateRequest struct {
	LastError string `json:"lastError,omitempty"`
}

// UpdateResult is the answer of a message update.
type UpdateResult struct {
	PopReceipt      string    `json:"popReceipt"`
	NextVisibleTime time.Time `json:"nextVisibleTime"`
}

// QueueStats describes a queue; ApproximateMessagesCount is Azure's (visible + in flight).
type QueueStats struct {
	Queue                    string `json:"queue"`
	Visible                  int    `json:"visible"`
	InFlight                 int    `json:"inFlight"`
	ApproximateMessagesCount int    `json:"approximateMessagesCount"`
}

// QueueList is the answer of a queue listing.
type QueueList struct {
	Queues []QueueStats `json:"queues"`
}

func queuePath(queue string) string { return "/api/queues/" + url.PathEscape(queue) }

// Enqueue adds messages to a queue.
func (c *Client) Enqueue(ctx context.Context, queue string, msgs ...EnqueueMessage) ([]*QueueMessage, error) {
	var out QueueMessages
	err := c.doJSON(ctx, http.MethodPost, queuePath(queue)+"/messages", nil, EnqueueRequest{Messages: msgs}, &out)
	return out.Messages, err
}

// Dequeue takes up to max messages (1 to 32) hidden for visibility; with wait > 0 the server
// holds the request until a message is there or wait passes (long polling).
func (c *Client) Dequeue(ctx context.Context, queue string, max int, visibility, wait time.Duration) ([]*QueueMessage, error) {
	q := url.Values{"numofmessages": {strconv.Itoa(max)}, "visibilitytimeout": {seconds(visibility)}}
	if wait > 0 {
		q.Set("wait", seconds(wait))
	}
	var out QueueMessages
	err := c.doJSON(ctx, http.MethodGet, queuePath(queue)+"/messages", q, nil, &out)
	return out.Messages, err
}

// Peek returns up to max visible messages without taking them.
func (c *Client) Peek(ctx context.Context, queue string, max int) ([]*QueueMessage, error) {
	q := url.Values{"numofmessages": {strconv.Itoa(max)}, "peekonly": {"true"}}
	var out QueueMessages
	err := c.doJSON(ctx, http.MethodGet, queuePath(queue)+"/messages", q, nil, &out)
	return out.Messages, err
}

// DeleteMessage deletes a message held with popReceipt.
func (c *Client) DeleteMessage(ctx context.Context, queue, id, popReceipt string) error {
	err := c.doJSON(ctx, http.MethodDelete, queuePath(queue)+"/messages/"+url.PathEscape(id),
		url.Values{"popreceipt": {popReceipt}}, nil, nil)
	return err
}

// UpdateMessage hides a held message for visibility (0: gives it back at once), recording
// lastError, and returns its new pop receipt.
func (c *Client) UpdateMessage(ctx context.Context, queue, id, popReceipt string, visibility time.Duration, lastError string) (*UpdateResult, error) {
	q := url.Values{"popreceipt": {popReceipt}, "visibilitytimeout": {seconds(visibility)}}
	var body any
	if lastError != "" {
		body = UpdateRequest{LastError: lastError}
	}
	var out UpdateResult
	err := c.doJSON(ctx, http.MethodPut, queuePath(queue)+"/messages/"+url.PathEscape(id), q, body, &out)
	return &out, err
}

// Queue returns a queue's stats.
func (c *Client) Queue(ctx context.Context, queue string) (*QueueStats, error) {
	var out QueueStats
	err := c.doJSON(ctx, http.MethodGet, queuePath(queue), nil, nil, &out)
	return &out, err
}

// Queues lists the queues that have messages.
func (c *Client) Queues(ctx context.Context) ([]QueueStats, error) {
	var out QueueList
	err := c.doJSON(ctx, http.MethodGet, "/api/queues", nil, nil, &out)
	return out.Queues, err
}

// BlobInfo describes a blob on the wire.
type BlobInfo struct {
	Container   string    `json:"container"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"contentType"`
	ETag        string    `json:"etag"`
	CreatedTime time.Time `json:"createdTime"`
}

// BlobList is a page of a blob listing; NextMarker is empty on the last page.
type BlobList struct {
	Blobs      []BlobInfo `json:"blobs"`
	NextMarker string     `json:"nextMarker,omitempty"`
}

func blobPath(container, name string) string {
	return "/api/blobs/" + url.PathEscape(container) + "/" + escapePath(name)
}

// PutBlob writes a blob.
func (c *Client) PutBlob(ctx context.Context, container, name string, data []byte, contentType string) (*BlobInfo, error) {
	return c.PutBlobFrom(ctx, container, name, bytes.NewReader(data), contentType)
}

// PutBlobFrom writes a blob from a reader (streamed).
func (c *Client) PutBlobFrom(ctx context.Context, container, name string, r io.Reader, contentType string) (*BlobInfo, error) {
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	resp, err := c.do(ctx, request{method: http.MethodPut, path: blobPath(container, name), body: r, contentType: contentType})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out BlobInfo
	if err := decodeJSON(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("put blob answer: %w", err)
	}
	return &out, nil
}

// GetBlob reads a whole blob.
func (c *Client) GetBlob(ctx context.Context, container, name string) ([]byte, *BlobInfo, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: blobPath(container, name)})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return b, blobInfoFromHeader(container, name, resp.Header), nil
}

// HeadBlob describes a blob.
func (c *Client) HeadBlob(ctx context.Context, container, name string) (*BlobInfo, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, path: blobPath(container, name)})
	if err != nil {
		return nil, err
	}
	_ = resp.Body.Close()
	return blobInfoFromHeader(container, name, resp.Header), nil
}

func blobInfoFromHeader(container, name string, h http.Header) *BlobInfo {
	size, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	created, _ := http.ParseTime(h.Get("Last-Modified"))
	return &BlobInfo{Container: container, Name: name, Size: size, ContentType: h.Get("Content-Type"),
		ETag: h.Get("ETag"), CreatedTime: created}
}

// DeleteBlob deletes a blob.
func (c *Client) DeleteBlob(ctx context.Context, container, name string) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: blobPath(container, name)})
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// ListBlobs returns a page of a container's blobs with prefix, after marker.
func (c *Client) ListBlobs(ctx context.Context, container, prefix, marker string, max int) (*BlobList, error) {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if marker != "" {
		q.Set("marker", marker)
	}
	if max > 0 {
		q.Set("maxresults", strconv.Itoa(max))
	}
	var out BlobList
	err := c.doJSON(ctx, http.MethodGet, "/api/blobs/"+url.PathEscape(container), q, nil, &out)
	return &out, err
}
