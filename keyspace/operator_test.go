package keyspace_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/floestream/floe/keyspace"
)

func TestOperatorListState(t *testing.T) {
	s := keyspace.NewOperatorStateStore()
	offsets := must(keyspace.NewOperatorListState[int64](s, "offsets"))
	members := must(keyspace.NewUnionListState[string](s, "members"))
	if offsets.Get() != nil {
		t.Fatal("new list is not empty")
	}
	offsets.AddAll([]int64{10, 20})
	offsets.Add(30)
	members.Update([]string{"a", "b"})
	if again := must(keyspace.NewOperatorListState[int64](s, "offsets")); !slices.Equal(again.Get(), []int64{10, 20, 30}) {
		t.Errorf("second handle reads %v", again.Get())
	}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{regErr(keyspace.NewUnionListState[int64](s, "offsets")), `already registered as a split list of int64 and cannot also be a union list of int64`},
		{regErr(keyspace.NewOperatorListState[string](s, "offsets")), `cannot also be a split list of string`},
		{regErr(keyspace.NewBroadcastState[string, int](s, "offsets")), `already registered as a list`},
		{regErr(keyspace.NewOperatorListState[int](s, "x", keyspace.WithTTL(keyspace.TTLConfig{TTL: 1e9}))), "WithTTL applies to keyed state only"},
		{regErr(keyspace.NewOperatorListState[func()](s, "f")), "function"},
		{regErr(keyspace.NewOperatorListState[int](s, "")), "non-empty name"},
	} {
		if tt.err == nil || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("error %v, want one containing %q", tt.err, tt.want)
		}
	}

	d := must(s.Snapshot())
	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	offsets.Add(99) // after the snapshot
	read := must(keyspace.ReadOperatorState(bytes.NewReader(buf.Bytes())))

	r := keyspace.NewOperatorStateStore()
	early := must(keyspace.NewUnionListState[string](r, "members")) // registered before the restore
	early.Add("stale")
	if err := r.Restore(read); err != nil {
		t.Fatal(err)
	}
	if got := early.Get(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("members after restore = %q, want [a b]", got)
	}
	if got := must(keyspace.NewOperatorListState[int64](r, "offsets")).Get(); !slices.Equal(got, []int64{10, 20, 30}) {
		t.Errorf("offsets after restore = %v, want [10 20 30]", got)
	}
	if _, err := keyspace.NewOperatorListState[string](keyspaceStoreRestored(t, read), "offsets"); err == nil || !strings.Contains(err.Error(), "register it as it was snapshotted") {
		t.Errorf("mismatched registration after restore: %v", err)
	}
	mismatch := keyspace.NewOperatorStateStore()
	must(keyspace.NewOperatorListState[string](mismatch, "offsets"))
	if err := mismatch.Restore(read); err == nil || !strings.Contains(err.Error(), "snapshotted as a split list of int64") {
		t.Errorf("restore into a mismatched registration: %v", err)
	}

	corrupt := bytes.Clone(buf.Bytes())
	corrupt[12] ^= 1
	for _, b := range [][]byte{corrupt, buf.Bytes()[:10], nil, []byte("FLOEOPST")} {
		if _, err := keyspace.ReadOperatorState(bytes.NewReader(b)); err == nil {
			t.Errorf("ReadOperatorState(% x) accepted", b)
		}
	}
}

func keyspaceStoreRestored(t *testing.T, d keyspace.OperatorStateData) *keyspace.OperatorStateStore {
	s := keyspace.NewOperatorStateStore()
	if err := s.Restore(d); err != nil {
		t.Fatal(err)
	}
	return s
}

func regErr[T any](_ T, err error) error { return err }

// TestRedistributeOperatorState checks the distribution rules for every
// pair of old and new parallelism up to 6, with lists of uneven lengths.
func TestRedistributeOperatorState(t *testing.T) {
	elems := func(subtask, n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = fmt.Appendf(nil, "%d.%d", subtask, i)
		}
		return out
	}
	for oldP := 1; oldP <= 6; oldP++ {
		old := make([]keyspace.OperatorStateData, oldP)
		var all [][]byte
		for i := range old {
			e := elems(i, (i*7)%5)
			all = append(all, e...)
			old[i].Lists = []keyspace.OperatorListData{
				{Name: "split", Mode: keyspace.SplitDistribute, Type: "string", Elements: e},
				{Name: "union", Mode: keyspace.UnionDistribute, Type: "string", Elements: e},
			}
			old[i].Broadcasts = []keyspace.BroadcastStateData{{Name: "rules", Types: "string to int", Entries: []keyspace.BroadcastEntry{{Key: []byte("k"), Value: []byte{byte(i)}}}}}
		}
		for newP := 1; newP <= 6; newP++ {
			out := must(keyspace.RedistributeOperatorState(old, newP))
			if len(out) != newP {
				t.Fatalf("%d→%d: %d results", oldP, newP, len(out))
			}
			var joined [][]byte
			for j, d := range out {
				if len(d.Lists) != 2 || d.Lists[0].Name != "split" || d.Lists[1].Name != "union" {
					t.Fatalf("%d→%d: subtask %d lists %v", oldP, newP, j, d.Lists)
				}
				split := d.Lists[0].Elements
				joined = append(joined, split...)
				if oldP == newP {
					if !slices.EqualFunc(split, old[j].Lists[0].Elements, bytes.Equal) {
						t.Errorf("%d→%d: subtask %d did not keep its own list", oldP, newP, j)
					}
				} else if want := len(all)/newP + boolInt(j < len(all)%newP); len(split) != want {
					t.Errorf("%d→%d: subtask %d got %d elements, want %d", oldP, newP, j, len(split), want)
				}
				if !slices.EqualFunc(d.Lists[1].Elements, all, bytes.Equal) {
					t.Errorf("%d→%d: subtask %d's union list is not every element", oldP, newP, j)
				}
				if len(d.Broadcasts) != 1 || d.Broadcasts[0].Entries[0].Value[0] != 0 {
					t.Errorf("%d→%d: subtask %d's broadcast state is not subtask 0's copy", oldP, newP, j)
				}
			}
			if !slices.EqualFunc(joined, all, bytes.Equal) {
				t.Errorf("%d→%d: split lists together are not every element once, in order", oldP, newP)
			}
		}
	}
	if _, err := keyspace.RedistributeOperatorState(nil, 0); err == nil {
		t.Error("new parallelism 0 accepted")
	}
	bad := []keyspace.OperatorStateData{
		{Lists: []keyspace.OperatorListData{{Name: "l", Mode: keyspace.SplitDistribute, Type: "int"}}},
		{Lists: []keyspace.OperatorListData{{Name: "l", Mode: keyspace.UnionDistribute, Type: "int"}}},
	}
	if _, err := keyspace.RedistributeOperatorState(bad, 2); err == nil || !strings.Contains(err.Error(), "split list of int in one subtask and a union list of int in subtask 1") {
		t.Errorf("disagreeing modes: %v", err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
