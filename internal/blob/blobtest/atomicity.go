package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/orcahq/orca/internal/blob"
)

var errBoom = errors.New("blobtest: the reader broke")

var atomicityCases = []testCase{
	{"ConcurrentPutsOfOneName", func(t *testing.T, newStore storeFunc) {
		// Writers put the same name at once, with contents of different sizes on both sides of
		// the inline limit; every content is one repeated byte that says how long it is. Readers
		// running meanwhile and the final state must only ever see one whole content.
		s := newStore(t)
		const writers, rounds = 8, 3
		sizes := sizesAround(inlineLimit(s), 64<<10)
		sizeOf := map[byte]int{}
		for w := range writers {
			for k := range rounds {
				sizeOf[fill(w, k)] = sizes[(w+k)%len(sizes)] + w + 1 // never empty
			}
		}
		put(t, s, container, "contended", bytes.Repeat([]byte{fill(0, 0)}, sizeOf[fill(0, 0)]), "")

		var done atomic.Bool
		var readers sync.WaitGroup
		for range 2 {
			readers.Go(func() {
				for !done.Load() {
					data, info, err := blob.ReadAll(t.Context(), s, container, "contended")
					if err != nil {
						t.Errorf("Get during concurrent puts: %v", err)
						return
					}
					if err := whole(data, info, sizeOf); err != nil {
						t.Errorf("Get during concurrent puts: %v", err)
						return
					}
				}
			})
		}
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for k := range rounds {
					b := fill(w, k)
					if _, err := s.Put(t.Context(), container, "contended", bytes.NewReader(bytes.Repeat([]byte{b}, sizeOf[b])), ""); err != nil {
						t.Errorf("writer %d: Put: %v", w, err)
					}
				}
			})
		}
		wg.Wait()
		done.Store(true)
		readers.Wait()
		if t.Failed() {
			return
		}
		data, info, err := blob.ReadAll(t.Context(), s, container, "contended")
		if err != nil {
			t.Fatal(err)
		}
		if err := whole(data, info, sizeOf); err != nil {
			t.Fatalf("after concurrent puts: %v", err)
		}
		head, err := s.Head(t.Context(), container, "contended")
		if err != nil {
			t.Fatal(err)
		}
		wantSameInfo(t, "Head after concurrent puts", head, info)
		wantNames(t, s, container, blob.ListOptions{}, "contended")
		wantNoTempFiles(t, s)
	}},
	{"FailedPutKeepsThePreviousBlob", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		limit := inlineLimit(s)
		for i, size := range sizesAround(limit, 64<<10) {
			prev := content(uint64(i), size)
			info := put(t, s, container, "kept", prev, "text/previous")
			for _, n := range failurePoints(limit) {
				_, err := s.Put(t.Context(), container, "kept", &failingReader{data: content(99, n+1), n: n, err: errBoom}, "")
				wantErr(t, fmt.Sprintf("Put failing after %d bytes", n), err, errBoom)
				wantBlob(t, s, container, "kept", prev, info)
				wantNoTempFiles(t, s)
			}
		}
	}},
	{"FailedPutOfANewName", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		for _, n := range failurePoints(inlineLimit(s)) {
			_, err := s.Put(t.Context(), container, "never", &failingReader{data: content(98, n+1), n: n, err: errBoom}, "")
			wantErr(t, fmt.Sprintf("Put failing after %d bytes", n), err, errBoom)
			wantMissing(t, s, container, "never")
		}
		wantNames(t, s, container, blob.ListOptions{})
		wantNoTempFiles(t, s)
	}},
	{"CancelledPut", func(t *testing.T, newStore storeFunc) {
		// A put whose context is cancelled while it reads an endless body stops, and leaves the
		// previous blob.
		s := newStore(t)
		info := put(t, s, container, "cancelled", []byte("previous"), "")
		for _, n := range failurePoints(inlineLimit(s)) {
			ctx, cancel := context.WithCancel(t.Context())
			_, err := s.Put(ctx, container, "cancelled", &cancellingReader{cancel: cancel, after: n}, "")
			cancel()
			wantErr(t, fmt.Sprintf("Put cancelled after %d bytes", n), err, context.Canceled)
			wantBlob(t, s, container, "cancelled", []byte("previous"), info)
		}
		wantNoTempFiles(t, s)
	}},
}

// fill is the byte writer w fills its k-th content with.
func fill(w, k int) byte { return byte('A' + w*3 + k) }

// whole checks that data is one of the contents of ConcurrentPutsOfOneName, whole, and that info
// describes it.
func whole(data []byte, info *blob.Info, sizeOf map[byte]int) error {
	if len(data) == 0 {
		return errors.New("read an empty blob")
	}
	want, ok := sizeOf[data[0]]
	if !ok {
		return fmt.Errorf("read a blob starting with %q, which no writer wrote", data[0])
	}
	if len(data) != want || bytes.Count(data, data[:1]) != want {
		return fmt.Errorf("read %d bytes starting with %q, want %d bytes of it: a partial or mixed put", len(data), data[0], want)
	}
	if info.Size != int64(want) {
		return fmt.Errorf("read %d bytes of %q but Info.Size is %d", want, data[0], info.Size)
	}
	return nil
}

// failurePoints are where a failing reader breaks: at once, early, and past the inline limit
// (while streaming to wherever large blobs go).
func failurePoints(limit int64) []int {
	if limit < 0 {
		return []int{0, 10, 1 << 20}
	}
	return []int{0, 10, int(limit) + 100, int(limit) + 1<<20}
}

// cancellingReader returns zeros and cancels its context once it has returned after bytes. It
// ends 64 MiB later, so that a store that ignores the cancellation fails the case rather than
// hanging it.
type cancellingReader struct {
	cancel context.CancelFunc
	after  int
	read   int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.read >= r.after {
		r.cancel()
	}
	if r.read >= r.after+64<<20 {
		return 0, io.EOF
	}
	n := len(p)
	if r.read < r.after {
		n = min(n, r.after-r.read)
	}
	clear(p[:n])
	r.read += n
	return n, nil
}
