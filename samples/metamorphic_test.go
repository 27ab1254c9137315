package samples_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/samples"
	"github.com/floestream/floe/topology"
)

// configuration is one way to run a job: its state backend and parallelism.
type configuration struct {
	state string
	p     int
}

var configurations = []configuration{{"heap", 1}, {"heap", 4}, {"pebble", 1}, {"pebble", 4}}

// runEach builds the job for every configuration, runs it, and checks that
// every configuration's output equals the first one's.
func runEach(t *testing.T, name string, build func(j *topology.Job) func() []string) {
	t.Helper()
	var reference []string
	for i, c := range configurations {
		j := topology.NewJob(name, topology.WithParallelism(c.p))
		results := build(j)
		g, err := j.Build()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = actors.Execute(ctx, g, actors.WithStateBackend(c.state, t.TempDir()))
		cancel()
		if err != nil {
			t.Fatalf("%s with %s state at parallelism %d: %v", name, c.state, c.p, err)
		}
		got := results()
		slices.Sort(got)
		if i == 0 {
			if len(got) == 0 {
				t.Fatalf("%s produced nothing; the comparison would prove nothing", name)
			}
			reference = got
			continue
		}
		if !slices.Equal(got, reference) {
			t.Fatalf("%s with %s state at parallelism %d: %d lines differ from heap at parallelism 1 (%d lines)",
				name, c.state, c.p, len(got), len(reference))
		}
	}
}

// TestSameOutputOnEveryBackendAndParallelism is the metamorphic check: the
// same keyed jobs with heap and Pebble state, at parallelism 1 and 4,
// produce identical output.
func TestSameOutputOnEveryBackendAndParallelism(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 3))
	var events []string
	var ts int64
	for range 3000 {
		ts += int64(r.IntN(400)) - 100 // some out of order
		events = append(events, ev(fmt.Sprintf("k%d", r.IntN(40)), max(ts, 0), int64(r.IntN(100))))
	}
	for _, cfg := range []samples.WindowCountConfig{
		{Window: "tumbling", Size: 5 * time.Second, OutOfOrderness: 100 * time.Millisecond, AllowedLateness: 300 * time.Millisecond},
		{Window: "sliding", Size: 4 * time.Second, Slide: time.Second, OutOfOrderness: 200 * time.Millisecond},
		{Window: "session", Gap: 700 * time.Millisecond, OutOfOrderness: 150 * time.Millisecond},
	} {
		t.Run("windowcount "+cfg.Window, func(t *testing.T) {
			runEach(t, "windowcount", func(j *topology.Job) func() []string {
				out, late := collection.NewSink[samples.WindowResult](), collection.NewSink[string]()
				if err := samples.WindowCount(j, cfg, collection.Of(events...), out, late, nil); err != nil {
					t.Fatal(err)
				}
				return func() []string {
					var lines []string
					for _, w := range out.Records() {
						lines = append(lines, res(w.Key, w.WindowStart, w.WindowEnd, w.Count, w.Sum))
					}
					for _, l := range late.Records() {
						lines = append(lines, "late "+l)
					}
					return lines
				}
			})
		})
	}

	t.Run("wordcount", func(t *testing.T) {
		var text []string
		for range 2000 {
			var words []string
			for range r.IntN(12) {
				words = append(words, fmt.Sprintf("w%d", r.IntN(300)))
			}
			text = append(text, strings.Join(words, " "))
		}
		runEach(t, "wordcount", func(j *topology.Job) func() []string {
			out := collection.NewSink[samples.WordCountResult]()
			samples.WordCount(j, collection.Of(text...), out)
			return func() []string {
				var lines []string
				for _, w := range out.Records() {
					lines = append(lines, samples.WordCountLine(w))
				}
				return lines
			}
		})
	})

	t.Run("frauddetect", func(t *testing.T) {
		var txs []string
		var ts int64
		for range 3000 {
			ts += int64(r.IntN(20_000))
			amount := []float64{0.5, 12, 600, 0.99, 750}[r.IntN(5)]
			txs = append(txs, tx(fmt.Sprintf("a%d", r.IntN(20)), ts, amount))
		}
		runEach(t, "frauddetect", func(j *topology.Job) func() []string {
			out := collection.NewSink[samples.Transaction]()
			samples.FraudDetect(j, collection.Of(txs...), out, nil)
			return func() []string {
				var lines []string
				for _, a := range out.Records() {
					lines = append(lines, samples.AlertLine(a))
				}
				return lines
			}
		})
	})
}
