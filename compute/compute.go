// Package compute is the seeds' compute flow, built into orca and corrected: the
// ComputeOrchestrator fans work items out to workers through blobs and a queue and collects
// their results, correlated by item, from BlobCreated events.
//
// The message and blob shapes are the seeds' own, so the seeds' compute containers map one to
// one onto orca workers:
//
//	input blob   input/{instance}/{input_id}.json   {"input_id", "instance_id", "input_data"}
//	message      queue "input"                      {"input_id", "instance_id", "path_to_data"}
//	output blob  output/{instance}/{input_id}.json  {"input_id", "instance_id", "result"}
//
// What the seeds get wrong and orca gets right: completions are correlated by input_id (a
// duplicate is ignored, a missing one never completes the run); an item whose algorithm keeps
// failing ends in the poison queue and is reported as failed; progress is in customStatus; a
// failed item never hangs the run.
package compute

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Names of the built-in functions, queue and containers.
const (
	OrchestratorName = "ComputeOrchestrator"
	// ActivityName writes one item's input blob and enqueues its work item.
	ActivityName = "Compute"
	// WriteResultsActivityName writes a large run's results to a blob.
	WriteResultsActivityName = "ComputeWriteResults"
	// EventName is raised on the orchestration for every finished item.
	EventName = "ComputeComplete"

	DefaultQueue     = "input"
	InputContainer   = "input"
	OutputContainer  = "output"
	ResultsContainer = "results"
)

// WorkItem is the queue message of one item.
type WorkItem struct {
	InputID    int    `json:"input_id"`
	InstanceID string `json:"instance_id"`
	// PathToData is the input blob as "container/name".
	PathToData string `json:"path_to_data"`
}

// Input is the content of an input blob.
type Input struct {
	InputID    int             `json:"input_id"`
	InstanceID string          `json:"instance_id"`
	InputData  json.RawMessage `json:"input_data"`
}

// Output is the content of an output blob.
type Output struct {
	InputID    int             `json:"input_id"`
	InstanceID string          `json:"instance_id"`
	Result     json.RawMessage `json:"result"`
}

// Completion is the data of a ComputeComplete event: one item's outcome.
type Completion struct {
	InputID int `json:"input_id"`
	// OK is false when the item failed (its message went to the poison queue).
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	// Blob is the output blob ("container/name"); the result is left there, not copied, when
	// it was too large to carry in the event.
	Blob   string `json:"blob,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// SplitPath splits "container/name" into its parts.
func SplitPath(path string) (container, name string, ok bool) {
	container, name, ok = strings.Cut(path, "/")
	return container, name, ok && container != "" && name != ""
}

// InputBlobName is the input blob of an item, within InputContainer.
func InputBlobName(instanceID string, inputID int) string {
	return instanceID + "/" + strconv.Itoa(inputID) + ".json"
}

// OutputBlobName is the output blob of an item, within OutputContainer.
func OutputBlobName(instanceID string, inputID int) string {
	return instanceID + "/" + strconv.Itoa(inputID) + ".json"
}

// ParseOutputBlobName returns the instance and item of an output blob name
// ("{instance}/{input_id}.json").
func ParseOutputBlobName(name string) (instanceID string, inputID int, err error) {
	instanceID, file, ok := strings.Cut(name, "/")
	if !ok || instanceID == "" || strings.Contains(file, "/") {
		return "", 0, fmt.Errorf("output blob %q is not {instance}/{input_id}.json", name)
	}
	idText, ok := strings.CutSuffix(file, ".json")
	if !ok {
		return "", 0, fmt.Errorf("output blob %q is not {instance}/{input_id}.json", name)
	}
	inputID, err = strconv.Atoi(idText)
	if err != nil || inputID < 0 {
		return "", 0, fmt.Errorf("output blob %q: %q is not an input id", name, idText)
	}
	return instanceID, inputID, nil
}

// Sum is the seeds' demo algorithm: the sum of the numbers in input_data (a number or an array
// of numbers).
func Sum(input json.RawMessage) (json.RawMessage, error) {
	var numbers []json.Number
	if err := json.Unmarshal(input, &numbers); err != nil {
		var one json.Number
		if err2 := json.Unmarshal(input, &one); err2 != nil {
			return nil, fmt.Errorf("input_data must be a number or an array of numbers: %w", err)
		}
		numbers = []json.Number{one}
	}
	var sumInt int64
	var sumFloat float64
	isFloat := false
	for _, n := range numbers {
		if i, err := n.Int64(); err == nil && !isFloat {
			sumInt += i
			continue
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("input_data: %q is not a number", n)
		}
		if !isFloat {
			isFloat, sumFloat = true, float64(sumInt)
		}
		sumFloat += f
	}
	if isFloat {
		return json.Marshal(sumFloat)
	}
	return json.Marshal(sumInt)
}
