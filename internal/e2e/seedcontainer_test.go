package e2e

// The seeds' compute container and Event Grid, as stand-ins for the Azure deployment test
// (azure_seed_test.go). Neither imports anything of orca: they know the storage account (its
// connection string) and the seeds' wire format, written out here from the seeds' documents
// rather than taken from orca's compute package, so that the test shows a program written
// against the seeds works with orca as the orchestrator without knowing it exists.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2/queueerror"
)

// The seeds' wire format.
type (
	// seedMessage is a work item's queue message, its text JSON as it is (the Python
	// QueueClient's default: no base64).
	seedMessage struct {
		InputID    int    `json:"input_id"`
		InstanceID string `json:"instance_id"`
		// PathToData is the input blob, "container/name".
		PathToData string `json:"path_to_data"`
	}
	// seedInput is an input blob.
	seedInput struct {
		InputID    int             `json:"input_id"`
		InstanceID string          `json:"instance_id"`
		InputData  json.RawMessage `json:"input_data"`
	}
	// seedOutput is an output blob, output/{instance_id}/{input_id}.json.
	seedOutput struct {
		InputID    int             `json:"input_id"`
		InstanceID string          `json:"instance_id"`
		Result     json.RawMessage `json:"result"`
	}
)

// seedOutputContainer is the container the seeds' containers write their results to.
const seedOutputContainer = "output"

// errAlgorithm marks a failure of the algorithm itself (as opposed to the storage account's):
// the container leaves the message in the queue, to come back after its visibility timeout.
var errAlgorithm = errors.New("algorithm failed")

// seedContainer is the seeds' compute container: a loop over the work queue with the Azure
// Storage SDKs, and nothing else.
type seedContainer struct {
	queue *azqueue.QueueClient
	blobs *azblob.Client
	// visibility is the visibility timeout of a receive, in seconds (the Python SDK's default
	// is 30).
	visibility int32
	algorithm  func(inputData json.RawMessage) (json.RawMessage, error)
	// received records every message received, for the tests.
	mu       sync.Mutex
	received []receivedMessage
}

// receivedMessage is a message as a container received it.
type receivedMessage struct {
	Text         string
	DequeueCount int64
}

func newSeedContainer(connString, queueName string, visibility int32, algorithm func(json.RawMessage) (json.RawMessage, error)) (*seedContainer, error) {
	q, err := azqueue.NewQueueClientFromConnectionString(connString, queueName, nil)
	if err != nil {
		return nil, fmt.Errorf("queue client: %w", err)
	}
	b, err := azblob.NewClientFromConnectionString(connString, nil)
	if err != nil {
		return nil, fmt.Errorf("blob client: %w", err)
	}
	return &seedContainer{queue: q, blobs: b, visibility: visibility, algorithm: algorithm}, nil
}

// run processes messages until ctx ends; report gets every failure (the message then stays
// in the queue and comes back after its visibility timeout). A message received is finished
// even when ctx ends meanwhile, as a container given SIGTERM finishes its item.
func (c *seedContainer) run(ctx context.Context, report func(error)) {
	for ctx.Err() == nil {
		resp, err := c.queue.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages: to.Ptr(int32(1)), VisibilityTimeout: to.Ptr(c.visibility)})
		switch {
		case ctx.Err() != nil:
			return
		case queueerror.HasCode(err, queueerror.QueueNotFound):
			pause(ctx, 100*time.Millisecond)
			continue
		case err != nil:
			report(fmt.Errorf("receive: %w", err))
			pause(ctx, 100*time.Millisecond)
			continue
		case len(resp.Messages) == 0:
			pause(ctx, 50*time.Millisecond)
			continue
		}
		for _, m := range resp.Messages {
			if err := c.process(context.WithoutCancel(ctx), m); err != nil {
				report(err)
			}
		}
	}
}

// process is one work item, in the seeds' order: read the input, compute, write the output,
// delete the message, delete the input.
func (c *seedContainer) process(ctx context.Context, m *azqueue.DequeuedMessage) error {
	text := deref(m.MessageText)
	c.mu.Lock()
	c.received = append(c.received, receivedMessage{Text: text, DequeueCount: deref(m.DequeueCount)})
	c.mu.Unlock()
	var msg seedMessage
	if err := json.Unmarshal([]byte(text), &msg); err != nil {
		return fmt.Errorf("message %s is not a work item: %w (text %q)", deref(m.MessageID), err, text)
	}
	container, name, ok := strings.Cut(msg.PathToData, "/")
	if !ok {
		return fmt.Errorf("message %s: path_to_data %q is not container/name", deref(m.MessageID), msg.PathToData)
	}
	dl, err := c.blobs.DownloadStream(ctx, container, name, nil)
	if err != nil {
		return fmt.Errorf("download %s: %w", msg.PathToData, err)
	}
	data, err := io.ReadAll(dl.Body)
	_ = dl.Body.Close()
	if err != nil {
		return fmt.Errorf("download %s: %w", msg.PathToData, err)
	}
	var in seedInput
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("input blob %s: %w", msg.PathToData, err)
	}
	result, err := c.algorithm(in.InputData)
	if err != nil {
		return fmt.Errorf("item %d of %s: %w: %w", in.InputID, in.InstanceID, errAlgorithm, err)
	}
	out, err := json.Marshal(seedOutput{InputID: in.InputID, InstanceID: in.InstanceID, Result: result})
	if err != nil {
		return err
	}
	outName := fmt.Sprintf("%s/%d.json", in.InstanceID, in.InputID)
	if _, err := c.blobs.UploadBuffer(ctx, seedOutputContainer, outName, out, &azblob.UploadBufferOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: to.Ptr("application/json")}}); err != nil {
		return fmt.Errorf("upload output/%s: %w", outName, err)
	}
	if _, err := c.queue.DeleteMessage(ctx, deref(m.MessageID), deref(m.PopReceipt), nil); err != nil {
		return fmt.Errorf("delete message %s: %w", deref(m.MessageID), err)
	}
	if _, err := c.blobs.DeleteBlob(ctx, container, name, nil); err != nil {
		return fmt.Errorf("delete %s: %w", msg.PathToData, err)
	}
	return nil
}

// receivedMessages returns the messages received so far.
func (c *seedContainer) receivedMessages() []receivedMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]receivedMessage(nil), c.received...)
}

// doubledSum is the containers' algorithm: twice the sum of the integers in input_data.
func doubledSum(inputData json.RawMessage) (json.RawMessage, error) {
	var numbers []int64
	if err := json.Unmarshal(inputData, &numbers); err != nil {
		return nil, fmt.Errorf("input_data %s is not an array of integers", inputData)
	}
	var sum int64
	for _, n := range numbers {
		sum += n
	}
	return json.Marshal(2 * sum)
}

// eventGrid stands in for an Event Grid subscription on the storage account's
// Microsoft.Storage.BlobCreated events, filtered to a container and a name prefix, with a
// webhook destination. Azurite emits no events, so it watches the container's listing and
// delivers an event in Event Grid's schema for every blob created or replaced, retrying a
// failed delivery with the same event id as Event Grid does. In Azure, the subscription on the
// account delivers the same events to the same endpoint (orca's POST /api/events), and this
// goroutine is not needed.
type eventGrid struct {
	blobs     *azblob.Client
	account   string // the storage account's name, for the topic
	blobURL   string // the account's blob endpoint, for data.url
	endpoint  string // the webhook: orca's /api/events
	container string
	prefix    string
	client    *http.Client

	pending   map[string]map[string]any // blob name → its event, until delivered
	delivered map[string]string         // blob name → ETag whose event was delivered
	mu        sync.Mutex
	count     int
}

func newEventGrid(connString, account, blobURL, endpoint, container, prefix string) (*eventGrid, error) {
	b, err := azblob.NewClientFromConnectionString(connString, nil)
	if err != nil {
		return nil, err
	}
	return &eventGrid{blobs: b, account: account, blobURL: strings.TrimSuffix(blobURL, "/"), endpoint: endpoint,
		container: container, prefix: prefix, client: &http.Client{Timeout: 10 * time.Second},
		pending: map[string]map[string]any{}, delivered: map[string]string{}}, nil
}

// run scans and delivers until ctx ends; report gets every failure (retried on the next scan).
func (g *eventGrid) run(ctx context.Context, report func(error)) {
	for ctx.Err() == nil {
		if err := g.scan(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
		pause(ctx, 50*time.Millisecond)
	}
}

// delivered returns how many events were delivered.
func (g *eventGrid) deliveredCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count
}

func (g *eventGrid) scan(ctx context.Context) error {
	pager := g.blobs.NewListBlobsFlatPager(g.container, &azblob.ListBlobsFlatOptions{Prefix: to.Ptr(g.prefix)})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("event grid: list %s: %w", g.container, err)
		}
		for _, item := range page.Segment.BlobItems {
			name, props := deref(item.Name), item.Properties
			if props == nil || props.ETag == nil {
				continue
			}
			// Event Grid's eTag is the HTTP header's value, quotes included; listings give it
			// bare.
			etag := string(*props.ETag)
			if !strings.HasPrefix(etag, `"`) {
				etag = `"` + etag + `"`
			}
			if g.delivered[name] == etag {
				continue
			}
			ev, ok := g.pending[name]
			if !ok || ev["data"].(map[string]any)["eTag"] != etag {
				ev = g.blobCreated(name, etag, deref(props.ContentType), deref(props.ContentLength))
				g.pending[name] = ev
			}
			if err := g.deliver(ctx, ev); err != nil {
				return err
			}
			delete(g.pending, name)
			g.delivered[name] = etag
			g.mu.Lock()
			g.count++
			g.mu.Unlock()
		}
	}
	return nil
}

// blobCreated is the event, in Event Grid's schema, that Azure Storage emits for a put.
func (g *eventGrid) blobCreated(name, etag, contentType string, size int64) map[string]any {
	return map[string]any{
		"topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/seeds/providers/" +
			"Microsoft.Storage/storageAccounts/" + g.account,
		"subject":   "/blobServices/default/containers/" + g.container + "/blobs/" + name,
		"eventType": "Microsoft.Storage.BlobCreated",
		"eventTime": time.Now().UTC().Format(time.RFC3339Nano),
		"id":        randomUUID(),
		"data": map[string]any{
			"api":             "PutBlob",
			"clientRequestId": randomUUID(),
			"requestId":       randomUUID(),
			"eTag":            etag,
			"contentType":     contentType,
			"contentLength":   size,
			"blobType":        "BlockBlob",
			"url":             g.blobURL + "/" + g.container + "/" + name,
			"sequencer":       fmt.Sprintf("%032x", time.Now().UnixNano()),
			"storageDiagnostics": map[string]any{
				"batchId": randomUUID(),
			},
		},
		"dataVersion":     "",
		"metadataVersion": "1",
	}
}

// deliver posts one event as Event Grid's webhook delivery does (a JSON array, one event per
// batch by default).
func (g *eventGrid) deliver(ctx context.Context, ev map[string]any) error {
	body, err := json.Marshal([]any{ev})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("aeg-event-type", "Notification")
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("event grid: deliver %s: %w", ev["subject"], err)
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("event grid: deliver %s: %s: %s", ev["subject"], resp.Status, answer)
	}
	return nil
}

// pause waits d or until ctx ends: the containers' wait between polls of an empty queue.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// randomUUID returns a random (version 4) UUID, as Event Grid's ids are.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
