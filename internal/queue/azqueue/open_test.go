package azqueue_test

import (
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/queue/azqueue"
)

func TestOpenAzurite(t *testing.T) {
	ep := endpoint(t)
	env := map[string]string{
		"AZURE_STORAGE_KEY":               azurite.Key,
		"AZURE_STORAGE_CONNECTION_STRING": azurite.ConnectionString("", ep),
	}
	getenv := func(k string) string { return env[k] }
	for _, u := range []string{"azqueue://" + azurite.Account + "?endpoint=" + ep + "&prefix=" + randomPrefix(), "azqueue://?encoding=base64&prefix=" + randomPrefix()} {
		s, err := azqueue.Open(u, azqueue.Config{}, getenv)
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		if err := s.Check(t.Context()); err != nil {
			t.Fatalf("Check(%s): %v", u, err)
		}
		if _, err := s.Stats(t.Context(), "input"); err != nil {
			t.Fatalf("Stats through %s: %v", u, err)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	none := func(string) string { return "" }
	for _, c := range []struct{ url, want string }{
		{"azblob://acct", "scheme"},
		{"azqueue://user:secret@acct", "credentials"},
		{"azqueue://acct/path", "not a path"},
		{"azqueue://acct?bogus=1", "unknown parameter"},
		{"azqueue://acct?encoding=rot13", "encoding"},
		{"azqueue://acct?endpoint=ftp://x", "endpoint"},
		{"azqueue://acct?prefix=Bad_", "prefix"},
		{"azqueue://?endpoint=http://x", "needs an account"},
		{"azqueue://", "AZURE_STORAGE_CONNECTION_STRING"},
		{"azqueue://acct", "AZURE_STORAGE_KEY"},
	} {
		_, err := azqueue.Open(c.url, azqueue.Config{}, none)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%s) = %v; want an error about %q that does not quote a secret", c.url, err, c.want)
		}
	}
	if err := azqueue.CheckURL("azqueue://acct?endpoint=http://127.0.0.1:10001/acct&encoding=text"); err != nil {
		t.Errorf("CheckURL of a good URL: %v", err)
	}
}
