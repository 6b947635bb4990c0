package testenv

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Parallel runs items 1 to b.N on workers goroutines, each calling item until the items run out,
// and times only that: it resets b's timer first and stops it after. The first error stops the
// workers and fails b.
func Parallel(b *testing.B, workers int, item func(i int) error) {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= b.N && failed.Load() == nil; i = int(next.Add(1)) {
				if err := item(i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}
