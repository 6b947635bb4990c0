package worker

import "math/rand/v2"

// SetRestartRand makes s draw its restart delays from r.
func (s *Stream) SetRestartRand(r *rand.Rand) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restarts.Rand = r
}
