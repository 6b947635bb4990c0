package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/orcahq/orca"
)

// MaxItems is the most items one run may have.
const MaxItems = 1_000_000

// DefaultResultsBlobThreshold is how many results a run's output carries inline; above it they
// go to a blob (results/{instance}.json) named by the output's resultsBlob.
const DefaultResultsBlobThreshold = 10_000

// Spec is a run's input in its full form. A run also accepts a bare number N, a numeric string
// "N" (the seeds pass inputCount as a string) and {"inputCount": N}: N items whose input_data is
// [1,1], as in the seeds.
type Spec struct {
	InputCount json.RawMessage   `json:"inputCount,omitempty"`
	Items      []json.RawMessage `json:"items,omitempty"`
	// ItemTimeout, a Go duration ("10m"), is how long an item may take from its enqueue until
	// its completion; an item past it is enqueued again (ItemRetries times) and then failed.
	// Empty: no timeout (a failing item still ends, through the poison queue).
	ItemTimeout string `json:"itemTimeout,omitempty"`
	ItemRetries int    `json:"itemRetries,omitempty"`
	// ResultsBlobThreshold overrides DefaultResultsBlobThreshold.
	ResultsBlobThreshold int `json:"resultsBlobThreshold,omitempty"`
}

// Result is one item's result in a run's output.
type Result struct {
	InputID    int             `json:"input_id"`
	Result     json.RawMessage `json:"result,omitempty"`
	ResultBlob string          `json:"resultBlob,omitempty"`
}

// Failure is one failed item in a run's output.
type Failure struct {
	InputID int    `json:"input_id"`
	Reason  string `json:"reason"`
}

// RunOutput is a run's output.
type RunOutput struct {
	Total       int       `json:"total"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	Results     []Result  `json:"results,omitempty"`
	ResultsBlob string    `json:"resultsBlob,omitempty"`
	Failures    []Failure `json:"failures"`
}

// Progress is a running run's customStatus. Any orchestrator may report its progress in this
// shape (orca demo's does): the CLI and the dashboard draw a bar for it.
type Progress struct {
	Stage     string `json:"stage"`
	Total     int    `json:"total"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	InFlight  int    `json:"inFlight"`
}

// ParseProgress reads a customStatus that reports progress: one with a numeric total (not
// negative) and completed, as Progress has. ok is false for any other customStatus.
func ParseProgress(customStatus json.RawMessage) (p Progress, ok bool) {
	var fields struct {
		Total     *int `json:"total"`
		Completed *int `json:"completed"`
	}
	if json.Unmarshal(customStatus, &fields) != nil || fields.Total == nil || fields.Completed == nil || *fields.Total < 0 {
		return Progress{}, false
	}
	if json.Unmarshal(customStatus, &p) != nil {
		return Progress{}, false
	}
	return p, true
}

// ParseSpec reads a run's input in any of its accepted forms and returns the items' input data.
func ParseSpec(input json.RawMessage) (*Spec, []json.RawMessage, error) {
	spec := &Spec{}
	trimmed := strings.TrimSpace(string(input))
	switch {
	case trimmed == "" || trimmed == "null":
		return nil, nil, errors.New("no input: give a number of items, {\"inputCount\": N} or {\"items\": [...]}")
	case strings.HasPrefix(trimmed, "{"):
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(spec); err != nil {
			return nil, nil, fmt.Errorf("input: %w", err)
		}
	default:
		spec.InputCount = json.RawMessage(trimmed)
	}
	if spec.ItemRetries < 0 {
		return nil, nil, errors.New("itemRetries must not be negative")
	}
	if spec.ItemTimeout != "" {
		d, err := time.ParseDuration(spec.ItemTimeout)
		if err != nil || d <= 0 {
			return nil, nil, fmt.Errorf("itemTimeout %q is not a positive duration such as \"10m\"", spec.ItemTimeout)
		}
	}
	if spec.ResultsBlobThreshold < 0 {
		return nil, nil, errors.New("resultsBlobThreshold must not be negative")
	}
	if spec.ResultsBlobThreshold == 0 {
		spec.ResultsBlobThreshold = DefaultResultsBlobThreshold
	}
	switch {
	case len(spec.Items) > 0 && len(spec.InputCount) > 0:
		return nil, nil, errors.New("give either inputCount or items, not both")
	case len(spec.Items) > 0:
		if len(spec.Items) > MaxItems {
			return nil, nil, fmt.Errorf("%d items: at most %d per run", len(spec.Items), MaxItems)
		}
		return spec, spec.Items, nil
	case len(spec.InputCount) > 0:
		n, err := ParseInputCount(spec.InputCount)
		if err != nil {
			return nil, nil, err
		}
		items := make([]json.RawMessage, n)
		one := json.RawMessage(`[1,1]`) // shared: nothing writes to an item's data
		for i := range items {
			items[i] = one
		}
		return spec, items, nil
	}
	return nil, nil, errors.New("input has neither inputCount nor items")
}

// ParseInputCount reads an item count given as a JSON number or numeric string: a positive
// integer up to MaxItems.
func ParseInputCount(raw json.RawMessage) (int, error) {
	text := strings.TrimSpace(string(raw))
	if unq, err := strconv.Unquote(text); err == nil {
		text = strings.TrimSpace(unq)
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > MaxItems {
		return 0, fmt.Errorf("inputCount %s: must be a whole number from 1 to %d", raw, MaxItems)
	}
	return n, nil
}

// ActivityInput is the input of the Compute activity. The orchestrator leaves InstanceID out
// (the activity runs for its instance, and a 100,000-item fan-out holds every input in memory
// until its commit and in history after it); histories recorded with it still run.
type ActivityInput struct {
	InputID    int             `json:"input_id"`
	InstanceID string          `json:"instance_id,omitempty"`
	InputData  json.RawMessage `json:"input_data"`
}

// Orchestrator is ComputeOrchestrator.
func Orchestrator(ctx orca.OrchestrationContext) (any, error) {
	var raw json.RawMessage
	if err := ctx.Input(&raw); err != nil {
		return nil, orca.NonRetriable(err)
	}
	spec, items, err := ParseSpec(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid input: %w", err)
	}
	r := &run{ctx: ctx, spec: spec, items: items, state: make([]itemState, len(items)),
		results: make([]json.RawMessage, len(items)), resultBlobs: map[int]string{}, reasons: map[int]string{},
		event: ctx.WaitForExternalEvent(EventName)}
	if spec.ItemTimeout != "" {
		r.timeout, _ = time.ParseDuration(spec.ItemTimeout)
	}
	if err := r.enqueueAll(); err != nil {
		return nil, err
	}
	if err := r.collect(); err != nil {
		return nil, err
	}
	return r.finish()
}

type itemState struct {
	done     int8 // 0 pending, 1 succeeded, 2 failed
	attempts int
	deadline time.Time
}

type run struct {
	ctx         orca.OrchestrationContext
	spec        *Spec
	items       []json.RawMessage
	state       []itemState
	results     []json.RawMessage
	resultBlobs map[int]string
	reasons     map[int]string
	timeout     time.Duration
	succeeded   int
	failed      int
	// event waits for the next ComputeComplete, from the first enqueue on.
	event orca.Task
}

var computeRetry = orca.RetryPolicy{MaxAttempts: 5, FirstRetryInterval: time.Second, BackoffCoefficient: 2, MaxRetryInterval: 30 * time.Second}

func (r *run) compute(i int) orca.Task {
	r.state[i].attempts++
	return r.ctx.CallActivity(ActivityName, ActivityInput{InputID: i, InputData: r.items[i]}, orca.WithRetry(computeRetry))
}

// fanOutWindow is the most enqueue activities a run has scheduled and not yet seen finish. A
// run of up to this many items schedules them all in its first turn; a bigger one schedules the
// next as each one finishes, so its memory (every pending task, the first turn's commit) stays
// that of this many items, whatever its size. The actions and their order are the same either
// way: only the turns they fall in differ.
var fanOutWindow = 10_000

// enqueueAll writes every item's input and work item, reporting progress as it goes.
func (r *run) enqueueAll() error {
	n := len(r.items)
	tasks := make([]orca.Task, n)
	scheduled := 0
	scheduleUpTo := func(k int) {
		for ; scheduled < min(k, n); scheduled++ {
			tasks[scheduled] = r.compute(scheduled)
		}
	}
	scheduleUpTo(fanOutWindow)
	// enqueued counts the items enqueued so far: the i awaited and those past them whose
	// enqueue has finished too.
	enqueued := func(i int) int {
		k := i
		for _, t := range tasks[i:scheduled] {
			if t.Done() {
				k++
			}
		}
		return k
	}
	step := max(1, n/100)
	for i := range n {
		// Items that finish while others are still being enqueued count as they come, so the
		// progress shows them. Waiting for an event is no action: the actions and their order
		// are those of a run that counted them only after the enqueues.
		for !tasks[i].Done() {
			if r.event.Done() {
				if err := r.takeCompletion(); err != nil {
					return err
				}
				if (r.succeeded+r.failed)%step == 0 {
					if err := r.progress("enqueuing", enqueued(i)); err != nil {
						return err
					}
				}
				continue
			}
			if err := r.ctx.WhenAny(tasks[i], r.event).Await(nil); err != nil {
				return err
			}
		}
		err := tasks[i].Await(nil)
		tasks[i] = nil // done: let it go
		if err != nil {
			r.fail(i, "could not enqueue: "+err.Error())
		}
		scheduleUpTo(i + 1 + fanOutWindow)
		if (i+1)%step == 0 || i+1 == n {
			if err := r.progress("enqueuing", enqueued(i+1)); err != nil {
				return err
			}
		}
	}
	// One deadline for the whole batch keeps the timers (and the scans for expired items) few.
	if r.timeout > 0 {
		deadline := r.ctx.CurrentTime().Add(r.timeout)
		for i := range r.state {
			if r.state[i].done == 0 {
				r.state[i].deadline = deadline
			}
		}
	}
	return nil
}

func (r *run) progress(stage string, enqueued int) error {
	done := r.succeeded + r.failed
	return r.ctx.SetCustomStatus(Progress{Stage: stage, Total: len(r.items), Completed: r.succeeded, Failed: r.failed,
		InFlight: max(0, enqueued-done)})
}

func (r *run) remaining() int { return len(r.items) - r.succeeded - r.failed }

// takeCompletion records the ComputeComplete r.event got and waits for the next one.
func (r *run) takeCompletion() error {
	var c Completion
	if err := r.event.Await(&c); err != nil {
		return err
	}
	r.event = r.ctx.WaitForExternalEvent(EventName)
	r.complete(&c)
	return nil
}

// collect waits for every item's ComputeComplete event (or its timeout).
func (r *run) collect() error {
	var timer orca.Task
	for r.remaining() > 0 {
		if r.timeout > 0 {
			if timer == nil {
				timer = r.ctx.CreateTimer(r.nextDeadline().Sub(r.ctx.CurrentTime()))
			}
			var winner int
			if err := r.ctx.WhenAny(r.event, timer).Await(&winner); err != nil {
				return err
			}
			if winner == 1 {
				timer = nil
				if err := r.expire(); err != nil {
					return err
				}
				continue
			}
		}
		if err := r.takeCompletion(); err != nil {
			return err
		}
		if err := r.progress("computing", len(r.items)); err != nil {
			return err
		}
	}
	return nil
}

// complete records an item's outcome; duplicates and unknown items are ignored.
func (r *run) complete(c *Completion) {
	i := c.InputID
	if i < 0 || i >= len(r.items) || r.state[i].done != 0 {
		if !r.ctx.IsReplaying() {
			r.ctx.Logger().Debug("ignoring a duplicate or unknown completion", "input_id", i)
		}
		return
	}
	if !c.OK {
		reason := c.Reason
		if reason == "" {
			reason = "the worker reported a failure"
		}
		r.fail(i, reason)
		return
	}
	r.state[i].done = 1
	r.succeeded++
	r.results[i] = c.Result
	if len(c.Result) == 0 && c.Blob != "" {
		r.resultBlobs[i] = c.Blob
	}
}

func (r *run) fail(i int, reason string) {
	if r.state[i].done != 0 {
		return
	}
	r.state[i].done = 2
	r.failed++
	r.reasons[i] = reason
}

func (r *run) nextDeadline() time.Time {
	var next time.Time
	for _, s := range r.state {
		if s.done == 0 && !s.deadline.IsZero() && (next.IsZero() || s.deadline.Before(next)) {
			next = s.deadline
		}
	}
	if next.IsZero() {
		next = r.ctx.CurrentTime().Add(r.timeout)
	}
	return next
}

// expire enqueues again (or fails) the items past their deadline.
func (r *run) expire() error {
	now := r.ctx.CurrentTime()
	var again []int
	for i := range r.state {
		s := &r.state[i]
		if s.done != 0 || s.deadline.IsZero() || s.deadline.After(now) {
			continue
		}
		if s.attempts > r.spec.ItemRetries {
			r.fail(i, fmt.Sprintf("timed out after %d attempt(s) of %s", s.attempts, r.timeout))
			continue
		}
		again = append(again, i)
	}
	tasks := make([]orca.Task, len(again))
	for k, i := range again {
		tasks[k] = r.compute(i)
	}
	for k, t := range tasks {
		if err := t.Await(nil); err != nil {
			r.fail(again[k], "could not enqueue again: "+err.Error())
		}
	}
	deadline := r.ctx.CurrentTime().Add(r.timeout)
	for _, i := range again {
		if r.state[i].done == 0 {
			r.state[i].deadline = deadline
		}
	}
	return r.progress("computing", len(r.items))
}

// finish assembles the output; the run fails, keeping the output, when any item failed.
func (r *run) finish() (any, error) {
	out := RunOutput{Total: len(r.items), Succeeded: r.succeeded, Failed: r.failed, Failures: []Failure{}}
	results := make([]Result, 0, r.succeeded)
	for i, s := range r.state {
		if s.done == 1 {
			results = append(results, Result{InputID: i, Result: r.results[i], ResultBlob: r.resultBlobs[i]})
		}
	}
	if len(results) > r.spec.ResultsBlobThreshold {
		var name string
		if err := r.ctx.CallActivity(WriteResultsActivityName, results, orca.WithRetry(computeRetry)).Await(&name); err != nil {
			return nil, err
		}
		out.ResultsBlob = name
	} else {
		out.Results = results
	}
	ids := make([]int, 0, len(r.reasons))
	for i := range r.reasons {
		ids = append(ids, i)
	}
	sort.Ints(ids)
	for _, i := range ids {
		out.Failures = append(out.Failures, Failure{InputID: i, Reason: r.reasons[i]})
	}
	if err := r.ctx.SetCustomStatus(Progress{Stage: "done", Total: len(r.items), Completed: r.succeeded, Failed: r.failed}); err != nil {
		return nil, err
	}
	if r.failed > 0 {
		return nil, orca.FailWithOutput(out, fmt.Errorf("%d of %d items failed: %s", r.failed, len(r.items), itemList(ids)))
	}
	return out, nil
}

func itemList(ids []int) string {
	const show = 20
	var b strings.Builder
	for k, i := range ids {
		if k == show {
			fmt.Fprintf(&b, ", ... (%d more)", len(ids)-show)
			break
		}
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// Storage is what the activities need of the compute plane.
type Storage interface {
	PutBlob(ctx context.Context, container, name string, data []byte, contentType string) error
	Enqueue(ctx context.Context, queue string, body []byte) error
}

// Register adds ComputeOrchestrator and its activities to a registry. The work items go to
// queue (DefaultQueue when empty).
func Register(reg *orca.Registry, storage Storage, queue string) error {
	if queue == "" {
		queue = DefaultQueue
	}
	if err := reg.AddOrchestrator(OrchestratorName, Orchestrator); err != nil {
		return err
	}
	if err := reg.AddActivity(ActivityName, func(ctx orca.ActivityContext) (any, error) {
		var in ActivityInput
		if err := ctx.Input(&in); err != nil {
			return nil, orca.NonRetriable(err)
		}
		if in.InstanceID == "" {
			in.InstanceID = ctx.InstanceID()
		}
		name := InputBlobName(in.InstanceID, in.InputID)
		data, err := json.Marshal(Input(in))
		if err != nil {
			return nil, orca.NonRetriable(err)
		}
		if err := storage.PutBlob(ctx, InputContainer, name, data, "application/json"); err != nil {
			return nil, fmt.Errorf("write input blob: %w", err)
		}
		msg, err := json.Marshal(WorkItem{InputID: in.InputID, InstanceID: in.InstanceID, PathToData: InputContainer + "/" + name})
		if err != nil {
			return nil, orca.NonRetriable(err)
		}
		if err := storage.Enqueue(ctx, queue, msg); err != nil {
			return nil, fmt.Errorf("enqueue work item: %w", err)
		}
		return nil, nil
	}); err != nil {
		return err
	}
	return reg.AddActivity(WriteResultsActivityName, func(ctx orca.ActivityContext) (any, error) {
		var results json.RawMessage
		if err := ctx.Input(&results); err != nil {
			return nil, orca.NonRetriable(err)
		}
		name := ctx.InstanceID() + ".json"
		if err := storage.PutBlob(ctx, ResultsContainer, name, results, "application/json"); err != nil {
			return nil, fmt.Errorf("write results blob: %w", err)
		}
		return ResultsContainer + "/" + name, nil
	})
}
