package nexmark

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// BenchOptions configure RunBenchmark.
type BenchOptions struct {
	Events      int64
	Parallelism int
	Queries     []string // default: all
	State       string   // heap or pebble
	// Variants adds rows for the same queries run otherwise: "pebble" on the
	// Pebble backend, "ckpt=<interval>" with checkpoints at that interval.
	// Each entry is "<query>:<variant>", e.g. "q5:pebble", "q5:ckpt=1s".
	Variants []string
	// Dir holds the variants' checkpoints (a temporary directory when empty).
	Dir string
}

// DefaultVariants are the extra rows the benchmark table reports: the
// Pebble backend on q5 and q20, and checkpoint overhead on q5.
var DefaultVariants = []string{"q5:pebble", "q20:pebble", "q5:ckpt=10s", "q5:ckpt=1s"}

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
		if err := runFloe(ctx, q, name, cfg, o, &r, actors.WithStateBackend(o.State, "")); err != nil {
			return nil, err
		}
		if base, ok := Baselines[name]; ok {
			start := time.Now()
			var err error
			if r.BaseRows, err = base(cfg); err != nil {
				return nil, err
			}
			r.BaseWall = time.Since(start)
			r.Baseline = float64(o.Events) / r.BaseWall.Seconds()
		}
		out = append(out, r)
	}
	for _, v := range o.Variants {
		name, variant, ok := strings.Cut(v, ":")
		q, known := Queries[name]
		if !ok || !known {
			return nil, fmt.Errorf("variant %q: want <query>:pebble or <query>:ckpt=<interval> of a known query", v)
		}
		r := BenchResult{Query: name + " " + variant, Events: o.Events, Cores: cores}
		var opts []actors.Option
		switch {
		case variant == "pebble":
			opts = append(opts, actors.WithStateBackend("pebble", ""))
		case strings.HasPrefix(variant, "ckpt="):
			every, err := time.ParseDuration(strings.TrimPrefix(variant, "ckpt="))
			if err != nil || every <= 0 {
				return nil, fmt.Errorf("variant %q: bad interval", v)
			}
			dir := o.Dir
			if dir == "" {
				tmp, err := os.MkdirTemp("", "nexmark-checkpoints-")
				if err != nil {
					return nil, err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			opts = append(opts, actors.WithStateBackend(o.State, ""),
				actors.WithCheckpointing(actors.Checkpointing{Config: snapshot.Config{Interval: every}, Dir: dir}))
		default:
			return nil, fmt.Errorf("variant %q: want pebble or ckpt=<interval>", v)
		}
		if err := runFloe(ctx, q, name, cfg, o, &r, opts...); err != nil {
			return nil, err
		}
		// The ratio of a variant row is to the same query's main row.
		for _, main := range out {
			if main.Query == name {
				r.Baseline, r.BaseRows, r.BaseWall = main.FloePerCore, main.FloeRows, main.FloeWall
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// runFloe runs query q on floe and fills r's floe columns.
func runFloe(ctx context.Context, q Query, name string, cfg Config, o BenchOptions, r *BenchResult, opts ...actors.Option) error {
	rows := new(atomic.Int64)
	j := topology.NewJob("nexmark-"+name, topology.WithParallelism(max(o.Parallelism, 1)))
	q.Build(j, Events(j, cfg, ""), CountingOutput{Rows: rows})
	g, err := j.Build()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := actors.Execute(ctx, g, opts...); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.FloeWall = time.Since(start)
	r.FloeRows = rows.Load()
	r.Floe = float64(o.Events) / r.FloeWall.Seconds()
	r.FloePerCore = r.Floe / float64(r.Cores)
	return nil
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
