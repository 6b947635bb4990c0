package queueopen_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/queue/azqueue"
	"github.com/orcahq/orca/internal/queue/embedded"
	"github.com/orcahq/orca/internal/queue/queueopen"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
	"github.com/orcahq/orca/internal/testenv"
)

func TestCheck(t *testing.T) {
	for _, good := range []string{"", "azqueue://acct", "azqueue://?prefix=orca-", "azqueue://acct?endpoint=http://127.0.0.1:10001/acct&encoding=base64"} {
		if err := queueopen.Check(good); err != nil {
			t.Errorf("Check(%q): %v", good, err)
		}
	}
	for url, want := range map[string]string{
		"amqp://user:secret@broker/input": "Azure Storage Queue",
		"input":                           "Azure Storage Queue",
		"azqueue://user:secret@acct":      "credentials",
		"azqueue://acct?prefix=Bad_":      "prefix",
		"azqueue://acct?visibility=30":    "unknown parameter",
	} {
		err := queueopen.Check(url)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Check(%q) = %v; want an error about %q that does not quote a secret", url, err, want)
		}
	}
}

func TestOpenEmbeddedByDefault(t *testing.T) {
	s, err := queueopen.Open(t.Context(), "", queueopen.Deps{Store: sqlitetest.Open(t, sqlite.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*embedded.Service); !ok {
		t.Fatalf("Open(\"\") = %T, want the embedded queue", s)
	}
	if err := queueopen.CheckQueue(s, "input"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenAzure(t *testing.T) {
	ep := testenv.Service(t, "azurite.sh", "ORCA_TEST_AZURITE_QUEUE")[0]
	cs := azurite.ConnectionString("", ep)
	getenv := func(k string) string {
		if k == "AZURE_STORAGE_CONNECTION_STRING" {
			return cs
		}
		return ""
	}
	prefix := "qo-" + strings.Repeat("p", 40) + "-"
	s, err := queueopen.Open(t.Context(), "azqueue://?prefix="+prefix, queueopen.Deps{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*azqueue.Service); !ok {
		t.Fatalf("Open(azqueue://) = %T, want the Azure queue", s)
	}
	// 44 characters of prefix leave 12 for a name whose poison queue fits Azure's 63.
	if err := queueopen.CheckQueue(s, "input"); err != nil {
		t.Fatal(err)
	}
	if err := queueopen.CheckQueue(s, "a-thirteen-ch"); !errors.Is(err, queue.ErrInvalidName) {
		t.Fatalf("CheckQueue of a name too long with the prefix: %v", err)
	}
	// A wrong endpoint fails Open, not the first run.
	bad := func(k string) string {
		if k == "AZURE_STORAGE_CONNECTION_STRING" {
			return strings.Replace(cs, ep, "http://127.0.0.1:1/"+azurite.Account, 1)
		}
		return ""
	}
	if _, err := queueopen.Open(t.Context(), "azqueue://", queueopen.Deps{Getenv: bad}); err == nil || !strings.Contains(err.Error(), "queue endpoint") {
		t.Fatalf("Open on a dead endpoint: %v", err)
	}
}
