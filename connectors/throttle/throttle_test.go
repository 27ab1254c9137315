package throttle_test

import (
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/connectors/throttle"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestScheduleLetsRecordsOutOnTime(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	s := throttle.Schedule{PerSecond: 100, Now: c.now}
	if n := s.Allowance(); n != 1 {
		t.Fatalf("at start %d due, want 1", n)
	}
	s.Emitted(1)
	c.t = c.t.Add(95 * time.Millisecond) // records 1..9 are due
	if n := s.Allowance(); n != 9 {
		t.Fatalf("after 95ms %d due, want 9", n)
	}
	s.Emitted(9)
	if n := s.Allowance(); n != 0 {
		t.Fatalf("ahead of the schedule %d due, want 0", n)
	}
}

func TestSourceKeepsPositions(t *testing.T) {
	src := throttle.Source(collection.Of(1, 2, 3, 4, 5, 6, 7, 8), 1e9)
	info := connectors.SubtaskInfo{Operator: "s", Index: 0, Parallelism: 1}
	r, err := src.Reader(info)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	out := connectors.CollectorFunc[int](func(v int) { got = append(got, v) })
	if _, err := r.Poll(out, 3); err != nil {
		t.Fatal(err)
	}
	splits, err := r.(connectors.CheckpointedReader).SnapshotSplits()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := src.(connectors.RestorableSource[int]).RestoreReader(info, splits)
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := r2.Poll(out, 100)
		if err != nil {
			t.Fatal(err)
		}
		if st == connectors.EndOfInput {
			break
		}
	}
	want := []int{1, 2, 3, 4, 5, 6, 7, 8}
	if len(got) != len(want) {
		t.Fatalf("read %v across the restore, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("read %v across the restore, want %v", got, want)
		}
	}
}

func TestSourceIsLimited(t *testing.T) {
	src := throttle.Source(collection.Of(make([]int, 1000)...), 10)
	r, err := src.Reader(connectors.SubtaskInfo{Operator: "s", Index: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	out := connectors.CollectorFunc[int](func(int) { n++ })
	st, err := r.Poll(out, 100)
	if err != nil || n != 1 || st != connectors.NothingAvailable {
		t.Fatalf("first poll: %d records, %v, %v; want 1 record and nothing-available", n, st, err)
	}
}
