package azblob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	azsdk "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/azblob"
	"github.com/orcahq/orca/internal/blob/blobtest"
	"github.com/orcahq/orca/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// client returns a client of the Azurite that scripts/services/azurite.sh starts.
func client(t testing.TB) *azsdk.Client {
	t.Helper()
	endpoint := testenv.Service(t, "azurite.sh", "ORCA_TEST_AZURITE_BLOB")[0]
	c, err := azblob.NewClient(azblob.ClientConfig{Account: azurite.Account, Key: azurite.Key, Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lockAccount serialises the tests that use the emulator's account directly (orca containers
// are Azure containers of the same name, so two runs would share them) across the processes of
// this machine, until t ends.
func lockAccount(t *testing.T, endpoint string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "orca-test-azurite-"+u.Port()+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
}

// tracking deletes, when its test ends, the containers its puts went to.
type tracking struct {
	*azblob.Store
	mu   sync.Mutex
	used map[string]bool
}

func (tr *tracking) Put(ctx context.Context, container, name string, content io.Reader, contentType string) (*blob.Info, error) {
	info, err := tr.Store.Put(ctx, container, name, content, contentType)
	if blob.ValidateContainer(container) == nil {
		tr.mu.Lock()
		tr.used[container] = true // also after a failed put, which may have created it
		tr.mu.Unlock()
	}
	return info, err
}

func newStore(t *testing.T, c *azsdk.Client, cfg azblob.Config) *tracking {
	t.Helper()
	cfg.Client = c
	s, err := azblob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	tr := &tracking{Store: s, used: map[string]bool{}}
	t.Cleanup(func() {
		for name := range tr.used {
			if _, err := c.DeleteContainer(context.Background(), name, nil); err != nil && !strings.Contains(err.Error(), "ContainerNotFound") {
				t.Errorf("delete container %s: %v", name, err)
			}
		}
	})
	return tr
}

func TestConformance(t *testing.T) {
	c := client(t)
	lockAccount(t, os.Getenv("ORCA_TEST_AZURITE_BLOB"))
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// The smallest block size that keeps LargeStreamed (8 MiB) in several blocks.
		return newStore(t, c, azblob.Config{BlockSize: 3 << 20})
	})
}

func randomContainer() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "orca-test-" + hex.EncodeToString(b[:])
}

func TestEventsAfterThePut(t *testing.T) {
	c := client(t)
	rec := &blobtest.Recorder{}
	s := newStore(t, c, azblob.Config{Events: rec, Store: rec, BlockSize: 1 << 20})
	cont := randomContainer()
	small, err := s.Put(t.Context(), cont, "small.json", strings.NewReader(`{"result":1}`), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	large, err := s.Put(t.Context(), cont, "large.bin", bytes.NewReader(make([]byte, 3<<20)), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Infos) != 2 || len(rec.Published) != 2 {
		t.Fatalf("events built %d, published %d; want 2 each", len(rec.Infos), len(rec.Published))
	}
	for i, want := range []*blob.Info{small, large} {
		if rec.Infos[i] != *want {
			t.Errorf("event %d for %+v, want %+v (what Put returned)", i, rec.Infos[i], *want)
		}
	}
	if string(rec.Content[0]) != `{"result":1}` || rec.Content[1] != nil {
		t.Errorf("event content = %q, %d bytes; want the small blob's, then none", rec.Content[0], len(rec.Content[1]))
	}
	boom := errors.New("store down")
	rec.SetFail(boom)
	if _, err := s.Put(t.Context(), cont, "unannounced", strings.NewReader("x"), ""); !errors.Is(err, boom) {
		t.Fatalf("Put whose event cannot be written: %v, want the store's error", err)
	}
}

func TestMaxSize(t *testing.T) {
	c := client(t)
	s := newStore(t, c, azblob.Config{BlockSize: 1 << 20, MaxSize: 2 << 20})
	cont := randomContainer()
	for _, size := range []int{2<<20 + 1, 5 << 20} {
		_, err := s.Put(t.Context(), cont, "big", bytes.NewReader(make([]byte, size)), "")
		if !errors.Is(err, blob.ErrTooLarge) {
			t.Fatalf("Put of %d bytes: %v, want ErrTooLarge", size, err)
		}
	}
	if _, err := s.Head(t.Context(), cont, "big"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head after too large puts: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := azblob.New(azblob.Config{}); err == nil {
		t.Error("New without a client succeeded")
	}
	if _, err := azblob.NewClient(azblob.ClientConfig{Account: "a"}); err == nil {
		t.Error("NewClient without a key succeeded")
	}
	if _, err := azblob.NewClient(azblob.ClientConfig{ConnectionString: "AccountKey=secret;nonsense"}); err == nil ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("NewClient of a bad connection string: %v; want an error that does not quote it", err)
	}
}

// CreateContainers creates what is missing, leaves what exists, and the containers are then
// there for writers other than orca.
func TestCreateContainers(t *testing.T) {
	c := client(t)
	s := newStore(t, c, azblob.Config{})
	a, b := randomContainer(), randomContainer()
	for _, name := range []string{a, b} {
		s.used[name] = true // deleted when the test ends
	}
	if err := s.CreateContainers(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	// Another store (another server, or a restart) finds a existing and creates b.
	other := newStore(t, c, azblob.Config{})
	if err := other.CreateContainers(t.Context(), a, b); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{a, b} {
		if _, err := c.ServiceClient().NewContainerClient(name).GetProperties(t.Context(), nil); err != nil {
			t.Fatalf("container %s after CreateContainers: %v", name, err)
		}
	}
}
