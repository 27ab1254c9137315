package nexmark

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/spf13/pflag"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/files"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

// MarshalJSON writes the row's columns in SQL order.
func (r Row) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range r.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(c.Name)
		value, err := json.Marshal(c.Value)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// FileOutput writes rows as JSON lines to a file.
type FileOutput struct{ Path string }

func (f FileOutput) sink(string) connectors.Sink[Row] { return files.JSONLines[Row](f.Path) }

// CountingOutput counts rows and drops them, as Nexmark's blackhole sink.
type CountingOutput struct{ Rows *atomic.Int64 }

func (c CountingOutput) sink(string) connectors.Sink[Row] { return counting[Row]{c.Rows} }

// counting is a sink that counts records and drops them.
type counting[R any] struct{ rows *atomic.Int64 }

func (c counting[R]) Writer(connectors.SubtaskInfo) (connectors.SinkWriter[R], error) {
	return &recordCounter[R]{total: c.rows}, nil
}

type recordCounter[R any] struct {
	n     int64
	total *atomic.Int64
}

func (w *recordCounter[R]) Write(R) error { w.n++; return nil }
func (w *recordCounter[R]) Flush() error  { w.total.Add(w.n); w.n = 0; return nil }
func (w *recordCounter[R]) Close() error  { return w.Flush() }

// CollectingOutput keeps rows in memory, for tests.
type CollectingOutput struct{ Sink connectors.Sink[Row] }

func (c CollectingOutput) sink(string) connectors.Sink[Row] { return c.Sink }

// Events adds the event stream of a job: generated (cfg) or read from a
// JSON-lines file, with the Nexmark SQL watermark (dateTime − 4 s).
func Events(j *topology.Job, cfg Config, input string) topology.Stream[Event] {
	strategy := timers.BoundedOutOfOrderness(WatermarkDelay, Event.DateTime)
	if input == "" {
		return topology.FromSourceWithWatermarks(j, "nexmark", Source(cfg), strategy)
	}
	lines := topology.FromSource(j, "events-file", files.Lines(input))
	events := topology.Process(lines, "parse", topology.ProcessFunc[string, Event](
		func(_ *topology.Context, line string, out topology.Collector[Event]) error {
			e, err := ParseEvent([]byte(line))
			if err != nil {
				return err
			}
			out.Collect(e)
			return nil
		}))
	return topology.AssignTimestamps(events, strategy)
}

func init() {
	topology.Register(topology.Definition{
		Name: "nexmark",
		Description: "Runs one Nexmark query (" + strings.Join(QueryNames(), ", ") + ") over generated events or " +
			"a JSON-lines file, and writes its rows as JSON lines.",
		Setup: setupRun,
	})
}

func setupRun(fs *pflag.FlagSet) topology.Builder {
	query := fs.String("query", "q0", "the query to run: "+strings.Join(QueryNames(), ", "))
	events := fs.Int64("events", 1_000_000, "number of events to generate (ignored with --input)")
	seed := fs.Uint64("seed", 0, "generator seed")
	rate := fs.Float64("rate", 0, "events per second of wall-clock time (0: as fast as possible)")
	input := fs.String("input", "", "JSON-lines file of events (from `floe nexmark generate`) instead of generating")
	output := fs.String("output", "", "file to write the query's rows to as JSON lines (default: count and drop them)")
	return func(j *topology.Job) error {
		q, ok := Queries[*query]
		if !ok {
			return fmt.Errorf("--query %q: floe implements %s", *query, strings.Join(QueryNames(), ", "))
		}
		cfg := DefaultConfig()
		cfg.Events, cfg.Seed, cfg.Rate = *events, *seed, *rate
		if *input == "" {
			if err := cfg.Validate(); err != nil {
				return err
			}
		}
		var out Output = CountingOutput{Rows: new(atomic.Int64)}
		if *output != "" {
			out = FileOutput{Path: *output}
		}
		q.Build(j, Events(j, cfg, *input), out)
		return nil
	}
}
