package replay_test

import (
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/orcahq/orca"
	"github.com/orcahq/orca/internal/history"
	"github.com/orcahq/orca/internal/replay"
)

// TestTurnActionsAreNotKept: once a turn is handed over, the executor keeps none of its action
// events. It used to keep them in the array it reuses for the next turn's actions, so a
// 100,000-task fan-out held every TaskScheduled event, input included, for the life of the
// execution. Both a big turn (whose array is dropped) and a small one (whose array is kept and
// cleared) are checked.
func TestTurnActionsAreNotKept(t *testing.T) {
	for _, n := range []int{10, 5000} {
		fanOut := func(ctx orca.OrchestrationContext) (any, error) {
			tasks := make([]orca.Task, n)
			for i := range tasks {
				tasks[i] = ctx.CallActivity("Work", i)
			}
			return nil, ctx.WhenAll(tasks...).Await(nil)
		}
		e := replay.New(replay.Config{InstanceID: "keep", Resolve: func(string) (orca.Orchestrator, bool) { return fanOut, true }})
		defer e.Close()
		turn := e.Run(time.Now(), []*history.Event{history.NewExecutionStarted(time.Now(), history.ExecutionStartedAttrs{Name: "FanOut", ExecutionID: "x"})})
		if len(turn.Actions) != n {
			t.Fatalf("%d actions, want %d", len(turn.Actions), n)
		}
		first, last := weak.Make(turn.Actions[0]), weak.Make(turn.Actions[n-1])
		turn = nil
		runtime.GC()
		if first.Value() != nil || last.Value() != nil {
			t.Fatalf("fan-out of %d: the executor still holds the turn's action events", n)
		}
		runtime.KeepAlive(e)
	}
}
