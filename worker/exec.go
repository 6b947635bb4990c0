package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/orcahq/orca/compute"
)

// Exec is an Algorithm that runs an executable per item, in any language: the item's
// input_data JSON on stdin, the result JSON on stdout, logs on stderr (passed to the logger line
// by line). A non-zero exit, a result that is not JSON or a timeout is a failure whose reason
// carries the end of stderr.
type Exec struct {
	// Command is the program and its arguments.
	Command []string
	// Timeout bounds one run (default 10m); the process group is killed past it.
	Timeout time.Duration
	Logger  *slog.Logger
}

// itemTimeout is an executable's time limit per item: t, or 10m when t is not set.
func itemTimeout(t time.Duration) time.Duration {
	if t <= 0 {
		return 10 * time.Minute
	}
	return t
}

// stderrTail is how much of stderr a failure keeps.
const stderrTail = 2048

// Compute runs the command for one item.
func (e *Exec) Compute(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	if len(e.Command) == 0 {
		return nil, errors.New("exec: no command")
	}
	timeout := itemTimeout(e.Timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.Command[0], e.Command[1:]...)
	cmd.Stdin = bytes.NewReader(input)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	tail := &tailWriter{max: stderrTail, logger: e.Logger}
	cmd.Stderr = tail
	killGroupOnCancel(cmd)
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	tail.flush()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return nil, fmt.Errorf("timed out after %s%s", timeout, tail.reason())
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cancelled: %w", ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("%w%s", err, tail.reason())
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if !json.Valid(out) {
		return nil, fmt.Errorf("stdout is not JSON: %.200q%s", out, tail.reason())
	}
	return out, nil
}

// tailWriter keeps the last bytes written to it and logs complete lines.
type tailWriter struct {
	mu     sync.Mutex
	max    int
	buf    []byte
	line   []byte
	logger *slog.Logger
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	if t.logger != nil {
		t.line = append(t.line, p...)
		for {
			i := bytes.IndexByte(t.line, '\n')
			if i < 0 {
				break
			}
			t.logger.Info("algorithm: " + string(t.line[:i]))
			t.line = t.line[i+1:]
		}
		if len(t.line) > 64<<10 {
			t.logger.Info("algorithm: " + string(t.line))
			t.line = t.line[:0]
		}
	}
	return len(p), nil
}

func (t *tailWriter) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.logger != nil && len(t.line) > 0 {
		t.logger.Info("algorithm: " + string(t.line))
		t.line = nil
	}
}

// reason formats the stderr tail for a failure message.
func (t *tailWriter) reason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.buf))
	if s == "" {
		return ""
	}
	return ": " + s
}

var _ io.Writer = (*tailWriter)(nil)

// Demo is the seeds' demo algorithm: the sum of input_data, after delay.
func Demo(delay time.Duration) Algorithm {
	return AlgorithmFunc(func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return compute.Sum(input)
	})
}
