package blobtest

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orcahq/orca/internal/blob"
)

var roundTripCases = []testCase{
	{"PutGetHead", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		data := []byte(`{"input_id":"0","input_data":[1,2,3]}`)
		info := put(t, s, container, "input/abc/0.json", data, "application/json")
		wantBlob(t, s, container, "input/abc/0.json", data, info)
	}},
	{"DefaultContentType", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		info := put(t, s, container, "raw", []byte("x"), "")
		wantBlob(t, s, container, "raw", []byte("x"), info)
	}},
	{"ETagChangesWithEveryPut", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		seen := map[string]bool{}
		var last *blob.Info
		for range 3 {
			last = put(t, s, container, "same", []byte("same content"), "text/plain")
			if seen[last.ETag] {
				t.Fatalf("ETag %s repeated for a new put of the same content", last.ETag)
			}
			seen[last.ETag] = true
		}
		wantBlob(t, s, container, "same", []byte("same content"), last)
	}},
	{"PutReplaces", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		put(t, s, container, "r", []byte("first version"), "text/plain")
		second := put(t, s, container, "r", []byte(`{"v":2}`), "application/json")
		wantBlob(t, s, container, "r", []byte(`{"v":2}`), second)
		page, err := s.List(t.Context(), container, blob.ListOptions{})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(page.Blobs) != 1 {
			t.Fatalf("List after a replace = %v, want one blob", names(page))
		}
		wantSameInfo(t, "List entry", page.Blobs[0], second)
	}},
	{"Delete", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		put(t, s, container, "d/1", []byte("one"), "")
		kept := put(t, s, container, "d/2", []byte("two"), "")
		if err := s.Delete(t.Context(), container, "d/1"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantMissing(t, s, container, "d/1")
		wantErr(t, "second Delete", s.Delete(t.Context(), container, "d/1"), blob.ErrNotFound)
		wantBlob(t, s, container, "d/2", []byte("two"), kept)
		wantNames(t, s, container, blob.ListOptions{}, "d/2")
		again := put(t, s, container, "d/1", []byte("again"), "")
		wantBlob(t, s, container, "d/1", []byte("again"), again)
	}},
	{"MissingIsNotFound", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		put(t, s, container, "present", []byte("x"), "")
		for _, c := range []struct{ container, name string }{{container, "absent"}, {container, "present/child"},
			{container, "Present"}, {"no-such-container", "present"}} {
			wantMissing(t, s, c.container, c.name)
			wantErr(t, "Delete("+c.container+"/"+c.name+")", s.Delete(t.Context(), c.container, c.name), blob.ErrNotFound)
		}
		page, err := s.List(t.Context(), "no-such-container", blob.ListOptions{})
		if err != nil || len(page.Blobs) != 0 || page.Next != "" {
			t.Fatalf("List of a container without blobs = %v next %q (%v), want an empty last page", names(page), pageNext(page), err)
		}
	}},
	{"ContainersAreSeparate", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		a := put(t, s, "cont-a", "x", []byte("in a"), "")
		b := put(t, s, "cont-b", "x", []byte("in b"), "")
		wantBlob(t, s, "cont-a", "x", []byte("in a"), a)
		wantBlob(t, s, "cont-b", "x", []byte("in b"), b)
		if err := s.Delete(t.Context(), "cont-a", "x"); err != nil {
			t.Fatal(err)
		}
		wantMissing(t, s, "cont-a", "x")
		wantBlob(t, s, "cont-b", "x", []byte("in b"), b)
	}},
	{"OpenReaderSurvivesReplaceAndDelete", func(t *testing.T, newStore storeFunc) {
		// A reader opened before a put or delete reads the blob it opened, whole.
		s := newStore(t)
		for _, size := range sizesAround(inlineLimit(s), 256<<10) {
			old := content(1, size)
			put(t, s, container, "open", old, "")
			rc, _, err := s.Get(t.Context(), container, "open")
			if err != nil {
				t.Fatal(err)
			}
			first := make([]byte, min(size, 10))
			if _, err := io.ReadFull(rc, first); err != nil {
				t.Fatal(err)
			}
			put(t, s, container, "open", content(2, size+1), "")
			if err := s.Delete(t.Context(), container, "open"); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("reading a blob opened before it was replaced and deleted (%d bytes): %v", size, err)
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			if got := append(first, rest...); !bytes.Equal(got, old) {
				t.Fatalf("reader opened before a replace and a delete read %s, want %s", describe(got), describe(old))
			}
		}
	}},
}

// unicodeNames are valid names that a store must keep exactly.
var unicodeNames = []string{
	"input/abc/0.json",
	"données/été/résumé.json",
	"日本語/ファイル名.txt",
	"emoji/😀/🚀.bin",
	"with space/and+plus/and%percent/and?query#hash",
	"dots.in.names/...three/.hidden/x..y",
	"a-b_c~d!e$f&g'h(i)j*k,l;m=n@o",
	strings.Repeat("deep/", 100) + "leaf",
	"\U0010FFFF/max-code-point",
}

// invalidNames are names every call must refuse with ErrInvalidName.
var invalidNames = []string{
	"", "a/../b", "../a", "a/..", "..", ".", "./a", "a/./b", "/abs", "/", "a//b", "a/", "a\\b", `..\a`,
	"a\x00b", "a\nb", "a\tb", "a\x7fb", "a\u0085b", "\xff\xfe", strings.Repeat("a", blob.MaxNameLength+1),
	strings.Repeat("é", blob.MaxNameLength/2) + "x",
}

// longestName is the longest name s can hold in container: two-byte characters in segments of
// 100 bytes (file systems limit a path's segment to 255), ending with a one-byte character.
func longestName(s blob.Store, container string) string {
	n := blob.MaxNameLengthOf(s, container)
	var b strings.Builder
	for b.Len() < n-1 {
		switch {
		case b.Len()%101 == 100 && b.Len() < n-2:
			b.WriteByte('/')
		case b.Len() <= n-3:
			b.WriteString("é")
		default:
			b.WriteByte('e')
		}
	}
	b.WriteByte('x')
	return b.String()
}

// invalidContainers are container names every call must refuse with ErrInvalidName.
var invalidContainers = []string{
	"", "ab", strings.Repeat("a", 64), "Upper", "upPer", "a_b", "a.b", "a b", "-ab", "ab-", "a--b", "ab/c", "../ab",
	"abc\x00", "ünï",
}

var nameCases = []testCase{
	{"UnicodeAndNestedNames", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		infos := map[string]*blob.Info{}
		unicodeNames := append(slices.Clone(unicodeNames), longestName(s, container))
		for i, name := range unicodeNames {
			if err := blob.ValidateName(name); err != nil {
				t.Fatalf("suite bug: %q is not a valid name: %v", name, err)
			}
			infos[name] = put(t, s, container, name, []byte(fmt.Sprint(i)), "")
		}
		for i, name := range unicodeNames {
			wantBlob(t, s, container, name, []byte(fmt.Sprint(i)), infos[name])
		}
		want := slices.Clone(unicodeNames)
		slices.Sort(want) // byte order, which for UTF-8 is code point order
		wantNames(t, s, container, blob.ListOptions{}, want...)
		wantNames(t, s, container, blob.ListOptions{Prefix: "données/"}, "données/été/résumé.json")
		wantNames(t, s, container, blob.ListOptions{Prefix: "日本"}, "日本語/ファイル名.txt")
	}},
	{"InvalidNamesAreRejected", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		for _, name := range append(slices.Clone(invalidNames), longestName(s, container)+"x") {
			wantInvalid(t, s, container, name)
		}
		wantNames(t, s, container, blob.ListOptions{})
	}},
	{"InvalidContainersAreRejected", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		for _, c := range invalidContainers {
			wantInvalid(t, s, c, "name")
			_, err := s.List(t.Context(), c, blob.ListOptions{})
			wantErr(t, fmt.Sprintf("List(%q)", c), err, blob.ErrInvalidName)
		}
		for _, c := range []string{"abc", strings.Repeat("a", 63), "a-b-c", "0-9", "123"} {
			put(t, s, c, "ok", []byte("x"), "")
		}
	}},
}

// wantInvalid checks that every call on container/name fails with ErrInvalidName and that Put
// wrote nothing.
func wantInvalid(t *testing.T, s blob.Store, container, name string) {
	t.Helper()
	what := fmt.Sprintf("%q/%q", container, name)
	_, err := s.Put(t.Context(), container, name, strings.NewReader("data"), "")
	wantErr(t, "Put("+what+")", err, blob.ErrInvalidName)
	rc, _, err := s.Get(t.Context(), container, name)
	if err == nil {
		_ = rc.Close()
	}
	wantErr(t, "Get("+what+")", err, blob.ErrInvalidName)
	_, err = s.Head(t.Context(), container, name)
	wantErr(t, "Head("+what+")", err, blob.ErrInvalidName)
	wantErr(t, "Delete("+what+")", s.Delete(t.Context(), container, name), blob.ErrInvalidName)
}

var sizeCases = []testCase{
	{"Empty", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		info := put(t, s, container, "empty", nil, "text/plain")
		wantBlob(t, s, container, "empty", []byte{}, info)
		empty, err := s.Put(t.Context(), container, "empty-reader", struct{ io.Reader }{strings.NewReader("")}, "")
		if err != nil || empty.Size != 0 {
			t.Fatalf("Put from an empty reader = %+v, %v", empty, err)
		}
		wantNames(t, s, container, blob.ListOptions{}, "empty", "empty-reader")
	}},
	{"AroundTheInlineLimit", func(t *testing.T, newStore storeFunc) {
		// Both sides of the limit, and a name moving from one side to the other and back.
		s := newStore(t)
		sizes := sizesAround(inlineLimit(s), 64<<10)
		for i, size := range sizes {
			data := content(uint64(i), size)
			name := fmt.Sprintf("size/%d", size)
			info := put(t, s, container, name, data, "")
			wantBlob(t, s, container, name, data, info)
		}
		for i, size := range append(slices.Clone(sizes), sizes[0]) {
			data := content(uint64(100+i), size)
			info := put(t, s, container, "moving", data, "")
			wantBlob(t, s, container, "moving", data, info)
		}
		wantNoTempFiles(t, s)
	}},
	{"LargeStreamed", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		const size = 8 << 20
		before := time.Now()
		info, err := s.Put(t.Context(), container, "large/8MiB", stream(7, size), "application/x-large")
		if err != nil {
			t.Fatalf("Put of %d streamed bytes: %v", size, err)
		}
		wantPutInfo(t, info, container, "large/8MiB", size, "application/x-large", before)
		wantBlob(t, s, container, "large/8MiB", content(7, size), info)
		wantNoTempFiles(t, s)
	}},
}

// sizesAround returns blob sizes on both sides of a store's inline limit (or of fallback when
// it has none): 0, 1, limit-1, limit, limit+1 and twice the limit.
func sizesAround(limit int64, fallback int) []int {
	l := int(limit)
	if limit < 0 {
		l = fallback
	}
	var out []int
	for _, n := range []int{0, 1, l - 1, l, l + 1, 2*l + 1} {
		if n >= 0 && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
