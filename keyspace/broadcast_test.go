package keyspace_test

import (
	"bytes"
	"maps"
	"strings"
	"testing"

	"github.com/floestream/floe/keyspace"
)

type rule struct {
	Threshold float64
	Actions   []string
}

type ruleKey struct {
	Tenant string
	ID     int
}

func TestBroadcastState(t *testing.T) {
	// Three subtasks each apply the same broadcast updates to their copy.
	stores := make([]*keyspace.OperatorStateStore, 3)
	states := make([]*keyspace.BroadcastState[ruleKey, rule], 3)
	for i := range stores {
		stores[i] = keyspace.NewOperatorStateStore()
		states[i] = must(keyspace.NewBroadcastState[ruleKey, rule](stores[i], "rules"))
	}
	for _, b := range states {
		b.Put(ruleKey{"acme", 1}, rule{Threshold: 0.5, Actions: []string{"alert"}})
		b.Put(ruleKey{"acme", 2}, rule{Threshold: 0.9})
		b.Put(ruleKey{"initech", 1}, rule{Threshold: 0.1})
		b.Remove(ruleKey{"acme", 2})
	}
	view := states[0].ReadOnly()
	if _, ok := view.(*keyspace.BroadcastState[ruleKey, rule]); ok {
		t.Error("the read-only view can be turned back into the writable state")
	}
	if r, ok := view.Get(ruleKey{"acme", 1}); !ok || r.Threshold != 0.5 || view.Contains(ruleKey{"acme", 2}) || view.Len() != 2 {
		t.Errorf("view: Get = %+v, %v; Len = %d", r, ok, view.Len())
	}
	states[0].Put(ruleKey{"x", 0}, rule{})
	if view.Len() != 3 {
		t.Error("the view does not see later writes")
	}
	states[0].Remove(ruleKey{"x", 0})
	if again := must(keyspace.NewBroadcastState[ruleKey, rule](stores[0], "rules")); again != states[0] {
		t.Error("registering again returned another state")
	}
	if _, err := keyspace.NewBroadcastState[string, rule](stores[0], "rules"); err == nil || !strings.Contains(err.Error(), "map of keyspace_test.ruleKey to keyspace_test.rule and cannot also be a map of string to keyspace_test.rule") {
		t.Errorf("mismatched registration: %v", err)
	}
	if _, err := keyspace.NewBroadcastState[*rule, int](stores[0], "ptr"); err == nil || !strings.Contains(err.Error(), "WithUserKeyCodec") {
		t.Errorf("pointer keys: %v", err)
	}

	// Every subtask's snapshot is the same bytes.
	var snaps [][]byte
	var data []keyspace.OperatorStateData
	for _, s := range stores {
		d := must(s.Snapshot())
		data = append(data, d)
		var buf bytes.Buffer
		d.WriteTo(&buf)
		snaps = append(snaps, buf.Bytes())
	}
	for i := 1; i < len(snaps); i++ {
		if !bytes.Equal(snaps[i], snaps[0]) {
			t.Errorf("subtask %d's snapshot differs from subtask 0's", i)
		}
	}

	// Rescaled to 2, every new subtask gets a full copy.
	want := maps.Collect(states[0].All())
	for i, d := range must(keyspace.RedistributeOperatorState(data, 2)) {
		s := keyspace.NewOperatorStateStore()
		if err := s.Restore(d); err != nil {
			t.Fatal(err)
		}
		got := maps.Collect(must(keyspace.NewBroadcastState[ruleKey, rule](s, "rules")).All())
		if len(got) != len(want) || got[ruleKey{"acme", 1}].Actions[0] != "alert" {
			t.Errorf("new subtask %d: %v, want %v", i, got, want)
		}
	}
}
