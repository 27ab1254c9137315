package topology_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

type rec struct {
	Key int
	TS  int64
	ID  int
}

// sortedRecords returns n records over keys 0..keys-1 in timestamp order.
func sortedRecords(r *rand.Rand, n, keys int, idBase int) []rec {
	var out []rec
	var ts int64
	for i := range n {
		ts += int64(r.IntN(700))
		out = append(out, rec{Key: r.IntN(keys), TS: ts, ID: idBase + i})
	}
	return out
}

func timed(j *topology.Job, name string, rs []rec) topology.Keyed[rec, int] {
	s := topology.FromSource(j, name, collection.Of(rs...)).Parallelism(1)
	t := topology.AssignTimestamps(s, timers.Monotonous(func(r rec) int64 { return r.TS }).WithInterval(0)).Parallelism(1)
	return topology.KeyBy(t, func(r rec) int { return r.Key })
}

func runJoin(t *testing.T, j *topology.Job, out topology.Stream[string]) []string {
	t.Helper()
	sink := collection.NewSink[string]()
	topology.Sink(out, "collect", sink)
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := actors.Execute(ctx, g); err != nil {
		t.Fatal(err)
	}
	got := sink.Records()
	slices.Sort(got)
	return got
}

func pair(a, b rec) string { return fmt.Sprintf("%d:%d", a.ID, b.ID) }

func TestIntervalJoinMatchesNestedLoop(t *testing.T) {
	for seed := range uint64(3) {
		r := rand.New(rand.NewPCG(seed, 9))
		lefts, rights := sortedRecords(r, 300, 5, 0), sortedRecords(r, 300, 5, 10000)
		lower, upper := -2*time.Second, 3*time.Second
		var want []string
		for _, a := range lefts {
			for _, b := range rights {
				if a.Key == b.Key && b.TS >= a.TS+lower.Milliseconds() && b.TS <= a.TS+upper.Milliseconds() {
					want = append(want, pair(a, b))
				}
			}
		}
		slices.Sort(want)
		for _, p := range []int{1, 3} {
			j := topology.NewJob("interval-join", topology.WithParallelism(p))
			joined := topology.IntervalJoin(timed(j, "left", lefts), timed(j, "right", rights), lower, upper, "join",
				func(_ *topology.KeyedContext[int], a, b rec, out topology.Collector[string]) error {
					out.Collect(pair(a, b))
					return nil
				})
			if got := runJoin(t, j, joined); !slices.Equal(got, want) {
				t.Fatalf("seed %d p%d: %d pairs, nested loop has %d", seed, p, len(got), len(want))
			}
		}
		if len(want) == 0 {
			t.Fatal("the data produce no pairs; the test would prove nothing")
		}
	}
}

func TestWindowJoinMatchesNestedLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	lefts, rights := sortedRecords(r, 300, 4, 0), sortedRecords(r, 300, 4, 10000)
	const size = 5000
	var want []string
	for _, a := range lefts {
		for _, b := range rights {
			if a.Key == b.Key && a.TS/size == b.TS/size {
				want = append(want, pair(a, b))
			}
		}
	}
	slices.Sort(want)
	for _, p := range []int{1, 2} {
		j := topology.NewJob("window-join", topology.WithParallelism(p))
		joined := topology.WindowJoin(timed(j, "left", lefts), timed(j, "right", rights),
			timers.TumblingEventTime(size*time.Millisecond, 0), "join", pair)
		if got := runJoin(t, j, joined); !slices.Equal(got, want) {
			t.Fatalf("p%d: %d pairs, nested loop has %d", p, len(got), len(want))
		}
	}
}
