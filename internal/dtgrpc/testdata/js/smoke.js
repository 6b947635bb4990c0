// Drives @microsoft/durabletask-js against the gRPC server at process.argv[2] (host:port) for
// internal/dtgrpc's smoke test: schedules an orchestration with the SDK's TaskHubGrpcClient and
// prints the instance id the server answered, as "instance-id: <id>".
"use strict";

const { TaskHubGrpcClient } = require("@microsoft/durabletask-js");

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

async function main() {
  const hostAddress = process.argv[2];
  if (!hostAddress) {
    throw new Error("usage: node smoke.js HOST:PORT");
  }
  const client = new TaskHubGrpcClient({ hostAddress, logger: quiet });
  try {
    const id = await client.scheduleNewOrchestration("smoke-orchestrator", { n: 1 });
    console.log(`instance-id: ${id}`);
  } finally {
    await client.stop();
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
