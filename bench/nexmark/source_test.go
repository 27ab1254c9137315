package nexmark

import (
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
)

func info(i, p int) connectors.SubtaskInfo {
	return connectors.SubtaskInfo{Job: "job", Operator: "nexmark", Index: i, Parallelism: p}
}

// pollOnce polls r once and returns what it emitted and its status.
func pollOnce(t *testing.T, r connectors.SourceReader[Event], limit int) ([]Event, connectors.Status) {
	t.Helper()
	var got []Event
	st, err := r.Poll(connectors.CollectorFunc[Event](func(e Event) { got = append(got, e) }), limit)
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	if len(got) > max(limit, 0) {
		t.Fatalf("Poll(%d) emitted %d events", limit, len(got))
	}
	return got, st
}

// readAll reads subtask i of p of src to its end.
func readAll(t *testing.T, src connectors.Source[Event], i, p, limit int) []Event {
	t.Helper()
	r, err := src.Reader(info(i, p))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var all []Event
	for range 1_000_000 {
		got, st := pollOnce(t, r, limit)
		all = append(all, got...)
		switch st {
		case connectors.EndOfInput:
			return all
		case connectors.NothingAvailable:
			t.Fatal("a bounded source without a rate returned NothingAvailable")
		}
	}
	t.Fatal("reader did not reach EndOfInput")
	return nil
}

func TestSourceSplitsTheSequence(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstEventRate = 1000 // a millisecond apart: ordering is visible
	cfg.Events = 1003
	want := events(cfg, cfg.Events)
	for p := 1; p <= 5; p++ {
		merged := make([]Event, cfg.Events)
		seen := 0
		for i := range p {
			got := readAll(t, Source(cfg), i, p, 7)
			prev := int64(-1 << 63)
			for k, e := range got {
				n := int64(i + k*p)
				if n >= cfg.Events {
					t.Fatalf("p=%d subtask %d emitted event %d of %d", p, i, n, cfg.Events)
				}
				if e.DateTime() < prev {
					t.Fatalf("p=%d subtask %d: event %d at %d after %d", p, i, k, e.DateTime(), prev)
				}
				prev = e.DateTime()
				merged[n] = e
				seen++
			}
		}
		if seen != int(cfg.Events) || !reflect.DeepEqual(merged, want) {
			t.Fatalf("p=%d: the subtasks' events (%d) are not the sequence of %d", p, seen, cfg.Events)
		}
	}
}

// TestSourceReadersRunConcurrently runs the subtasks of one source on their
// own goroutines, as the runtime does (run it with -race).
func TestSourceReadersRunConcurrently(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 20_000
	const p = 4
	src := Source(cfg)
	var got [p][]Event
	var wg sync.WaitGroup
	for i := range p {
		wg.Go(func() {
			r, err := src.Reader(info(i, p))
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			for {
				st, err := r.Poll(connectors.CollectorFunc[Event](func(e Event) { got[i] = append(got[i], e) }), 256)
				if err != nil || st == connectors.EndOfInput {
					return
				}
			}
		})
	}
	wg.Wait()
	want := events(cfg, cfg.Events)
	for i := range p {
		if len(got[i]) != int(cfg.Events)/p {
			t.Fatalf("subtask %d emitted %d events", i, len(got[i]))
		}
		for k, e := range got[i] {
			if !reflect.DeepEqual(e, want[i+k*p]) {
				t.Fatalf("subtask %d: event %d differs from the sequence", i, k)
			}
		}
	}
}

func TestSourceMoreSubtasksThanEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 2
	for i := range 4 {
		got := readAll(t, Source(cfg), i, 4, 10)
		if wantLen := map[int]int{0: 1, 1: 1}[i]; len(got) != wantLen {
			t.Errorf("subtask %d emitted %d events, want %d", i, len(got), wantLen)
		}
	}
}

func TestSourceUnbounded(t *testing.T) {
	cfg := DefaultConfig() // Events 0: unbounded
	r, err := Source(cfg).Reader(info(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		got, st := pollOnce(t, r, 100)
		if st != connectors.MoreAvailable || len(got) != 100 {
			t.Fatalf("poll %d: %d events, %v", k, len(got), st)
		}
		if want := cfg.Event(int64(1 + 3*(100*k+99))); !reflect.DeepEqual(got[99], want) {
			t.Fatalf("poll %d: last event is not event %d", k, 1+3*(100*k+99))
		}
	}
	if got, st := pollOnce(t, r, 0); len(got) != 0 || st != connectors.MoreAvailable {
		t.Errorf("Poll(0) = %d events, %v", len(got), st)
	}
	if got, st := pollOnce(t, r, -3); len(got) != 0 || st != connectors.MoreAvailable {
		t.Errorf("Poll(-3) = %d events, %v", len(got), st)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSourceUnboundedKeepsGoing(t *testing.T) {
	cfg := DefaultConfig() // Events 0: unbounded
	r, err := Source(cfg).Reader(info(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, st := pollOnce(t, r, 3)
	if st != connectors.MoreAvailable || len(got) != 3 || !reflect.DeepEqual(got[2], cfg.Event(5)) {
		t.Errorf("got %d events, %v; want events 1, 3, 5 and more", len(got), st)
	}
}

func TestSourceRejectsBadConfigAndSubtask(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HotBiddersRatio = 0
	src := Source(cfg)
	v, ok := src.(connectors.Validator)
	if !ok {
		t.Fatal("the source does not implement connectors.Validator")
	}
	if err := v.Validate(); err == nil || !strings.Contains(err.Error(), "HotBiddersRatio") {
		t.Errorf("Validate = %v", err)
	}
	if _, err := src.Reader(info(0, 1)); err == nil {
		t.Error("Reader accepted an invalid config")
	}
	if _, err := Source(DefaultConfig()).Reader(info(2, 2)); err == nil {
		t.Error("Reader accepted subtask 2 of 2")
	}
	cfg = DefaultConfig()
	cfg.Rate = -1
	if _, err := Source(cfg).Reader(info(0, 1)); err == nil || !strings.Contains(err.Error(), "Rate is -1") {
		t.Errorf("Reader with a negative rate: %v", err)
	}
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSourceRate(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	cfg := DefaultConfig()
	cfg.Rate = 20 // 10 events/s for each of 2 subtasks
	r, err := sourceWithClock(cfg, clock.now).Reader(info(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour) // the schedule starts at the first Poll, not at Reader

	steps := []struct {
		advance time.Duration
		limit   int
		want    []int64 // event numbers
		st      connectors.Status
	}{
		{0, 100, []int64{0}, connectors.NothingAvailable}, // event 0 is due at once
		{0, 100, nil, connectors.NothingAvailable},
		{99 * time.Millisecond, 100, nil, connectors.NothingAvailable},
		{time.Millisecond, 100, []int64{2}, connectors.NothingAvailable}, // 100 ms: the next is due
		{500 * time.Millisecond, 100, []int64{4, 6, 8, 10, 12}, connectors.NothingAvailable},
		{time.Second, 4, []int64{14, 16, 18, 20}, connectors.MoreAvailable}, // behind: catch up
		{0, 4, []int64{22, 24, 26, 28}, connectors.MoreAvailable},
		{0, 4, []int64{30, 32}, connectors.NothingAvailable},
		{0, 4, nil, connectors.NothingAvailable},
	}
	for i, s := range steps {
		clock.advance(s.advance)
		got, st := pollOnce(t, r, s.limit)
		var nums []int64
		for _, e := range got {
			for _, n := range []int64{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32} {
				if reflect.DeepEqual(e, cfg.Event(n)) {
					nums = append(nums, n)
				}
			}
		}
		if !reflect.DeepEqual(nums, s.want) || len(nums) != len(got) || st != s.st {
			t.Errorf("step %d: got events %v (%d) %v, want %v %v", i, nums, len(got), st, s.want, s.st)
		}
	}
}

func TestSourceRateBoundedEnds(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	cfg := DefaultConfig()
	cfg.Events, cfg.Rate = 3, 1
	r, err := sourceWithClock(cfg, clock.now).Reader(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got, st := pollOnce(t, r, 10); len(got) != 1 || st != connectors.NothingAvailable {
		t.Errorf("first poll: %d events, %v; want 1, nothing-available", len(got), st)
	}
	clock.advance(time.Minute)
	if got, st := pollOnce(t, r, 10); len(got) != 2 || st != connectors.EndOfInput {
		t.Errorf("second poll: %d events, %v; want 2, end-of-input", len(got), st)
	}
}

func TestSourceInfiniteRateIsUnlimited(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Events = 1000
	cfg.Rate = math.Inf(1)
	if got := readAll(t, Source(cfg), 0, 1, 1000); len(got) != 1000 {
		t.Errorf("%d events, want 1000", len(got))
	}
}
