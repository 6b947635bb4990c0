package app

import (
	"context"

	"github.com/orcahq/orca/internal/store"
)

// startWakeups routes the store's wake-ups — writes of any server sharing it — to this node's
// long-polling queue consumers, its event dispatcher and its router, so that a message another
// server enqueued reaches the workers polling this one at once rather than when their long poll
// runs out, and a subscription created through another server applies to the events published
// here. The engine takes the wake-ups of its own dispatchers (instances, tasks) itself. A store
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
				case store.WakeSubscriptions:
					a.reloadSubscriptions(ctx)
				case store.WakeAll:
					a.reloadSubscriptions(ctx)
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

// reloadSubscriptions reads the subscriptions again after another server changed them. A failed
// read leaves the ones loaded; the next change or reconnection reloads.
func (a *App) reloadSubscriptions(ctx context.Context) {
	if err := a.Router.Load(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("reload the event subscriptions after a change on another server", "error", err)
	}
}
