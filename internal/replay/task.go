package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
)

// task is the orca.Task of every action and composite. Completion callbacks run on the executor's
// side, in history order, so composites (retries, WhenAll, WhenAny, event timeouts) are as
// deterministic as the history itself.
type task struct {
	e    *Executor
	name string
	id   int32 // action sequence number; -1 for tasks that are not one action

	done   bool
	result json.RawMessage
	err    error
	// collect, when set, decodes a composite's result in Await instead of result/err.
	collect   func(v any) error
	callbacks []func()
}

var _ orca.Task = (*task)(nil)

func (t *task) Done() bool { return t.done }

func (t *task) Await(v any) error {
	t.e.block(t)
	if t.collect != nil {
		return t.collect(v)
	}
	if t.err != nil {
		return t.err
	}
	return orca.UnmarshalPayload(t.result, v)
}

func (t *task) complete(result json.RawMessage, err error) {
	if t.done {
		return
	}
	t.done, t.result, t.err = true, result, err
	cbs := t.callbacks
	t.callbacks = nil
	for _, cb := range cbs {
		cb()
	}
}

func (t *task) onDone(cb func()) {
	if t.done {
		cb()
		return
	}
	t.callbacks = append(t.callbacks, cb)
}

func (t *task) failedError(f *history.FailureDetails) error {
	var d orca.FailureDetails
	if f != nil {
		d = orca.FailureDetails{ErrorType: f.ErrorType, ErrorMessage: f.ErrorMessage, StackTrace: f.StackTrace, NonRetriable: f.NonRetriable}
	}
	return &orca.TaskFailedError{Name: t.name, TaskID: t.id, Failure: d}
}

func (e *Executor) failedTask(name string, err error) *task {
	t := &task{e: e, name: name, id: -1}
	t.complete(nil, err)
	return t
}

func (e *Executor) newTimer(d time.Duration) *task {
	if d < 0 {
		d = 0
	}
	return e.takeAction(history.NewTimerCreated(e.currentTime, 0, e.currentTime.Add(d)), "timer")
}

// withRetry runs attempt(1) and, while policy allows, waits and runs the next attempt after each
// failure. Without a policy it is attempt(1) itself.
func (e *Executor) withRetry(name string, policy *orca.RetryPolicy, attempt func(n int) *task) orca.Task {
	if policy == nil {
		return attempt(1)
	}
	if err := policy.Validate(); err != nil {
		return e.failedTask(name, err)
	}
	outer := &task{e: e, name: name, id: -1}
	start := e.currentTime
	var run func(n int)
	run = func(n int) {
		t := attempt(n)
		outer.id = t.id
		t.onDone(func() {
			if t.err == nil || !policy.ShouldRetry(t.err, n, start, e.currentTime) {
				outer.complete(t.result, t.err)
				return
			}
			e.newTimer(policy.Delay(n + 1)).onDone(func() { run(n + 1) })
		})
	}
	run(1)
	return outer
}

func (e *Executor) asTasks(ts []orca.Task) []*task {
	out := make([]*task, len(ts))
	for i, t := range ts {
		tt, ok := t.(*task)
		if !ok || tt.e != e {
			panic("orca: WhenAll/WhenAny over a task of another orchestration")
		}
		out[i] = tt
	}
	return out
}

func (e *Executor) whenAll(ts []orca.Task) orca.Task {
	tasks := e.asTasks(ts)
	all := &task{e: e, name: "WhenAll", id: -1}
	all.collect = func(v any) error {
		for _, t := range tasks {
			if t.err != nil {
				return t.err
			}
		}
		if v == nil {
			return nil
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, t := range tasks {
			if i > 0 {
				buf.WriteByte(',')
			}
			if len(t.result) == 0 {
				buf.WriteString("null")
			} else {
				buf.Write(t.result)
			}
		}
		buf.WriteByte(']')
		return orca.UnmarshalPayload(buf.Bytes(), v)
	}
	remaining := 0
	for _, t := range tasks {
		if !t.done {
			remaining++
		}
	}
	if remaining == 0 {
		all.complete(nil, nil)
		return all
	}
	for _, t := range tasks {
		if !t.done {
			t.onDone(func() {
				remaining--
				if remaining == 0 {
					all.complete(nil, nil)
				}
			})
		}
	}
	return all
}

func (e *Executor) whenAny(ts []orca.Task) orca.Task {
	tasks := e.asTasks(ts)
	anyTask := &task{e: e, name: "WhenAny", id: -1}
	if len(tasks) == 0 {
		anyTask.complete(nil, errors.New("orca: WhenAny of no tasks"))
		return anyTask
	}
	for i, t := range tasks {
		if t.done {
			anyTask.complete(marshalIndex(i), nil)
			return anyTask
		}
	}
	for i, t := range tasks {
		t.onDone(func() { anyTask.complete(marshalIndex(i), nil) })
	}
	return anyTask
}
