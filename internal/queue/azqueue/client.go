package azqueue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"
)

// ClientConfig says how to reach a storage account: a connection string, or an account name
// and key (with an optional endpoint, for Azurite or sovereign clouds).
type ClientConfig struct {
	// ConnectionString is an Azure Storage connection string
	// (DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;QueueEndpoint=...).
	ConnectionString string
	// Account and Key are the account's name and shared key, used when ConnectionString is
	// empty.
	Account, Key string
	// Endpoint is the queue service URL; empty means https://<Account>.queue.core.windows.net/.
	Endpoint string
}

// Client is a client of an account's queue service, made by NewClient. It is its own type
// because the service needs a pipeline policy the SDK's plain clients lack (see
// keepContentPolicy).
type Client struct {
	svc *azqueue.ServiceClient
}

// NewClient returns a client of the account's queue service.
func NewClient(cc ClientConfig) (*Client, error) {
	opts := &azqueue.ClientOptions{ClientOptions: azcore.ClientOptions{PerCallPolicies: []policy.Policy{keepContentPolicy{}}}}
	if cc.ConnectionString != "" {
		c, err := azqueue.NewServiceClientFromConnectionString(cc.ConnectionString, opts)
		if err != nil {
			// The SDK's message may quote the string, and with it the key.
			return nil, errors.New("azure queue client: the connection string is not valid")
		}
		return &Client{svc: c}, nil
	}
	if cc.Account == "" || cc.Key == "" {
		return nil, errors.New("azure queue client: an account name and key, or a connection string, are required")
	}
	cred, err := azqueue.NewSharedKeyCredential(cc.Account, cc.Key)
	if err != nil {
		return nil, errors.New("azure queue client: the account key is not valid base64")
	}
	endpoint := cc.Endpoint
	if endpoint == "" {
		endpoint = "https://" + cc.Account + ".queue.core.windows.net/"
	}
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	c, err := azqueue.NewServiceClientWithSharedKeyCredential(endpoint, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure queue client: %w", err)
	}
	return &Client{svc: c}, nil
}

// keepContentKey marks the context of an Update Message request that must not change the
// message's content.
type keepContentKey struct{}

func keepContent(ctx context.Context) context.Context {
	return context.WithValue(ctx, keepContentKey{}, true)
}

// keepContentPolicy sends an Update Message marked with keepContent without a body. The SDK's
// UpdateMessage always sends a content, which would replace the message's; Azure's Update
// Message without a body (API version 2011-08-18 and later) changes only the visibility
// timeout, which is all Service.Update does. It runs per call, before the request is signed.
type keepContentPolicy struct{}

func (keepContentPolicy) Do(req *policy.Request) (*http.Response, error) {
	if v, _ := req.Raw().Context().Value(keepContentKey{}).(bool); v && req.Raw().Method == http.MethodPut {
		if err := req.SetBody(nil, ""); err != nil {
			return nil, err
		}
		req.Raw().Header.Del("Content-Type")
	}
	return req.Next()
}
