package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestKeysAndScopes(t *testing.T) {
	keys, err := NewKeys([]KeySpec{
		{Name: "ops", Scope: ScopeAdmin, Key: "admin-key-0123456789"},
		{Name: "fleet", Scope: ScopeWorker, SHA256: Hash("worker-key-0123456789")},
		{Name: "dash", Scope: ScopeReader, Key: "reader-key-0123456789"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for presented, want := range map[string]string{
		"admin-key-0123456789": "ops", "worker-key-0123456789": "fleet", "reader-key-0123456789": "dash", "nope": "",
		"admin-key-012345678": "", "": "",
	} {
		k, ok := keys.Check(presented)
		if ok != (want != "") || k.Name != want {
			t.Errorf("Check(%q) = %q %v, want %q", presented, k.Name, ok, want)
		}
	}
	cases := []struct {
		have, need Scope
		ok         bool
	}{
		{ScopeAdmin, ScopeWorker, true}, {ScopeAdmin, ScopeReader, true}, {ScopeAdmin, ScopeAdmin, true},
		{ScopeWorker, ScopeWorker, true}, {ScopeWorker, ScopeReader, false}, {ScopeWorker, ScopeAdmin, false},
		{ScopeReader, ScopeReader, true}, {ScopeReader, ScopeWorker, false}, {ScopeReader, ScopeAdmin, false},
		{ScopeReader, ScopeNone, true},
	}
	for _, c := range cases {
		if got := c.have.Allows(c.need); got != c.ok {
			t.Errorf("%s allows %q = %v, want %v", c.have, c.need, got, c.ok)
		}
	}
}

func TestNewKeysNamesTheBadEntry(t *testing.T) {
	cases := map[string][]KeySpec{
		"keys[0].name":   {{Scope: ScopeAdmin, Key: "0123456789abcdef"}},
		"keys[0].scope":  {{Name: "a", Scope: "root", Key: "0123456789abcdef"}},
		"keys[0]: give":  {{Name: "a", Scope: ScopeAdmin}},
		"keys[0].key":    {{Name: "a", Scope: ScopeAdmin, Key: "short"}},
		"keys[0].sha256": {{Name: "a", Scope: ScopeAdmin, SHA256: "sha256:xyz"}},
		"keys[1].name":   {{Name: "a", Scope: ScopeAdmin, Key: "0123456789abcdef"}, {Name: "a", Scope: ScopeReader, Key: "0123456789abcdeg"}},
	}
	for want, specs := range cases {
		if _, err := NewKeys(specs); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("NewKeys: %v, want it to start with %q", err, want)
		}
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x?CODE=k1", nil)
	p, ok, err := FromRequest(r)
	if err != nil || !ok || p.Key != "k1" || !p.InQuery {
		t.Fatalf("code: %+v %v %v", p, ok, err)
	}
	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("x-functions-key", "k2")
	if p, ok, _ := FromRequest(r); !ok || p.Key != "k2" || p.InQuery {
		t.Fatalf("header: %+v", p)
	}
	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "bearer   k3 ")
	if p, ok, _ := FromRequest(r); !ok || p.Key != "k3" {
		t.Fatalf("bearer: %+v", p)
	}
	r = httptest.NewRequest(http.MethodGet, "/x?code=k1", nil)
	r.Header.Set("Authorization", "Bearer k2")
	if _, _, err := FromRequest(r); !errors.Is(err, ErrTwoKeys) {
		t.Fatalf("two keys: %v", err)
	}
	r = httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("Authorization", "Basic abc")
	if _, ok, _ := FromRequest(r); ok {
		t.Fatal("a Basic credential counted as a key")
	}
}

func TestFromMetadata(t *testing.T) {
	md := map[string][]string{
		"x-functions-key": {"", "header-key-0123456789"},
		"authorization":   {"Basic dXNlcg==", "Bearer  bearer-key-0123456789 ", "Bearer "},
	}
	got := FromMetadata(func(name string) []string { return md[name] })
	if len(got) != 2 || got[0] != "header-key-0123456789" || got[1] != "bearer-key-0123456789" {
		t.Fatalf("FromMetadata = %q: want the header key and the bearer token, nothing empty", got)
	}
	if got := FromMetadata(func(string) []string { return nil }); len(got) != 0 {
		t.Fatalf("no metadata: %q", got)
	}
}
