package topology_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

// twoSplits reads two splits one record at a time, interleaved, and
// finishes split b before a's last record.
type twoSplits struct{}

type splitRecord struct {
	Split string
	TS    int64
}

func (twoSplits) Reader(connectors.SubtaskInfo) (connectors.SourceReader[splitRecord], error) {
	return &twoSplitsReader{}, nil
}

type twoSplitsReader struct{ step int }

func (r *twoSplitsReader) Poll(out connectors.Collector[splitRecord], _ int) (connectors.Status, error) {
	so := out.(connectors.SplitOutput[splitRecord])
	script := []splitRecord{{"a", 1000}, {"b", 500}, {"a", 20000}, {"b", 600}, {"", 0}, {"a", 21000}}
	if r.step == len(script) {
		return connectors.EndOfInput, nil
	}
	s := script[r.step]
	r.step++
	if s.Split == "" {
		so.FinishSplit("b")
	} else {
		so.ForSplit(s.Split).Collect(s)
	}
	return connectors.MoreAvailable, nil
}

func (r *twoSplitsReader) Close() error { return nil }

func TestWatermarksPerSplit(t *testing.T) {
	j := topology.NewJob("splits")
	src := topology.FromSourceWithWatermarks(j, "splits", connectors.Source[splitRecord](twoSplits{}),
		timers.Monotonous(func(r splitRecord) int64 { return r.TS }).WithInterval(0))
	late := topology.NewOutputTag[splitRecord]("late")
	w := topology.Window(topology.KeyBy(src, func(splitRecord) int { return 0 }),
		timers.TumblingEventTime(10*time.Second, 0)).SideOutputLateData(late)
	counts := topology.WindowProcess(w, "count", topology.ProcessWindowFunc[splitRecord, string, int, timers.TimeWindow](
		func(ctx *topology.WindowContext[int, timers.TimeWindow], in []splitRecord, out topology.Collector[string]) error {
			out.Collect(fmt.Sprintf("%d:%d", ctx.Window().Start, len(in)))
			return nil
		}))
	sink, lateSink := collection.NewSink[string](), collection.NewSink[splitRecord]()
	topology.Sink(counts, "out", sink)
	topology.Sink(topology.SideOutput(counts, late), "late", lateSink)
	execute(t, j)
	got := sink.Records()
	slices.Sort(got)
	// b's 600 is not late: split b held the watermark at 499 until it finished.
	if want := []string{"0:3", "20000:2"}; !slices.Equal(got, want) || len(lateSink.Records()) != 0 {
		t.Fatalf("windows %v (late %v), want %v", got, lateSink.Records(), want)
	}
}
