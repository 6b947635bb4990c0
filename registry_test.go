package orca_test

import (
	"strings"
	"testing"

	"github.com/orcahq/orca"
)

func TestRegistryRefusesBadRegistrations(t *testing.T) {
	orch := func(orca.OrchestrationContext) (any, error) { return nil, nil }
	act := func(orca.ActivityContext) (any, error) { return nil, nil }
	r := orca.NewRegistry().MustAddOrchestrator("O", orch).MustAddActivity("A", act)
	for _, c := range []struct {
		err  error
		says string
	}{
		{r.AddOrchestrator("O", orch), `orchestrator "O": already registered`},
		{r.AddActivity("A", act), `activity "A": already registered`},
		{r.AddOrchestrator("", orch), "empty name"},
		{r.AddActivity("nil", nil), "nil function"},
		{r.AddActivity(strings.Repeat("x", orca.MaxNameLength+1), act), "name longer than"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.says) {
			t.Errorf("error %v, want one saying %q", c.err, c.says)
		}
	}
	if got := r.OrchestratorNames(); len(got) != 1 || got[0] != "O" {
		t.Fatalf("orchestrators %v", got)
	}
	// The Must forms panic with the same error, so a program cannot start with half a registry.
	for _, add := range []func(){
		func() { r.MustAddOrchestrator("O", orch) },
		func() { r.MustAddActivity("A", act) },
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(p.(string), "already registered") {
					t.Errorf("panic %v, want the registration error", p)
				}
			}()
			add()
		}()
	}
}
