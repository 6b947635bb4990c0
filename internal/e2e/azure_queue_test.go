package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	azsdk "github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue/v2/queueerror"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/azurite"
	"github.com/orcahq/orca/internal/queue/queuetest"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// azureAccount is the Azurite account a test shares with the seeds' side: its blob and queue
// endpoints, the connection string orca reads from the environment, and a queue prefix of the
// test's own.
type azureAccount struct {
	blobURL, queueURL, connectionString, prefix string
	queues                                      *azsdk.ServiceClient
}

// newAzureAccount points orca (through AZURE_STORAGE_CONNECTION_STRING) at the Azurite that
// scripts/services/azurite.sh starts, with a queue prefix of the test's own whose queues are
// deleted when the test ends. It skips loudly without Azurite (fails with REQUIRE_INTEGRATION).
func newAzureAccount(t *testing.T) *azureAccount {
	t.Helper()
	env := queuetest.ServiceEnv(t, "azurite.sh", "ORCA_TEST_AZURITE_BLOB", "ORCA_TEST_AZURITE_QUEUE")
	var b [4]byte
	_, _ = rand.Read(b[:])
	acct := &azureAccount{blobURL: env[0], queueURL: env[1], prefix: "e" + hex.EncodeToString(b[:]) + "-"}
	acct.connectionString = azurite.ConnectionString(acct.blobURL, acct.queueURL)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", acct.connectionString)
	cred, err := azsdk.NewSharedKeyCredential(azurite.Account, azurite.Key)
	if err != nil {
		t.Fatal(err)
	}
	if acct.queues, err = azsdk.NewServiceClientWithSharedKeyCredential(acct.queueURL+"/", cred, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pager := acct.queues.NewListQueuesPager(&azsdk.ListQueuesOptions{Prefix: to.Ptr(acct.prefix)})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Logf("list the test's queues: %v", err)
				return
			}
			for _, q := range page.Queues {
				_, _ = acct.queues.DeleteQueue(ctx, *q.Name, nil)
			}
		}
	})
	return acct
}

// orcaQueueURL is orca's --queue-url for this account and prefix.
func (a *azureAccount) orcaQueueURL() string { return "azqueue://?prefix=" + a.prefix }

// approximateCount is the queue's length as KEDA's azure-queue trigger reads it (0 before the
// queue's first message creates it).
func (a *azureAccount) approximateCount(t *testing.T, q string) int {
	t.Helper()
	props, err := a.queues.NewQueueClient(a.prefix+q).GetProperties(context.Background(), nil)
	if queueerror.HasCode(err, queueerror.QueueNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("properties of %s: %v", a.prefix+q, err)
	}
	return int(*props.ApproximateMessagesCount)
}

// TestAzureQueueOrcaWorkers runs the compute flow with the work queue and the blobs in an
// Azure Storage account (Azurite): orca's own workers take the items through the API, and the
// run completes with every item counted once.
func TestAzureQueueOrcaWorkers(t *testing.T) {
	acct := newSeedAccount(t)
	a := node(t, t.TempDir(), func(c *app.Config) { c.QueueURL, c.BlobURL = acct.orcaQueueURL(), "azblob://" })
	c := newClient(t, a.BaseURL)
	const n = 300
	id := startRun(t, c, "300")
	acct.trackRun(id)
	// Before any worker runs, the account's queue holds the run's items: what KEDA scales on.
	wait.For(t, 30*time.Second, func() bool { return acct.approximateCount(t, compute.DefaultQueue) >= n },
		fmt.Sprintf("the Azure queue to hold the run's %d messages", n))
	if q, err := c.Queue(context.Background(), compute.DefaultQueue); err != nil || q.ApproximateMessagesCount != n {
		t.Fatalf("orca's view of the queue: %+v (%v), want %d messages", q, err, n)
	}
	workerPool(t, a.BaseURL, 2, "--concurrency", "8")
	st := waitRun(t, c, id, 3*time.Minute)
	if st.RuntimeStatus != "Completed" {
		t.Fatalf("status %s output %s", st.RuntimeStatus, st.Output)
	}
	checkEveryItemOnce(t, decodeOutput(t, st), n, "2")
	if got := acct.approximateCount(t, compute.DefaultQueue); got != 0 {
		t.Fatalf("the Azure queue still holds %d messages", got)
	}
}

// TestAzureQueuePoisonedItemsAreReported runs items whose algorithm always fails with the work
// queue in Azure: each is copied to the account's poison queue, reported once with the
// worker's last error, and the run fails with them instead of hanging.
func TestAzureQueuePoisonedItemsAreReported(t *testing.T) {
	acct := newSeedAccount(t)
	a := node(t, t.TempDir(), func(c *app.Config) {
		c.QueueURL, c.BlobURL, c.MaxDequeueCount = acct.orcaQueueURL(), "azblob://", 2
	})
	acct.trackRun(runFailingItems(t, a.BaseURL, newClient(t, a.BaseURL), 2))
	if got := acct.approximateCount(t, "input-poison"); got != 2 {
		t.Fatalf("the account's poison queue holds %d messages, want 2", got)
	}
}
