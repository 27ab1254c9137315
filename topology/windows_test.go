package topology_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

func execute(t *testing.T, j *topology.Job) {
	t.Helper()
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := actors.Execute(ctx, g); err != nil {
		t.Fatal(err)
	}
}

func TestGlobalWindowWithCountTriggers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		purging bool
		want    []int
	}{
		{"count trigger keeps contents", false, []int{1 + 2 + 3, 1 + 2 + 3 + 4 + 5 + 6}},
		{"purging count trigger", true, []int{1 + 2 + 3, 4 + 5 + 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := topology.NewJob("count-windows", topology.WithParallelism(2))
			src := topology.FromSource(j, "n", collection.Of(1, 2, 3, 4, 5, 6, 7)).Parallelism(1)
			trigger := timers.CountTrigger[timers.GlobalWindow](3)
			if tc.purging {
				trigger = timers.Purging(trigger)
			}
			w := topology.Window(topology.KeyBy(src, func(int) string { return "k" }), timers.Global()).Trigger(trigger)
			sink := collection.NewSink[int]()
			topology.Sink(topology.WindowReduce(w, "sum", func(a, b int) int { return a + b }), "out", sink)
			execute(t, j)
			got := sink.Records()
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("fired %v, want %v", got, tc.want)
			}
		})
	}
}

// parity sends odd numbers to a side output and even ones on, and registers
// an event-time timer 10 ms after every record.
type parity struct{}

var odd = topology.NewOutputTag[int64]("odd")

func (parity) ProcessElement(ctx *topology.KeyedContext[int64], v int64, out topology.Collector[string]) error {
	if v%2 == 1 {
		odd.Emit(ctx, v)
		return nil
	}
	ts, _ := ctx.Timestamp()
	ctx.RegisterEventTimeTimer(ts + 10)
	out.Collect(fmt.Sprintf("even %d", v))
	return nil
}

func (parity) OnTimer(ctx *topology.KeyedContext[int64], ts int64, out topology.Collector[string]) error {
	if ctx.TimeDomain() != topology.EventTime {
		return errors.New("wrong time domain")
	}
	out.Collect(fmt.Sprintf("timer %d@%d", ctx.Key(), ts))
	return nil
}

func TestSideOutputsAndEventTimeTimers(t *testing.T) {
	j := topology.NewJob("sides", topology.WithParallelism(2))
	src := topology.FromSource(j, "n", datagen.Sequence(1, 6)).Parallelism(1)
	timedSrc := topology.AssignTimestamps(src, timers.Monotonous(func(v int64) int64 { return v * 100 }).WithInterval(0))
	main := topology.KeyedProcess(topology.KeyBy(timedSrc, func(v int64) int64 { return v }), "parity", parity{})
	mainSink, oddSink := collection.NewSink[string](), collection.NewSink[int64]()
	topology.Sink(main, "main", mainSink)
	topology.Sink(topology.SideOutput(main, odd), "odd", oddSink)
	execute(t, j)
	gotMain := mainSink.Records()
	slices.Sort(gotMain)
	wantMain := []string{"even 2", "even 4", "even 6", "timer 2@210", "timer 4@410", "timer 6@610"}
	if !slices.Equal(gotMain, wantMain) {
		t.Fatalf("main output %q, want %q", gotMain, wantMain)
	}
	gotOdd := oddSink.Records()
	slices.Sort(gotOdd)
	if !slices.Equal(gotOdd, []int64{1, 3, 5}) {
		t.Fatalf("side output %v", gotOdd)
	}
}

// ticker registers a processing-time timer for every key it sees once.
type ticker struct{ seen map[int64]bool }

func (k *ticker) ProcessElement(ctx *topology.KeyedContext[int64], v int64, _ topology.Collector[string]) error {
	if k.seen == nil {
		k.seen = map[int64]bool{}
	}
	if !k.seen[v%3] {
		k.seen[v%3] = true
		ctx.RegisterProcessingTimeTimer(ctx.CurrentProcessingTime() + 20)
	}
	return nil
}

func (k *ticker) OnTimer(ctx *topology.KeyedContext[int64], _ int64, out topology.Collector[string]) error {
	out.Collect(fmt.Sprintf("%s %d", ctx.TimeDomain(), ctx.Key()))
	return nil
}

func TestProcessingTimeTimersAndWindows(t *testing.T) {
	j := topology.NewJob("processing-time", topology.WithParallelism(2))
	src := topology.FromSource(j, "ticks", datagen.Generate(-1, func(i int64) int64 { return i }).WithRate(2000)).Parallelism(1)
	keyed := topology.KeyBy(src, func(v int64) int64 { return v % 3 })
	timersOut := topology.KeyedProcess(keyed, "ticker", &ticker{})
	windows := topology.WindowAggregate(topology.Window(keyed, timers.TumblingProcessingTime(100*time.Millisecond, 0)),
		"count", countAgg{})
	timerSink, windowSink := collection.NewSink[string](), collection.NewSink[int64]()
	topology.Sink(timersOut, "timers", timerSink)
	topology.Sink(windows, "windows", windowSink)
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	r, err := actors.Start(context.Background(), g, actors.WithBufferTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	r.Cancel("test over")
	if err := r.Wait(); !errors.Is(err, actors.ErrCancelled) {
		t.Fatal(err)
	}
	got := timerSink.Records()
	slices.Sort(got)
	if want := []string{"processing-time 0", "processing-time 1", "processing-time 2"}; !slices.Equal(got, want) {
		t.Fatalf("processing-time timers fired %q, want %q", got, want)
	}
	if counts := windowSink.Records(); len(counts) < 6 { // 3 keys × at least 2 windows of 100 ms
		t.Fatalf("processing-time windows fired %d times in 700 ms: %v", len(counts), counts)
	}
}

type countAgg struct{}

func (countAgg) CreateAccumulator() int64     { return 0 }
func (countAgg) Add(_ int64, acc int64) int64 { return acc + 1 }
func (countAgg) Result(acc int64) int64       { return acc }
func (countAgg) Merge(a, b int64) int64       { return a + b }
