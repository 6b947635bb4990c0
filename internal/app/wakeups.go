package app

import (
	"context"

	"github.com/orcahq/orca/internal/store"
)

// startWakeups routes the store's wake-ups — writes of any server sharing it — to this node's
// long-polling queue consumers and its event dispatcher, so that a message another server
// enqueued reaches the workers polling this one at once rather than when their long poll runs
// out. The engine takes the wake-ups of its own dispatchers (instances, tasks) itself. A store
// without wake-ups (SQLite) belongs to one process, whose writes wake its consumers directly.
func (a *App) startWakeups(ctx context.Context) {
	waker, ok := a.Store.(store.Waker)
	if !ok || !a.Store.Supports(store.FeatureWakeups) {
		return
	}
	queues, _ := a.Queues.(queueWaker)
	ch, unsubscribe := waker.Subscribe()
	ctx, a.stopWaking = context.WithCancel(ctx)
	a.wakeDone = make(chan struct{})
	go func() {
		defer close(a.wakeDone)
		defer unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case w := <-ch:
				switch w.Kind {
				case store.WakeQueue:
					if queues != nil {
						queues.WakeQueue(w.Key)
					}
				case store.WakeDeliveries:
					a.Dispatcher.Wake()
				case store.WakeAll:
					if queues != nil {
						queues.WakeAll()
					}
					a.Dispatcher.Wake()
				}
			}
		}
	}()
}

func (a *App) stopWakeups() {
	if a.stopWaking != nil {
		a.stopWaking()
		<-a.wakeDone
	}
}
