package kedascaler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/orcahq/orca/compute"
	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/app/apptest"
	"github.com/orcahq/orca/internal/auth"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/kedascaler"
	"github.com/orcahq/orca/internal/queue"
	"github.com/orcahq/orca/internal/testutil/wait"
)

// node starts an orca node serving the external scaler, and a client of it built from KEDA's
// own generated code: what KEDA's operator runs.
func node(t *testing.T, tweak func(*app.Config)) (*app.App, externalscaler.ExternalScalerClient) {
	t.Helper()
	cfg := app.Config{KEDAListen: "127.0.0.1:0", KEDATarget: 128,
		KEDARecheck: time.Hour} // only wakes and the first read decide, unless a test says otherwise
	if tweak != nil {
		tweak(&cfg)
	}
	a := apptest.Start(t, cfg)
	conn, err := grpc.NewClient(a.KEDAAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return a, externalscaler.NewExternalScalerClient(conn)
}

func ref(md map[string]string) *externalscaler.ScaledObjectRef {
	all := map[string]string{"scalerAddress": "orca:9090"} // KEDA passes every metadata key
	for k, v := range md {
		all[k] = v
	}
	return &externalscaler.ScaledObjectRef{Name: "orca-workers", Namespace: "default", ScalerMetadata: all}
}

func metric(t *testing.T, c externalscaler.ExternalScalerClient, r *externalscaler.ScaledObjectRef) float64 {
	t.Helper()
	m, err := c.GetMetrics(context.Background(), &externalscaler.GetMetricsRequest{ScaledObjectRef: r, MetricName: "orca-queue-input"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.MetricValues) != 1 || m.MetricValues[0].MetricName != "orca-queue-input" ||
		float64(m.MetricValues[0].MetricValue) != m.MetricValues[0].MetricValueFloat {
		t.Fatalf("metrics %v", m)
	}
	return m.MetricValues[0].MetricValueFloat
}

func active(t *testing.T, c externalscaler.ExternalScalerClient, r *externalscaler.ScaledObjectRef) bool {
	t.Helper()
	a, err := c.IsActive(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return a.Result
}

// TestScalerFollowsTheQueue: the metric spec names the queue's metric with the trigger's
// target; the metric is the queue's length, visible + in flight; activity is length above the
// activation length; StreamIsActive pushes true as soon as a run's first input blob is
// written — here with the stream's periodic reread off, so only orca's BlobCreated wake can
// tell it.
func TestScalerFollowsTheQueue(t *testing.T) {
	a, c := node(t, nil)
	ctx := context.Background()
	r := ref(map[string]string{"queueName": "input", "queueLength": "10"})
	spec, err := c.GetMetricSpec(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != "orca-queue-input" ||
		spec.MetricSpecs[0].TargetSizeFloat != 10 || spec.MetricSpecs[0].TargetSize != 10 {
		t.Fatalf("metric spec %v", spec)
	}
	if def, err := c.GetMetricSpec(ctx, ref(map[string]string{"queueName": "input"})); err != nil || def.MetricSpecs[0].TargetSizeFloat != 128 {
		t.Fatalf("default target: %v (%v), want the node's, 128", def, err)
	}
	if active(t, c, r) || metric(t, c, r) != 0 {
		t.Fatal("an empty queue is active or has a length")
	}

	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.StreamIsActive(streamCtx, r)
	if err != nil {
		t.Fatal(err)
	}
	if first, err := stream.Recv(); err != nil || first.Result {
		t.Fatalf("first push %v (%v), want false on an empty queue", first, err)
	}
	pushed := make(chan time.Time, 4)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			if m.Result {
				pushed <- time.Now()
			}
		}
	}()
	const n = 25
	start := time.Now()
	if _, err := a.Engine.StartInstance(ctx, engine.StartParams{Name: compute.OrchestratorName, ID: "keda-run", Input: []byte(`25`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-pushed:
		t.Logf("StreamIsActive pushed true %s after the start request", at.Sub(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("StreamIsActive did not push true after work arrived (the recheck is an hour: only the wake can)")
	}

	wait.For(t, 10*time.Second, func() bool { return metric(t, c, r) == n },
		fmt.Sprintf("the metric to be %d once every item is enqueued", n))
	if !active(t, c, r) || active(t, c, ref(map[string]string{"queueName": "input", "activationQueueLength": "25"})) ||
		!active(t, c, ref(map[string]string{"queueName": "input", "activationQueueLength": "24"})) {
		t.Fatal("activity is not length > activationQueueLength")
	}
	// In-flight messages count: a queue being worked on is not scaled away.
	held, err := a.Queues.Dequeue(ctx, "input", queue.DequeueOptions{Max: 5, VisibilityTimeout: time.Minute})
	if err != nil || len(held) != 5 {
		t.Fatalf("dequeue: %d (%v)", len(held), err)
	}
	if got := metric(t, c, r); got != n {
		t.Fatalf("metric with 5 in flight %v, want %d", got, n)
	}
}

// TestStreamFollowsTheQueueBetweenWakes: without a wake (a message enqueued straight to the
// queue, as the seeds' own starter or another server's writes do) the stream's reread tells
// KEDA the queue became active, and that it went idle once emptied.
func TestStreamFollowsTheQueueBetweenWakes(t *testing.T) {
	a, c := node(t, func(cfg *app.Config) { cfg.KEDARecheck = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := c.StreamIsActive(ctx, ref(map[string]string{"queueName": "input"}))
	if err != nil {
		t.Fatal(err)
	}
	want := func(v bool) {
		t.Helper()
		m, err := stream.Recv()
		if err != nil || m.Result != v {
			t.Fatalf("push %v (%v), want %v", m, err, v)
		}
	}
	want(false)
	msg, err := a.Queues.Enqueue(ctx, "input", []byte(`{}`), queue.EnqueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want(true)
	held, err := a.Queues.Dequeue(ctx, "input", queue.DequeueOptions{Max: 1, VisibilityTimeout: time.Minute})
	if err != nil || len(held) != 1 || held[0].ID != msg.ID {
		t.Fatalf("dequeue %v (%v)", held, err)
	}
	if err := a.Queues.Delete(ctx, "input", held[0].ID, held[0].PopReceipt); err != nil {
		t.Fatal(err)
	}
	want(false)
}

// TestScalerRefusesBadMetadata: what KEDA shows on the ScaledObject is a clear gRPC error.
func TestScalerRefusesBadMetadata(t *testing.T) {
	_, c := node(t, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		md   map[string]string
		code codes.Code
		says string
	}{
		{"missing queueName", map[string]string{}, codes.InvalidArgument, "queueName is required (one of input)"},
		{"unknown queue", map[string]string{"queueName": "nope"}, codes.NotFound, `queue "nope" is not one this orca serves (input)`},
		{"bad queueLength", map[string]string{"queueName": "input", "queueLength": "ten"}, codes.InvalidArgument, `queueLength "ten"`},
		{"zero queueLength", map[string]string{"queueName": "input", "queueLength": "0"}, codes.InvalidArgument, "at least 1"},
		{"negative activation", map[string]string{"queueName": "input", "activationQueueLength": "-1"}, codes.InvalidArgument, "activationQueueLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ref(tc.md)
			_, e1 := c.IsActive(ctx, r)
			_, e2 := c.GetMetricSpec(ctx, r)
			_, e3 := c.GetMetrics(ctx, &externalscaler.GetMetricsRequest{ScaledObjectRef: r})
			stream, err := c.StreamIsActive(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			_, e4 := stream.Recv()
			for i, err := range []error{e1, e2, e3, e4} {
				st, _ := status.FromError(err)
				if st.Code() != tc.code || !strings.Contains(st.Message(), tc.says) {
					t.Errorf("call %d: %v, want %s saying %q", i+1, err, tc.code, tc.says)
				}
			}
		})
	}
	if _, err := c.GetMetrics(ctx, &externalscaler.GetMetricsRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("no ScaledObjectRef: %v", err)
	}
}

// TestScalerNeedsAKeyWhenTheNodeHasKeys: any scope reads the metric, in the trigger's
// apiKeyFromEnv (as KEDA passes it, resolved) or apiKey, or a gRPC header.
func TestScalerNeedsAKeyWhenTheNodeHasKeys(t *testing.T) {
	const reader = "keda-reader-key-0123456789"
	_, c := node(t, func(cfg *app.Config) {
		cfg.Keys = &auth.Keys{}
		cfg.Keys.Add("keda", auth.ScopeReader, reader)
	})
	ctx := context.Background()
	if _, err := c.IsActive(ctx, ref(map[string]string{"queueName": "input"})); status.Code(err) != codes.Unauthenticated ||
		!strings.Contains(err.Error(), "apiKeyFromEnv") {
		t.Fatalf("no key: %v, want Unauthenticated naming apiKeyFromEnv", err)
	}
	if _, err := c.IsActive(ctx, ref(map[string]string{"queueName": "input", "apiKey": "wrong-key-0123456789"})); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("wrong key: %v, want PermissionDenied", err)
	}
	if _, err := c.IsActive(ctx, ref(map[string]string{"queueName": "input", "apiKey": reader})); err != nil {
		t.Fatalf("key in the metadata: %v", err)
	}
	// apiKeyFromEnv: KEDA passes the resolved value under the same key.
	if _, err := c.IsActive(ctx, ref(map[string]string{"queueName": "input", "apiKeyFromEnv": reader})); err != nil {
		t.Fatalf("key from the environment: %v", err)
	}
	withHeader := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+reader)
	if _, err := c.GetMetrics(withHeader, &externalscaler.GetMetricsRequest{ScaledObjectRef: ref(map[string]string{"queueName": "input"})}); err != nil {
		t.Fatalf("key in a header: %v", err)
	}
}

// TestScalerTLSNeedsCertificateAndKey: half a TLS setting is refused, not served in clear.
func TestScalerTLSNeedsCertificateAndKey(t *testing.T) {
	for _, cfg := range []kedascaler.Config{{CertFile: "cert.pem"}, {KeyFile: "key.pem"}} {
		cfg.Queues, cfg.DefaultTarget = stubQueues{}, 1
		if _, err := kedascaler.New(cfg); err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("%+v: %v, want the certificate and key asked for together", cfg, err)
		}
	}
}

// stubQueues is a queue.Service that New only holds on to.
type stubQueues struct{ queue.Service }
