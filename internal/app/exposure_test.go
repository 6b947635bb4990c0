package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/auth"
)

// TestOpenAPIOnlyOnLoopback: without API keys a node serves neither its API nor KEDA's scaler
// API where others can connect, unless told it may (Insecure); with keys it does. The Durable
// Task gRPC endpoint beyond loopback needs keys and TLS both.
func TestOpenAPIOnlyOnLoopback(t *testing.T) {
	keys := &auth.Keys{}
	keys.Add("admin", auth.ScopeAdmin, "exposure-test-key-0123456789")
	for _, c := range []struct {
		name string
		cfg  app.Config
		says string // "" when New must succeed
	}{
		{"loopback", app.Config{Listen: "127.0.0.1:0", KEDAListen: "localhost:0"}, ""},
		{"API beyond loopback", app.Config{Listen: "0.0.0.0:0"}, "refusing to listen on 0.0.0.0:0 without API keys"},
		{"an address without a host", app.Config{Listen: ":7071"}, "refusing to listen on :7071 without API keys"},
		{"KEDA beyond loopback", app.Config{Listen: "127.0.0.1:0", KEDAListen: "0.0.0.0:0"}, "refusing to serve KEDA's scaler API on 0.0.0.0:0"},
		{"no HTTP", app.Config{NoHTTP: true, Listen: "0.0.0.0:0"}, ""},
		{"Durable Task gRPC on loopback", app.Config{Listen: "127.0.0.1:0", GRPCListen: "127.0.0.1:0"}, ""},
		{"Durable Task gRPC beyond loopback", app.Config{Listen: "127.0.0.1:0", GRPCListen: "0.0.0.0:0"},
			"refusing to serve the Durable Task gRPC protocol on 0.0.0.0:0 without TLS"},
		{"Durable Task gRPC with keys but without TLS", app.Config{Listen: "127.0.0.1:0", GRPCListen: "0.0.0.0:0", Keys: keys},
			"refusing to serve the Durable Task gRPC protocol on 0.0.0.0:0 without TLS"},
		{"Durable Task gRPC with TLS but without keys", app.Config{Listen: "127.0.0.1:0", GRPCListen: "0.0.0.0:0",
			GRPCCertFile: "cert.pem", GRPCKeyFile: "key.pem"}, "refusing to serve the Durable Task gRPC protocol on 0.0.0.0:0 without API keys"},
		{"insecure", app.Config{Listen: "0.0.0.0:0", KEDAListen: "0.0.0.0:0", GRPCListen: "0.0.0.0:0", Insecure: true}, ""},
		{"keys", app.Config{Listen: "0.0.0.0:0", KEDAListen: "0.0.0.0:0", Keys: keys}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.DataDir, c.cfg.KEDATarget = t.TempDir(), 128
			a, err := app.New(context.Background(), c.cfg)
			if c.says == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = a.Stop(context.Background())
				return
			}
			if err == nil {
				_ = a.Stop(context.Background())
				t.Fatalf("accepted, want an error saying %q", c.says)
			}
			if !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "--insecure") {
				t.Fatalf("error %q, want it to say %q and how to allow it", err, c.says)
			}
		})
	}
}
