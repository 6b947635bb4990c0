package azqueue_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/orcahq/orca/internal/queue/azqueue"
	"github.com/orcahq/orca/internal/queue/embedded"
	"github.com/orcahq/orca/internal/queue/queuetest"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
)

// BenchmarkEnqueueDequeueDelete compares this backend on Azurite with the embedded one (on
// SQLite, durable: synchronous=FULL) on the same cycle; an item is one enqueue, dequeue and
// delete. Azurite is an emulator (Node.js, one process), so the figures say what the HTTP
// round trips cost here, not what Azure does.
func BenchmarkEnqueueDequeueDelete(b *testing.B) {
	for _, consumers := range []int{1, 8} {
		b.Run(fmt.Sprintf("backend=embedded/consumers=%d", consumers), func(b *testing.B) {
			s, err := embedded.New(embedded.Config{Store: sqlitetest.Open(b, sqlite.Config{})})
			if err != nil {
				b.Fatal(err)
			}
			queuetest.BenchCycle(b, "embedded", s, "bench", consumers)
		})
		b.Run(fmt.Sprintf("backend=azurite/consumers=%d", consumers), func(b *testing.B) {
			s := newBenchService(b)
			queuetest.BenchCycle(b, "azurite", s, "bench", consumers)
		})
	}
}

func newBenchService(b *testing.B) *azqueue.Service {
	b.Helper()
	prefix := randomPrefix()
	s, err := azqueue.New(azqueue.Config{Client: client(b), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	raw := rawClient(b)
	b.Cleanup(func() {
		for _, q := range []string{"bench", "bench-poison"} {
			_, _ = raw.DeleteQueue(context.Background(), prefix+q, nil)
		}
	})
	return s
}
