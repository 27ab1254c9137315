package collection

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/internal/restoretest"
)

func TestOfRestoreContinuesExactly(t *testing.T) {
	opts := restoretest.Options{Parallelisms: []int{1, 3}, Rescales: []int{1, 2, 4}, Cuts: []int{0, 1, 2, 5, 100}, Max: 3}
	many := make([]string, 50)
	for i := range many {
		many[i] = strings.Repeat("x", i%7) // duplicates: the check is per split, in order
	}
	tests := []struct {
		name  string
		items []string
	}{
		{"empty", nil},
		{"fewer items than subtasks", []string{"a", "b"}},
		{"many", many},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			restoretest.Check(t, Of(tc.items...).(connectors.RestorableSource[string]), opts)
		})
	}
}

func TestOfSnapshotSplitsPositions(t *testing.T) {
	items := []int{10, 11, 12, 13, 14, 15, 16}
	tests := []struct {
		name  string
		i, p  int
		polls int
		want  map[string][2]uint64 // split → next, step
	}{
		{"unstarted", 1, 3, 0, map[string][2]uint64{"items-1-of-3": {1, 3}}},
		{"after a poll", 0, 2, 1, map[string][2]uint64{"items-0-of-2": {4, 2}}}, // emitted items 0 and 2
		{"finished", 2, 3, 1, map[string][2]uint64{}},
		{"no item", 8, 9, 0, map[string][2]uint64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Of(items...).Reader(connectors.SubtaskInfo{Index: tc.i, Parallelism: tc.p})
			if err != nil {
				t.Fatal(err)
			}
			for range tc.polls {
				if _, err := r.Poll(connectors.CollectorFunc[int](func(int) {}), 2); err != nil {
					t.Fatal(err)
				}
			}
			states, err := r.(connectors.CheckpointedReader).SnapshotSplits()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][2]uint64{}
			for _, s := range states {
				got[s.Split] = [2]uint64{binary.BigEndian.Uint64(s.State), binary.BigEndian.Uint64(s.State[8:])}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("SnapshotSplits = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("SnapshotSplits = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestOfRestoredReaderMergesInIndexOrder(t *testing.T) {
	src := Of("a", "b", "c", "d", "e", "f", "g").(connectors.RestorableSource[string])
	var states []connectors.SplitState
	for i := range 3 {
		r, err := src.Reader(connectors.SubtaskInfo{Index: i, Parallelism: 3})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := r.(connectors.CheckpointedReader).SnapshotSplits()
		states = append(states, s...)
	}
	r, err := src.RestoreReader(connectors.SubtaskInfo{Index: 0, Parallelism: 1}, []connectors.SplitState{states[2], states[0]})
	if err != nil {
		t.Fatal(err)
	}
	if got := flatten(drain(t, r, 2)); !slices.Equal(got, []string{"a", "c", "d", "f", "g"}) {
		t.Errorf("splits 2 and 0 of 3 restored into one reader: %q, want a c d f g", got)
	}
}

func TestOfRestoreRejectsForeignPositions(t *testing.T) {
	pos := func(next, step uint64) []byte {
		b := binary.BigEndian.AppendUint64(nil, next)
		return binary.BigEndian.AppendUint64(b, step)
	}
	tests := []struct {
		name    string
		state   []byte
		wantErr string
	}{
		{"garbage", []byte("xyz"), "the position is not one of collection.Of (3 bytes)"},
		{"zero step", pos(0, 0), "next=0 step=0 is not valid"},
		{"past the items", pos(3, 1), "resumes at item 3 of a source of 3 items"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Of(1, 2, 3).(connectors.RestorableSource[int]).RestoreReader(connectors.SubtaskInfo{Index: 0, Parallelism: 1},
				[]connectors.SplitState{{Split: "s", State: tc.state}})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("RestoreReader: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
