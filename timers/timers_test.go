package timers

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

func TestQueueFiresInTimeOrderOnceAndHonoursDeletes(t *testing.T) {
	q := NewQueue[string, int]()
	reg := func(at int64, key string, kg int) bool {
		return q.Register(Timer[string, int]{Time: at, Key: key, KeyGroup: kg})
	}
	reg(30, "a", 1)
	reg(10, "b", 2)
	reg(20, "a", 1)
	if reg(10, "b", 2) {
		t.Fatal("the same timer registered twice")
	}
	reg(15, "c", 3)
	q.Delete(Timer[string, int]{Time: 15, Key: "c", KeyGroup: 3})
	if q.Len() != 3 || q.Next() != 10 {
		t.Fatalf("Len %d Next %d", q.Len(), q.Next())
	}
	var fired []string
	for {
		tm, ok := q.PopDue(25)
		if !ok {
			break
		}
		fired = append(fired, fmt.Sprintf("%s@%d", tm.Key, tm.Time))
		if tm.Time == 20 {
			reg(22, "d", 4) // registered while firing, due in the same advance
		}
	}
	if want := []string{"b@10", "a@20", "d@22"}; !slices.Equal(fired, want) {
		t.Fatalf("fired %v, want %v", fired, want)
	}
	var inGroup []int64
	for tm := range q.InKeyGroup(1) {
		inGroup = append(inGroup, tm.Time)
	}
	if !slices.Equal(inGroup, []int64{30}) || q.Next() != 30 {
		t.Fatalf("key group 1 holds %v, next %d", inGroup, q.Next())
	}
}

func TestQueueCompactsDeletedTimers(t *testing.T) {
	q := NewQueue[int, int]()
	for i := range 10000 {
		tm := Timer[int, int]{Time: int64(i), Key: i}
		q.Register(tm)
		q.Delete(tm)
	}
	if q.Len() != 0 || len(q.heap) > 64 || q.Next() != math.MaxInt64 {
		t.Fatalf("after deletes: len %d, heap %d", q.Len(), len(q.heap))
	}
}

func TestGenerator(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strategy WatermarkStrategy[int64]
		steps    []string // "r<ts>@<now>" record, "p@<now>" periodic
		want     []string // emitted per step: "W<wm>", "IDLE", "ACTIVE" or "-"
	}{
		{"bounded, after every record", BoundedOutOfOrderness(2*time.Second, func(v int64) int64 { return v }).WithInterval(0),
			[]string{"r1000@0", "r5000@0", "r4000@0", "r6000@0"},
			[]string{"W-1001", "W2999", "-", "W3999"}},
		{"monotonous, after every record", Monotonous(func(v int64) int64 { return v }).WithInterval(0),
			[]string{"r10@0", "r10@0", "r11@0"}, []string{"W9", "-", "W10"}},
		{"periodic emits only on the tick", BoundedOutOfOrderness(0, func(v int64) int64 { return v }),
			[]string{"r100@0", "r200@0", "p@200", "p@400", "r300@450", "p@600"},
			[]string{"-", "-", "W199", "-", "-", "W299"}},
		{"idleness", Monotonous(func(v int64) int64 { return v }).WithIdleness(time.Second),
			[]string{"r100@0", "p@500", "p@1000", "p@1200", "r150@1300", "p@1400"},
			[]string{"-", "W99", "IDLE", "-", "ACTIVE", "W149"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.strategy.Generator()
			for i, step := range tc.steps {
				var got string
				var ts, now int64
				if step[0] == 'r' {
					fmt.Sscanf(step, "r%d@%d", &ts, &now)
					wm, emit, resumed := g.OnRecord(ts, now)
					switch {
					case resumed:
						got = "ACTIVE"
					case emit:
						got = fmt.Sprintf("W%d", wm)
					default:
						got = "-"
					}
				} else {
					fmt.Sscanf(step, "p@%d", &now)
					wm, emit, idled := g.OnPeriodic(now)
					switch {
					case idled:
						got = "IDLE"
					case emit:
						got = fmt.Sprintf("W%d", wm)
					default:
						got = "-"
					}
				}
				if got != tc.want[i] {
					t.Fatalf("step %d (%s): %s, want %s", i, step, got, tc.want[i])
				}
			}
		})
	}
	if err := (WatermarkStrategy[int]{}).Validate(); err == nil {
		t.Fatal("a strategy without a timestamp assigner validated")
	}
}

func TestAssigners(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name     string
		assigner Assigner[TimeWindow]
		ts       int64
		want     []TimeWindow
	}{
		{"tumbling", TumblingEventTime(10*s, 0), 12345, []TimeWindow{{10000, 20000}}},
		{"tumbling at a boundary", TumblingEventTime(10*s, 0), 20000, []TimeWindow{{20000, 30000}}},
		{"tumbling negative", TumblingEventTime(10*s, 0), -1, []TimeWindow{{-10000, 0}}},
		{"tumbling with offset", TumblingEventTime(10*s, 3*s), 12345, []TimeWindow{{3000, 13000}}},
		{"sliding", SlidingEventTime(10*s, 5*s, 0), 12345, []TimeWindow{{10000, 20000}, {5000, 15000}}},
		{"sliding, size not a multiple", SlidingEventTime(10*s, 3*s, 0), 12345,
			[]TimeWindow{{12000, 22000}, {9000, 19000}, {6000, 16000}, {3000, 13000}}},
		{"session", EventTimeSession(3 * s), 12345, []TimeWindow{{12345, 15345}}},
	} {
		if got := tc.assigner.Assign(nil, tc.ts, 0); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Assign(%d) = %v, want %v", tc.name, tc.ts, got, tc.want)
		}
	}
	if got := TumblingProcessingTime(time.Second, 0).Assign(nil, 0, 2500); !slices.Equal(got, []TimeWindow{{2000, 3000}}) {
		t.Errorf("processing time uses now: %v", got)
	}
	if got := Global().Assign(nil, 5, 5); len(got) != 1 || got[0].MaxTimestamp() != math.MaxInt64 {
		t.Errorf("global: %v", got)
	}
}

func TestSessionMerge(t *testing.T) {
	m := EventTimeSession(3 * time.Second).Merge([]TimeWindow{{6000, 9000}, {1000, 4000}, {3500, 6500}, {20000, 23000}, {4000, 7000}})
	if len(m) != 1 || m[0].Result != (TimeWindow{1000, 9000}) || len(m[0].Parts) != 4 {
		t.Fatalf("merge = %+v", m)
	}
	if m := EventTimeSession(time.Second).Merge([]TimeWindow{{0, 1000}, {1001, 2001}}); len(m) != 0 {
		t.Fatalf("disjoint windows merged: %+v", m)
	}
}

// fakeTriggerContext records what a trigger asked for.
type fakeTriggerContext struct {
	watermark, now int64
	event, proc    map[int64]bool
	count          int64
}

func newFakeContext(wm int64) *fakeTriggerContext {
	return &fakeTriggerContext{watermark: wm, event: map[int64]bool{}, proc: map[int64]bool{}}
}

func (c *fakeTriggerContext) CurrentWatermark() int64             { return c.watermark }
func (c *fakeTriggerContext) CurrentProcessingTime() int64        { return c.now }
func (c *fakeTriggerContext) RegisterEventTimeTimer(t int64)      { c.event[t] = true }
func (c *fakeTriggerContext) DeleteEventTimeTimer(t int64)        { delete(c.event, t) }
func (c *fakeTriggerContext) RegisterProcessingTimeTimer(t int64) { c.proc[t] = true }
func (c *fakeTriggerContext) DeleteProcessingTimeTimer(t int64)   { delete(c.proc, t) }
func (c *fakeTriggerContext) AddCount(d int64) int64              { c.count += d; return c.count }
func (c *fakeTriggerContext) ClearCount()                         { c.count = 0 }

func TestTriggers(t *testing.T) {
	w := TimeWindow{0, 1000}
	et := EventTimeTrigger[TimeWindow]()
	ctx := newFakeContext(500)
	if r := et.OnElement(100, w, ctx); r != Continue || !ctx.event[999] {
		t.Fatalf("event-time OnElement before the end: %v, timers %v", r, ctx.event)
	}
	if r := et.OnEventTime(999, w, ctx); r != Fire {
		t.Fatalf("OnEventTime at the end: %v", r)
	}
	if r := et.OnEventTime(1500, w, ctx); r != Continue {
		t.Fatalf("OnEventTime at the cleanup time: %v", r)
	}
	ctx.watermark = 2000
	if r := et.OnElement(100, w, ctx); r != Fire {
		t.Fatalf("late element: %v, want FIRE", r)
	}
	et.Clear(w, ctx)
	if ctx.event[999] {
		t.Fatal("Clear kept the timer")
	}

	ct := CountTrigger[GlobalWindow](3)
	ctx = newFakeContext(0)
	var results []TriggerResult
	for range 7 {
		results = append(results, ct.OnElement(0, GlobalWindow{}, ctx))
	}
	want := []TriggerResult{Continue, Continue, Fire, Continue, Continue, Fire, Continue}
	if !slices.Equal(results, want) {
		t.Fatalf("count trigger: %v, want %v", results, want)
	}
	pt := Purging(CountTrigger[GlobalWindow](2))
	ctx = newFakeContext(0)
	if pt.OnElement(0, GlobalWindow{}, ctx) != Continue || pt.OnElement(0, GlobalWindow{}, ctx) != FireAndPurge {
		t.Fatal("purging count trigger does not FIRE_AND_PURGE on the second element")
	}
	ptt := ProcessingTimeTrigger[TimeWindow]()
	ctx = newFakeContext(0)
	if ptt.OnElement(0, w, ctx) != Continue || !ctx.proc[999] || ptt.OnProcessingTime(999, w, ctx) != Fire {
		t.Fatal("processing-time trigger")
	}
	if r := Never[GlobalWindow]().OnElement(0, GlobalWindow{}, ctx); r != Continue {
		t.Fatal("never fired")
	}
}
