// Package dtgrpc is where orca serves the Durable Task gRPC protocol (service
// TaskHubSidecarService), so that the official Durable Task SDKs, first
// @microsoft/durabletask-js, run orchestrators and activities against orca (issue 14).
//
// For now it holds the protocol's definition, protos/orchestrator_service.proto, and its
// generated Go code, package dtpb (`make proto` regenerates it). Its tests prove the wire
// contract: the descriptor matches the pinned upstream revision field by field, and the real
// JS SDK talks to a server built on dtpb. docs/dt-protocol-notes.md is the working note for
// the server.
package dtgrpc
