package blobtest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/orcahq/orca/internal/blob"
)

// listAll pages through a listing from opts.Marker to the end, checking every page: in name
// order, after the marker, with the prefix, never longer than the limit, and never empty or short
// while Next is set.
func listAll(t *testing.T, s blob.Store, container string, opts blob.ListOptions) []string {
	t.Helper()
	var all []string
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("List(%s, %+v) did not end after %d pages", container, opts, pages)
		}
		page, err := s.List(t.Context(), container, opts)
		if err != nil {
			t.Fatalf("List(%s, %+v): %v", container, opts, err)
		}
		got := names(page)
		if pages > 0 && len(got) == 0 {
			t.Fatalf("List(%s, %+v) returned an empty page after the previous one set Next", container, opts)
		}
		for i, n := range got {
			if !strings.HasPrefix(n, opts.Prefix) {
				t.Fatalf("List(%s, %+v) returned %q, which lacks the prefix", container, opts, n)
			}
			if opts.Marker != "" && n <= opts.Marker {
				t.Fatalf("List(%s, %+v) returned %q, which is not after the marker", container, opts, n)
			}
			if i > 0 && got[i-1] >= n {
				t.Fatalf("List(%s, %+v) = %q: not in name order", container, opts, got)
			}
			if page.Blobs[i].Container != container {
				t.Fatalf("List(%s) entry %q has container %q", container, n, page.Blobs[i].Container)
			}
		}
		if opts.Limit > 0 && len(got) > opts.Limit {
			t.Fatalf("List(%s, %+v) returned %d blobs, more than the limit", container, opts, len(got))
		}
		if page.Next != "" && len(got) == 0 {
			t.Fatalf("List(%s, %+v) returned an empty page with Next %q", container, opts, page.Next)
		}
		if page.Next != "" && opts.Limit > 0 && len(got) < opts.Limit {
			t.Fatalf("List(%s, %+v) returned a short page (%d) with Next %q", container, opts, len(got), page.Next)
		}
		if len(all) > 0 && len(got) > 0 && got[0] <= all[len(all)-1] {
			t.Fatalf("List(%s, %+v) repeated or went back: %q after %q", container, opts, got[0], all[len(all)-1])
		}
		all = append(all, got...)
		if page.Next == "" {
			return all
		}
		opts.Marker = page.Next
	}
}

// wantNames checks that a whole listing returns exactly want.
func wantNames(t *testing.T, s blob.Store, container string, opts blob.ListOptions, want ...string) {
	t.Helper()
	if got := listAll(t, s, container, opts); !slices.Equal(got, want) {
		t.Fatalf("List(%s, %+v) = %q, want %q", container, opts, got, want)
	}
}

func names(p *blob.Page) []string {
	if p == nil {
		return nil
	}
	out := make([]string, len(p.Blobs))
	for i, b := range p.Blobs {
		out[i] = b.Name
	}
	return out
}

func pageNext(p *blob.Page) string {
	if p == nil {
		return ""
	}
	return p.Next
}

// putNames puts a small blob under each name, concurrently.
func putNames(t *testing.T, s blob.Store, container string, names ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	sem := make(chan struct{}, 16)
	for i, n := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, errs[i] = s.Put(t.Context(), container, n, strings.NewReader(n), "text/plain")
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Put(%s/%s): %v", container, names[i], err)
		}
	}
}

var listCases = []testCase{
	{"PrefixAndOrder", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		// No name is a directory of another here (see NameIsAlsoADirectory); "!" sorts before "/".
		putNames(t, s, container, "b/a", "a/bc", "a!", "a/b/c", "ab", "a/b0", "b0", "a0", "c/d/e")
		putNames(t, s, "other", "a/b/x")
		wantNames(t, s, container, blob.ListOptions{}, "a!", "a/b/c", "a/b0", "a/bc", "a0", "ab", "b/a", "b0", "c/d/e")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a/b"}, "a/b/c", "a/b0", "a/bc")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a/b/"}, "a/b/c")
		wantNames(t, s, container, blob.ListOptions{Prefix: "b"}, "b/a", "b0")
		wantNames(t, s, container, blob.ListOptions{Prefix: "c/d/e"}, "c/d/e")
		wantNames(t, s, container, blob.ListOptions{Prefix: "c/d/e/"})
		wantNames(t, s, container, blob.ListOptions{Prefix: "zzz"})
		wantNames(t, s, "other", blob.ListOptions{Prefix: "a/"}, "a/b/x")
	}},
	{"NameIsAlsoADirectory", func(t *testing.T, newStore storeFunc) {
		// "a/b" and "a/b/c" are both blobs: a store on a file system must not take "a/b" for a
		// directory only.
		s := newStore(t)
		putNames(t, s, container, "a/b/c", "a/b", "b", "b/a")
		wantNames(t, s, container, blob.ListOptions{}, "a/b", "a/b/c", "b", "b/a")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a/b"}, "a/b", "a/b/c")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a/b/"}, "a/b/c")
	}},
	{"PrefixIsLiteral", func(t *testing.T, newStore storeFunc) {
		// Characters that are wildcards somewhere (SQL LIKE, globs, regular expressions) and
		// letter case match only themselves.
		s := newStore(t)
		putNames(t, s, container, "50%/x", "500/x", "5_0/x", "5a0/x", "a*b", "aab", "a?b", "a.b", "axb", "A", "a", "[a]", "é", "e")
		wantNames(t, s, container, blob.ListOptions{Prefix: "50%"}, "50%/x")
		wantNames(t, s, container, blob.ListOptions{Prefix: "5_"}, "5_0/x")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a*"}, "a*b")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a?"}, "a?b")
		wantNames(t, s, container, blob.ListOptions{Prefix: "a."}, "a.b")
		wantNames(t, s, container, blob.ListOptions{Prefix: "A"}, "A")
		wantNames(t, s, container, blob.ListOptions{Prefix: "["}, "[a]")
		wantNames(t, s, container, blob.ListOptions{Prefix: "é"}, "é")
	}},
	{"PagesToTheEnd", func(t *testing.T, newStore storeFunc) {
		// Every page size, including exact divisors of the count: the last page is full and
		// has no Next, and no empty page follows.
		s := newStore(t)
		var all []string
		for i := range 12 {
			all = append(all, fmt.Sprintf("p/%02d", i))
		}
		putNames(t, s, container, all...)
		putNames(t, s, container, "o/before", "q/after")
		for limit := 1; limit <= 13; limit++ {
			wantNames(t, s, container, blob.ListOptions{Prefix: "p/", Limit: limit}, all...)
		}
		everything := append(append([]string{"o/before"}, all...), "q/after")
		for _, limit := range []int{1, 7, 14, 15} {
			wantNames(t, s, container, blob.ListOptions{Limit: limit}, everything...)
		}
		page, err := s.List(t.Context(), container, blob.ListOptions{Prefix: "p/", Limit: 12})
		if err != nil || len(page.Blobs) != 12 || page.Next != "" {
			t.Fatalf("List of exactly a page = %d blobs, Next %q (%v); want 12 and no Next", len(names(page)), pageNext(page), err)
		}
	}},
	{"MarkerContinues", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		putNames(t, s, container, "m/1", "m/2", "m/3", "m/4", "m/5")
		wantNames(t, s, container, blob.ListOptions{Marker: "m/2"}, "m/3", "m/4", "m/5")
		wantNames(t, s, container, blob.ListOptions{Marker: "m/2x"}, "m/3", "m/4", "m/5") // between names
		wantNames(t, s, container, blob.ListOptions{Marker: "m/"}, "m/1", "m/2", "m/3", "m/4", "m/5")
		wantNames(t, s, container, blob.ListOptions{Marker: "m/5"})
		wantNames(t, s, container, blob.ListOptions{Marker: "n"})
		wantNames(t, s, container, blob.ListOptions{Prefix: "m/", Marker: "a"}, "m/1", "m/2", "m/3", "m/4", "m/5")

		// A continuation survives the deletion of the blob it names, and sees blobs put after
		// the marker since.
		page, err := s.List(t.Context(), container, blob.ListOptions{Limit: 2})
		if err != nil || page.Next == "" {
			t.Fatalf("List first page: %v next %q (%v)", names(page), pageNext(page), err)
		}
		if err := s.Delete(t.Context(), container, page.Next); err != nil {
			t.Fatal(err)
		}
		putNames(t, s, container, "m/6")
		wantNames(t, s, container, blob.ListOptions{Marker: page.Next, Limit: 2}, "m/3", "m/4", "m/5", "m/6")
	}},
	{"DefaultPageSize", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		var all []string
		for i := range 1001 {
			all = append(all, fmt.Sprintf("n/%04d", i))
		}
		putNames(t, s, container, all...)
		page, err := s.List(t.Context(), container, blob.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Blobs) != 1000 || page.Next == "" {
			t.Fatalf("List with Limit 0 = %d blobs, Next %q; want the default page of 1,000 and a Next", len(page.Blobs), page.Next)
		}
		wantNames(t, s, container, blob.ListOptions{Marker: page.Next}, "n/1000")
	}},
	{"EntriesMatchHead", func(t *testing.T, newStore storeFunc) {
		s := newStore(t)
		infos := map[string]*blob.Info{
			"e/1": put(t, s, container, "e/1", []byte("one"), "text/plain"),
			"e/2": put(t, s, container, "e/2", content(2, 3000), "application/x-two"),
			"e/3": put(t, s, container, "e/3", nil, ""),
		}
		page, err := s.List(t.Context(), container, blob.ListOptions{})
		if err != nil || len(page.Blobs) != 3 {
			t.Fatalf("List = %v (%v)", names(page), err)
		}
		for _, b := range page.Blobs {
			wantSameInfo(t, "List entry "+b.Name, b, infos[b.Name])
		}
	}},
}
