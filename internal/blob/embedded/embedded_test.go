package embedded_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/blob/blobtest"
	"github.com/orcahq/orca/internal/blob/embedded"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/store"
	"github.com/orcahq/orca/internal/store/sqlite"
	"github.com/orcahq/orca/internal/store/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// openStore opens a SQLite store in dir, closed when t ends.
func openStore(t testing.TB, dir string) *sqlite.Backend {
	t.Helper()
	return sqlitetest.Open(t, sqlite.Config{Path: filepath.Join(dir, "orca.db")})
}

// newBlobs returns a blob store on st with its files in dir.
func newBlobs(t testing.TB, st store.ComputeBackend, dir string, cfg embedded.Config) *embedded.Store {
	t.Helper()
	cfg.Store, cfg.Dir = st, dir
	s, err := embedded.New(cfg)
	if err != nil {
		t.Fatalf("embedded.New: %v", err)
	}
	return s
}

// tempLister lets the conformance suite see the store's temporary files.
type tempLister struct {
	*embedded.Store
	dir string
}

func (l tempLister) TempFiles() ([]string, error) { return files(filepath.Join(l.dir, "tmp")) }

// files lists the regular files under dir, relative to it.
func files(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

func dataFiles(t *testing.T, dir string) []string {
	t.Helper()
	fs, err := files(filepath.Join(dir, "blobs", "data"))
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestConformance(t *testing.T) {
	for _, c := range []struct {
		name   string
		inline int64
	}{
		{"DefaultInlineLimit", 0},
		{"SmallInlineLimit", 1 << 10},
		{"AllInFiles", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) blob.Store {
				dir := t.TempDir()
				s := newBlobs(t, openStore(t, dir), filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: c.inline})
				// Cleanups run last-registered first: this check runs before the store closes.
				// Whatever a case did, no file is left that no blob refers to.
				t.Cleanup(func() {
					n, err := s.SweepOrphans(context.Background())
					if err != nil || n != 0 {
						t.Errorf("after the case, SweepOrphans removed %d files (%v); want none left behind", n, err)
					}
				})
				return tempLister{Store: s, dir: filepath.Join(dir, "blobs")}
			})
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	for _, c := range []struct {
		name string
		cfg  embedded.Config
	}{
		{"NoStore", embedded.Config{Dir: dir}},
		{"NoDir", embedded.Config{Store: st}},
		{"NegativeMaxSize", embedded.Config{Store: st, Dir: dir, MaxSize: -1}},
	} {
		if _, err := embedded.New(c.cfg); err == nil {
			t.Errorf("%s: New succeeded", c.name)
		}
	}
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{})
	if got := s.InlineLimit(); got != embedded.DefaultInlineLimit {
		t.Errorf("default InlineLimit() = %d, want %d", got, embedded.DefaultInlineLimit)
	}
	s = newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{MaxSize: 100})
	if got := s.InlineLimit(); got != 100 {
		t.Errorf("InlineLimit() with MaxSize 100 = %d, want 100", got)
	}
}

// Small blobs live in the database, large ones in a file each; replacing or deleting a blob
// removes its file.
func TestWhereContentLives(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st := openStore(t, dir)
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: 100})
	putBytes(t, s, "small", bytes.Repeat([]byte("s"), 100))
	putBytes(t, s, "large", bytes.Repeat([]byte("l"), 101))
	if bi, data, err := st.BlobGet(ctx, "cont", "small"); err != nil || bi.FilePath != "" || len(data) != 100 {
		t.Fatalf("small blob: %+v, %d bytes inline (%v); want 100 bytes inline", bi, len(data), err)
	}
	bi, data, err := st.BlobGet(ctx, "cont", "large")
	if err != nil || data != nil || !strings.HasPrefix(bi.FilePath, "data/cont/") {
		t.Fatalf("large blob: %+v, %d bytes inline (%v); want a file under data/cont/", bi, len(data), err)
	}
	if got := dataFiles(t, dir); !slices.Equal(got, []string{strings.TrimPrefix(bi.FilePath, "data/")}) {
		t.Fatalf("data files = %v, want the large blob's only", got)
	}
	putBytes(t, s, "large", []byte("now small"))
	if got := dataFiles(t, dir); len(got) != 0 {
		t.Fatalf("data files after replacing the large blob with a small one = %v, want none", got)
	}
	putBytes(t, s, "large", bytes.Repeat([]byte("l"), 1000))
	putBytes(t, s, "large", bytes.Repeat([]byte("m"), 1000))
	if got := dataFiles(t, dir); len(got) != 1 {
		t.Fatalf("data files after replacing a large blob with another = %v, want one", got)
	}
	if err := s.Delete(ctx, "cont", "large"); err != nil {
		t.Fatal(err)
	}
	if got := dataFiles(t, dir); len(got) != 0 {
		t.Fatalf("data files after deleting the large blob = %v, want none", got)
	}
}

func putBytes(t *testing.T, s blob.Store, name string, data []byte) *blob.Info {
	t.Helper()
	info, err := s.Put(t.Context(), "cont", name, bytes.NewReader(data), "")
	if err != nil {
		t.Fatalf("Put(cont/%s): %v", name, err)
	}
	return info
}

// recorder is a blob.Events that sends every BlobCreated to instance "i1" and to the outbox of
// subscription "hook", and records what it was given.
type recorder struct {
	mu      sync.Mutex
	infos   []blob.Info
	content [][]byte
	after   int
	fail    error
}

func (r *recorder) BlobCreated(ctx context.Context, info *blob.Info, content []byte) (store.Effects, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return store.Effects{}, nil, r.fail
	}
	r.infos = append(r.infos, *info)
	r.content = append(r.content, content)
	ev := history.NewEventRaised(info.CreatedAt, "BlobCreated", []byte(`"`+info.Name+`"`))
	eff := store.Effects{
		Messages: []*store.Message{{InstanceID: "i1", Event: ev}},
		Deliveries: []*store.DeliveryCreate{{Subscription: "hook", EventID: "ev-" + info.ETag,
			Event: []byte(`{"subject":"` + info.Name + `"}`), ExpiresAt: info.CreatedAt.Add(time.Hour)}},
	}
	return eff, func() {
		r.mu.Lock()
		r.after++
		r.mu.Unlock()
	}, nil
}

func createInstance(t *testing.T, st store.Backend, id string, now time.Time) {
	t.Helper()
	err := st.InstanceCreate(t.Context(), &store.InstanceCreateParams{ID: id, Name: "Orch", CreatedAt: now,
		Started: history.NewExecutionStarted(now, history.ExecutionStartedAttrs{Name: "Orch", ExecutionID: id + "-e1"})})
	if err != nil {
		t.Fatal(err)
	}
}

// The Events hook gets the blob's description (and its content when inline) before the write,
// its effects commit with the blob, and after runs once they did.
func TestEventsCommitWithTheBlob(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st := openStore(t, dir)
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	createInstance(t, st, "i1", now)
	rec := &recorder{}
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{Events: rec, InlineLimit: 100,
		Clock: func() time.Time { return now }})

	small := putBytes(t, s, "out/small.json", []byte(`{"result":1}`))
	large := putBytes(t, s, "out/large.bin", bytes.Repeat([]byte("x"), 500))

	if len(rec.infos) != 2 || rec.after != 2 {
		t.Fatalf("hook called %d times, after %d times; want 2 and 2", len(rec.infos), rec.after)
	}
	for i, want := range []*blob.Info{small, large} {
		if rec.infos[i] != *want {
			t.Errorf("hook got %+v, want %+v (what Put returned)", rec.infos[i], *want)
		}
	}
	if !small.CreatedAt.Equal(now) || small.ContentType != embedded.DefaultContentType {
		t.Errorf("Info %+v: want CreatedAt from the clock and the default content type", small)
	}
	if string(rec.content[0]) != `{"result":1}` || rec.content[1] != nil {
		t.Errorf("hook content = %q, %q; want the inline bytes, then nil for a file-backed blob", rec.content[0], rec.content[1])
	}

	msgs, err := st.OrchestrationInbox(ctx, "i1", now.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var raised []string
	for _, m := range msgs {
		if m.Event.Type == history.EventRaised {
			raised = append(raised, string(m.Event.EventRaised.Input))
		}
	}
	if !slices.Equal(raised, []string{`"out/small.json"`, `"out/large.bin"`}) {
		t.Fatalf("inbox of i1 holds events %v, want one per put", raised)
	}
	ds, err := st.DeliveryLease(ctx, &store.DeliveryLeaseParams{Owner: "test", Now: now.Add(time.Minute),
		LockExpiry: now.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].EventID != "ev-"+small.ETag || ds[1].EventID != "ev-"+large.ETag || ds[0].Subscription != "hook" {
		t.Fatalf("outbox = %+v, want one delivery per put", ds)
	}
}

// A hook that fails fails the put, and nothing is written.
func TestEventsErrorFailsThePut(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	boom := errors.New("no route")
	rec := &recorder{fail: boom}
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{Events: rec, InlineLimit: 100})
	for _, size := range []int{10, 1000} {
		_, err := s.Put(t.Context(), "cont", "x", bytes.NewReader(make([]byte, size)), "")
		if !errors.Is(err, boom) {
			t.Fatalf("Put of %d bytes with a failing hook: %v, want it to wrap the hook's error", size, err)
		}
		if _, err := s.Head(t.Context(), "cont", "x"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Head after a failed put: %v, want ErrNotFound", err)
		}
	}
	if got := dataFiles(t, dir); len(got) != 0 {
		t.Fatalf("data files = %v, want none", got)
	}
	if got, _ := files(filepath.Join(dir, "blobs", "tmp")); len(got) != 0 {
		t.Fatalf("temporary files = %v, want none", got)
	}
}

// failingStore fails BlobPut on demand, as a store whose commit fails would.
type failingStore struct {
	store.ComputeBackend
	fail error
}

func (f *failingStore) BlobPut(ctx context.Context, p *store.BlobPutParams) (*store.BlobInfo, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return f.ComputeBackend.BlobPut(ctx, p)
}

// When the row cannot be written, the file written for it is removed, the previous blob stays,
// and the hook's after does not run.
func TestFailedCommitRemovesTheFile(t *testing.T) {
	dir := t.TempDir()
	st := &failingStore{ComputeBackend: openStore(t, dir)}
	rec := &recorder{}
	createInstance(t, st.ComputeBackend.(store.Backend), "i1", time.Now())
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{Events: rec, InlineLimit: 100})
	prev := putBytes(t, s, "x", bytes.Repeat([]byte("p"), 1000))
	st.fail = errors.New("disk full")
	for _, size := range []int{10, 1000} {
		if _, err := s.Put(t.Context(), "cont", "x", bytes.NewReader(make([]byte, size)), ""); !errors.Is(err, st.fail) {
			t.Fatalf("Put of %d bytes when the store fails: %v", size, err)
		}
	}
	if rec.after != 1 {
		t.Fatalf("after ran %d times, want once (for the put that committed)", rec.after)
	}
	data, info, err := blob.ReadAll(t.Context(), s, "cont", "x")
	if err != nil || info.ETag != prev.ETag || !bytes.Equal(data, bytes.Repeat([]byte("p"), 1000)) {
		t.Fatalf("previous blob after failed puts: %+v (%v)", info, err)
	}
	if got := dataFiles(t, dir); len(got) != 1 {
		t.Fatalf("data files = %v, want only the previous blob's", got)
	}
}

// Files a crash left behind (renamed into place but never committed, or still temporary) are
// removed when the store opens; files the store did not create are left alone.
func TestNewSweepsOrphans(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	blobs := filepath.Join(dir, "blobs")
	s := newBlobs(t, st, blobs, embedded.Config{InlineLimit: 10})
	live := putBytes(t, s, "live", bytes.Repeat([]byte("l"), 100))

	orphan := filepath.Join(blobs, "data", "cont", strings.Repeat("ab", 16))
	orphanNew := filepath.Join(blobs, "data", "newcont", strings.Repeat("cd", 16))
	temp := filepath.Join(blobs, "tmp", strings.Repeat("ef", 16))
	foreign := []string{filepath.Join(blobs, "data", "cont", "README"), filepath.Join(blobs, "data", "Not_A_Container", strings.Repeat("ab", 16)),
		filepath.Join(blobs, "tmp", "notes.txt")}
	for _, f := range append([]string{orphan, orphanNew, temp}, foreign...) {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("left behind"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	s = newBlobs(t, st, blobs, embedded.Config{InlineLimit: 10})
	for _, f := range []string{orphan, orphanNew, temp} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("orphan %s still there (%v)", f, err)
		}
	}
	for _, f := range foreign {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a file the store did not create was touched: %v", err)
		}
	}
	data, info, err := blob.ReadAll(t.Context(), s, "cont", "live")
	if err != nil || info.ETag != live.ETag || len(data) != 100 {
		t.Fatalf("live blob after the sweep: %+v (%v)", info, err)
	}
	if n, err := s.SweepOrphans(t.Context()); n != 0 || err != nil {
		t.Fatalf("second sweep removed %d (%v), want 0", n, err)
	}
}

// Sweeping while file-backed puts, replaces and deletes run never removes a live blob's file.
func TestSweepDuringPuts(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: 10})
	ctx := t.Context()
	stop := make(chan struct{})
	var sweeper sync.WaitGroup
	sweeper.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.SweepOrphans(ctx); err != nil {
				t.Errorf("SweepOrphans: %v", err)
				return
			}
		}
	})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for k := range 20 {
				name := []string{"a", "b", "c"}[(w+k)%3]
				if _, err := s.Put(ctx, "cont", name, bytes.NewReader(bytes.Repeat([]byte{byte(w)}, 100+k)), ""); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				if k%7 == 6 {
					if err := s.Delete(ctx, "cont", name); err != nil && !errors.Is(err, blob.ErrNotFound) {
						t.Errorf("Delete: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sweeper.Wait()
	for _, name := range []string{"a", "b", "c"} {
		data, info, err := blob.ReadAll(ctx, s, "cont", name)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		if err != nil || int64(len(data)) != info.Size {
			t.Fatalf("blob %s after puts raced with sweeps: %d bytes, %+v (%v)", name, len(data), info, err)
		}
	}
	if n, err := s.SweepOrphans(ctx); n != 0 || err != nil {
		t.Fatalf("final sweep removed %d files (%v), want 0", n, err)
	}
}

func TestMaxSize(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: 100, MaxSize: 1000})
	prev := putBytes(t, s, "x", bytes.Repeat([]byte("p"), 1000))
	for _, size := range []int{1001, 5000} {
		_, err := s.Put(t.Context(), "cont", "x", bytes.NewReader(make([]byte, size)), "")
		if !errors.Is(err, blob.ErrTooLarge) {
			t.Fatalf("Put of %d bytes with MaxSize 1000: %v, want ErrTooLarge", size, err)
		}
	}
	if _, err := s.Put(t.Context(), "cont", "new", bytes.NewReader(make([]byte, 1001)), ""); !errors.Is(err, blob.ErrTooLarge) {
		t.Fatalf("Put of a new name over MaxSize: %v, want ErrTooLarge", err)
	}
	if info, err := s.Head(t.Context(), "cont", "x"); err != nil || info.ETag != prev.ETag {
		t.Fatalf("previous blob after too large puts: %+v (%v)", info, err)
	}
	if _, err := s.Head(t.Context(), "cont", "new"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a too large put of a new name left a blob: %v", err)
	}
	if got := dataFiles(t, dir); len(got) != 1 {
		t.Fatalf("data files = %v, want only the previous blob's", got)
	}
	if got, _ := files(filepath.Join(dir, "blobs", "tmp")); len(got) != 0 {
		t.Fatalf("temporary files = %v, want none", got)
	}

	// A MaxSize under the inline limit lowers the limit: too large fails before any file.
	small := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{MaxSize: 50})
	if _, err := small.Put(t.Context(), "cont", "y", bytes.NewReader(make([]byte, 51)), ""); !errors.Is(err, blob.ErrTooLarge) {
		t.Fatalf("Put of 51 bytes with MaxSize 50: %v, want ErrTooLarge", err)
	}
	putBytes(t, small, "y", make([]byte, 50))
}

// A file-backed blob whose file lost bytes is reported, not served short.
func TestTruncatedFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: 10})
	putBytes(t, s, "x", bytes.Repeat([]byte("x"), 100))
	bi, _, err := st.BlobGet(t.Context(), "cont", "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, "blobs", filepath.FromSlash(bi.FilePath)), 50); err != nil {
		t.Fatal(err)
	}
	if rc, _, err := s.Get(t.Context(), "cont", "x"); err == nil {
		_ = rc.Close()
		t.Fatal("Get of a blob whose file was truncated succeeded")
	}
}

func TestListLimit(t *testing.T) {
	dir := t.TempDir()
	s := newBlobs(t, openStore(t, dir), filepath.Join(dir, "blobs"), embedded.Config{})
	if _, err := s.List(t.Context(), "cont", blob.ListOptions{Limit: -1}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("List with a negative limit: %v, want ErrInvalid", err)
	}
}

// Once the store is closed, puts fail with ErrClosed and leave no file.
func TestClosedStore(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	s := newBlobs(t, st, filepath.Join(dir, "blobs"), embedded.Config{InlineLimit: 10})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{5, 100} {
		if _, err := s.Put(t.Context(), "cont", "x", bytes.NewReader(make([]byte, size)), ""); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Put of %d bytes after Close: %v, want ErrClosed", size, err)
		}
	}
	if _, err := s.Head(t.Context(), "cont", "x"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Head after Close: %v, want ErrClosed", err)
	}
	if got := dataFiles(t, dir); len(got) != 0 {
		t.Fatalf("data files = %v, want none", got)
	}
}
