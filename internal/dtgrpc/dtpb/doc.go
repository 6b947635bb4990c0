// Package dtpb is the Go code protoc generates from ../protos/orchestrator_service.proto, the
// Durable Task sidecar protocol: its messages and the TaskHubSidecarService client and server.
// Do not edit the .pb.go files; change the .proto and run `make proto`.
package dtpb
