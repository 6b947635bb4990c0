package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memSource is an in-memory queue and blob store with Azure's lease rules, enough to watch
// what a worker does.
type memSource struct {
	mu      sync.Mutex
	msgs    map[string]*memMsg
	blobs   map[string][]byte
	order   []string
	nextPop int
	updates []string // "id visibility lastError"
	deleted []string
	// deletedDequeues counts the dequeues of the deleted messages.
	deletedDequeues int
}

type memMsg struct {
	body      []byte
	pop       string
	visibleAt time.Time
	dequeues  int
}

func newMemSource() *memSource {
	return &memSource{msgs: map[string]*memMsg{}, blobs: map[string][]byte{}}
}

// addItem puts an item's input blob and message.
func (s *memSource) addItem(instance string, inputID int, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := compute.InputBlobName(instance, inputID)
	in, _ := json.Marshal(compute.Input{InputID: inputID, InstanceID: instance, InputData: json.RawMessage(data)})
	s.blobs["input/"+name] = in
	body, _ := json.Marshal(compute.WorkItem{InputID: inputID, InstanceID: instance, PathToData: "input/" + name})
	id := fmt.Sprintf("m%d", len(s.order))
	s.msgs[id] = &memMsg{body: body}
	s.order = append(s.order, id)
}

func (s *memSource) Dequeue(ctx context.Context, _ string, max int, visibility, wait time.Duration) ([]*worker.Message, error) {
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		var out []*worker.Message
		for _, id := range s.order {
			m, ok := s.msgs[id]
			if !ok || time.Now().Before(m.visibleAt) || len(out) == max {
				continue
			}
			s.nextPop++
			m.pop, m.visibleAt = fmt.Sprintf("p%d", s.nextPop), time.Now().Add(visibility)
			m.dequeues++
			out = append(out, &worker.Message{ID: id, PopReceipt: m.pop, Body: m.body, DequeueCount: m.dequeues})
		}
		s.mu.Unlock()
		if len(out) > 0 || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *memSource) held(id, pop string) (*memMsg, error) {
	m, ok := s.msgs[id]
	if !ok {
		return nil, fmt.Errorf("message %s: %w", id, worker.ErrNotFound)
	}
	if m.pop != pop {
		return nil, fmt.Errorf("message %s: stale pop receipt", id)
	}
	return m, nil
}

func (s *memSource) Delete(_ context.Context, _, id, pop string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.held(id, pop); err != nil {
		return err
	}
	s.deletedDequeues += s.msgs[id].dequeues
	delete(s.msgs, id)
	s.deleted = append(s.deleted, id)
	return nil
}

func (s *memSource) Update(_ context.Context, _, id, pop string, visibility time.Duration, lastError string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.held(id, pop)
	if err != nil {
		return "", err
	}
	s.nextPop++
	m.pop, m.visibleAt = fmt.Sprintf("p%d", s.nextPop), time.Now().Add(visibility)
	s.updates = append(s.updates, fmt.Sprintf("%s %s %s", id, visibility, lastError))
	return m.pop, nil
}

func (s *memSource) GetBlob(_ context.Context, container, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[container+"/"+name]
	if !ok {
		return nil, fmt.Errorf("blob %s/%s: %w", container, name, worker.ErrNotFound)
	}
	return b, nil
}

func (s *memSource) PutBlob(_ context.Context, container, name string, data []byte, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[container+"/"+name] = data
	return nil
}

func (s *memSource) DeleteBlob(_ context.Context, container, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blobs, container+"/"+name)
	return nil
}

// dequeues counts the dequeues of the messages left and deleted (s.mu held).
func (s *memSource) dequeues() int {
	n := 0
	for _, m := range s.msgs {
		n += m.dequeues
	}
	return n + s.deletedDequeues
}

func (s *memSource) snapshot() (msgs int, blobs map[string][]byte, updates []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := map[string][]byte{}
	for k, v := range s.blobs {
		b[k] = v
	}
	return len(s.msgs), b, append([]string(nil), s.updates...)
}

func TestItemsFlowInTheSeedsOrder(t *testing.T) {
	src := newMemSource()
	for i := 0; i < 10; i++ {
		src.addItem("run", i, fmt.Sprintf("[%d, 1]", i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{Source: src, Algorithm: worker.Demo(0), Concurrency: 3, MaxIdle: 200 * time.Millisecond,
			PollWait: 50 * time.Millisecond})
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs, blobs, _ := src.snapshot()
	if msgs != 0 {
		t.Fatalf("%d messages left", msgs)
	}
	for i := 0; i < 10; i++ {
		if _, ok := blobs["input/"+compute.InputBlobName("run", i)]; ok {
			t.Errorf("input blob of item %d not deleted", i)
		}
		var out compute.Output
		if err := json.Unmarshal(blobs["output/"+compute.OutputBlobName("run", i)], &out); err != nil || out.InputID != i ||
			out.InstanceID != "run" || string(out.Result) != fmt.Sprint(i+1) {
			t.Errorf("output of item %d: %+v (%v)", i, out, err)
		}
	}
}

func TestFailingItemIsGivenBackWithItsReason(t *testing.T) {
	src := newMemSource()
	src.addItem("run", 0, `[1]`)
	failing := worker.AlgorithmFunc(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, errors.New("division by zero")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := worker.Run(ctx, worker.Config{Source: src, Algorithm: failing, MaxIdle: 100 * time.Millisecond,
		PollWait: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	msgs, blobs, updates := src.snapshot()
	if msgs != 1 || len(updates) == 0 || !strings.Contains(updates[0], "division by zero") || !strings.HasPrefix(updates[0], "m0 1s ") {
		t.Fatalf("messages %d, updates %q: want the message given back after 1s with its reason", msgs, updates)
	}
	if _, ok := blobs["output/run/0.json"]; ok {
		t.Fatal("a failed item wrote an output")
	}
}

// A second message of an item that is done — its input deleted by the first one's worker, its
// output written — is deleted, not given back to fail until the poison queue; a message whose
// input is gone and whose item is not done is given back as any failure.
func TestDuplicateOfAFinishedItemIsDeleted(t *testing.T) {
	src := newMemSource()
	src.addItem("run", 0, `[1, 2]`)
	src.addItem("run", 1, `[3, 4]`)
	src.mu.Lock()
	delete(src.blobs, "input/"+compute.InputBlobName("run", 0))
	delete(src.blobs, "input/"+compute.InputBlobName("run", 1))
	src.blobs["output/"+compute.OutputBlobName("run", 0)] = []byte(`{"input_id":0,"instance_id":"run","result":3}`)
	src.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := worker.Run(ctx, worker.Config{Source: src, Algorithm: worker.Demo(0), MaxIdle: 100 * time.Millisecond,
		PollWait: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	msgs, _, updates := src.snapshot()
	src.mu.Lock()
	deleted := append([]string(nil), src.deleted...)
	src.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != "m0" {
		t.Fatalf("deleted %v, want the finished item's duplicate m0", deleted)
	}
	if msgs != 1 || len(updates) == 0 || !strings.HasPrefix(updates[0], "m1 ") || !strings.Contains(updates[0], "input blob is gone") {
		t.Fatalf("messages %d, updates %q: want m1 given back, its input gone", msgs, updates)
	}
}

// TestLeaseIsRenewedWhileTheAlgorithmRuns runs on synctest's virtual clock: the algorithm's
// 350ms and the 150ms lease are exact, whatever the machine's load.
func TestLeaseIsRenewedWhileTheAlgorithmRuns(t *testing.T) {
	synctest.Test(t, testLeaseIsRenewedWhileTheAlgorithmRuns)
}

func testLeaseIsRenewedWhileTheAlgorithmRuns(t *testing.T) {
	src := newMemSource()
	src.addItem("run", 0, `[1]`)
	slow := worker.AlgorithmFunc(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		time.Sleep(350 * time.Millisecond)
		return json.RawMessage(`1`), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := worker.Run(ctx, worker.Config{Source: src, Algorithm: slow, VisibilityTimeout: 150 * time.Millisecond,
		MaxIdle: 100 * time.Millisecond, PollWait: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	msgs, _, updates := src.snapshot()
	if msgs != 0 {
		t.Fatalf("the item was not completed (%d messages left); updates %q", msgs, updates)
	}
	// Renewed every third of the lease: at 50ms, 100ms, ... while the algorithm runs.
	if len(updates) < 6 {
		t.Fatalf("lease renewed %d times in 350ms with a 150ms visibility timeout, want one every 50ms", len(updates))
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.deleted) != 1 {
		t.Fatalf("deleted %v: the delete must use the renewed pop receipt", src.deleted)
	}
	if m := src.dequeues(); m != 1 {
		t.Fatalf("the item was dequeued %d times: its lease ran out while the algorithm ran", m)
	}
}

func TestShutdownFinishesTheItemsInHand(t *testing.T) {
	src := newMemSource()
	src.addItem("run", 0, `[1]`)
	src.addItem("run", 1, `[2]`)
	started := make(chan struct{})
	var once sync.Once
	slow := worker.AlgorithmFunc(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		once.Do(func() { close(started) })
		time.Sleep(200 * time.Millisecond)
		return compute.Sum(in)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{Source: src, Algorithm: slow, PollWait: 20 * time.Millisecond})
	}()
	<-started
	cancel() // SIGTERM
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs, blobs, _ := src.snapshot()
	if msgs != 0 {
		t.Fatalf("%d messages left, want none: the item running and the one leased ahead both finish", msgs)
	}
	for _, name := range []string{"output/run/0.json", "output/run/1.json"} {
		if _, ok := blobs[name]; !ok {
			t.Fatalf("an item in hand has no output %s", name)
		}
	}
}

// TestMaxIdleExits runs on synctest's virtual clock: Run must return once MaxIdle has passed,
// not at the end of its one-second long poll.
func TestMaxIdleExits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newMemSource()
		start := time.Now()
		if err := worker.Run(context.Background(), worker.Config{Source: src, Algorithm: worker.Demo(0),
			MaxIdle: 150 * time.Millisecond, PollWait: time.Second}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 150*time.Millisecond || d >= time.Second {
			t.Fatalf("returned after %s with MaxIdle 150ms and PollWait 1s", d)
		}
	})
}

func TestMalformedMessageIsGivenBack(t *testing.T) {
	src := newMemSource()
	src.mu.Lock()
	src.msgs["junk"] = &memMsg{body: []byte("not json")}
	src.order = append(src.order, "junk")
	src.mu.Unlock()
	if err := worker.Run(context.Background(), worker.Config{Source: src, Algorithm: worker.Demo(0),
		MaxIdle: 100 * time.Millisecond, PollWait: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	_, _, updates := src.snapshot()
	if len(updates) == 0 || !strings.Contains(updates[0], "malformed work item") {
		t.Fatalf("updates %q", updates)
	}
}
