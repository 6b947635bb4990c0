// A worker for internal/dtgrpc's worker-loss test, on the orca at process.argv[2], until it is
// killed or its standard input closes. "slowfan" runs N "slow" activities at once (activity i
// takes 10·i ms and returns i) and returns their sum.
"use strict";

const { whenAll } = require("@microsoft/durabletask-js");
const { serve } = require("./serve");

serve((worker) => {
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
});
