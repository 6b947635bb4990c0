package blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// Chunks reads the content of a put in chunks, for backends that upload a large blob in parts
// and a small one in a single request (S3, Azure Blob). It reads one chunk ahead, so that it
// knows which chunk is the last, and it stops reading when the put's context is done.
type Chunks struct {
	r       io.Reader
	size    int64
	maxSize int64
	total   int64
	ahead   []byte
	eof     bool // r ended with ahead
	started bool
}

// NewChunks reads content in chunks of size bytes, failing with ErrTooLarge past maxSize bytes.
func NewChunks(ctx context.Context, content io.Reader, size, maxSize int64) *Chunks {
	if content == nil {
		content = bytes.NewReader(nil)
	}
	return &Chunks{r: &ctxReader{ctx: ctx, r: content}, size: size, maxSize: maxSize}
}

// Next returns the next chunk and whether it is the last (the first chunk of an empty content
// is empty and the last). A chunk is valid until the next call.
func (c *Chunks) Next() (chunk []byte, last bool, err error) {
	if !c.started {
		c.started = true
		if err := c.fill(); err != nil {
			return nil, false, err
		}
	}
	chunk = c.ahead
	if c.eof {
		return chunk, true, nil
	}
	if err := c.fill(); err != nil {
		return nil, false, err
	}
	if len(c.ahead) == 0 && c.eof {
		return chunk, true, nil
	}
	return chunk, false, nil
}

// Size is the number of bytes read so far.
func (c *Chunks) Size() int64 { return c.total }

// fill reads the chunk ahead (memory grows with the content, up to size).
func (c *Chunks) fill() error {
	b, err := io.ReadAll(io.LimitReader(c.r, c.size))
	if err != nil {
		return fmt.Errorf("read content: %w", err)
	}
	c.ahead, c.eof = b, int64(len(b)) < c.size
	c.total += int64(len(b))
	if c.total > c.maxSize {
		return fmt.Errorf("larger than %d bytes: %w", c.maxSize, ErrTooLarge)
	}
	return nil
}

// ContextReader returns a reader that fails with ctx's error once ctx is done, so that a put
// whose context is cancelled stops reading its content.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return &ctxReader{ctx: ctx, r: r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
