package embedded

import (
	"context"
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

// writeTemp writes head and then the rest of the content to a new file at path and fsyncs it.
// It returns the size, or blob.ErrTooLarge past the store's MaxSize. The caller removes the file
// on an error.
func (s *Store) writeTemp(path string, head []byte, rest io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	size, err := func() (int64, error) {
		if _, err := f.Write(head); err != nil {
			return 0, err
		}
		n, err := io.Copy(f, io.LimitReader(rest, s.maxSize-int64(len(head))+1))
		if err != nil {
			return 0, fmt.Errorf("write content: %w", err)
		}
		size := int64(len(head)) + n
		if size > s.maxSize {
			return 0, fmt.Errorf("larger than %d bytes: %w", s.maxSize, blob.ErrTooLarge)
		}
		return size, f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return size, err
}

// containerDir returns the directory of a container's files, created (durably) on first use,
// and the syncer of that directory.
func (s *Store) containerDir(container string) (string, *dirSyncer, error) {
	dir := filepath.Join(s.dataDir, container)
	if v, ok := s.syncers.Load(container); ok {
		return dir, v.(*dirSyncer), nil
	}
	if err := mkdirDurable(dir); err != nil {
		return "", nil, err
	}
	v, _ := s.syncers.LoadOrStore(container, newDirSyncer(dir))
	return dir, v.(*dirSyncer), nil
}

// abs resolves a blob's FilePath, which is relative to Dir (an absolute one is used as is).
func (s *Store) abs(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(s.dir, filepath.FromSlash(path))
}

// removeFile removes the file of a blob whose row is gone, if it had one. A failure leaves an
// orphan, which SweepOrphans removes later.
func (s *Store) removeFile(path string) {
	if path != "" {
		_ = os.Remove(s.abs(path))
	}
}

// SweepOrphans removes the files no blob refers to: files under Dir/data/<container>/ that no
// row of the container names (left by a crash between a file's rename and its row's commit, or
// by a failed removal), and temporary files under Dir/tmp of puts no longer in progress. Only
// files the store creates are considered (named by a 32-digit hex id, in a directory named as a
// valid container). It returns how many files it removed. New calls it; it is safe to call at
// any time, and file-backed puts wait while it runs.
func (s *Store) SweepOrphans(ctx context.Context) (int, error) {
	s.publishMu.Lock()
	defer s.publishMu.Unlock()
	removed, err := s.sweepTemp()
	if err != nil {
		return removed, fmt.Errorf("sweep orphaned blob files: %w", err)
	}
	containers, err := os.ReadDir(s.dataDir)
	if err != nil {
		return removed, fmt.Errorf("sweep orphaned blob files: %w", err)
	}
	var errs []error
	for _, c := range containers {
		if !c.IsDir() || blob.ValidateContainer(c.Name()) != nil {
			continue
		}
		n, err := s.sweepContainer(ctx, c.Name())
		removed += n
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("sweep orphaned blob files: %w", err)
	}
	return removed, ctx.Err()
}

// sweepTemp removes temporary files of puts that are no longer in progress.
func (s *Store) sweepTemp() (int, error) {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !isID(e.Name()) {
			continue
		}
		// A put registers its id before it creates the file, so a listed file whose id is not
		// registered belongs to a put that has ended (or to a previous process).
		s.mu.Lock()
		_, busy := s.inflight[e.Name()]
		s.mu.Unlock()
		if busy || s.tooYoung(e) {
			continue
		}
		switch err := os.Remove(filepath.Join(s.tmpDir, e.Name())); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// sweepContainer removes the files of a container that none of its rows names. The caller holds
// publishMu, so no file is between its rename and its commit.
func (s *Store) sweepContainer(ctx context.Context, container string) (int, error) {
	dir := filepath.Join(s.dataDir, container)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var candidates []string
	for _, e := range entries {
		if e.Type().IsRegular() && isID(e.Name()) && !s.tooYoung(e) {
			candidates = append(candidates, filepath.Join(dir, e.Name()))
		}
	}
	if len(candidates) == 0 {
		return 0, nil
	}
	referenced := map[string]bool{}
	p := &store.BlobListParams{Container: container, Limit: DefaultListLimit}
	for {
		page, err := s.st.BlobList(ctx, p)
		if err != nil {
			return 0, fmt.Errorf("list container %s: %w", container, err)
		}
		for _, bi := range page.Blobs {
			if bi.FilePath != "" {
				referenced[s.abs(bi.FilePath)] = true
			}
		}
		if page.Next == "" {
			break
		}
		p.Marker = page.Next
	}
	removed := 0
	var errs []error
	for _, path := range candidates {
		if referenced[path] {
			continue
		}
		switch err := os.Remove(path); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// tooYoung reports whether a file in a shared directory is too young to be taken for an orphan:
// another process's put may still be between the file and its row.
func (s *Store) tooYoung(e fs.DirEntry) bool {
	if !s.shared {
		return false
	}
	info, err := e.Info()
	return err != nil || time.Since(info.ModTime()) < SharedOrphanAge
}

// isID reports whether name is an id the store gives files: 32 lowercase hex digits.
func isID(name string) bool {
	if len(name) != 32 {
		return false
	}
	for _, c := range []byte(name) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// mkdirDurable creates a directory (and its parents) if missing, and fsyncs its parent so the new
// entry survives a power cut.
func mkdirDurable(path string) error {
	fi, err := os.Stat(path)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", path)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, making the renames and creations in it durable.
func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", path, err)
	}
	return nil
}

// dirSyncer fsyncs one directory for concurrent renames into it, sharing fsyncs between them:
// a caller is served by the first fsync that starts after it asks, and callers that arrive while
// an fsync runs share the next one.
type dirSyncer struct {
	path    string
	mu      sync.Mutex
	cond    *sync.Cond
	started uint64 // fsyncs started
	done    uint64 // fsyncs finished
	syncing bool
	err     error // of the last finished fsync
}

func newDirSyncer(path string) *dirSyncer {
	d := &dirSyncer{path: path}
	d.cond = sync.NewCond(&d.mu)
	return d
}

// sync returns once an fsync of the directory that started after the call has finished.
func (d *dirSyncer) sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := d.started + 1
	for d.done < want {
		if d.syncing {
			d.cond.Wait()
			continue
		}
		d.syncing = true
		d.started++
		gen := d.started
		d.mu.Unlock()
		err := syncDir(d.path)
		d.mu.Lock()
		d.syncing = false
		d.done, d.err = gen, err
		d.cond.Broadcast()
	}
	// Every fsync from want on started after the caller's rename, so the last one's outcome is
	// the caller's.
	return d.err
}
