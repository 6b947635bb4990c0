// Package blob is orca's blob store: containers of named blobs that workers read their input
// from and write their results to. Every put through orca emits a Microsoft.Storage.BlobCreated
// event (see Events). Backends: embedded/ (in the orchestration store, large blobs in files);
// S3 and Azure Blob follow. Every backend runs the conformance suite in blobtest/.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/orcahq/orca/internal/store"
)

// Sentinel errors; backends map their native errors onto them.
var (
	ErrNotFound    = errors.New("blob not found")
	ErrInvalidName = errors.New("invalid blob or container name")
	ErrTooLarge    = errors.New("blob too large")
)

// Info describes a blob.
type Info struct {
	Container   string
	Name        string
	Size        int64
	ContentType string
	// ETag changes with every put of the name (quoted, as HTTP).
	ETag      string
	CreatedAt time.Time
}

// ListOptions page through a container. Limit 0 means the backend's default page size (1,000).
type ListOptions struct {
	Prefix string
	// Marker continues a listing: the Next of the previous page.
	Marker string
	Limit  int
}

// Page is a page of a listing, in name order. Next is empty on the last page; a page is never
// empty while Next is set.
type Page struct {
	Blobs []*Info
	Next  string
}

// Store is a blob store.
type Store interface {
	// Put writes a blob from content, replacing any blob of that name. A blob is either whole
	// or absent: a reader never sees a partial put, and a failed or interrupted put leaves the
	// previous blob (or none). It emits BlobCreated atomically with the write where the backend
	// can. An empty contentType means application/octet-stream.
	Put(ctx context.Context, container, name string, content io.Reader, contentType string) (*Info, error)
	// Get opens a blob for reading.
	Get(ctx context.Context, container, name string) (io.ReadCloser, *Info, error)
	// Head describes a blob.
	Head(ctx context.Context, container, name string) (*Info, error)
	// Delete deletes a blob (ErrNotFound if there is none).
	Delete(ctx context.Context, container, name string) error
	// List pages through a container's blobs by name.
	List(ctx context.Context, container string, opts ListOptions) (*Page, error)
}

// ContainerCreator is implemented by a store whose containers exist apart from their blobs
// (Azure): writers other than orca — the seeds' compute containers putting their outputs — find
// a missing container an error, so orca creates the containers of the compute flow at start.
// Elsewhere a container exists with its first blob.
type ContainerCreator interface {
	// CreateContainers creates the named containers that do not exist yet.
	CreateContainers(ctx context.Context, names ...string) error
}

// Events builds the BlobCreated event of a put. The embedded backend writes the effects it
// returns in the same transaction as the blob and calls after() once they are durable.
// content is the blob's content when it is small enough to be held in memory, else nil.
type Events interface {
	BlobCreated(ctx context.Context, info *Info, content []byte) (effects store.Effects, after func(), err error)
}

// DefaultContentType is the content type of a blob put without one.
const DefaultContentType = "application/octet-stream"

// DefaultListLimit is the page size of List when ListOptions.Limit is 0.
const DefaultListLimit = 1000

// DefaultMaxSize is a backend's largest blob unless its configuration says otherwise (5 GiB,
// Azure's single-put limit).
const DefaultMaxSize = 5 << 30

// MaxSize checks a backend's configured largest blob size and returns the size it means: max,
// or DefaultMaxSize when max is 0. A negative max is invalid.
func MaxSize(max int64) (int64, error) {
	switch {
	case max < 0:
		return 0, fmt.Errorf("MaxSize must not be negative, got %d", max)
	case max == 0:
		return DefaultMaxSize, nil
	}
	return max, nil
}

// MaxNameLength is the longest blob name (Azure's limit).
const MaxNameLength = 1024

// NameLimiter is implemented by a store that cannot hold names of MaxNameLength bytes in every
// container: S3's key limit covers the store's prefix and the container too. Longer names are
// refused with ErrInvalidName.
type NameLimiter interface {
	// MaxNameLength returns the longest name, in bytes, container can hold.
	MaxNameLength(container string) int
}

// MaxNameLengthOf returns the longest name s can hold in container.
func MaxNameLengthOf(s Store, container string) int {
	if l, ok := s.(NameLimiter); ok {
		return min(l.MaxNameLength(container), MaxNameLength)
	}
	return MaxNameLength
}

// ValidateContainer checks a container name against Azure's rules: 3 to 63 characters,
// lowercase letters, digits and hyphens, starting and ending with a letter or digit, no two
// hyphens in a row.
func ValidateContainer(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("container name %q must be 3 to 63 characters: %w", name, ErrInvalidName)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' && i > 0 && i < len(name)-1 && name[i-1] != '-'
		if !ok {
			return fmt.Errorf("container name %q: only lowercase letters, digits and single inner hyphens are allowed: %w", name, ErrInvalidName)
		}
	}
	return nil
}

// ValidateName checks a blob name: 1 to 1,024 bytes of UTF-8, no control characters or
// backslashes, not absolute, no empty, "." or ".." path segments, not ending with '/'. Names
// are paths: "input/abc/0.json" has three segments.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("blob name is empty: %w", ErrInvalidName)
	case len(name) > MaxNameLength:
		return fmt.Errorf("blob name is longer than %d bytes: %w", MaxNameLength, ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("blob name is not valid UTF-8: %w", ErrInvalidName)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("blob name %q contains a control character: %w", name, ErrInvalidName)
	case strings.Contains(name, `\`):
		return fmt.Errorf("blob name %q contains a backslash: %w", name, ErrInvalidName)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("blob name %q is absolute: %w", name, ErrInvalidName)
	case strings.HasSuffix(name, "/"):
		return fmt.Errorf("blob name %q ends with '/': %w", name, ErrInvalidName)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("blob name %q has an empty, '.' or '..' segment: %w", name, ErrInvalidName)
		}
	}
	return nil
}

// Validate checks a container and a blob name.
func Validate(container, name string) error {
	if err := ValidateContainer(container); err != nil {
		return err
	}
	return ValidateName(name)
}

// ReadAll reads a whole blob.
func ReadAll(ctx context.Context, s Store, container, name string) ([]byte, *Info, error) {
	rc, info, err := s.Get(ctx, container, name)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("read blob %s/%s: %w", container, name, err)
	}
	return b, info, nil
}

// PrepareList checks a List call's container and options and fills in the default limit.
func PrepareList(container string, opts ListOptions) (ListOptions, error) {
	if err := ValidateContainer(container); err != nil {
		return opts, fmt.Errorf("list blobs: %w", err)
	}
	if opts.Limit < 0 {
		return opts, fmt.Errorf("list blobs %s: negative limit %d", container, opts.Limit)
	}
	if opts.Limit == 0 {
		opts.Limit = DefaultListLimit
	}
	return opts, nil
}
