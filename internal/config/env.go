package config

import (
	"os"

	"github.com/orcahq/orca/internal/workers"
)

// The environment variables of orca's clients. A node's settings come from ORCA_* variables too
// (see File.applyEnv); these are what a client of a node reads.
const (
	// EnvServer is the management verbs' default server URL.
	EnvServer = "ORCA_SERVER"
	// EnvKey is the API key of the management verbs and of `orca worker`.
	EnvKey = "ORCA_KEY"
	// EnvWorkerID gives a worker process started by orca's own pool its id, which it sends
	// with every call so that the pool sees it become ready.
	EnvWorkerID = workers.WorkerIDEnv
)

// ClientEnv is what a client of a node takes from its environment.
type ClientEnv struct {
	Server, Key, WorkerID string
}

// ClientFromEnv reads the clients' environment variables.
func ClientFromEnv() ClientEnv {
	return ClientEnv{Server: os.Getenv(EnvServer), Key: os.Getenv(EnvKey), WorkerID: os.Getenv(EnvWorkerID)}
}
