package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/orcahq/orca/client"
)

// Start an orchestration, wait for it and read its output.
func ExampleClient_StartOrchestration() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:7071", client.WithKey("my-key"))
	if err != nil {
		log.Fatal(err)
	}
	id, err := c.StartOrchestration(ctx, "ComputeOrchestrator", "", map[string]any{"inputCount": 100})
	if err != nil {
		log.Fatal(err)
	}
	st, err := c.WaitForCompletion(ctx, id, time.Second, func(st *client.Status) {
		fmt.Println(st.RuntimeStatus, string(st.CustomStatus))
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.RuntimeStatus, string(st.Output))
}

// Let the server wait: an instance that completes within the timeout answers with its output.
func ExampleClient_StartOrchestrationWithOptions() {
	ctx := context.Background()
	c, _ := client.New("http://127.0.0.1:7071")
	res, err := c.StartOrchestrationWithOptions(ctx, "Double", 21, client.StartOptions{WaitTimeout: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	if res.Finished() {
		fmt.Println(res.ID, res.RuntimeStatus, string(res.Output))
	} else {
		fmt.Println(res.ID, "still running; poll", res.CheckStatus.StatusQueryGetURI)
	}
}

// Walk every failed instance of the last day, page by page.
func ExampleClient_WalkInstances() {
	ctx := context.Background()
	c, _ := client.New("http://127.0.0.1:7071")
	opts := client.ListOptions{
		RuntimeStatus: []client.RuntimeStatus{client.RuntimeStatusFailed},
		CreatedFrom:   time.Now().Add(-24 * time.Hour),
		PageSize:      200,
	}
	for st, err := range c.WalkInstances(ctx, opts) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(st.InstanceID, st.Name, string(st.Output))
	}
}

// Send an event, telling apart the answers that depend on the instance's state.
func ExampleClient_RaiseEvent() {
	ctx := context.Background()
	c, _ := client.New("http://127.0.0.1:7071")
	err := c.RaiseEvent(ctx, "order-42", "Approval", map[string]string{"approvedBy": "ana"})
	switch {
	case client.IsNotFound(err):
		fmt.Println("no such instance")
	case client.IsGone(err):
		fmt.Println("the instance has finished")
	case err != nil:
		log.Fatal(err)
	}
}

// Read the activities an instance scheduled and how they ended.
func ExampleClient_WalkHistory() {
	ctx := context.Background()
	c, _ := client.New("http://127.0.0.1:7071")
	opts := client.HistoryOptions{EventTypes: []string{"TaskScheduled", "TaskCompleted", "TaskFailed"}}
	for e, err := range c.WalkHistory(ctx, "order-42", opts) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.EventID, e.EventType, e.Name, e.Timestamp.Format(time.RFC3339Nano))
	}
}
