// Package auth checks API keys. A key has a scope: admin (everything), worker (the data plane:
// queues and blobs) or reader (status, lists, history, the dashboard). Keys are kept as SHA-256
// hashes and compared in constant time; the plaintext of a key never needs to be stored.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Scope is what a key may do.
type Scope string

// Scopes. ScopeNone marks routes open to everyone (health checks).
const (
	ScopeNone   Scope = ""
	ScopeReader Scope = "reader"
	ScopeWorker Scope = "worker"
	ScopeAdmin  Scope = "admin"
)

// Valid reports whether s names a key scope.
func (s Scope) Valid() bool { return s == ScopeReader || s == ScopeWorker || s == ScopeAdmin }

// Allows reports whether a key of scope s may use a route that needs scope need.
func (s Scope) Allows(need Scope) bool {
	return need == ScopeNone || s == ScopeAdmin || s == need
}

// KeySpec declares a key, in the configuration file: the key itself, or its SHA-256 as
// "sha256:<64 hex digits>" (so the file need not hold the secret).
type KeySpec struct {
	Name   string `yaml:"name"`
	Scope  Scope  `yaml:"scope"`
	Key    string `yaml:"key,omitempty"`
	SHA256 string `yaml:"sha256,omitempty"`
}

// Key is a known key, by its hash.
type Key struct {
	Name  string
	Scope Scope
	hash  [sha256.Size]byte
}

// Keys is the set of known keys. The zero value (no keys) means the API is open.
type Keys struct {
	keys []Key
}

// MinKeyLength is the shortest key accepted.
const MinKeyLength = 16

// NewKeys builds the key set; every spec needs a name, a valid scope and exactly one of a key
// (at least MinKeyLength characters) or a sha256 hash. The error names the bad entry.
func NewKeys(specs []KeySpec) (*Keys, error) {
	k := &Keys{}
	names := map[string]bool{}
	for i, s := range specs {
		field := fmt.Sprintf("keys[%d]", i)
		switch {
		case s.Name == "":
			return nil, fmt.Errorf("%s.name: required", field)
		case names[s.Name]:
			return nil, fmt.Errorf("%s.name: %q is declared twice", field, s.Name)
		case !s.Scope.Valid():
			return nil, fmt.Errorf("%s.scope: %q: use admin, worker or reader", field, s.Scope)
		case (s.Key == "") == (s.SHA256 == ""):
			return nil, fmt.Errorf("%s: give exactly one of key and sha256", field)
		}
		names[s.Name] = true
		key := Key{Name: s.Name, Scope: s.Scope}
		if s.Key != "" {
			if len(s.Key) < MinKeyLength {
				return nil, fmt.Errorf("%s.key: shorter than %d characters", field, MinKeyLength)
			}
			key.hash = sha256.Sum256([]byte(s.Key))
		} else {
			h, err := hex.DecodeString(strings.TrimPrefix(s.SHA256, "sha256:"))
			if err != nil || len(h) != sha256.Size {
				return nil, fmt.Errorf("%s.sha256: not 64 hex digits", field)
			}
			copy(key.hash[:], h)
		}
		k.keys = append(k.keys, key)
	}
	return k, nil
}

// Add adds a key (e.g. one orca makes for its own workers).
func (k *Keys) Add(name string, scope Scope, key string) {
	k.keys = append(k.keys, Key{Name: name, Scope: scope, hash: sha256.Sum256([]byte(key))})
}

// Empty reports whether no keys are configured: the API is open.
func (k *Keys) Empty() bool { return k == nil || len(k.keys) == 0 }

// Check returns the key matching presented. Every known key is compared, in constant time, so
// the answer's timing says nothing about which keys exist.
func (k *Keys) Check(presented string) (Key, bool) {
	h := sha256.Sum256([]byte(presented))
	var found Key
	ok := 0
	for _, key := range k.keys {
		if subtle.ConstantTimeCompare(h[:], key.hash[:]) == 1 {
			found, ok = key, 1
		}
	}
	return found, ok == 1
}

// Hash returns the "sha256:..." form of a key, for configuration files.
func Hash(key string) string {
	h := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(h[:])
}

// Presented is a key found in a request and where it came from.
type Presented struct {
	Key string
	// InQuery is true when the key came as the code= query parameter (Durable Functions echoes
	// it into the management URLs it returns).
	InQuery bool
}

// ErrTwoKeys means a request carried different keys in different places.
var ErrTwoKeys = errors.New("the request carries different keys")

// FromMetadata lists the keys a gRPC call presents in its metadata (get is metadata.MD's Get):
// its x-functions-key values and Authorization Bearer tokens, empty ones left out.
func FromMetadata(get func(name string) []string) []string {
	var keys []string
	for _, v := range get("x-functions-key") {
		if v != "" {
			keys = append(keys, v)
		}
	}
	for _, v := range get("authorization") {
		if scheme, token, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
			keys = append(keys, strings.TrimSpace(token))
		}
	}
	return keys
}

// FromRequest finds the key of a request: the x-functions-key header, an Authorization Bearer
// token, or the code query parameter (any case).
func FromRequest(r *http.Request) (Presented, bool, error) {
	var found []Presented
	if v := r.Header.Get("x-functions-key"); v != "" {
		found = append(found, Presented{Key: v})
	}
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, token, _ := strings.Cut(v, " ")
		if strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
			found = append(found, Presented{Key: strings.TrimSpace(token)})
		}
	}
	for name, vs := range r.URL.Query() {
		if strings.EqualFold(name, "code") && len(vs) > 0 && vs[0] != "" {
			found = append(found, Presented{Key: vs[0], InQuery: true})
		}
	}
	if len(found) == 0 {
		return Presented{}, false, nil
	}
	for _, p := range found[1:] {
		if p.Key != found[0].Key {
			return Presented{}, false, ErrTwoKeys
		}
	}
	return found[len(found)-1], true, nil
}
