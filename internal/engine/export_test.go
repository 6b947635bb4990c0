package engine

// HeldBack is how many instances are held back after failed turns.
func (e *Engine) HeldBack() int {
	e.orch.mu.Lock()
	defer e.orch.mu.Unlock()
	return len(e.orch.backoff)
}
