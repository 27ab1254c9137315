package samples

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/throttle"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
	"github.com/floestream/floe/topology"
)

func init() {
	topology.Register(topology.Definition{
		Name: "windowcount",
		Description: "Counts and sums integer values per key in event-time windows (tumbling, sliding or session) " +
			"of JSON lines {\"key\":…,\"ts\":…,\"value\":…}, with allowed lateness and a side output for late records.",
		Setup: setupWindowCount,
	})
}

// WindowEvent is one input line of windowcount.
type WindowEvent struct {
	Key   string
	TS    int64 // epoch milliseconds
	Value int64
	Raw   string // the line as read, for the late output
}

// WindowResult is one firing of a window.
type WindowResult struct {
	Key         string `json:"key"`
	WindowStart int64  `json:"window_start"`
	WindowEnd   int64  `json:"window_end"`
	Count       int64  `json:"count"`
	Sum         int64  `json:"sum"`
}

// ParseWindowEvent parses {"key":"k1","ts":1700000000123,"value":5}.
func ParseWindowEvent(line string) (WindowEvent, error) {
	fields, err := jsonFields(line)
	if err != nil {
		return WindowEvent{}, err
	}
	e := WindowEvent{Raw: line}
	if e.Key, err = stringField(fields, "key"); err != nil {
		return WindowEvent{}, err
	}
	if e.TS, err = intField(fields, "ts"); err != nil {
		return WindowEvent{}, err
	}
	if e.Value, err = intField(fields, "value"); err != nil {
		return WindowEvent{}, err
	}
	return e, nil
}

// WindowCountConfig configures the windowcount topology.
type WindowCountConfig struct {
	Window            string // tumbling, sliding or session
	Size, Slide, Gap  time.Duration
	OutOfOrderness    time.Duration
	AllowedLateness   time.Duration
	WatermarkInterval time.Duration
}

// Assigner returns the window assigner the configuration asks for.
func (c WindowCountConfig) Assigner() (timers.Assigner[timers.TimeWindow], error) {
	switch c.Window {
	case "tumbling":
		if c.Size <= 0 {
			return nil, errors.New("--window tumbling needs --size > 0")
		}
		return timers.TumblingEventTime(c.Size, 0), nil
	case "sliding":
		if c.Size <= 0 || c.Slide <= 0 {
			return nil, errors.New("--window sliding needs --size > 0 and --slide > 0")
		}
		return timers.SlidingEventTime(c.Size, c.Slide, 0), nil
	case "session":
		if c.Gap <= 0 {
			return nil, errors.New("--window session needs --gap > 0")
		}
		return timers.EventTimeSession(c.Gap), nil
	}
	return nil, fmt.Errorf("--window %q: use tumbling, sliding or session", c.Window)
}

// WindowCount adds the windowcount topology to j: lines parsed in file order
// by one subtask, timestamps and watermarks by bounded out-of-orderness,
// then count and sum per key and window.
func WindowCount(j *topology.Job, cfg WindowCountConfig, input connectors.Source[string],
	output connectors.Sink[WindowResult], late connectors.Sink[string], bad connectors.Sink[BadRecord]) error {
	assigner, err := cfg.Assigner()
	if err != nil {
		return err
	}
	lines := topology.FromSource(j, "lines", input).Parallelism(1)
	events := parseLines(lines, ParseWindowEvent, bad)
	strategy := timers.BoundedOutOfOrderness(cfg.OutOfOrderness, func(e WindowEvent) int64 { return e.TS }).
		WithInterval(cfg.WatermarkInterval)
	timed := topology.AssignTimestamps(events, strategy).Parallelism(1)
	lateTag := topology.NewOutputTag[WindowEvent]("late")
	windows := topology.Window(topology.KeyBy(timed, func(e WindowEvent) string { return e.Key }), assigner).
		AllowedLateness(cfg.AllowedLateness).SideOutputLateData(lateTag)
	results := topology.WindowAggregateProcess(windows, "count-sum", countSum{},
		topology.ProcessWindowFunc[countSumAcc, WindowResult, string, timers.TimeWindow](
			func(ctx *topology.WindowContext[string, timers.TimeWindow], in []countSumAcc, out topology.Collector[WindowResult]) error {
				w := ctx.Window()
				out.Collect(WindowResult{Key: ctx.Key(), WindowStart: w.Start, WindowEnd: w.End, Count: in[0].Count, Sum: in[0].Sum})
				return nil
			})).UID("window-count-sum")
	topology.Sink(results, "output", output).Parallelism(1)
	if late != nil {
		raw := topology.Map(topology.SideOutput(results, lateTag), "late-raw", func(e WindowEvent) string { return e.Raw })
		topology.Sink(raw, "late-output", late).Parallelism(1)
	}
	return nil
}

type countSumAcc struct{ Count, Sum int64 }

// countSum counts records and sums their values.
type countSum struct{}

var _ keyspace.AggregateFunction[WindowEvent, countSumAcc, countSumAcc] = countSum{}

func (countSum) CreateAccumulator() countSumAcc { return countSumAcc{} }
func (countSum) Add(e WindowEvent, acc countSumAcc) countSumAcc {
	return countSumAcc{acc.Count + 1, acc.Sum + e.Value}
}
func (countSum) Result(acc countSumAcc) countSumAcc { return acc }
func (countSum) Merge(a, b countSumAcc) countSumAcc {
	return countSumAcc{a.Count + b.Count, a.Sum + b.Sum}
}

func setupWindowCount(fs *pflag.FlagSet) topology.Builder {
	input := fs.String("input", "", "JSON lines {\"key\":…,\"ts\":…,\"value\":…} to read, in file order (required)")
	output := fs.String("output", "", "file to write one JSON line per window firing to (required); with checkpoints, a directory of part files committed at each checkpoint")
	late := fs.String("late-output", "", "file to write records too late for every window to, unchanged")
	rate := fs.Float64("rate", 0, "read at most this many input records per second (0: unlimited), so that a run can be stopped and resumed")
	bad := fs.String("bad-records", "", "file to set unparsable lines aside in, as {\"line\":n,\"reason\":…,\"raw\":…}; without it a bad line fails the job")
	var cfg WindowCountConfig
	fs.StringVar(&cfg.Window, "window", "tumbling", "window kind: tumbling, sliding or session")
	fs.DurationVar(&cfg.Size, "size", time.Minute, "window size (tumbling, sliding)")
	fs.DurationVar(&cfg.Slide, "slide", 0, "window slide (sliding)")
	fs.DurationVar(&cfg.Gap, "gap", 0, "session gap (session)")
	fs.DurationVar(&cfg.OutOfOrderness, "out-of-orderness", 0, "how late records may arrive behind higher timestamps")
	fs.DurationVar(&cfg.AllowedLateness, "allowed-lateness", 0, "how long a window keeps accepting late records, firing again")
	fs.DurationVar(&cfg.WatermarkInterval, "watermark-interval", 0, "periodic watermark interval; 0 emits one after every record")
	return func(j *topology.Job) error {
		j.Check(func() error {
			if *input == "" || *output == "" {
				return errors.New("windowcount needs --input PATH and --output PATH")
			}
			return nil
		})
		var lateSink connectors.Sink[string]
		if *late != "" {
			var err error
			if lateSink, err = lineOutput(*late, func(s string) string { return s }); err != nil {
				return err
			}
		}
		if *rate < 0 {
			return fmt.Errorf("--rate %g: must not be negative", *rate)
		}
		in, err := lineInput(*input)
		if err != nil {
			return err
		}
		out, err := jsonOutput[WindowResult](*output)
		if err != nil {
			return err
		}
		bads, err := badRecordSink(*bad)
		if err != nil {
			return err
		}
		return WindowCount(j, cfg, throttle.Source(in, *rate), out, lateSink, bads)
	}
}
