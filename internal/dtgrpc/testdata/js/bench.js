// The Durable Task JS SDK's side of `orca bench --scenario sdk-fanout|sdk-sequence`: a
// TaskHubGrpcWorker with the two benchmark orchestrators, on the orca at process.argv[2]
// (host:port), until its standard input closes. "fanout" runs N "noop" activities at once and
// waits for all; "sequence" runs them one after another.
"use strict";

const { TaskHubGrpcWorker, whenAll } = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

async function main() {
  const worker = new TaskHubGrpcWorker({ hostAddress: process.argv[2], logger: quiet });
  worker.addNamedActivity("noop", (_ctx, i) => i);
  worker.addNamedOrchestrator("fanout", async function* (ctx, n) {
    const tasks = [];
    for (let i = 0; i < n; i++) {
      tasks.push(ctx.callActivity("noop", i));
    }
    const results = yield whenAll(tasks);
    return results.length;
  });
  worker.addNamedOrchestrator("sequence", async function* (ctx, n) {
    for (let i = 0; i < n; i++) {
      yield ctx.callActivity("noop", i);
    }
    return n;
  });
  await worker.start();
  console.log("ready");
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on("end", resolve).on("close", resolve));
  await worker.stop();
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
