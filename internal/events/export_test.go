package events

import "context"

// RunDispatcherOnce runs one delivery round (tests).
func RunDispatcherOnce(d *Dispatcher) int { return d.runOnce(context.Background()) }
