package datagen

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/internal/restoretest"
)

// The runtime looks for these interfaces.
var (
	_ connectors.RestorableSource[int64] = Generate(1, func(i int64) int64 { return i })
	_ connectors.RestorableSource[int64] = Sequence(1, 2).(sequence)
	_ connectors.CheckpointedReader      = (*reader[int64])(nil)
)

func TestRestoreContinuesExactly(t *testing.T) {
	id := func(i int64) int64 { return i }
	bounded := restoretest.Options{Parallelisms: []int{1, 3}, Rescales: []int{1, 2, 4}, Cuts: []int{0, 1, 2, 5, 100}, Max: 7}
	unbounded := bounded
	unbounded.Limit = 60
	tests := []struct {
		name string
		src  connectors.RestorableSource[int64]
		opts restoretest.Options
	}{
		{"sequence", Sequence(-5, 200).(sequence), bounded},
		{"sequence shorter than the parallelism", Sequence(1, 2).(sequence), bounded},
		{"empty sequence", Sequence(1, 0).(sequence), bounded},
		{"generator", Generate(237, func(i int64) int64 { return i * i }), bounded},
		{"empty generator", Generate(0, id), bounded},
		{"interleaved generator", Generate(100, id).Interleaved(), bounded},
		{"per-reader functions", GenerateWith(50, func(connectors.SubtaskInfo) func(int64) int64 { return id }).Interleaved(), bounded},
		{"unbounded generator", Generate(-1, id), unbounded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { restoretest.Check(t, tc.src, tc.opts) })
	}
}

// decodeState returns next, last and step of a split position.
func decodeState(t *testing.T, s connectors.SplitState) [3]uint64 {
	t.Helper()
	if len(s.State) != partStateSize {
		t.Fatalf("split %q: state of %d bytes", s.Split, len(s.State))
	}
	return [3]uint64{binary.BigEndian.Uint64(s.State[1:]), binary.BigEndian.Uint64(s.State[9:]), binary.BigEndian.Uint64(s.State[17:])}
}

func TestSnapshotSplitsPositions(t *testing.T) {
	id := func(i int64) int64 { return i }
	tests := []struct {
		name  string
		src   connectors.Source[int64]
		i, p  int
		polls int
		want  map[string][3]uint64 // split → next, last, step
	}{
		{"unstarted share", Generate(10, id), 1, 3, 0, map[string][3]uint64{"share-1-of-3": {4, 6, 1}}},
		{"share after a poll", Generate(10, id), 1, 3, 1, map[string][3]uint64{"share-1-of-3": {6, 6, 1}}},
		{"finished share", Generate(10, id), 1, 3, 2, map[string][3]uint64{}},
		{"empty share", Generate(2, id), 2, 3, 0, map[string][3]uint64{}},
		{"interleaved", Generate(10, id).Interleaved(), 2, 3, 1, map[string][3]uint64{"share-2-of-3": {8, 9, 3}}},
		{"unbounded", Generate(-1, id), 0, 2, 3, map[string][3]uint64{"share-0-of-2": {12, maxIndex, 2}}},
		{"sequence offsets from its start", Sequence(100, 109), 0, 1, 1, map[string][3]uint64{"share-0-of-1": {2, 9, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.src.Reader(info(tc.i, tc.p))
			if err != nil {
				t.Fatal(err)
			}
			for range tc.polls {
				pollOnce(t, r, 2)
			}
			states, err := r.(connectors.CheckpointedReader).SnapshotSplits()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][3]uint64{}
			for _, s := range states {
				got[s.Split] = decodeState(t, s)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("SnapshotSplits = %v, want %v", got, tc.want)
			}
		})
	}
}

// restoreWithSplits snapshots every reader of src at parallelism p after
// one poll of max 1 and restores them all into one reader.
func restoreWithSplits[T any](t *testing.T, src connectors.RestorableSource[T], p int, into connectors.SubtaskInfo) (connectors.SourceReader[T], []T) {
	t.Helper()
	var states []connectors.SplitState
	var before []T
	for i := range p {
		r, err := src.Reader(info(i, p))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := pollOnce(t, r, 1)
		before = append(before, got...)
		s, err := r.(connectors.CheckpointedReader).SnapshotSplits()
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, s...)
	}
	r, err := src.RestoreReader(into, states)
	if err != nil {
		t.Fatal(err)
	}
	return r, before
}

func TestRestoredReaderMergesSplitsInIndexOrder(t *testing.T) {
	id := func(i int64) int64 { return i }
	r, before := restoreWithSplits(t, Generate(-1, id), 3, info(0, 1))
	if !slices.Equal(before, []int64{0, 1, 2}) {
		t.Fatalf("before the cut: %v", before)
	}
	if got, _ := pollOnce(t, r, 9); !slices.Equal(got, []int64{3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Errorf("three unbounded splits restored into one reader: %v, want every index in order", got)
	}
	r, _ = restoreWithSplits(t, Generate(12, id), 3, info(0, 1))
	if got, _ := pollOnce(t, r, 100); !slices.Equal(got, []int64{1, 2, 3, 5, 6, 7, 9, 10, 11}) {
		t.Errorf("three contiguous shares restored into one reader: %v, want each in turn", got)
	}
}

func TestRateLimitAfterRestore(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	g := Generate(-1, func(i int64) int64 { return i }).WithClock(clock.now).WithRate(20)
	// Three splits of the first run into subtask 0 of 2: 10 records/s.
	r, _ := restoreWithSplits(t, g, 3, info(0, 2))
	clock.advance(time.Hour) // restoring does not start the schedule
	steps := []struct {
		advance time.Duration
		want    []int64
		st      connectors.Status
	}{
		{0, []int64{3}, connectors.NothingAvailable},
		{99 * time.Millisecond, nil, connectors.NothingAvailable},
		{time.Millisecond, []int64{4}, connectors.NothingAvailable},
		{300 * time.Millisecond, []int64{5, 6, 7}, connectors.NothingAvailable},
	}
	for i, s := range steps {
		clock.advance(s.advance)
		if got, st := pollOnce(t, r, 100); !slices.Equal(got, s.want) || st != s.st {
			t.Errorf("step %d: got %v %v, want %v %v", i, got, st, s.want, s.st)
		}
	}
}

func TestRestoreRejectsForeignPositions(t *testing.T) {
	id := func(i int64) int64 { return i }
	pos := func(next, last, step uint64) []byte {
		return part{next: next, last: last, step: step}.state().State
	}
	tests := []struct {
		name    string
		src     connectors.RestorableSource[int64]
		state   []byte
		wantErr string
	}{
		{"garbage", Generate(10, id), []byte("x"), "the position is not one of a generated source (1 bytes)"},
		{"wrong version", Generate(10, id), append([]byte{9}, pos(0, 1, 1)[1:]...), "the position is not one of a generated source"},
		{"beyond the count", Generate(10, id), pos(0, 10, 1), "does not fit a source of offsets up to 9"},
		{"zero step", Generate(10, id), pos(0, 5, 0), "step=0"},
		{"next after last", Generate(10, id), pos(6, 5, 1), "next=6 last=5"},
		{"into an empty generator", Generate(0, id), pos(0, 0, 1), "generator of no index"},
		{"beyond the sequence", Sequence(1, 5).(sequence), pos(0, 5, 1), "does not fit a source of offsets up to 4"},
		{"into an empty sequence", Sequence(1, 0).(sequence), pos(0, 0, 1), "into the empty sequence 1..0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.src.RestoreReader(info(0, 1), []connectors.SplitState{{Split: "s", State: tc.state}})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("RestoreReader: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
