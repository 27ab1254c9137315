package actors_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/collection"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

func build(t *testing.T, j *topology.Job) *topology.JobGraph {
	t.Helper()
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func run(t *testing.T, j *topology.Job, opts ...actors.Option) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := actors.Execute(ctx, build(t, j), opts...); err != nil {
		t.Fatal(err)
	}
}

func TestPipelineAtEveryShape(t *testing.T) {
	const n = 20000
	want := []int64{}
	for i := int64(0); i < n; i++ {
		if v := i * 3; v%2 == 0 {
			want = append(want, v)
		}
	}
	for _, tc := range []struct {
		name     string
		par      int
		chaining bool
		opts     []actors.Option
	}{
		{"chained p1", 1, true, nil},
		{"unchained p1", 1, false, nil},
		{"unchained p3", 3, false, nil},
		{"unchained p2 per-record flush", 2, false, []actors.Option{actors.WithBufferTimeout(0)}},
		{"unchained p4 tiny batches one credit", 4, false, []actors.Option{actors.WithBatchSize(3), actors.WithCredits(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []topology.JobOption{topology.WithParallelism(tc.par)}
			if !tc.chaining {
				opts = append(opts, topology.WithoutChaining())
			}
			j := topology.NewJob("pipeline", opts...)
			src := topology.FromSource(j, "numbers", datagen.Sequence(0, n-1))
			tripled := topology.Map(src, "triple", func(v int64) int64 { return v * 3 })
			even := topology.Filter(tripled, "even", func(v int64) bool { return v%2 == 0 })
			sink := collection.NewSink[int64]()
			topology.Sink(even, "collect", sink)
			run(t, j, tc.opts...)
			got := sink.Records()
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
		})
	}
}

type wordCount struct {
	Word  string
	Count int64
}

// counter emits the final count per word when its input ends.
type counter struct{ counts keyspace.ValueState[int64] }

func (c *counter) Open(ctx *topology.KeyedContext[string]) (err error) {
	c.counts, err = keyspace.NewValueState[string, int64](ctx.State(), "count")
	return err
}

func (c *counter) ProcessElement(_ *topology.KeyedContext[string], _ string, _ topology.Collector[wordCount]) error {
	n, _ := c.counts.Value()
	c.counts.Update(n + 1)
	return nil
}

func (c *counter) Finish(ctx *topology.KeyedContext[string], out topology.Collector[wordCount]) error {
	return ctx.ForEachKey("count", func(w string) error {
		n, _ := c.counts.Value()
		out.Collect(wordCount{w, n})
		return nil
	})
}

func TestKeyedExchangeCountsEveryKeyOnce(t *testing.T) {
	var words []string
	want := map[string]int64{}
	for i := range 5000 {
		w := fmt.Sprintf("w%d", (i*7919)%613)
		words = append(words, w)
		want[w]++
	}
	for _, p := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("p", p), func(t *testing.T) {
			j := topology.NewJob("count", topology.WithParallelism(p))
			src := topology.FromSource(j, "words", collection.Of(words...))
			counts := topology.KeyedProcess(topology.KeyBy(src, func(w string) string { return w }), "count", &counter{})
			sink := collection.NewSink[wordCount]()
			topology.Sink(counts, "collect", sink).Parallelism(1)
			run(t, j, actors.WithBatchSize(16))
			got := map[string]int64{}
			for _, wc := range sink.Records() {
				if _, dup := got[wc.Word]; dup {
					t.Fatalf("word %q emitted twice", wc.Word)
				}
				got[wc.Word] = wc.Count
			}
			if len(got) != len(want) {
				t.Fatalf("got %d words, want %d", len(got), len(want))
			}
			for w, n := range want {
				if got[w] != n {
					t.Fatalf("count of %q = %d, want %d", w, got[w], n)
				}
			}
		})
	}
}

func TestUnionConnectAndBroadcast(t *testing.T) {
	j := topology.NewJob("shapes", topology.WithParallelism(2))
	a := topology.FromSource(j, "a", collection.Of(1, 2, 3))
	b := topology.FromSource(j, "b", collection.Of(10, 20))
	u := topology.Union(a, b)
	labels := topology.FromSource(j, "labels", collection.Of("x")).Parallelism(1)
	co := topology.CoProcess(topology.Connect(u, labels.Broadcast()), "tag", &tagger{})
	sink := collection.NewSink[string]()
	topology.Sink(co, "collect", sink)
	run(t, j)
	got := sink.Records()
	slices.Sort(got)
	want := []string{"label x", "label x", "n 1", "n 10", "n 2", "n 20", "n 3"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

type tagger struct{}

func (tagger) ProcessElement1(_ *topology.Context, v int, out topology.Collector[string]) error {
	out.Collect(fmt.Sprintf("n %d", v))
	return nil
}

func (tagger) ProcessElement2(_ *topology.Context, v string, out topology.Collector[string]) error {
	out.Collect("label " + v)
	return nil
}

func TestUserErrorFailsJobNamingOperatorAndSubtask(t *testing.T) {
	for _, mode := range []string{"error", "panic"} {
		t.Run(mode, func(t *testing.T) {
			j := topology.NewJob("failing", topology.WithParallelism(2))
			src := topology.FromSource(j, "numbers", datagen.Sequence(0, 999))
			ok := topology.Map(src, "fine", func(v int64) int64 { return v })
			bad := topology.Process(ok, "explode", topology.ProcessFunc[int64, int64](
				func(_ *topology.Context, v int64, out topology.Collector[int64]) error {
					if v == 777 {
						if mode == "panic" {
							panic("boom at 777")
						}
						return errors.New("bad record 777")
					}
					out.Collect(v)
					return nil
				}))
			topology.Sink(bad, "collect", collection.NewSink[int64]())
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := actors.Execute(ctx, build(t, j))
			var opErr *actors.OperatorError
			if !errors.As(err, &opErr) {
				t.Fatalf("error %v is not an OperatorError", err)
			}
			if opErr.Operator != "explode" || opErr.Parallelism != 2 || !strings.Contains(err.Error(), "777") {
				t.Fatalf("error %q does not name operator explode, its subtask and the cause", err)
			}
		})
	}
}

func TestCancelStopsUnboundedJob(t *testing.T) {
	j := topology.NewJob("forever", topology.WithParallelism(2))
	src := topology.FromSource(j, "ticks", datagen.Generate(-1, func(i int64) int64 { return i }))
	topology.Sink(src, "collect", collection.NewSink[int64]())
	ctx, cancel := context.WithCancel(context.Background())
	r, err := actors.Start(ctx, build(t, j))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range r.Metrics() {
		if m.Watermark != math.MinInt64 {
			t.Fatalf("watermark %d before any, want MinInt64", m.Watermark)
		}
	}
	for {
		var in uint64
		for _, m := range r.Metrics() {
			in += m.RecordsIn
		}
		if in > 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the unbounded job did not make progress")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not stop after cancel")
	}
	if err := r.Wait(); !errors.Is(err, actors.ErrCancelled) {
		t.Fatalf("Wait = %v, want ErrCancelled", err)
	}
}

func TestMetricsReportStateSize(t *testing.T) {
	for _, backend := range []string{"heap", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			var words []string
			for i := range 3000 {
				words = append(words, fmt.Sprintf("w%d", i%250))
			}
			j := topology.NewJob("state-size", topology.WithParallelism(2))
			src := topology.FromSource(j, "words", collection.Of(words...))
			counts := topology.KeyedProcess(topology.KeyBy(src, func(w string) string { return w }), "count", &counter{})
			topology.Sink(counts, "collect", collection.NewSink[wordCount]())
			r, err := actors.Start(context.Background(), build(t, j), actors.WithStateBackend(backend, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Wait(); err != nil {
				t.Fatal(err)
			}
			var keys int64
			for _, m := range r.Metrics() {
				keys += m.StateKeys
			}
			if keys != 250 {
				t.Fatalf("state keys %d, want 250 (one count per word)", keys)
			}
		})
	}
}
