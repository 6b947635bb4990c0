package embedded_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/orcahq/orca/internal/blob/blobtest"
	"github.com/orcahq/orca/internal/blob/embedded"
)

// BenchmarkPut measures durable puts (synchronous=FULL, fsynced files) of new blobs by size,
// stored inline in the database or as files, by 1 and 16 concurrent writers: the figures behind
// DefaultInlineLimit. Each sub-benchmark has a fresh store; puts/s is the metric to compare.
//
//	go test -run '^$' -bench BenchmarkPut -benchtime 400x -count 5 ./internal/blob/embedded/
func BenchmarkPut(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20} {
		for _, writers := range []int{1, 16} {
			for _, mode := range []struct {
				name   string
				inline int64
			}{{"inline", 2 << 20}, {"file", -1}} {
				b.Run(fmt.Sprintf("size=%s/writers=%d/%s", sizeName(size), writers, mode.name), func(b *testing.B) {
					benchPut(b, size, writers, mode.inline)
				})
			}
		}
	}
}

func benchPut(b *testing.B, size, writers int, inline int64) {
	dir := b.TempDir()
	s := newBlobs(b, openStore(b, dir), filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: inline})
	blobtest.BenchPut(b, s, size, writers)
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}
