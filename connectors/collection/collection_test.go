package collection

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/floestream/floe/connectors"
)

// poll is one Poll's outcome: the records it emitted and its status.
type poll[T any] struct {
	records []T
	status  connectors.Status
}

// drain polls r with max until EndOfInput and returns every Poll's outcome.
func drain[T any](t *testing.T, r connectors.SourceReader[T], max int) []poll[T] {
	t.Helper()
	var polls []poll[T]
	for range 10_000 {
		var got []T
		st, err := r.Poll(connectors.CollectorFunc[T](func(v T) { got = append(got, v) }), max)
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if len(got) > max {
			t.Fatalf("Poll(max=%d) emitted %d records", max, len(got))
		}
		polls = append(polls, poll[T]{got, st})
		if st == connectors.EndOfInput {
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return polls
		}
	}
	t.Fatal("reader did not reach EndOfInput")
	return nil
}

func flatten[T any](polls []poll[T]) []T {
	var all []T
	for _, p := range polls {
		all = append(all, p.records...)
	}
	return all
}

func TestOfSplitsItemsRoundRobin(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e", "f", "g"}
	tests := []struct {
		parallelism int
		want        [][]string // per subtask
	}{
		{1, [][]string{{"a", "b", "c", "d", "e", "f", "g"}}},
		{2, [][]string{{"a", "c", "e", "g"}, {"b", "d", "f"}}},
		{3, [][]string{{"a", "d", "g"}, {"b", "e"}, {"c", "f"}}},
		{7, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}}},
		{9, [][]string{{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}, {"g"}, nil, nil}},
	}
	for _, tc := range tests {
		for _, max := range []int{1, 2, 3, 100} {
			t.Run(fmt.Sprintf("p=%d/max=%d", tc.parallelism, max), func(t *testing.T) {
				src := Of(items...)
				for i := range tc.parallelism {
					r, err := src.Reader(connectors.SubtaskInfo{Operator: "src", Index: i, Parallelism: tc.parallelism})
					if err != nil {
						t.Fatal(err)
					}
					got := flatten(drain(t, r, max))
					if !slices.Equal(got, tc.want[i]) {
						t.Errorf("subtask %d: got %q, want %q", i, got, tc.want[i])
					}
				}
			})
		}
	}
}

func TestOfPollStatus(t *testing.T) {
	tests := []struct {
		name  string
		items []int
		max   int
		want  []poll[int]
	}{
		{"empty", nil, 4, []poll[int]{{nil, connectors.EndOfInput}}},
		{"remainder with end", []int{1, 2, 3}, 2, []poll[int]{
			{[]int{1, 2}, connectors.MoreAvailable},
			{[]int{3}, connectors.EndOfInput},
		}},
		{"exact multiple ends with last batch", []int{1, 2, 3, 4}, 2, []poll[int]{
			{[]int{1, 2}, connectors.MoreAvailable},
			{[]int{3, 4}, connectors.EndOfInput},
		}},
		{"all at once", []int{1, 2, 3}, 10, []poll[int]{{[]int{1, 2, 3}, connectors.EndOfInput}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Of(tc.items...).Reader(connectors.SubtaskInfo{Index: 0, Parallelism: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := drain(t, r, tc.max)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d polls %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				if !slices.Equal(got[i].records, tc.want[i].records) || got[i].status != tc.want[i].status {
					t.Errorf("poll %d: got %v %v, want %v %v", i, got[i].records, got[i].status, tc.want[i].records, tc.want[i].status)
				}
			}
		})
	}
}

func TestOfCopiesItems(t *testing.T) {
	items := []int{1, 2, 3}
	src := Of(items...)
	items[0] = 99
	r, err := src.Reader(connectors.SubtaskInfo{Index: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := flatten(drain(t, r, 10)); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("got %v, want [1 2 3]", got)
	}
}

func TestInvalidSubtaskIsRejected(t *testing.T) {
	for _, info := range []connectors.SubtaskInfo{
		{Index: 0, Parallelism: 0},
		{Index: -1, Parallelism: 2},
		{Index: 2, Parallelism: 2},
	} {
		if _, err := Of(1, 2).Reader(info); err == nil {
			t.Errorf("Reader(%+v): want an error", info)
		}
		if _, err := NewSink[int]().Writer(info); err == nil {
			t.Errorf("Writer(%+v): want an error", info)
		}
	}
}

func TestSinkRecordsVisibleOnFlushAndClose(t *testing.T) {
	s := NewSink[int]()
	w, err := s.Writer(connectors.SubtaskInfo{Index: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		do   func() error
		want []int
	}{
		{func() error { return w.Write(1) }, []int{}},
		{func() error { return w.Write(2) }, []int{}},
		{w.Flush, []int{1, 2}},
		{w.Flush, []int{1, 2}},
		{func() error { return w.Write(3) }, []int{1, 2}},
		{w.Close, []int{1, 2, 3}},
		{w.Close, []int{1, 2, 3}},
	}
	for i, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := s.Records(); !slices.Equal(got, st.want) {
			t.Errorf("step %d: Records() = %v, want %v", i, got, st.want)
		}
	}
	if err := w.Write(4); err == nil {
		t.Error("Write after Close: want an error")
	}
	if err := w.Flush(); err == nil {
		t.Error("Flush after Close: want an error")
	}
}

func TestSinkOrdersBySubtaskAndCollectsAcrossRuns(t *testing.T) {
	s := NewSink[string]()
	run := func(p int, prefix string) {
		t.Helper()
		// Open and write in reverse subtask order: the result must not depend on it.
		for i := p - 1; i >= 0; i-- {
			w, err := s.Writer(connectors.SubtaskInfo{Index: i, Parallelism: p})
			if err != nil {
				t.Fatal(err)
			}
			for j := range 2 {
				if err := w.Write(fmt.Sprintf("%s%d.%d", prefix, i, j)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(2, "a")
	run(3, "b")
	wantBy := [][]string{
		{"a0.0", "a0.1", "b0.0", "b0.1"},
		{"a1.0", "a1.1", "b1.0", "b1.1"},
		{"b2.0", "b2.1"},
	}
	by := s.BySubtask()
	if len(by) != len(wantBy) {
		t.Fatalf("BySubtask() = %v, want %v", by, wantBy)
	}
	for i := range by {
		if !slices.Equal(by[i], wantBy[i]) {
			t.Errorf("BySubtask()[%d] = %v, want %v", i, by[i], wantBy[i])
		}
	}
	if got, want := s.Records(), slices.Concat(wantBy...); !slices.Equal(got, want) {
		t.Errorf("Records() = %v, want %v", got, want)
	}

	// The results are copies.
	by[0][0] = "changed"
	if got := s.Records()[0]; got != "a0.0" {
		t.Errorf("changing BySubtask's result changed the sink: first record %q", got)
	}

	s.Reset()
	if got := s.Records(); len(got) != 0 {
		t.Errorf("after Reset: Records() = %v, want none", got)
	}
	if got := s.BySubtask(); len(got) != 0 {
		t.Errorf("after Reset: BySubtask() = %v, want none", got)
	}
}

func TestSinkBySubtaskIncludesSilentSubtasks(t *testing.T) {
	s := NewSink[int]()
	if _, err := s.Writer(connectors.SubtaskInfo{Index: 2, Parallelism: 3}); err != nil {
		t.Fatal(err)
	}
	by := s.BySubtask()
	if len(by) != 3 {
		t.Fatalf("BySubtask() has %d subtasks, want 3", len(by))
	}
	for i, part := range by {
		if part == nil || len(part) != 0 {
			t.Errorf("subtask %d: got %#v, want an empty slice", i, part)
		}
	}
}

func TestSinkConcurrentWriters(t *testing.T) {
	const p, n = 8, 2000
	s := NewSink[int]()
	var wg sync.WaitGroup
	for i := range p {
		w, err := s.Writer(connectors.SubtaskInfo{Index: i, Parallelism: p})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for j := range n {
				if err := w.Write(i*n + j); err != nil {
					t.Error(err)
					return
				}
				if j%100 == 99 {
					if err := w.Flush(); err != nil {
						t.Error(err)
						return
					}
					_ = s.Records() // readers run concurrently with writers
				}
			}
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := s.Records()
	if len(got) != p*n {
		t.Fatalf("got %d records, want %d", len(got), p*n)
	}
	for k, v := range got {
		if v != k {
			t.Fatalf("record %d = %d, want %d (subtasks in index order, each in write order)", k, v, k)
		}
	}
}

func TestZeroSinkIsUsable(t *testing.T) {
	var s Sink[int]
	w, err := s.Writer(connectors.SubtaskInfo{Index: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(7); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.Records(); !slices.Equal(got, []int{7}) {
		t.Errorf("Records() = %v, want [7]", got)
	}
}
