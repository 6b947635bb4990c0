package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/backoff"
)

// Stream is an Algorithm that keeps its executable running and streams items to it, in any
// language: one process per item computed at once, started on first use and kept for the next
// items. For each item the worker writes one JSON line on the process's stdin,
//
//	{"input_id":3,"instance_id":"…","input_data":<the item's input_data>}
//
// and reads one line back on its stdout: {"result":<JSON>} or {"error":"why"} (the item fails,
// the process goes on). stderr goes to the log line by line. A line that is not one of these, a
// line over MaxLine, an exit mid-item or an item past Timeout fails the item with the reason
// and the end of stderr, kills the process's group and starts a new process for the next item,
// after a backoff while failures follow one another: a random delay of up to 100ms, up to twice
// that after each further failure, up to 5s.
type Stream struct {
	// Command is the program and its arguments.
	Command []string
	// Timeout bounds one item (default 10m).
	Timeout time.Duration
	Logger  *slog.Logger
	// MaxLine bounds a result line (default 16 MiB, the largest blob a result may make).
	MaxLine int

	mu        sync.Mutex
	idle      []*streamProc
	closed    bool
	restarts  backoff.Backoff // the delays of restarts after failures in a row
	notBefore time.Time       // when the next process may start
}

// Stream's defaults and bounds.
const (
	defaultStreamMaxLine = 16 << 20
	streamMinBackoff     = 100 * time.Millisecond
	streamMaxBackoff     = 5 * time.Second
	// streamCloseWait is how long Close lets a process exit on its own once its stdin is closed.
	streamCloseWait = 2 * time.Second
)

var _ ItemAlgorithm = (*Stream)(nil)

// errStreamClosed is what an item gets once the Stream is closed.
var errStreamClosed = errors.New("stream: closed")

// Compute runs an item that has no ids (a caller that is not a Run): they go as 0 and "".
func (s *Stream) Compute(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	return s.ComputeItem(ctx, compute.WorkItem{}, input)
}

// streamRequest is the line an item is sent as.
type streamRequest struct {
	InputID    int             `json:"input_id"`
	InstanceID string          `json:"instance_id"`
	InputData  json.RawMessage `json:"input_data"`
}

// streamResponse is the line read back.
type streamResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
}

// ComputeItem sends the item to an idle process (starting one if none is) and reads its answer.
func (s *Stream) ComputeItem(ctx context.Context, item compute.WorkItem, input json.RawMessage) (json.RawMessage, error) {
	line, err := json.Marshal(streamRequest{InputID: item.InputID, InstanceID: item.InstanceID, InputData: input})
	if err != nil {
		return nil, fmt.Errorf("stream: the item's input_data: %w", err)
	}
	p, err := s.take(ctx)
	if err != nil {
		return nil, err
	}
	timeout := itemTimeout(s.Timeout)
	res, healthy, err := p.exchange(ctx, append(line, '\n'), timeout)
	if !healthy {
		failure := err != nil && ctx.Err() == nil
		s.discard(p, failure)
		if failure {
			err = fmt.Errorf("%w%s", err, p.stderr.reason()) // reaped: its last words are in
		}
		return res, err
	}
	s.giveBack(p)
	return res, err
}

// take returns an idle process, or starts one once the restart backoff allows.
func (s *Stream) take(ctx context.Context) (*streamProc, error) {
	if len(s.Command) == 0 {
		return nil, errors.New("stream: no command")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errStreamClosed
	}
	if n := len(s.idle); n > 0 {
		p := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return p, nil
	}
	wait := time.Until(s.notBefore)
	s.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p, err := s.start()
	if err != nil {
		s.failed()
		return nil, err
	}
	return p, nil
}

// giveBack returns a healthy process to the idle ones; a success resets the restart backoff.
func (s *Stream) giveBack(p *streamProc) {
	s.mu.Lock()
	s.restarts.Reset()
	if !s.closed {
		s.idle = append(s.idle, p)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	p.close()
}

// discard kills a process that can no longer be trusted to be in step; a failure (not a
// cancellation) delays the next start.
func (s *Stream) discard(p *streamProc, failure bool) {
	p.kill()
	if failure {
		s.failed()
	}
}

// failed grows the restart backoff.
func (s *Stream) failed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restarts.Base, s.restarts.Cap = streamMinBackoff, streamMaxBackoff
	s.notBefore = time.Now().Add(s.restarts.Next())
}

// Close stops the idle processes: each has its stdin closed (the end of the stream) and
// streamCloseWait to exit before it is killed. An item computed after Close fails.
func (s *Stream) Close() error {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range idle {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close()
		}()
	}
	wg.Wait()
	return nil
}

// streamProc is one running process and its pipes.
type streamProc struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc // kills the process group
	stdin   *os.File           // pipes from os.Pipe take deadlines, so a hung process cannot block a call
	stdout  *os.File
	out     *bufio.Reader
	maxLine int
	stderr  *tailWriter
	waited  chan struct{} // closed once the process is reaped; waitErr is set then
	waitErr error
}

// start starts the command with pipes for stdin and stdout.
func (s *Stream) start() (*streamProc, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_ = inR.Close()
		_ = inW.Close()
		return nil, fmt.Errorf("stream: %w", err)
	}
	maxLine := s.MaxLine
	if maxLine <= 0 {
		maxLine = defaultStreamMaxLine
	}
	p := &streamProc{stdin: inW, stdout: outR, out: bufio.NewReaderSize(outR, 64<<10), maxLine: maxLine,
		stderr: &tailWriter{max: stderrTail, logger: s.Logger}, waited: make(chan struct{})}
	// The process outlives any one item: its context is cancelled only to kill it.
	var ctx context.Context
	ctx, p.cancel = context.WithCancel(context.Background())
	p.cmd = exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = inR, outW, p.stderr
	killGroupOnCancel(p.cmd) // the process group and, on Linux, death with the worker
	p.cmd.WaitDelay = time.Second
	err = p.cmd.Start()
	_ = inR.Close() // the child's ends
	_ = outW.Close()
	if err != nil {
		p.cancel()
		_ = inW.Close()
		_ = outR.Close()
		return nil, fmt.Errorf("stream: start %s: %w", s.Command[0], err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		p.stderr.flush()
		close(p.waited)
	}()
	return p, nil
}

// exchange sends one item's line and reads its answer. healthy says whether the process is
// still in step and may take the next item.
func (p *streamProc) exchange(ctx context.Context, line []byte, timeout time.Duration) (res json.RawMessage, healthy bool, err error) {
	deadline := time.Now().Add(timeout)
	_ = p.stdin.SetWriteDeadline(deadline)
	_ = p.stdout.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() {
		_ = p.stdin.SetWriteDeadline(time.Now())
		_ = p.stdout.SetReadDeadline(time.Now())
	})
	res, healthy, err = p.roundTrip(ctx, line, timeout)
	if !stop() && healthy {
		// Cancelled as the answer came: the deadlines may be moving still, so the process
		// takes no next item. The answer stands.
		healthy = false
	}
	return res, healthy, err
}

// roundTrip writes the line and reads the answer under the deadlines exchange set.
func (p *streamProc) roundTrip(ctx context.Context, line []byte, timeout time.Duration) (json.RawMessage, bool, error) {
	fail := func(what string, err error) (json.RawMessage, bool, error) {
		switch {
		case ctx.Err() != nil:
			return nil, false, fmt.Errorf("cancelled: %w", ctx.Err())
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, false, fmt.Errorf("no answer within %s", timeout)
		case errors.Is(err, io.EOF), errors.Is(err, os.ErrClosed), errors.Is(err, syscall.EPIPE):
			return nil, false, fmt.Errorf("the process exited mid-item (%s)", p.exitStatus())
		}
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	if _, err := p.stdin.Write(line); err != nil {
		return fail("write the item", err)
	}
	answer, err := p.readLine()
	if errors.Is(err, errLineTooLong) {
		return nil, false, fmt.Errorf("the answer is over %d bytes", p.maxLine)
	}
	if err != nil {
		return fail("read the answer", err)
	}
	var r streamResponse
	if err := json.Unmarshal(answer, &r); err != nil || (r.Error == nil && r.Result == nil) {
		return nil, false, fmt.Errorf(`the answer is not {"result": …} or {"error": "…"}: %.200q`, answer)
	}
	if r.Error != nil {
		return nil, true, errors.New(*r.Error)
	}
	return r.Result, true, nil
}

var errLineTooLong = errors.New("line too long")

// readLine reads one line of stdout, without its end, up to maxLine bytes.
func (p *streamProc) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := p.out.ReadSlice('\n')
		if len(line)+len(chunk) > p.maxLine+1 {
			return nil, errLineTooLong
		}
		switch {
		case err == nil:
			if line == nil {
				return bytes.TrimRight(chunk, "\r\n"), nil
			}
			return bytes.TrimRight(append(line, chunk...), "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			line = append(line, chunk...)
		default:
			return nil, err
		}
	}
}

// exitStatus says how the process ended, once it has.
func (p *streamProc) exitStatus() string {
	select {
	case <-p.waited:
		if p.waitErr == nil {
			return "exit status 0"
		}
		return p.waitErr.Error()
	case <-time.After(200 * time.Millisecond):
		return "its stdout closed"
	}
}

// kill kills the process's group and reaps it.
func (p *streamProc) kill() {
	p.cancel()
	<-p.waited
	_ = p.stdin.Close()
	_ = p.stdout.Close()
}

// close ends the stream: stdin closed, streamCloseWait to exit, then killed.
func (p *streamProc) close() {
	_ = p.stdin.Close()
	select {
	case <-p.waited:
		p.cancel()
		_ = p.stdout.Close()
	case <-time.After(streamCloseWait):
		p.kill()
	}
}
