// The Durable Task JS SDK's side of `orca bench --scenario sdk-fanout|sdk-sequence`: the two
// benchmark orchestrators, on the orca at process.argv[2]. "fanout" runs N "noop" activities at
// once and waits for all; "sequence" runs them one after another.
"use strict";

const { whenAll } = require("@microsoft/durabletask-js");
const { serve } = require("./serve");

serve((worker) => {
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
});
