package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/blob"
)

// BenchPut puts b.N new blobs of size bytes into container "bench" of s from writers
// goroutines, and reports puts/s.
func BenchPut(b *testing.B, s blob.Store, size, writers int) {
	data := bytes.Repeat([]byte("x"), size)
	ctx := context.Background()
	run := time.Now().UnixNano()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) || failed.Load() != nil {
					return
				}
				if _, err := s.Put(ctx, "bench", fmt.Sprintf("blob/%d/%08d", run, i), bytes.NewReader(data), ""); err != nil {
					failed.Store(&err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "puts/s")
}
