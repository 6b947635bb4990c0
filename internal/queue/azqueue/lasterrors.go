package azqueue

import "sync"

// lastErrors remembers the last errors recorded by Update, by Azure queue and message id, up
// to a bound; the oldest entries are forgotten first.
type lastErrors struct {
	mu    sync.Mutex
	max   int
	m     map[string]string
	order []string // keys in insertion order; may hold keys already forgotten
}

func newLastErrors(n int) *lastErrors { return &lastErrors{max: n, m: map[string]string{}} }

func errKey(full, id string) string { return full + "/" + id }

func (l *lastErrors) get(full, id string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[errKey(full, id)]
}

func (l *lastErrors) set(full, id, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := errKey(full, id)
	if _, ok := l.m[k]; !ok {
		l.order = append(l.order, k)
	}
	l.m[k] = msg
	for len(l.m) > l.max && len(l.order) > 0 {
		delete(l.m, l.order[0])
		l.order = l.order[1:]
	}
	if len(l.order) > 2*l.max+16 {
		// Compact the keys forgotten by Delete.
		keep := l.order[:0]
		for _, k := range l.order {
			if _, ok := l.m[k]; ok {
				keep = append(keep, k)
			}
		}
		l.order = keep
	}
}

func (l *lastErrors) forget(full, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, errKey(full, id))
}
