package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

// Window benchmark shape: one record per millisecond of event time, 1,000
// keys, tumbling windows of 10 s.
const (
	windowKeys = 1000
	windowSize = 10_000 // ms
)

type event struct {
	Key int64
	TS  int64
}

func eventAt(i int64) event { return event{Key: i % windowKeys, TS: i} }

// handWindowCount is the baseline: one map of counts per window, windows
// emitted and dropped as event time passes their end. It returns the sum of
// the counts emitted, which must be n.
func handWindowCount(n int) int64 {
	windows := map[int64]map[int64]int64{}
	var total int64
	var watermark int64 = -1
	emit := func(upTo int64) {
		for start, counts := range windows {
			if start+windowSize-1 <= upTo {
				for _, c := range counts {
					total += c
				}
				delete(windows, start)
			}
		}
	}
	for i := int64(0); i < int64(n); i++ {
		e := eventAt(i)
		start := e.TS - e.TS%windowSize
		counts := windows[start]
		if counts == nil {
			counts = map[int64]int64{}
			windows[start] = counts
		}
		counts[e.Key]++
		if wm := e.TS - 1; wm/windowSize != watermark/windowSize {
			emit(wm)
		}
		watermark = e.TS - 1
	}
	emit(int64(^uint64(0) >> 1))
	return total
}

type countOf struct{}

func (countOf) CreateAccumulator() int64     { return 0 }
func (countOf) Add(_ event, acc int64) int64 { return acc + 1 }
func (countOf) Result(acc int64) int64       { return acc }
func (countOf) Merge(a, b int64) int64       { return a + b }

func floeWindowCount(b *testing.B, n int) int64 {
	var sum atomic.Int64
	j := topology.NewJob("window-count")
	src := topology.FromSource(j, "events", connectors.Source[event](datagen.Generate(int64(n), eventAt)))
	timed := topology.AssignTimestamps(src, timers.Monotonous(func(e event) int64 { return e.TS }))
	counts := topology.WindowAggregate(topology.Window(topology.KeyBy(timed, func(e event) int64 { return e.Key }),
		timers.TumblingEventTime(windowSize*time.Millisecond, 0)), "count", countOf{})
	topology.Sink(counts, "sum", sumSink{&sum})
	g, err := j.Build()
	if err != nil {
		b.Fatal(err)
	}
	if err := actors.Execute(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	return sum.Load()
}

// BenchmarkTumblingWindowCount: a count per key in tumbling event-time
// windows at parallelism 1, against a loop with a map per window.
func BenchmarkTumblingWindowCount(b *testing.B) {
	compare(b, func(n int) int64 { return int64(n) },
		variant{"hand-loop", func(_ *testing.B, n int) int64 { return handWindowCount(n) }},
		variant{"floe", floeWindowCount})
}
