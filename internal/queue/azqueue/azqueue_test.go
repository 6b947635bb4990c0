package azqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	azsdk "github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"
	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/azqueue"
	"github.com/orcahq/orca/internal/queue/queuetest"
	"github.com/orcahq/orca/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

func endpoint(t testing.TB) string {
	t.Helper()
	return queuetest.ServiceEnv(t, "azurite.sh", "ORCA_TEST_AZURITE_QUEUE")[0]
}

// client returns a client of the Azurite that scripts/services/azurite.sh starts.
func client(t testing.TB) *azqueue.Client {
	t.Helper()
	c, err := azqueue.NewClient(azqueue.ClientConfig{Account: azurite.Account, Key: azurite.Key, Endpoint: endpoint(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawClient is a plain SDK client of the same account, as another consumer (the seeds'
// containers, KEDA) would have.
func rawClient(t testing.TB) *azsdk.ServiceClient {
	t.Helper()
	cred, err := azsdk.NewSharedKeyCredential(azurite.Account, azurite.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azsdk.NewServiceClientWithSharedKeyCredential(endpoint(t)+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// randomPrefix returns a queue name prefix of its own for one test, so that tests sharing the
// emulator's account (also from other processes) never see each other's queues.
func randomPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + "-"
}

// newService returns a service on a prefix of its own and deletes the prefix's queues when t
// ends.
func newService(t *testing.T, cfg azqueue.Config) *azqueue.Service {
	t.Helper()
	cfg.Client = client(t)
	if cfg.Prefix == "" {
		cfg.Prefix = randomPrefix()
	}
	s, err := azqueue.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t)
	t.Cleanup(func() {
		pager := raw.NewListQueuesPager(&azsdk.ListQueuesOptions{Prefix: to.Ptr(cfg.Prefix)})
		for pager.More() {
			page, err := pager.NextPage(context.Background())
			if err != nil {
				t.Errorf("list queues: %v", err)
				return
			}
			for _, q := range page.Queues {
				if _, err := raw.DeleteQueue(context.Background(), *q.Name, nil); err != nil {
					t.Errorf("delete queue %s: %v", *q.Name, err)
				}
			}
		}
	})
	return s
}

// publisher is an azqueue.Publisher that records the effects it publishes, once per event id,
// and can fail.
type publisher struct {
	mu        sync.Mutex
	published map[string]store.Effects
	// failAfterCommit fails the next publish after committing it, as a connection lost before
	// the answer would.
	failAfterCommit bool
}

func (p *publisher) EventPublish(_ context.Context, e *store.EventPublishParams) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.published == nil {
		p.published = map[string]store.Effects{}
	}
	if _, ok := p.published[e.EventID]; ok {
		return true, nil
	}
	p.published[e.EventID] = e.Effects
	if p.failAfterCommit {
		p.failAfterCommit = false
		return false, errors.New("connection lost")
	}
	return false, nil
}

func (p *publisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.published)
}

func TestConformance(t *testing.T) {
	client(t)
	opts := queuetest.Options{WallClock: true, TextBodies: true, PoisonCopies: true, VisibilityOrder: true, CountsEveryDelivery: true}
	queuetest.RunOptions(t, opts, func(t *testing.T, env *queuetest.Env) queue.Service {
		return newService(t, azqueue.Config{MaxDequeueCount: env.MaxDequeueCount, Poison: env.Poison, Store: &publisher{}})
	})
}

// TestMessagesOnTheWire checks that messages are plain Azure messages: what orca enqueues, a
// plain SDK client (the seeds' containers use the Python one, with no encoding) reads as the
// body, in text or base64; and what such a client enqueues, orca dequeues.
func TestMessagesOnTheWire(t *testing.T) {
	raw := rawClient(t)
	body := `{"input_id": 7, "instance_id": "abc", "path_to_data": "abc/7.json"}`
	for _, enc := range []azqueue.Encoding{azqueue.EncodingText, azqueue.EncodingBase64} {
		t.Run(string(enc), func(t *testing.T) {
			prefix := randomPrefix()
			s := newService(t, azqueue.Config{Prefix: prefix, Encoding: enc})
			if _, err := s.Enqueue(t.Context(), "input", []byte(body), queue.EnqueueOptions{}); err != nil {
				t.Fatal(err)
			}
			qc := raw.NewQueueClient(prefix + "input")
			got, err := qc.DequeueMessage(t.Context(), nil)
			if err != nil || len(got.Messages) != 1 {
				t.Fatalf("raw dequeue: %d messages, %v", len(got.Messages), err)
			}
			want := body
			if enc == azqueue.EncodingBase64 {
				want = base64.StdEncoding.EncodeToString([]byte(body))
			}
			if text := *got.Messages[0].MessageText; text != want {
				t.Fatalf("message text = %q, want %q", text, want)
			}
			if _, err := qc.EnqueueMessage(t.Context(), want, nil); err != nil {
				t.Fatal(err)
			}
			msgs, err := s.Dequeue(t.Context(), "input", queue.DequeueOptions{})
			if err != nil || len(msgs) != 1 || string(msgs[0].Body) != body {
				t.Fatalf("dequeue of a plain client's message = %d messages, %v; want the body", len(msgs), err)
			}
			// Update changes the visibility only, never the text another consumer reads.
			if _, err := s.Update(t.Context(), "input", msgs[0].ID, msgs[0].PopReceipt, queue.UpdateOptions{LastError: "boom"}); err != nil {
				t.Fatal(err)
			}
			peek, err := qc.PeekMessage(t.Context(), nil)
			if err != nil || len(peek.Messages) != 1 || *peek.Messages[0].MessageText != want {
				t.Fatalf("text after Update = %v, %v; want %q", peek.Messages, err, want)
			}
			props, err := qc.GetProperties(t.Context(), nil)
			if err != nil || *props.ApproximateMessagesCount != 2 {
				t.Fatalf("approximate count (what KEDA reads) = %v, %v; want 2 (one in flight)", props.ApproximateMessagesCount, err)
			}
		})
	}
}

func TestBinaryBodiesWithBase64(t *testing.T) {
	s := newService(t, azqueue.Config{Encoding: azqueue.EncodingBase64})
	body := []byte("\x00\xff\xfe binary")
	if _, err := s.Enqueue(t.Context(), "work", body, queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Dequeue(t.Context(), "work", queue.DequeueOptions{})
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != string(body) {
		t.Fatalf("dequeue = %v, %v; want the binary body", msgs, err)
	}
	if _, err := s.Enqueue(t.Context(), "work", make([]byte, 48<<10), queue.EnqueueOptions{}); err != nil {
		t.Fatalf("48 KiB in base64: %v", err)
	}
	if _, err := s.Enqueue(t.Context(), "work", make([]byte, 48<<10+1), queue.EnqueueOptions{}); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("48 KiB + 1 in base64: %v, want ErrTooLarge", err)
	}
}

// reporter is a queue.PoisonEvents that counts reports and after() calls and can fail.
type reporter struct {
	mu      sync.Mutex
	fail    error
	reports int
	afters  int
}

func (r *reporter) Poisoned(context.Context, string, []*queue.Message) (store.Effects, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return store.Effects{}, nil, r.fail
	}
	r.reports++
	return store.Effects{Messages: []*store.Message{{InstanceID: "i"}}}, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.afters++
	}, nil
}

// TestPoisonMoveSurvivesFailures checks the order of a move: a failed report leaves the
// original in its queue to be moved again (its copy stays: at least once), and a report
// committed before a failure is not written twice by the retry.
func TestPoisonMoveSurvivesFailures(t *testing.T) {
	rep := &reporter{fail: errors.New("router down")}
	pub := &publisher{}
	s := newService(t, azqueue.Config{MaxDequeueCount: 1, Poison: rep, Store: pub})
	ctx := t.Context()
	if _, err := s.Enqueue(ctx, "work", []byte("bad"), queue.EnqueueOptions{}); err != nil {
		t.Fatal(err)
	}
	dequeueAfter := func(wait time.Duration) []*queue.Message {
		t.Helper()
		time.Sleep(wait)
		msgs, err := s.Dequeue(ctx, "work", queue.DequeueOptions{VisibilityTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	if msgs := dequeueAfter(0); len(msgs) != 1 {
		t.Fatalf("first delivery: %d messages", len(msgs))
	}
	// Second dequeue: over the limit; the copy is made, the report fails, the original stays.
	if msgs := dequeueAfter(1500 * time.Millisecond); len(msgs) != 0 {
		t.Fatalf("dequeue over the limit returned %d messages", len(msgs))
	}
	wantStats := func(q string, n int) {
		t.Helper()
		st, err := s.Stats(ctx, q)
		if err != nil || st.Length() != n {
			t.Fatalf("Stats(%s) = %+v, %v; want %d messages", q, st, err, n)
		}
	}
	wantStats("work", 1)
	wantStats("work-poison", 1)
	// Third: the report is committed but its answer lost; the original still stays.
	rep.mu.Lock()
	rep.fail = nil
	rep.mu.Unlock()
	pub.mu.Lock()
	pub.failAfterCommit = true
	pub.mu.Unlock()
	dequeueAfter(1500 * time.Millisecond)
	wantStats("work", 1)
	wantStats("work-poison", 2)
	// Fourth: the move completes; the report is a duplicate and is not written again.
	dequeueAfter(1500 * time.Millisecond)
	wantStats("work", 0)
	wantStats("work-poison", 3)
	if n := pub.count(); n != 1 {
		t.Fatalf("%d reports published, want 1", n)
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if rep.afters != 0 {
		// The committed report's after() never ran: its publish failed, and the retry was a
		// duplicate. after() is a best-effort wake-up (the effects are durable).
		t.Fatalf("after() ran %d times, want 0", rep.afters)
	}
}

func TestNewValidates(t *testing.T) {
	c, err := azqueue.NewClient(azqueue.ClientConfig{Account: "a", Key: base64.StdEncoding.EncodeToString([]byte("k"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []azqueue.Config{
		{},
		{Client: c, Poison: &reporter{}},
		{Client: c, Encoding: "rot13"},
		{Client: c, Prefix: "Bad_"},
		{Client: c, MaxDequeueCount: -1},
	} {
		if _, err := azqueue.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := azqueue.NewClient(azqueue.ClientConfig{Account: "a"}); err == nil {
		t.Error("NewClient without a key succeeded")
	}
	if _, err := azqueue.NewClient(azqueue.ClientConfig{ConnectionString: "AccountKey=secret;nonsense"}); err == nil ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("NewClient of a bad connection string: %v; want an error that does not quote it", err)
	}
}
