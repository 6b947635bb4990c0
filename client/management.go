package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// CheckStatus is the answer of a start: the instance id and its management URLs (Durable
// Functions' check-status payload).
type CheckStatus struct {
	ID                    string `json:"id"`
	StatusQueryGetURI     string `json:"statusQueryGetUri"`
	SendEventPostURI      string `json:"sendEventPostUri"`
	TerminatePostURI      string `json:"terminatePostUri"`
	PurgeHistoryDeleteURI string `json:"purgeHistoryDeleteUri"`
	RestartPostURI        string `json:"restartPostUri"`
	SuspendPostURI        string `json:"suspendPostUri"`
	ResumePostURI         string `json:"resumePostUri"`
}

// Status is an instance's status (Durable Functions' shape).
type Status struct {
	Name            string          `json:"name"`
	InstanceID      string          `json:"instanceId"`
	RuntimeStatus   string          `json:"runtimeStatus"`
	Input           json.RawMessage `json:"input"`
	CustomStatus    json.RawMessage `json:"customStatus"`
	Output          json.RawMessage `json:"output"`
	CreatedTime     string          `json:"createdTime"`
	LastUpdatedTime string          `json:"lastUpdatedTime"`
}

// StartOrchestration starts the orchestrator name with input (any JSON value; nil for none)
// under id (empty: the server picks one) and returns the instance id.
func (c *Client) StartOrchestration(ctx context.Context, name, id string, input any) (string, error) {
	path := "/api/orchestrators/" + url.PathEscape(name)
	if id != "" {
		path += "/" + url.PathEscape(id)
	}
	var out CheckStatus
	if err := c.doJSON(ctx, http.MethodPost, path, nil, input, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("start %s: the answer has no instance id", name)
	}
	return out.ID, nil
}

// Status returns an instance's status.
func (c *Client) Status(ctx context.Context, id string) (*Status, error) {
	var out Status
	if err := c.doJSON(ctx, http.MethodGet, "/runtime/webhooks/durabletask/instances/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
