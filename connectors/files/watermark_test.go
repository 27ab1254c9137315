package files_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/connectors/files"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

// A reader names all its splits on its first Poll, so a file it has not
// read yet holds the watermark back: records of the second file, older than
// the first file's, are not late.
func TestUnreadSplitsHoldTheWatermarkBack(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, from, to int) string {
		var b strings.Builder
		for ts := from; ts < to; ts++ {
			fmt.Fprintln(&b, ts)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newer, older := write("newer.txt", 10_000, 12_000), write("older.txt", 0, 2_000)
	j := topology.NewJob("splits", topology.WithParallelism(1))
	ts := func(line string) int64 { v, _ := strconv.ParseInt(line, 10, 64); return v }
	lines := topology.FromSourceWithWatermarks(j, "lines", files.Lines(newer, older), timers.BoundedOutOfOrderness(0, ts).WithInterval(0))
	late := topology.NewOutputTag[string]("late")
	counts := topology.WindowAggregate(topology.Window(topology.KeyBy(lines, func(string) int { return 0 }),
		timers.TumblingEventTime(time.Second, 0)).SideOutputLateData(late), "count", countLines{})
	out, lateOut := collection.NewSink[int64](), collection.NewSink[string]()
	topology.Sink(counts, "counts", out)
	topology.Sink(topology.SideOutput(counts, late), "late", lateOut)
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := actors.Execute(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if n := len(lateOut.Records()); n != 0 {
		t.Fatalf("%d records of the file read second were late: its split did not hold the watermark back", n)
	}
	var total int64
	for _, c := range out.Records() {
		total += c
	}
	if total != 4000 {
		t.Fatalf("windows counted %d records, want 4000", total)
	}
}

type countLines struct{}

func (countLines) CreateAccumulator() int64    { return 0 }
func (countLines) Add(_ string, n int64) int64 { return n + 1 }
func (countLines) Result(n int64) int64        { return n }
func (countLines) Merge(a, b int64) int64      { return a + b }
