// Package embedded is the blob backend of a single node: blobs live in the orchestration store,
// small ones inline in the database and large ones in files under a directory, so that a put and
// the BlobCreated effects it causes commit in one transaction.
//
// A blob's row is its visibility point. A large blob is streamed to Dir/tmp, fsynced, renamed to
// Dir/data/<container>/<id> and its directory fsynced before the row that names it is committed;
// a file whose row never committed (a crash in between) is an orphan that SweepOrphans removes.
package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/store"
)

const (
	// DefaultInlineLimit is the largest blob kept in the database by default. Measured with
	// BenchmarkPut (durable puts of new blobs; medians of 8 interleaved runs on the 2-vCPU dev
	// machine; puts/s inline vs file): 1 writer: 1 KiB 1458 vs 470, 16 KiB 1126 vs 484, 32 KiB
	// 1134 vs 618, 64 KiB 715 vs 516, 128 KiB 477 vs 438, 256 KiB 279 vs 367, 1 MiB 103 vs 307;
	// 16 writers: 1 KiB 12502 vs 1272, 16 KiB 3814 vs 1391, 32 KiB 1816 vs 1440, 64 KiB 913 vs
	// 1180, 128 KiB 588 vs 1164, 256 KiB 338 vs 1084, 1 MiB 127 vs 818. Small blobs ride the
	// group commit and beat a durable file (write, fsync, rename, directory fsync) by 2-10x;
	// large ones pass through the single SQLite writer (and are written twice, WAL then
	// checkpoint) while files are written in parallel, so the crossover is ~150 KiB for one
	// writer and ~45 KiB for 16. 64 KiB sits between the two, bounds the content a group commit
	// carries (orchestration steps share the writer), and equals the largest result the compute
	// flow's BlobCreated handler takes from the event's content (a hook gets content only for
	// inline blobs).
	DefaultInlineLimit = 64 << 10
	// DefaultMaxSize is the largest blob by default (5 GiB, Azure's single-put limit).
	DefaultMaxSize = blob.DefaultMaxSize
	// DefaultContentType is the content type of a blob put without one.
	DefaultContentType = blob.DefaultContentType
	// DefaultListLimit is the page size of List when ListOptions.Limit is 0.
	DefaultListLimit = blob.DefaultListLimit
)

// Config configures a Store.
type Config struct {
	// Store holds the blobs' rows and inline content (required).
	Store store.ComputeBackend
	// Dir holds the files of large blobs: Dir/data/<container>/<id>, and Dir/tmp for puts in
	// progress (required).
	Dir string
	// Events builds the BlobCreated effects of every put; nil emits no events.
	Events blob.Events
	// InlineLimit is the largest blob stored inline in the database; larger ones go to files.
	// 0 means DefaultInlineLimit; negative stores every blob, even an empty one, in a file.
	InlineLimit int64
	// MaxSize is the largest blob; a larger put fails with blob.ErrTooLarge and leaves nothing
	// behind. 0 means DefaultMaxSize; negative is invalid.
	MaxSize int64
	// Clock gives blobs their creation time (default time.Now).
	Clock func() time.Time
	// Shared says other processes put into Dir too (several servers on one PostgreSQL store and
	// one directory). Another process's put may be between its file and its row, so the orphan
	// sweep then leaves alone every file younger than SharedOrphanAge.
	Shared bool
}

// SharedOrphanAge is how old a file must be before the sweep of a shared directory removes it as
// an orphan: far longer than any put takes from its file to its row.
const SharedOrphanAge = time.Hour

// Store is the embedded blob store. It is safe for concurrent use.
type Store struct {
	st        store.ComputeBackend
	dir       string
	events    blob.Events
	inline    int64 // effective: at most maxSize; -1 when nothing is inline
	maxSize   int64
	clock     func() time.Time
	shared    bool
	dataDir   string
	tmpDir    string
	syncers   sync.Map // container -> *dirSyncer
	mu        sync.Mutex
	inflight  map[string]struct{} // ids of temporary files of puts in progress
	publishMu sync.RWMutex        // held shared from a file's rename to its row's commit; SweepOrphans holds it exclusively
}

var _ blob.Store = (*Store)(nil)

// New returns a Store on cfg, creating Dir if needed, and removes files that no blob refers to
// (SweepOrphans) and temporary files left by puts a crash interrupted.
func New(cfg Config) (*Store, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("embedded blob store: Store is required")
	case cfg.Dir == "":
		return nil, errors.New("embedded blob store: Dir is required")
	}
	var err error
	if cfg.MaxSize, err = blob.MaxSize(cfg.MaxSize); err != nil {
		return nil, fmt.Errorf("embedded blob store: %w", err)
	}
	if cfg.InlineLimit == 0 {
		cfg.InlineLimit = DefaultInlineLimit
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded blob store: %w", err)
	}
	s := &Store{st: cfg.Store, dir: dir, events: cfg.Events, shared: cfg.Shared, inline: min(cfg.InlineLimit, cfg.MaxSize), maxSize: cfg.MaxSize,
		clock: cfg.Clock, dataDir: filepath.Join(dir, "data"), tmpDir: filepath.Join(dir, "tmp"), inflight: map[string]struct{}{}}
	if s.inline < 0 {
		s.inline = -1
	}
	for _, d := range []string{dir, s.dataDir, s.tmpDir} {
		if err := mkdirDurable(d); err != nil {
			return nil, fmt.Errorf("embedded blob store: %w", err)
		}
	}
	if _, err := s.SweepOrphans(context.Background()); err != nil {
		return nil, fmt.Errorf("embedded blob store: %w", err)
	}
	return s, nil
}

// InlineLimit returns the largest blob the store keeps inline in the database; -1 when every
// blob goes to a file.
func (s *Store) InlineLimit() int64 { return s.inline }

// Put writes a blob (see blob.Store). Content up to the inline limit is stored in the database;
// larger content is streamed to a file that is durable before the blob's row is committed.
// BlobCreated is built before the write and its effects commit with the row.
func (s *Store) Put(ctx context.Context, container, name string, content io.Reader, contentType string) (*blob.Info, error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, fmt.Errorf("put blob: %w", err)
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	if content == nil {
		content = bytes.NewReader(nil)
	}
	r := blob.ContextReader(ctx, content)
	head, err := io.ReadAll(io.LimitReader(r, s.inline+1))
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: read content: %w", container, name, err)
	}
	if int64(len(head)) <= s.inline {
		return s.putInline(ctx, container, name, head, contentType)
	}
	if s.inline == s.maxSize {
		return nil, fmt.Errorf("put blob %s/%s: larger than %d bytes: %w", container, name, s.maxSize, blob.ErrTooLarge)
	}
	return s.putFile(ctx, container, name, head, r, contentType)
}

func (s *Store) putInline(ctx context.Context, container, name string, data []byte, contentType string) (*blob.Info, error) {
	info := s.newInfo(container, name, int64(len(data)), contentType)
	p := &store.BlobPutParams{Info: toStoreInfo(info, ""), Data: data}
	after, err := s.blobCreated(ctx, info, data, &p.Effects)
	if err != nil {
		return nil, err
	}
	replaced, err := s.st.BlobPut(ctx, p)
	if err != nil {
		return nil, err
	}
	s.committed(replaced, after)
	return info, nil
}

func (s *Store) putFile(ctx context.Context, container, name string, head []byte, rest io.Reader, contentType string) (*blob.Info, error) {
	id := randomHex()
	s.mu.Lock()
	s.inflight[id] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, id)
		s.mu.Unlock()
	}()
	tmp := filepath.Join(s.tmpDir, id)
	size, err := s.writeTemp(tmp, head, rest)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("put blob %s/%s: %w", container, name, err)
	}
	info := s.newInfo(container, name, size, contentType)
	p := &store.BlobPutParams{Info: toStoreInfo(info, filepath.ToSlash(filepath.Join("data", container, id)))}
	after, err := s.blobCreated(ctx, info, nil, &p.Effects)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	replaced, err := s.publish(ctx, tmp, container, id, p)
	if err != nil {
		return nil, err
	}
	s.committed(replaced, after)
	return info, nil
}

// publish moves a durable temporary file into the container's directory and commits the row that
// names it. On an error neither the file nor the row is left.
func (s *Store) publish(ctx context.Context, tmp, container, id string, p *store.BlobPutParams) (*store.BlobInfo, error) {
	s.publishMu.RLock()
	defer s.publishMu.RUnlock()
	fail := func(path string, err error) (*store.BlobInfo, error) {
		_ = os.Remove(path)
		return nil, fmt.Errorf("put blob %s/%s: %w", p.Info.Container, p.Info.Name, err)
	}
	dir, syncer, err := s.containerDir(container)
	if err != nil {
		return fail(tmp, err)
	}
	final := filepath.Join(dir, id)
	if err := os.Rename(tmp, final); err != nil {
		return fail(tmp, err)
	}
	if err := syncer.sync(); err != nil {
		return fail(final, err)
	}
	replaced, err := s.st.BlobPut(ctx, p) // its errors name the blob already
	if err != nil {
		_ = os.Remove(final)
		return nil, err
	}
	return replaced, nil
}

// committed finishes a put whose row is durable: it removes the file of the blob it replaced and
// runs the event hook's after. A file that cannot be removed is an orphan for SweepOrphans.
func (s *Store) committed(replaced *store.BlobInfo, after func()) {
	if replaced != nil {
		s.removeFile(replaced.FilePath)
	}
	if after != nil {
		after()
	}
}

func (s *Store) newInfo(container, name string, size int64, contentType string) *blob.Info {
	return &blob.Info{Container: container, Name: name, Size: size, ContentType: contentType,
		ETag: `"` + randomHex() + `"`, CreatedAt: s.clock().Round(0).UTC()}
}

// blobCreated runs the event hook, if any, and stores its effects in eff.
func (s *Store) blobCreated(ctx context.Context, info *blob.Info, content []byte, eff *store.Effects) (func(), error) {
	if s.events == nil {
		return nil, nil
	}
	ci := *info
	e, after, err := s.events.BlobCreated(ctx, &ci, content)
	if err != nil {
		return nil, fmt.Errorf("put blob %s/%s: BlobCreated event: %w", info.Container, info.Name, err)
	}
	*eff = e
	return after, nil
}

// Get opens a blob: its bytes when inline, its file otherwise (see blob.Store).
func (s *Store) Get(ctx context.Context, container, name string) (io.ReadCloser, *blob.Info, error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, nil, fmt.Errorf("get blob: %w", err)
	}
	// A put or delete that commits between reading the row and opening its file removes the
	// file; the row is read again, a bounded number of times.
	const attempts = 8
	prev := ""
	for i := 0; ; i++ {
		bi, data, err := s.st.BlobGet(ctx, container, name)
		if err != nil {
			return nil, nil, mapError(err, container, name)
		}
		info := fromStoreInfo(bi)
		if bi.FilePath == "" {
			return io.NopCloser(bytes.NewReader(data)), info, nil
		}
		f, err := s.openFile(bi)
		if err == nil {
			return f, info, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || bi.FilePath == prev || i == attempts-1 {
			return nil, nil, fmt.Errorf("get blob %s/%s: %w", container, name, err)
		}
		prev = bi.FilePath
	}
}

// openFile opens the file of a blob and checks that it has the blob's size.
func (s *Store) openFile(bi *store.BlobInfo) (*os.File, error) {
	f, err := os.Open(s.abs(bi.FilePath))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if st.Size() != bi.Size {
		_ = f.Close()
		return nil, fmt.Errorf("file %s has %d bytes, the blob %d", bi.FilePath, st.Size(), bi.Size)
	}
	return f, nil
}

// Head describes a blob (see blob.Store).
func (s *Store) Head(ctx context.Context, container, name string) (*blob.Info, error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, fmt.Errorf("head blob: %w", err)
	}
	bi, err := s.st.BlobHead(ctx, container, name)
	if err != nil {
		return nil, mapError(err, container, name)
	}
	return fromStoreInfo(bi), nil
}

// Delete deletes a blob: its row, then its file (see blob.Store). A file that cannot be removed
// is an orphan for SweepOrphans; the blob is deleted all the same.
func (s *Store) Delete(ctx context.Context, container, name string) error {
	if err := blob.Validate(container, name); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	bi, err := s.st.BlobDelete(ctx, container, name)
	if err != nil {
		return mapError(err, container, name)
	}
	s.removeFile(bi.FilePath)
	return nil
}

// List pages through a container's blobs in name order (see blob.Store). A negative limit is
// invalid (store.ErrInvalid).
func (s *Store) List(ctx context.Context, container string, opts blob.ListOptions) (*blob.Page, error) {
	if err := blob.ValidateContainer(container); err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	if opts.Limit == 0 {
		opts.Limit = DefaultListLimit
	}
	sp, err := s.st.BlobList(ctx, &store.BlobListParams{Container: container, Prefix: opts.Prefix, Marker: opts.Marker, Limit: opts.Limit})
	if err != nil {
		return nil, err
	}
	page := &blob.Page{Blobs: make([]*blob.Info, len(sp.Blobs)), Next: sp.Next}
	for i, bi := range sp.Blobs {
		page.Blobs[i] = fromStoreInfo(bi)
	}
	return page, nil
}

// mapError maps the store's not-found onto blob.ErrNotFound.
func mapError(err error, container, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("blob %s/%s: %w", container, name, blob.ErrNotFound)
	}
	return err
}

func toStoreInfo(i *blob.Info, path string) store.BlobInfo {
	return store.BlobInfo{Container: i.Container, Name: i.Name, Size: i.Size, ContentType: i.ContentType, ETag: i.ETag,
		CreatedAt: i.CreatedAt, FilePath: path}
}

func fromStoreInfo(bi *store.BlobInfo) *blob.Info {
	return &blob.Info{Container: bi.Container, Name: bi.Name, Size: bi.Size, ContentType: bi.ContentType, ETag: bi.ETag,
		CreatedAt: bi.CreatedAt}
}

// randomHex returns 128 random bits in hex.
func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program rather than return an error
	return hex.EncodeToString(b[:])
}

// Store returns the orchestration store the blobs live in: a caller that writes to it too can
// put blobs in its own transaction (PrepareInline).
func (s *Store) Store() store.ComputeBackend { return s.st }

// PrepareInline builds the row of a put of content small enough to be inline, with its
// BlobCreated effects, for a transaction the caller commits itself (store.WorkItemComplete
// writes an output blob with its item's message delete). ok is false, and nothing is built,
// when the content is larger than the inline limit: put it with Put. Once the transaction
// has committed, the caller runs after and removes the file of the blob it replaced
// (RemoveFiles).
func (s *Store) PrepareInline(ctx context.Context, container, name string, data []byte, contentType string) (p *store.BlobPutParams, after func(), ok bool, err error) {
	if err := blob.Validate(container, name); err != nil {
		return nil, nil, false, fmt.Errorf("put blob: %w", err)
	}
	if int64(len(data)) > s.inline {
		return nil, nil, false, nil
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	if data == nil {
		data = []byte{}
	}
	info := s.newInfo(container, name, int64(len(data)), contentType)
	p = &store.BlobPutParams{Info: toStoreInfo(info, ""), Data: data}
	after, err = s.blobCreated(ctx, info, data, &p.Effects)
	if err != nil {
		return nil, nil, false, err
	}
	if after == nil {
		after = func() {}
	}
	return p, after, true, nil
}

// RemoveFiles removes the files of blobs that a caller's transaction replaced or deleted
// (store.WorkItemOutcome's Replaced and Deleted); nil ones and inline ones have none. A file
// that cannot be removed is an orphan for SweepOrphans.
func (s *Store) RemoveFiles(blobs ...*store.BlobInfo) {
	for _, bi := range blobs {
		if bi != nil {
			s.removeFile(bi.FilePath)
		}
	}
}
