package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/orcahq/orca/internal/app"
	"github.com/orcahq/orca/internal/engine"
	"github.com/orcahq/orca/internal/store"
)

// DefaultSDKDir is where the sdk-* scenarios find the Durable Task JS SDK and their worker
// script, relative to the repository's root (scripts/tools/durabletask-js.sh installs it).
const DefaultSDKDir = "internal/dtgrpc/testdata/js"

// runSDK runs the orchestrator name ("fanout" or "sequence") of testdata/js/bench.js with n
// activities: the orchestrator and its activities in a Node.js process running the JS SDK's
// worker, on a node serving the Durable Task protocol. It is timed from the start request to the
// completion; the memory counts orca and the Node.js process.
func runSDK(name string) func(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
	return func(ctx context.Context, st runStore, n int, opt Options) (nodeRun, error) {
		dir := opt.SDKDir
		if dir == "" {
			dir = DefaultSDKDir
		}
		script := filepath.Join(dir, "bench.js")
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "@microsoft", "durabletask-js")); err != nil {
			return nodeRun{}, fmt.Errorf("the Durable Task JS SDK is not installed in %s (scripts/tools/durabletask-js.sh; --sdk-dir): %w", dir, err)
		}
		a, err := app.Open(ctx, app.Config{DataDir: st.Dir, StoreURL: st.URL, BlobURL: st.blobURL(), Synchronous: opt.Synchronous,
			Logger: opt.logger(), NoHTTP: true, GRPCListen: "127.0.0.1:0"})
		if err != nil {
			return nodeRun{}, err
		}
		defer a.Stop(context.WithoutCancel(ctx))
		node := exec.CommandContext(ctx, "node", script, a.GRPCAddr)
		node.Stderr = os.Stderr
		stdin, err := node.StdinPipe()
		if err != nil {
			return nodeRun{}, err
		}
		stdout, err := node.StdoutPipe()
		if err != nil {
			return nodeRun{}, err
		}
		if err := node.Start(); err != nil {
			return nodeRun{}, fmt.Errorf("start the SDK's worker (node %s): %w", script, err)
		}
		defer func() {
			_ = stdin.Close()
			_ = node.Wait()
		}()
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
			return nodeRun{}, fmt.Errorf("the SDK's worker did not start: %q %v", line, err)
		}
		for !a.DT.Remote().Connected() {
			if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
				return nodeRun{}, err
			}
		}
		start := time.Now()
		id, err := a.Engine.StartInstance(ctx, engine.StartParams{Name: name, ID: "bench", Input: json.RawMessage(strconv.Itoa(n))})
		if err != nil {
			return nodeRun{}, err
		}
		in, err := a.Engine.WaitForFinish(ctx, id)
		if err != nil {
			return nodeRun{}, err
		}
		took := time.Since(start)
		if in.Status != store.StatusCompleted {
			return nodeRun{}, fmt.Errorf("run ended %s: %v", in.Status, in.Failure)
		}
		if string(in.Output) != strconv.Itoa(n) {
			return nodeRun{}, fmt.Errorf("run output %s, want %d", in.Output, n)
		}
		return nodeRun{took: took, workersRSSMB: peakRSSMB(strconv.Itoa(node.Process.Pid))}, nil
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
