package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/store"
)

// blobParams describes an inline blob container/name holding data, put at created.
func blobParams(container, name string, data []byte, created time.Time) *store.BlobPutParams {
	return &store.BlobPutParams{
		Info: store.BlobInfo{Container: container, Name: name, Size: int64(len(data)), ContentType: "text/plain",
			ETag: fmt.Sprintf(`"%s-%d"`, name, created.UnixNano()), CreatedAt: created},
		Data: data,
	}
}

// blobPut puts p and returns the blob it replaced.
func blobPut(t *testing.T, b store.Backend, p *store.BlobPutParams) *store.BlobInfo {
	t.Helper()
	replaced, err := b.BlobPut(t.Context(), p)
	if err != nil {
		t.Fatalf("BlobPut(%s/%s): %v", p.Info.Container, p.Info.Name, err)
	}
	return replaced
}

// wantBlobInfo compares every field of a blob's description.
func wantBlobInfo(t *testing.T, what string, got *store.BlobInfo, want store.BlobInfo) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil, want %+v", what, want)
	}
	if got.Container != want.Container || got.Name != want.Name || got.Size != want.Size || got.ContentType != want.ContentType ||
		got.ETag != want.ETag || !got.CreatedAt.Equal(want.CreatedAt) || got.FilePath != want.FilePath {
		t.Fatalf("%s = %+v, want %+v", what, *got, want)
	}
}

// wantStoredBlob checks BlobGet and BlobHead of a blob against p.
func wantStoredBlob(t *testing.T, b store.Backend, p *store.BlobPutParams) {
	t.Helper()
	c, n := p.Info.Container, p.Info.Name
	info, data, err := b.BlobGet(t.Context(), c, n)
	if err != nil {
		t.Fatalf("BlobGet(%s/%s): %v", c, n, err)
	}
	wantBlobInfo(t, "BlobGet("+c+"/"+n+")", info, p.Info)
	switch {
	case p.Info.FilePath != "" && data != nil:
		t.Fatalf("BlobGet(%s/%s) of a file-backed blob returned %d bytes of inline content, want nil", c, n, len(data))
	case p.Info.FilePath == "" && (data == nil || !bytes.Equal(data, p.Data)):
		t.Fatalf("BlobGet(%s/%s) content = %q (nil: %v), want %q", c, n, data, data == nil, p.Data)
	}
	head, err := b.BlobHead(t.Context(), c, n)
	if err != nil {
		t.Fatalf("BlobHead(%s/%s): %v", c, n, err)
	}
	wantBlobInfo(t, "BlobHead("+c+"/"+n+")", head, p.Info)
}

// wantNoBlob checks that container/name does not exist.
func wantNoBlob(t *testing.T, b store.Backend, container, name string) {
	t.Helper()
	_, _, err := b.BlobGet(t.Context(), container, name)
	wantErr(t, "BlobGet("+container+"/"+name+")", err, store.ErrNotFound)
	_, err = b.BlobHead(t.Context(), container, name)
	wantErr(t, "BlobHead("+container+"/"+name+")", err, store.ErrNotFound)
}

// blobListAll pages through a listing with limit, checking the paging rules, and returns the
// names.
func blobListAll(t *testing.T, b store.Backend, container, prefix, marker string, limit int) []string {
	t.Helper()
	var all []string
	p := &store.BlobListParams{Container: container, Prefix: prefix, Marker: marker, Limit: limit}
	for pages := 0; ; pages++ {
		page, err := b.BlobList(t.Context(), p)
		if err != nil {
			t.Fatalf("BlobList(%+v): %v", *p, err)
		}
		if len(page.Blobs) > limit {
			t.Fatalf("BlobList(%+v) returned %d blobs, more than the limit", *p, len(page.Blobs))
		}
		if page.Next != "" && len(page.Blobs) < limit {
			t.Fatalf("BlobList(%+v) returned a short page (%d) with Next %q", *p, len(page.Blobs), page.Next)
		}
		if pages > 0 && len(page.Blobs) == 0 {
			t.Fatalf("BlobList(%+v) returned an empty page after the previous one set Next", *p)
		}
		for _, bi := range page.Blobs {
			if bi.Container != container {
				t.Fatalf("BlobList(%s) returned a blob of container %q", container, bi.Container)
			}
			all = append(all, bi.Name)
		}
		if page.Next == "" {
			break
		}
		p.Marker = page.Next
	}
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Fatalf("BlobList(%s, prefix %q) = %q: not in name order, or repeated", container, prefix, all)
	}
	return all
}

// putBlobNames puts an empty inline blob under every name.
func putBlobNames(t *testing.T, b store.Backend, container string, names ...string) {
	t.Helper()
	for _, n := range names {
		blobPut(t, b, blobParams(container, n, nil, t0))
	}
}

var blobCases = []testCase{
	{"PutGetHeadInline", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p := blobParams("input", "abc/0.json", []byte(`{"input_id":"0"}`), t0)
		if replaced := blobPut(t, b, p); replaced != nil {
			t.Fatalf("BlobPut of a new name replaced %+v", replaced)
		}
		wantStoredBlob(t, b, p)
	}},
	{"PutGetHeadFile", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p := blobParams("input", "big", nil, t0)
		p.Info.Size, p.Info.FilePath = 10<<20, "data/input/0123abcd"
		blobPut(t, b, p)
		wantStoredBlob(t, b, p)
	}},
	{"EmptyInlineContentIsNotNil", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for _, data := range [][]byte{nil, {}} {
			p := blobParams("c", "empty", data, t0)
			blobPut(t, b, p)
			_, got, err := b.BlobGet(t.Context(), "c", "empty")
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("BlobGet of an empty inline blob = %v (nil: %v), %v; want empty, not nil", got, got == nil, err)
			}
		}
	}},
	{"PutReplacesAndReturnsTheReplaced", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		first := blobParams("c", "x", nil, t0)
		first.Info.Size, first.Info.FilePath = 100, "data/c/first"
		blobPut(t, b, first)
		second := blobParams("c", "x", []byte("inline now"), at(time.Second))
		wantBlobInfo(t, "replaced", blobPut(t, b, second), first.Info)
		wantStoredBlob(t, b, second)
		third := blobParams("c", "x", nil, at(2*time.Second))
		third.Info.Size, third.Info.FilePath = 200, "data/c/third"
		wantBlobInfo(t, "replaced", blobPut(t, b, third), second.Info)
		wantStoredBlob(t, b, third)
		if got := blobListAll(t, b, "c", "", "", 10); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("BlobList after replaces = %q, want [x]", got)
		}
	}},
	{"DeleteReturnsTheDeleted", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		p := blobParams("c", "x", nil, t0)
		p.Info.Size, p.Info.FilePath = 100, "data/c/x"
		blobPut(t, b, p)
		other := blobParams("c", "y", []byte("y"), t0)
		blobPut(t, b, other)
		deleted, err := b.BlobDelete(t.Context(), "c", "x")
		if err != nil {
			t.Fatalf("BlobDelete: %v", err)
		}
		wantBlobInfo(t, "deleted", deleted, p.Info)
		wantNoBlob(t, b, "c", "x")
		_, err = b.BlobDelete(t.Context(), "c", "x")
		wantErr(t, "second BlobDelete", err, store.ErrNotFound)
		wantStoredBlob(t, b, other)
	}},
	{"MissingIsNotFound", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		blobPut(t, b, blobParams("c", "x", []byte("x"), t0))
		wantNoBlob(t, b, "c", "y")
		wantNoBlob(t, b, "d", "x")
		wantNoBlob(t, b, "c", "X")
		_, err := b.BlobDelete(t.Context(), "d", "x")
		wantErr(t, "BlobDelete of a missing blob", err, store.ErrNotFound)
	}},
	{"MalformedPutIsInvalid", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		noName := blobParams("c", "", []byte("x"), t0)
		wrongSize := blobParams("c", "x", []byte("abc"), t0)
		wrongSize.Info.Size = 4
		both := blobParams("c", "x", []byte("abc"), t0)
		both.Info.FilePath = "data/c/x"
		for _, p := range []*store.BlobPutParams{noName, wrongSize, both} {
			_, err := b.BlobPut(t.Context(), p)
			wantErr(t, fmt.Sprintf("BlobPut(%+v)", p.Info), err, store.ErrInvalid)
		}
		wantNoBlob(t, b, "c", "x")
	}},
	{"ListPrefixOrderAndPaging", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		names := []string{"a", "a/b", "a/b/c", "a/bc", "a0", "ab", "b", "b/a", "é", "日本", "\U0010FFFF"}
		putBlobNames(t, b, "c", names...)
		putBlobNames(t, b, "other", "a/x")
		for limit := 1; limit <= len(names)+1; limit++ {
			if got := blobListAll(t, b, "c", "", "", limit); !slices.Equal(got, names) {
				t.Fatalf("BlobList(limit %d) = %q, want %q", limit, got, names)
			}
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"a/b", []string{"a/b", "a/b/c", "a/bc"}},
			{"a/b/", []string{"a/b/c"}},
			{"b", []string{"b", "b/a"}},
			{"é", []string{"é"}},
			{"日", []string{"日本"}},
			{"\U0010FFFF", []string{"\U0010FFFF"}},
			{"z", nil},
		} {
			for limit := 1; limit <= 4; limit++ {
				if got := blobListAll(t, b, "c", c.prefix, "", limit); !slices.Equal(got, c.want) {
					t.Fatalf("BlobList(prefix %q, limit %d) = %q, want %q", c.prefix, limit, got, c.want)
				}
			}
		}
	}},
	{"ListPrefixIsLiteral", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		putBlobNames(t, b, "c", "50%", "500", "5_0", "5a0", "A", "a", `a\b`, "ab")
		for _, c := range []struct {
			prefix string
			want   []string
		}{{"50%", []string{"50%"}}, {"5_", []string{"5_0"}}, {"A", []string{"A"}}, {`a\`, []string{`a\b`}}} {
			if got := blobListAll(t, b, "c", c.prefix, "", 10); !slices.Equal(got, c.want) {
				t.Fatalf("BlobList(prefix %q) = %q, want %q", c.prefix, got, c.want)
			}
		}
	}},
	{"ListExactPages", func(t *testing.T, newBackend backendFunc) {
		// A last page that is exactly full has no Next: no empty page follows.
		b := newBackend(t)
		putBlobNames(t, b, "c", "1", "2", "3", "4")
		for _, limit := range []int{1, 2, 4} {
			p := &store.BlobListParams{Container: "c", Limit: limit}
			pages := 0
			for {
				page, err := b.BlobList(t.Context(), p)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if page.Next == "" {
					break
				}
				p.Marker = page.Next
			}
			if pages != 4/limit {
				t.Fatalf("BlobList(limit %d) of 4 blobs took %d pages, want %d", limit, pages, 4/limit)
			}
		}
		page, err := b.BlobList(t.Context(), &store.BlobListParams{Container: "empty", Limit: 10})
		if err != nil || len(page.Blobs) != 0 || page.Next != "" {
			t.Fatalf("BlobList of an empty container = %+v (%v)", page, err)
		}
	}},
	{"ListMarkerIsExclusive", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		putBlobNames(t, b, "c", "m1", "m2", "m3")
		for _, c := range []struct {
			marker string
			want   []string
		}{{"m1", []string{"m2", "m3"}}, {"m1x", []string{"m2", "m3"}}, {"m", []string{"m1", "m2", "m3"}}, {"m3", nil}} {
			if got := blobListAll(t, b, "c", "", c.marker, 2); !slices.Equal(got, c.want) {
				t.Fatalf("BlobList(marker %q) = %q, want %q", c.marker, got, c.want)
			}
		}
		if got := blobListAll(t, b, "c", "m2", "m1", 2); !slices.Equal(got, []string{"m2"}) {
			t.Fatalf("BlobList(prefix m2, marker m1) = %q", got)
		}
	}},
	{"ListEntries", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		inline := blobParams("c", "a", []byte("aaa"), t0)
		file := blobParams("c", "b", nil, at(time.Second))
		file.Info.Size, file.Info.FilePath = 5000, "data/c/b"
		blobPut(t, b, inline)
		blobPut(t, b, file)
		page, err := b.BlobList(t.Context(), &store.BlobListParams{Container: "c", Limit: 10})
		if err != nil || len(page.Blobs) != 2 {
			t.Fatalf("BlobList = %+v (%v)", page, err)
		}
		wantBlobInfo(t, "entry a", page.Blobs[0], inline.Info)
		wantBlobInfo(t, "entry b", page.Blobs[1], file.Info)
	}},
	{"ListLimitMustBePositive", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		for _, limit := range []int{0, -1} {
			_, err := b.BlobList(t.Context(), &store.BlobListParams{Container: "c", Limit: limit})
			wantErr(t, fmt.Sprintf("BlobList(limit %d)", limit), err, store.ErrInvalid)
		}
	}},
	{"PutWritesEffects", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		p := blobParams("output", "i1/0.json", []byte(`{"result":1}`), at(time.Second))
		p.Effects = store.Effects{
			Messages: []*store.Message{message("i1", "", event("BlobCreated", at(time.Second)), time.Time{})},
			Deliveries: []*store.DeliveryCreate{{Subscription: "hook", EventID: "blob-e1", Event: []byte(`{"id":"blob-e1"}`),
				ExpiresAt: at(time.Hour)}},
		}
		blobPut(t, b, p)
		wantStoredBlob(t, b, p)
		// The message is visible from the put's time: its zero VisibleAt means "now".
		wantInbox(t, b, "i1", at(time.Second), createParams("i1", t0).Started, event("BlobCreated", at(time.Second)))
		ds, err := b.DeliveryLease(t.Context(), &store.DeliveryLeaseParams{Owner: ownerA, Now: at(time.Second),
			LockExpiry: at(time.Minute), Limit: 10})
		if err != nil || len(ds) != 1 || ds[0].EventID != "blob-e1" || ds[0].Subscription != "hook" || !ds[0].CreatedAt.Equal(at(time.Second)) {
			t.Fatalf("deliveries after a put with effects = %+v (%v)", ds, err)
		}
	}},
	{"InvalidPutWritesNoEffects", func(t *testing.T, newBackend backendFunc) {
		b := newBackend(t)
		create(t, b, "i1", t0)
		p := blobParams("c", "x", []byte("abc"), t0)
		p.Info.Size = 99
		p.Effects = store.Effects{Messages: []*store.Message{message("i1", "", event("BlobCreated", t0), t0)}}
		if _, err := b.BlobPut(t.Context(), p); err == nil {
			t.Fatal("BlobPut with a wrong size succeeded")
		}
		wantInbox(t, b, "i1", farFuture, createParams("i1", t0).Started)
	}},
	{"ConcurrentPutsOfOneName", func(t *testing.T, newBackend backendFunc) {
		// Puts of one name at once: each replaces exactly the one before it, so the replaced
		// blobs and the final one are every put once.
		b := newBackend(t)
		const n = 32
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				p := blobParams("c", "x", []byte(fmt.Sprint(i)), at(time.Duration(i)*time.Second))
				replaced, err := b.BlobPut(t.Context(), p)
				if err != nil {
					t.Errorf("BlobPut %d: %v", i, err)
					return
				}
				if replaced != nil {
					mu.Lock()
					seen[replaced.ETag]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		final, err := b.BlobHead(t.Context(), "c", "x")
		if err != nil {
			t.Fatal(err)
		}
		seen[final.ETag]++
		if len(seen) != n {
			t.Fatalf("replaced blobs and the final one are %d distinct puts, want %d", len(seen), n)
		}
		for etag, k := range seen {
			if k != 1 {
				t.Fatalf("put %s was replaced %d times", etag, k)
			}
		}
	}},
	{"CallsAfterCloseFail", func(t *testing.T, newBackend backendFunc) {
		for _, c := range blobClosedCalls {
			t.Run(c.name, func(t *testing.T) {
				b := newBackend(t)
				blobPut(t, b, blobParams("c", "x", []byte("x"), t0))
				if err := b.Close(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				wantErr(t, c.name+" after Close", c.call(t, b), store.ErrClosed)
			})
		}
	}},
}

// blobClosedCalls are the blob calls a closed backend must refuse with store.ErrClosed.
var blobClosedCalls = []struct {
	name string
	call func(t *testing.T, b store.Backend) error
}{
	{"BlobPut", func(t *testing.T, b store.Backend) error {
		_, err := b.BlobPut(t.Context(), blobParams("c", "y", nil, t0))
		return err
	}},
	{"BlobGet", func(t *testing.T, b store.Backend) error {
		_, _, err := b.BlobGet(t.Context(), "c", "x")
		return err
	}},
	{"BlobHead", func(t *testing.T, b store.Backend) error {
		_, err := b.BlobHead(t.Context(), "c", "x")
		return err
	}},
	{"BlobDelete", func(t *testing.T, b store.Backend) error {
		_, err := b.BlobDelete(t.Context(), "c", "x")
		return err
	}},
	{"BlobList", func(t *testing.T, b store.Backend) error {
		_, err := b.BlobList(t.Context(), &store.BlobListParams{Container: "c", Limit: 10})
		return err
	}},
}
