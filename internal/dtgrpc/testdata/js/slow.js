// A @microsoft/durabletask-js worker for internal/dtgrpc's worker-loss test, on the orca at
// process.argv[2] (host:port), until it is killed or its standard input closes. "slowfan" runs
// N "slow" activities at once (activity i takes 10·i ms and returns i) and returns their sum.
"use strict";

const { TaskHubGrpcWorker, whenAll } = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

async function main() {
  const worker = new TaskHubGrpcWorker({ hostAddress: process.argv[2], logger: quiet });
  worker.addNamedActivity("slow", async (_ctx, x) => {
    await new Promise((r) => setTimeout(r, 10 * x));
    return x;
  });
  worker.addNamedOrchestrator("slowfan", async function* (ctx, n) {
    const tasks = [];
    for (let i = 1; i <= n; i++) {
      tasks.push(ctx.callActivity("slow", i));
    }
    const results = yield whenAll(tasks);
    return results.reduce((a, b) => a + b, 0);
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
