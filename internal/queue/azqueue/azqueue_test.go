package azqueue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	azsdk "github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"
	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/azqueue"
	"github.com/orcahq/orca/internal/queue/queuetest"
	"github.com/orcahq/orca/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// devKey is the public key of Azurite's development account devstoreaccount1.
const devKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

func endpoint(t testing.TB) string {
	t.Helper()
	return queuetest.ServiceEnv(t, "azurite.sh", "ORCA_TEST_AZURITE_QUEUE")[0]
}

// client returns a client of the Azurite that scripts/services/azurite.sh starts.
func client(t testing.TB) *azqueue.Client {
	t.Helper()
	c, err := azqueue.NewClient(azqueue.ClientConfig{Account: "devstoreaccount1", Key: devKey, Endpoint: endpoint(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawClient is a plain SDK client of the same account, as another consumer (the seeds'
// containers, KEDA) would have.
func rawClient(t testing.TB) *azsdk.ServiceClient {
	t.Helper()
	cred, err := azsdk.NewSharedKeyCredential("devstoreaccount1", devKey)
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
	opts := queuetest.Options{WallClock: true, TextBodies: true, PoisonCopies: true, VisibilityOrder: true}
	queuetest.RunOptions(t, opts, func(t *testing.T, env *queuetest.Env) queue.Service {
		return newService(t, azqueue.Config{MaxDequeueCount: env.MaxDequeueCount, Poison: env.Poison, Store: &publisher{}})
	})
}
