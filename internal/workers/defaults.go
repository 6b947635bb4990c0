package workers

import (
	"runtime"

	"github.com/orcahq/orca/worker"
)

// DefaultConcurrency is the concurrency of an `orca worker` that is given none: the built-in
// algorithm costs a goroutine per slot, so many slots keep the pipeline full; an --exec slot
// costs a process (per item or long-lived), so two per CPU keep the CPUs busy while some of
// them wait on I/O.
func DefaultConcurrency(exec bool) int {
	if exec {
		return 2 * runtime.NumCPU()
	}
	return 64
}

// Slots is the concurrency a worker runs at: concurrency when set, else DefaultConcurrency.
func Slots(concurrency int, exec bool) int {
	if concurrency > 0 {
		return concurrency
	}
	return DefaultConcurrency(exec)
}

// Capacity is how many items one worker holds at most with this concurrency and lease batch
// (0: as many as the concurrency): its slots and a batch waiting for them. It is the target
// queue length of a pool that is given none — a worker per capacity's worth of queued items.
func Capacity(concurrency, batch int) int {
	if batch <= 0 {
		batch = concurrency
	}
	return concurrency + min(batch, worker.MaxBatch)
}
