// Package blobtest is the conformance suite of blob.Store: every backend runs it with
// blobtest.Run from its own tests. Each case gets a fresh, empty store.
//
// A backend that keeps small and large blobs apart implements InlineLimiter, and the suite puts
// blobs on both sides of the limit. A backend (or the wrapper its test passes to Run) that can
// list the temporary files of puts implements TempFileLister, and the suite checks that failed
// puts leave none behind.
package blobtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/testenv"
)

// InlineLimiter is implemented by stores that keep blobs up to InlineLimit bytes differently
// from larger ones (in a database rather than in files, say). A negative limit means none is
// kept apart.
type InlineLimiter interface {
	InlineLimit() int64
}

// TempFileLister is implemented by stores, or by the wrappers their tests pass to Run, that can
// list the temporary files puts in progress create.
type TempFileLister interface {
	TempFiles() ([]string, error)
}

// storeFunc returns a fresh, empty store that is closed when t ends.
type storeFunc = func(t *testing.T) blob.Store

type testCase struct {
	name string
	run  func(t *testing.T, newStore storeFunc)
}

// Run runs the conformance suite against the stores newStore returns. newStore is called once
// per subtest and must return an empty store that it cleans up with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store, opts ...Option) {
	skips := map[string]string{}
	for _, o := range opts {
		o(skips)
	}
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"RoundTrip", roundTripCases},
		{"Names", nameCases},
		{"List", listCases},
		{"Sizes", sizeCases},
		{"Atomicity", atomicityCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					if why, ok := skips[g.name+"/"+c.name]; ok {
						testenv.Skip(t, why)
					}
					c.run(t, newStore)
				})
			}
		})
	}
}

// Option adjusts a run of the suite.
type Option func(skips map[string]string)

// Unsupported skips the case named "Group/Case" (loudly, with why) for a limit of the test
// server, not of the backend: a case that fails for the backend's own reasons must not be
// skipped.
func Unsupported(testCase, why string) Option {
	return func(skips map[string]string) { skips[testCase] = why }
}

// container is the container the suite uses unless a case needs more.
const container = "suite"

// put writes data to container/name and checks the Info Put returns.
func put(t *testing.T, s blob.Store, container, name string, data []byte, contentType string) *blob.Info {
	t.Helper()
	before := time.Now()
	info, err := s.Put(t.Context(), container, name, bytes.NewReader(data), contentType)
	if err != nil {
		t.Fatalf("Put(%s/%s, %d bytes): %v", container, name, len(data), err)
	}
	wantType := contentType
	if wantType == "" {
		wantType = "application/octet-stream"
	}
	wantPutInfo(t, info, container, name, int64(len(data)), wantType, before)
	return info
}

// wantPutInfo checks the Info of a put that started at before.
func wantPutInfo(t *testing.T, info *blob.Info, container, name string, size int64, contentType string, before time.Time) {
	t.Helper()
	if info == nil {
		t.Fatalf("Put(%s/%s) returned a nil Info", container, name)
	}
	if info.Container != container || info.Name != name || info.Size != size || info.ContentType != contentType {
		t.Fatalf("Put(%s/%s) Info = {%s %s size %d type %q}, want {%s %s size %d type %q}", container, name,
			info.Container, info.Name, info.Size, info.ContentType, container, name, size, contentType)
	}
	if len(info.ETag) < 3 || !strings.HasPrefix(info.ETag, `"`) || !strings.HasSuffix(info.ETag, `"`) {
		t.Fatalf("Put(%s/%s) ETag = %s, want a quoted string", container, name, info.ETag)
	}
	// Backends that take the time from a server may disagree with this machine by a little,
	// and some keep whole seconds only.
	if info.CreatedAt.Before(before.Add(-time.Minute)) || info.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("Put(%s/%s) CreatedAt = %v, want about %v", container, name, info.CreatedAt, before)
	}
}

// wantSameInfo checks that two descriptions of a blob agree.
func wantSameInfo(t *testing.T, what string, got, want *blob.Info) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil Info", what)
	}
	if got.Container != want.Container || got.Name != want.Name || got.Size != want.Size ||
		got.ContentType != want.ContentType || got.ETag != want.ETag {
		t.Fatalf("%s = {%s %s size %d type %q etag %s}, want {%s %s size %d type %q etag %s}", what,
			got.Container, got.Name, got.Size, got.ContentType, got.ETag,
			want.Container, want.Name, want.Size, want.ContentType, want.ETag)
	}
	if d := got.CreatedAt.Sub(want.CreatedAt).Abs(); d >= time.Second {
		t.Fatalf("%s CreatedAt = %v, want %v", what, got.CreatedAt, want.CreatedAt)
	}
}

// wantBlob checks that container/name holds data and is described by want, through Get and
// Head.
func wantBlob(t *testing.T, s blob.Store, container, name string, data []byte, want *blob.Info) {
	t.Helper()
	got, info, err := blob.ReadAll(t.Context(), s, container, name)
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", container, name, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("Get(%s/%s) = %s, want %s", container, name, describe(got), describe(data))
	}
	wantSameInfo(t, "Get("+container+"/"+name+") Info", info, want)
	head, err := s.Head(t.Context(), container, name)
	if err != nil {
		t.Fatalf("Head(%s/%s): %v", container, name, err)
	}
	wantSameInfo(t, "Head("+container+"/"+name+")", head, want)
}

// wantMissing checks that container/name does not exist.
func wantMissing(t *testing.T, s blob.Store, container, name string) {
	t.Helper()
	if rc, _, err := s.Get(t.Context(), container, name); !errors.Is(err, blob.ErrNotFound) {
		if err == nil {
			_ = rc.Close()
		}
		t.Fatalf("Get(%s/%s) error = %v, want ErrNotFound", container, name, err)
	}
	if _, err := s.Head(t.Context(), container, name); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head(%s/%s) error = %v, want ErrNotFound", container, name, err)
	}
}

// wantErr checks that err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s error = %v, want one wrapping %v", what, err, target)
	}
}

// wantNoTempFiles checks, when the store can tell, that no put left a temporary file.
func wantNoTempFiles(t *testing.T, s blob.Store) {
	t.Helper()
	l, ok := s.(TempFileLister)
	if !ok {
		return
	}
	files, err := l.TempFiles()
	if err != nil {
		t.Fatalf("TempFiles: %v", err)
	}
	if len(files) > 0 {
		t.Fatalf("temporary files left behind: %v", files)
	}
}

// inlineLimit returns the store's inline limit, or -1 when it has none.
func inlineLimit(s blob.Store) int64 {
	if l, ok := s.(InlineLimiter); ok {
		return l.InlineLimit()
	}
	return -1
}

// content returns n pseudo-random bytes, the same for the same seed.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seedOf(seed)).Read(b)
	return b
}

// stream returns a reader of n pseudo-random bytes (those of content(seed, n)) that is neither
// seekable nor sized, so a store has to stream it.
func stream(seed uint64, n int64) io.Reader {
	return struct{ io.Reader }{io.LimitReader(rand.NewChaCha8(seedOf(seed)), n)}
}

func seedOf(seed uint64) [32]byte {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return s
}

// describe summarises content for a failure message.
func describe(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("<%d bytes, sha256 %x>", len(b), sha256.Sum256(b))
}

// failingReader returns the first n bytes of data and then err.
type failingReader struct {
	data []byte
	n    int
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := copy(p, r.data[:min(r.n, len(r.data))])
	r.data, r.n = r.data[k:], r.n-k
	return k, nil
}
