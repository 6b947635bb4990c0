package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/events"
)

// TestSubscriptionRoundTrip puts subscriptions through a real node, reads them back, lets one
// take effect and deletes them.
func TestSubscriptionRoundTrip(t *testing.T) {
	c := node(t)
	ctx := context.Background()

	// An orchestration destination: the node raises Go on the instance a blob's name starts with.
	want := client.Subscription{
		Filter: client.SubscriptionFilter{SubjectBeginsWith: "/blobServices/default/containers/drop/",
			SubjectEndsWith: ".JSON", IncludedEventTypes: []string{"Microsoft.Storage.BlobCreated"}},
		Destination: client.SubscriptionDestination{Type: client.DestinationOrchestration, EventName: "Go",
			InstanceIDPattern: `^/blobServices/default/containers/drop/blobs/(?P<instance>[^/]+)/`},
		RetryPolicy: client.SubscriptionRetryPolicy{MaxDeliveryAttempts: 5, EventTimeToLiveInMinutes: 60},
	}
	got, err := c.PutSubscription(ctx, "wake-await", want)
	if err != nil {
		t.Fatal(err)
	}
	want.Name, want.State = "wake-await", client.SubscriptionActive
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("put answered\n%+v\nwant\n%+v", *got, want)
	}
	if got, err := c.Subscription(ctx, "wake-await"); err != nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("get answered %+v (%v)\nwant %+v", got, err, want)
	}
	if _, err := c.StartOrchestration(ctx, "Await", "sub-1", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBlob(ctx, "drop", "sub-1/data.json", []byte(`{}`), "application/json"); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, c, "sub-1")
	var ev struct {
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(st.Output, &ev); err != nil || st.RuntimeStatus != client.RuntimeStatusCompleted ||
		ev.Subject != "/blobServices/default/containers/drop/blobs/sub-1/data.json" {
		t.Fatalf("the subscription's event: %s %s (%v)", st.RuntimeStatus, st.Output, err)
	}

	// A webhook in the CloudEvents schema: the handshake passes, the defaults are filled in.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WebHook-Allowed-Origin", "*")
	}))
	defer hook.Close()
	got, err = c.PutSubscription(ctx, "hook", client.Subscription{Destination: client.SubscriptionDestination{
		Type: client.DestinationWebHook, EndpointURL: hook.URL, Schema: client.SchemaCloudEvents}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "hook" || got.Destination.Schema != client.SchemaCloudEvents || got.State != client.SubscriptionActive ||
		got.RetryPolicy != (client.SubscriptionRetryPolicy{MaxDeliveryAttempts: 30, EventTimeToLiveInMinutes: 1440}) {
		t.Fatalf("webhook stored as %+v", got)
	}

	all, err := c.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	builtin := 0
	for _, s := range all {
		names = append(names, s.Name)
		if s.Builtin {
			builtin++
		}
	}
	if !slices.Contains(names, "wake-await") || !slices.Contains(names, "hook") || builtin == 0 {
		t.Fatalf("subscriptions %v (%d of orca's own)", names, builtin)
	}

	// The server names the bad field; a body's name must be the path's.
	_, err = c.PutSubscription(ctx, "bad", client.Subscription{Destination: client.SubscriptionDestination{Type: client.DestinationWebHook}})
	if !client.IsBadRequest(err) || !strings.Contains(err.Error(), "endpointUrl") {
		t.Fatalf("a webhook without a URL: %v", err)
	}
	if _, err := c.PutSubscription(ctx, "one", client.Subscription{Name: "other"}); !client.IsBadRequest(err) {
		t.Fatalf("a body named otherwise than the path: %v", err)
	}

	for _, name := range []string{"wake-await", "hook"} {
		if err := c.DeleteSubscription(ctx, name); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Subscription(ctx, name); !client.IsNotFound(err) {
			t.Fatalf("%s after its delete: %v", name, err)
		}
	}
}

// TestSubscriptionMirrorsTheServer keeps client.Subscription's JSON the server's: the same
// fields, under the same names, in every nested object.
func TestSubscriptionMirrorsTheServer(t *testing.T) {
	ours, theirs := jsonFields(reflect.TypeFor[client.Subscription](), ""), jsonFields(reflect.TypeFor[events.Subscription](), "")
	if !slices.Equal(ours, theirs) {
		t.Fatalf("client.Subscription has the JSON fields\n%v\nthe server's\n%v", ours, theirs)
	}
}

// jsonFields lists the JSON names of a struct's fields, nested ones as parent.child, sorted.
func jsonFields(typ reflect.Type, prefix string) []string {
	var out []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, prefix+name)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type, prefix+name+".")...)
		}
	}
	slices.Sort(out)
	return out
}
