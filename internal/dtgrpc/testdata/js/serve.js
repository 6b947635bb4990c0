// serve runs a @microsoft/durabletask-js worker on the orca at process.argv[2] (host:port) with
// what register adds to it, prints "ready" once it has started, and stops it when its standard
// input closes: the shape of the worker scripts the Go tests and benchmarks start.
"use strict";

const { TaskHubGrpcWorker } = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

function serve(register) {
  (async () => {
    const worker = new TaskHubGrpcWorker({ hostAddress: process.argv[2], logger: quiet });
    register(worker);
    await worker.start();
    console.log("ready");
    process.stdin.resume();
    await new Promise((resolve) => process.stdin.on("end", resolve).on("close", resolve));
    await worker.stop();
  })().catch((err) => {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(1);
  });
}

module.exports = { serve };
