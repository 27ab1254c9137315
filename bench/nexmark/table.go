package nexmark

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/topology"
)

// BenchOptions configure RunBenchmark.
type BenchOptions struct {
	Events      int64
	Parallelism int
	Queries     []string // default: all
	State       string   // heap or pebble
}

// BenchResult is one line of the benchmark table.
type BenchResult struct {
	Query              string
	Events             int64
	Floe, FloePerCore  float64 // events/s
	Baseline           float64 // events/s, one goroutine; 0 when there is none
	FloeRows, BaseRows int64
	FloeWall, BaseWall time.Duration
	Cores              int
}

// Ratio is floe's events/s per core over the baseline's (which uses one).
func (r BenchResult) Ratio() float64 {
	if r.Baseline == 0 {
		return 0
	}
	return r.FloePerCore / r.Baseline
}

// RunBenchmark runs each query on floe and its baseline on the same
// generated events and returns the table's lines.
func RunBenchmark(ctx context.Context, o BenchOptions) ([]BenchResult, error) {
	cfg := DefaultConfig()
	cfg.Events = o.Events
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	queries := o.Queries
	if len(queries) == 0 {
		queries = QueryNames()
	}
	cores := min(runtime.GOMAXPROCS(0), max(o.Parallelism, 1))
	var out []BenchResult
	for _, name := range queries {
		q, ok := Queries[name]
		if !ok {
			return nil, fmt.Errorf("query %q: floe implements %v", name, QueryNames())
		}
		r := BenchResult{Query: name, Events: o.Events, Cores: cores}
		rows := new(atomic.Int64)
		j := topology.NewJob("nexmark-"+name, topology.WithParallelism(max(o.Parallelism, 1)))
		q.Build(j, Events(j, cfg, ""), CountingOutput{Rows: rows})
		g, err := j.Build()
		if err != nil {
			return nil, err
		}
		start := time.Now()
		if err := actors.Execute(ctx, g, actors.WithStateBackend(o.State, "")); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r.FloeWall = time.Since(start)
		r.FloeRows = rows.Load()
		r.Floe = float64(o.Events) / r.FloeWall.Seconds()
		r.FloePerCore = r.Floe / float64(cores)
		if base, ok := Baselines[name]; ok {
			start = time.Now()
			if r.BaseRows, err = base(cfg); err != nil {
				return nil, err
			}
			r.BaseWall = time.Since(start)
			r.Baseline = float64(o.Events) / r.BaseWall.Seconds()
		}
		out = append(out, r)
	}
	return out, nil
}

// WriteTable writes results as a Markdown table.
func WriteTable(w io.Writer, results []BenchResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| query\t events\t floe events/s\t per core\t baseline events/s\t ratio\t rows (floe/baseline)\t")
	fmt.Fprintln(tw, "| ---\t ---\t ---\t ---\t ---\t ---\t ---\t")
	for _, r := range results {
		base, ratio := "—", "—"
		if r.Baseline > 0 {
			base, ratio = fmt.Sprintf("%.0f", r.Baseline), fmt.Sprintf("%.2f×", r.Ratio())
		}
		fmt.Fprintf(tw, "| %s\t %d\t %.0f\t %.0f\t %s\t %s\t %d / %d\t\n",
			r.Query, r.Events, r.Floe, r.FloePerCore, base, ratio, r.FloeRows, r.BaseRows)
	}
	return tw.Flush()
}
