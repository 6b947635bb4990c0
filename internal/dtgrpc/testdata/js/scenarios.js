// Drives orca's Durable Task gRPC server with @microsoft/durabletask-js for internal/dtgrpc's
// SDK test: node scenarios.js HOST:PORT. It runs a worker with the orchestrators and activities
// below and a client that exercises them, then prints one JSON line per scenario,
// {"scenario", "id", "status", "output", ...}, for the Go test to check against orca's own
// state. A scenario that throws prints {"scenario", "error"}; the script goes on.
"use strict";

const {
  TaskHubGrpcClient, TaskHubGrpcWorker, OrchestrationStatus, PurgeInstanceCriteria, RetryPolicy, terminateOptions, whenAll,
} = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };
const statusName = (s) => OrchestrationStatus[s];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// flaky fails the first two attempts of each instance's call; failOnce the first of each
// instance's.
const attempts = new Map();
const failed = new Set();

function register(worker) {
  worker.addNamedActivity("square", (_ctx, x) => x * x);
  worker.addNamedActivity("add1", (_ctx, x) => x + 1);
  worker.addNamedActivity("flaky", (ctx, x) => {
    const key = ctx.orchestrationId;
    const n = (attempts.get(key) || 0) + 1;
    attempts.set(key, n);
    if (n < 3) {
      throw new Error(`flaky attempt ${n}`);
    }
    return { value: x, attempts: n };
  });
  worker.addNamedActivity("failOnce", (ctx, x) => {
    if (!failed.has(ctx.orchestrationId)) {
      failed.add(ctx.orchestrationId);
      throw new Error("first attempt fails");
    }
    return x * 10;
  });
  worker.addNamedOrchestrator("fanout", async function* (ctx, n) {
    const tasks = [];
    for (let i = 0; i < n; i++) {
      tasks.push(ctx.callActivity("square", i));
    }
    const results = yield whenAll(tasks);
    return results.reduce((a, b) => a + b, 0);
  });
  worker.addNamedOrchestrator("sequence", async function* (ctx, n) {
    let x = 0;
    for (let i = 0; i < n; i++) {
      x = yield ctx.callActivity("add1", x);
    }
    return x;
  });
  worker.addNamedOrchestrator("approval", async function* (ctx) {
    yield ctx.createTimer(0.2);
    ctx.setCustomStatus({ stage: "waiting for approval" });
    const who = yield ctx.waitForExternalEvent("approve");
    return { approvedBy: who };
  });
  worker.addNamedOrchestrator("parent", async function* (ctx, n) {
    const child = yield ctx.callSubOrchestrator("fanout", n);
    return { child };
  });
  worker.addNamedOrchestrator("retrying", async function* (ctx, x) {
    const policy = new RetryPolicy({ maxNumberOfAttempts: 3, firstRetryIntervalInMilliseconds: 100 });
    return yield ctx.callActivity("flaky", x, { retry: policy });
  });
  worker.addNamedOrchestrator("waiter", async function* (ctx) {
    ctx.setCustomStatus({ stage: "waiting" });
    const data = yield ctx.waitForExternalEvent("go");
    return { got: data };
  });
  // When its first turn ran (the SDK's replay-safe clock), and the event it got.
  worker.addNamedOrchestrator("punctual", async function* (ctx) {
    const startedAt = ctx.currentUtcDateTime.getTime();
    const data = yield ctx.waitForExternalEvent("go");
    return { startedAt, got: data };
  });
  worker.addNamedOrchestrator("counter", async function* (ctx, n) {
    if (n < 3) {
      yield ctx.callActivity("add1", n);
      ctx.continueAsNew(n + 1, false);
      return;
    }
    return n;
  });
  // brittle calls add1, then failOnce without a retry policy: its first run fails.
  worker.addNamedOrchestrator("brittle", async function* (ctx, x) {
    const y = yield ctx.callActivity("add1", x);
    return yield ctx.callActivity("failOnce", y);
  });
  worker.addNamedOrchestrator("brittleParent", async function* (ctx, x) {
    const child = yield ctx.callSubOrchestrator("brittle", x);
    return { child };
  });
  // nest starts a chain of sub-orchestrations depth deep, named ROOT-1, ROOT-2, ...; the last
  // waits for "go". With gate, the root first waits for "open".
  worker.addNamedOrchestrator("nest", async function* (ctx, arg) {
    const root = arg.root || ctx.instanceId;
    const level = arg.level || 0;
    if (arg.gate) {
      yield ctx.waitForExternalEvent("open");
    }
    if (arg.depth === 0) {
      return yield ctx.waitForExternalEvent("go");
    }
    return yield ctx.callSubOrchestrator("nest", { depth: arg.depth - 1, root, level: level + 1 }, { instanceId: `${root}-${level + 1}` });
  });
  worker.addNamedOrchestrator("failing", async function* () {
    throw new Error("boom");
  });
}

function report(scenario, st, extra) {
  console.log(JSON.stringify({
    scenario, id: st && st.instanceId, status: st ? statusName(st.runtimeStatus) : "missing",
    output: st && st.serializedOutput, customStatus: st && st.serializedCustomStatus,
    failure: st && st.failureDetails ? st.failureDetails.message || st.failureDetails.errorMessage : undefined, ...extra,
  }));
}

async function run(client, scenario, fn) {
  try {
    await fn();
  } catch (err) {
    console.log(JSON.stringify({ scenario, error: String(err && err.stack ? err.stack : err) }));
  }
}

async function main() {
  const hostAddress = process.argv[2];
  const worker = new TaskHubGrpcWorker({ hostAddress, logger: quiet });
  register(worker);
  await worker.start();
  const client = new TaskHubGrpcClient({ hostAddress, logger: quiet });
  const wait = (id) => client.waitForOrchestrationCompletion(id, true, 60);

  await run(client, "fanout", async () => {
    const id = await client.scheduleNewOrchestration("fanout", 50);
    report("fanout", await wait(id));
  });
  await run(client, "sequence", async () => {
    const id = await client.scheduleNewOrchestration("sequence", 10);
    report("sequence", await wait(id));
  });
  await run(client, "approval", async () => {
    const id = await client.scheduleNewOrchestration("approval");
    await client.waitForOrchestrationStart(id, false, 30);
    await client.raiseOrchestrationEvent(id, "approve", "ops");
    report("approval", await wait(id));
  });
  await run(client, "parent", async () => {
    const id = await client.scheduleNewOrchestration("parent", 5);
    report("parent", await wait(id));
  });
  await run(client, "retrying", async () => {
    const id = await client.scheduleNewOrchestration("retrying", 7);
    report("retrying", await wait(id));
  });
  await run(client, "status", async () => {
    const id = await client.scheduleNewOrchestration("waiter");
    let st;
    for (let i = 0; i < 100; i++) {
      st = await client.getOrchestrationState(id, true);
      if (st && st.serializedCustomStatus) break;
      await sleep(50);
    }
    const seen = st && st.serializedCustomStatus;
    await client.raiseOrchestrationEvent(id, "go", 42);
    report("status", await wait(id), { seenCustomStatus: seen });
  });
  // A scheduled start: Pending until startAt, and an event raised before it waits for it.
  await run(client, "scheduled", async () => {
    const startAt = new Date(Date.now() + 1500);
    const id = await client.scheduleNewOrchestration("punctual", undefined, undefined, startAt);
    await client.raiseOrchestrationEvent(id, "go", "early");
    await sleep(500);
    const before = await client.getOrchestrationState(id, false);
    report("scheduled", await wait(id), { before: statusName(before.runtimeStatus), startAt: startAt.getTime() });
  });
  await run(client, "terminate", async () => {
    const id = await client.scheduleNewOrchestration("waiter");
    await client.waitForOrchestrationStart(id, false, 30);
    await client.terminateOrchestration(id, "bye");
    report("terminate", await wait(id));
  });
  await run(client, "suspend", async () => {
    const id = await client.scheduleNewOrchestration("waiter");
    await client.waitForOrchestrationStart(id, false, 30);
    await client.suspendOrchestration(id);
    await client.raiseOrchestrationEvent(id, "go", "late");
    await sleep(500);
    const suspended = await client.getOrchestrationState(id, false);
    await client.resumeOrchestration(id);
    report("suspend", await wait(id), { whileSuspended: statusName(suspended.runtimeStatus) });
  });
  await run(client, "counter", async () => {
    const id = await client.scheduleNewOrchestration("counter", 0);
    report("counter", await wait(id));
  });
  await run(client, "failing", async () => {
    const id = await client.scheduleNewOrchestration("failing");
    report("failing", await wait(id));
  });
  await run(client, "rewind", async () => {
    const id = await client.scheduleNewOrchestration("brittle", 1);
    const first = await wait(id);
    await client.rewindInstance(id, "try again");
    report("rewind", await wait(id), { before: statusName(first.runtimeStatus) });
  });
  await run(client, "rewindChild", async () => {
    const id = await client.scheduleNewOrchestration("brittleParent", 2);
    const first = await wait(id);
    await client.rewindInstance(id, "try again");
    report("rewindChild", await wait(id), { before: statusName(first.runtimeStatus) });
  });
  await run(client, "rewindRefused", async () => {
    const id = await client.scheduleNewOrchestration("sequence", 1);
    await wait(id);
    const errors = [];
    for (const target of [id, "no-such-instance"]) {
      try {
        await client.rewindInstance(target, "why");
        errors.push("none");
      } catch (err) {
        errors.push(String(err.cause ? err.cause.code : err.message));
      }
    }
    console.log(JSON.stringify({ scenario: "rewindRefused", id, refusals: errors }));
  });
  // Terminate with and without recursive: a chain of three instances, the last waiting.
  for (const recursive of [true, false]) {
    const scenario = recursive ? "terminateTree" : "terminateOne";
    await run(client, scenario, async () => {
      const id = await client.scheduleNewOrchestration("nest", { depth: 2 }, `${scenario}-${Date.now()}`);
      for (let i = 0; i < 200; i++) {
        const leaf = await client.getOrchestrationState(`${id}-2`, false);
        if (leaf && statusName(leaf.runtimeStatus) === "RUNNING") break;
        await sleep(50);
      }
      await client.terminateOrchestration(id, terminateOptions({ output: "stop", recursive }));
      const st = await wait(id);
      const statuses = [];
      for (const child of [`${id}-1`, `${id}-2`]) {
        const c = recursive ? await wait(child) : await client.getOrchestrationState(child, false);
        statuses.push(c ? statusName(c.runtimeStatus) : "missing");
      }
      if (!recursive) await client.terminateOrchestration(`${id}-2`, "cleanup");
      report(scenario, st, { children: statuses });
    });
  }
  // Purge with and without recursive: a parent and its child.
  for (const recursive of [true, false]) {
    const scenario = recursive ? "purgeTree" : "purgeOne";
    await run(client, scenario, async () => {
      const id = await client.scheduleNewOrchestration("nest", { depth: 1 }, `${scenario}-${Date.now()}`);
      for (let i = 0; i < 200; i++) {
        const leaf = await client.getOrchestrationState(`${id}-1`, false);
        if (leaf && statusName(leaf.runtimeStatus) === "RUNNING") break;
        await sleep(50);
      }
      await client.raiseOrchestrationEvent(`${id}-1`, "go", 1);
      await wait(id);
      const result = await client.purgeOrchestration(id, { recursive });
      const child = await client.getOrchestrationState(`${id}-1`, false);
      console.log(JSON.stringify({ scenario, id, deleted: result && result.deletedInstanceCount, after: child === undefined ? "gone" : "still there" }));
    });
  }
  await run(client, "purgeTreeFilter", async () => {
    // Only the root is created between from and to: its children come after "open".
    const from = new Date();
    const id = await client.scheduleNewOrchestration("nest", { depth: 2, gate: true }, `purgeTreeFilter-${Date.now()}`);
    await client.waitForOrchestrationStart(id, false, 30);
    const to = new Date();
    await sleep(20);
    await client.raiseOrchestrationEvent(id, "open", 1);
    for (let i = 0; i < 200; i++) {
      const leaf = await client.getOrchestrationState(`${id}-2`, false);
      if (leaf && statusName(leaf.runtimeStatus) === "RUNNING") break;
      await sleep(50);
    }
    await client.raiseOrchestrationEvent(`${id}-2`, "go", 1);
    await wait(id);
    const criteria = new PurgeInstanceCriteria();
    criteria.setCreatedTimeFrom(from);
    criteria.setCreatedTimeTo(to);
    criteria.setRuntimeStatusList([OrchestrationStatus.COMPLETED]);
    const result = await client.purgeOrchestration(criteria, { recursive: true });
    const left = [];
    for (const x of [id, `${id}-1`, `${id}-2`]) {
      if (await client.getOrchestrationState(x, false)) left.push(x);
    }
    console.log(JSON.stringify({ scenario: "purgeTreeFilter", id, deleted: result && result.deletedInstanceCount, after: left.join(",") || "gone" }));
  });
  await run(client, "history", async () => {
    const id = await client.scheduleNewOrchestration("sequence", 2);
    const st = await wait(id);
    const events = await client.getOrchestrationHistory(id);
    report("history", st, { events: events.map((e) => e.type) });
  });
  await run(client, "query", async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push(await client.scheduleNewOrchestration("sequence", 1, `query-${i}`));
    }
    for (const id of ids) await wait(id);
    const pages = [];
    for await (const page of client.getAllInstances({ instanceIdPrefix: "query-", pageSize: 2 }).asPages()) {
      pages.push(page.values.map((s) => s.instanceId));
    }
    console.log(JSON.stringify({ scenario: "query", pages }));
  });
  await run(client, "purge", async () => {
    const id = await client.scheduleNewOrchestration("sequence", 1);
    await wait(id);
    const result = await client.purgeOrchestration(id);
    const after = await client.getOrchestrationState(id);
    console.log(JSON.stringify({ scenario: "purge", id, deleted: result && result.deletedInstanceCount, after: after === undefined ? "gone" : "still there" }));
  });
  await run(client, "unknown", async () => {
    const st = await client.getOrchestrationState("no-such-instance");
    let raised = "";
    try {
      await client.raiseOrchestrationEvent("no-such-instance", "x", 1);
    } catch (err) {
      raised = String(err.message || err);
    }
    console.log(JSON.stringify({ scenario: "unknown", state: st === undefined ? "undefined" : "defined", raised }));
  });

  await client.stop();
  await worker.stop();
}

main().then(() => process.exit(0), (err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
