// The seeds' ComputeOrchestrator written with @microsoft/durabletask-js, on orca's compute flow:
// node seeds.js HOST:PORT N. Its orchestrator calls orca's own Compute activity for every item
// (orca writes the input blob and enqueues the work item; `orca worker` processes compute it) and
// counts the ComputeComplete events orca raises as the output blobs appear, each input_id once.
// The script starts one run of N items, waits for it and prints its state as one JSON line.
"use strict";

const { TaskHubGrpcClient, TaskHubGrpcWorker, OrchestrationStatus, whenAll } = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

async function main() {
  const [hostAddress, n] = [process.argv[2], Number(process.argv[3])];
  const worker = new TaskHubGrpcWorker({ hostAddress, logger: quiet });
  worker.addNamedOrchestrator("SeedsComputeOrchestrator", async function* (ctx, count) {
    const enqueues = [];
    for (let i = 0; i < count; i++) {
      enqueues.push(ctx.callActivity("Compute", { input_id: i, input_data: [1, 1] }));
    }
    yield whenAll(enqueues);
    ctx.setCustomStatus({ stage: "computing", total: count, completed: 0 });
    const seen = new Map();
    while (seen.size < count) {
      const c = yield ctx.waitForExternalEvent("ComputeComplete");
      if (c.ok && !seen.has(c.input_id)) {
        seen.set(c.input_id, c.result);
      }
    }
    const sum = [...seen.values()].reduce((a, b) => a + b, 0);
    return { total: count, distinct: seen.size, sum };
  });
  await worker.start();
  const client = new TaskHubGrpcClient({ hostAddress, logger: quiet });
  const id = await client.scheduleNewOrchestration("SeedsComputeOrchestrator", n);
  const st = await client.waitForOrchestrationCompletion(id, true, 600);
  console.log(JSON.stringify({ id, status: OrchestrationStatus[st.runtimeStatus], output: st.serializedOutput }));
  await client.stop();
  await worker.stop();
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
