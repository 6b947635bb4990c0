// Runs a @microsoft/durabletask-js TaskHubGrpcWorker against the gRPC server at process.argv[2]
// (host:port) for internal/dtgrpc's worker smoke test, until its standard input closes. It
// registers the orchestrator "greet", which sets a custom status, calls the activity "hello"
// with its input and returns what that returns, and the activity "hello". The orchestrator is
// an async generator: 0.4.0 takes a plain generator for an orchestrator without tasks and
// completes it at once, with the generator object as its output.
"use strict";

const { TaskHubGrpcWorker } = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

async function main() {
  const hostAddress = process.argv[2];
  if (!hostAddress) {
    throw new Error("usage: node worker.js HOST:PORT");
  }
  const worker = new TaskHubGrpcWorker({ hostAddress, logger: quiet });
  worker.addNamedOrchestrator("greet", async function* (ctx, name) {
    ctx.setCustomStatus({ step: "calling hello" });
    const greeting = yield ctx.callActivity("hello", name);
    return greeting;
  });
  worker.addNamedActivity("hello", (_ctx, name) => `Hello, ${name}!`);
  await worker.start();
  console.log("worker started");

  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on("end", resolve).on("close", resolve));
  await worker.stop();
  console.log("worker stopped");
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
