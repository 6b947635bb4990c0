package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/testenv"
)

// BenchPut puts b.N new blobs of size bytes into container "bench" of s from writers
// goroutines, and reports puts/s.
func BenchPut(b *testing.B, s blob.Store, size, writers int) {
	data := bytes.Repeat([]byte("x"), size)
	ctx := context.Background()
	run := time.Now().UnixNano()
	b.SetBytes(int64(size))
	testenv.Parallel(b, writers, func(i int) error {
		_, err := s.Put(ctx, "bench", fmt.Sprintf("blob/%d/%08d", run, i), bytes.NewReader(data), "")
		return err
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}
