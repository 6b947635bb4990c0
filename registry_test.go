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

// A remote activity is a name without a function: it shares the activities' names, so it can
// neither be declared twice nor also be registered here.
func TestRegistryDeclaresRemoteActivities(t *testing.T) {
	act := func(orca.ActivityContext) (any, error) { return nil, nil }
	r := orca.NewRegistry().MustAddActivity("Local", act).MustAddRemoteActivity("Remote")
	for _, c := range []struct {
		err  error
		says string
	}{
		{r.AddRemoteActivity("Remote"), `remote activity "Remote": already declared remote`},
		{r.AddRemoteActivity("Local"), `remote activity "Local": already registered`},
		{r.AddActivity("Remote", act), `activity "Remote": already declared remote`},
		{r.AddRemoteActivity(""), "empty name"},
		{r.AddRemoteActivity(strings.Repeat("x", orca.MaxNameLength+1)), "name longer than"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.says) {
			t.Errorf("error %v, want one saying %q", c.err, c.says)
		}
	}
	if !r.RemoteActivity("Remote") || r.RemoteActivity("Local") {
		t.Fatalf("RemoteActivity: Remote %v, Local %v; want true, false", r.RemoteActivity("Remote"), r.RemoteActivity("Local"))
	}
	if _, ok := r.Activity("Remote"); ok {
		t.Fatal("a remote activity has a function here")
	}
	if got := r.ActivityNames(); len(got) != 1 || got[0] != "Local" {
		t.Fatalf("activities %v, want [Local]", got)
	}
	if got := r.RemoteActivityNames(); len(got) != 1 || got[0] != "Remote" {
		t.Fatalf("remote activities %v, want [Remote]", got)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "already declared remote") {
			t.Errorf("panic %v, want the declaration error", p)
		}
	}()
	r.MustAddRemoteActivity("Remote")
}
