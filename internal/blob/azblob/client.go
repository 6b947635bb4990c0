package azblob

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// ClientConfig says how to reach a storage account: a connection string, or an account name
// and key (with an optional endpoint, for Azurite or sovereign clouds).
type ClientConfig struct {
	// ConnectionString is an Azure Storage connection string
	// (DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...;BlobEndpoint=...).
	ConnectionString string
	// Account and Key are the account's name and shared key, used when ConnectionString is
	// empty.
	Account, Key string
	// Endpoint is the blob service URL; empty means https://<Account>.blob.core.windows.net/.
	Endpoint string
}

// NewClient returns a client of the account's blob service.
func NewClient(cc ClientConfig) (*azblob.Client, error) {
	if cc.ConnectionString != "" {
		c, err := azblob.NewClientFromConnectionString(cc.ConnectionString, nil)
		if err != nil {
			// The SDK's message may quote the string, and with it the key.
			return nil, errors.New("azure blob client: the connection string is not valid")
		}
		return c, nil
	}
	if cc.Account == "" || cc.Key == "" {
		return nil, errors.New("azure blob client: an account name and key, or a connection string, are required")
	}
	cred, err := azblob.NewSharedKeyCredential(cc.Account, cc.Key)
	if err != nil {
		return nil, errors.New("azure blob client: the account key is not valid base64")
	}
	endpoint := cc.Endpoint
	if endpoint == "" {
		endpoint = "https://" + cc.Account + ".blob.core.windows.net/"
	}
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	c, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, nil)
	if err != nil {
		return nil, fmt.Errorf("azure blob client: %w", err)
	}
	return c, nil
}
