package samples

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

// BadRecord is how a line that could not be parsed is written to the
// --bad-records file.
type BadRecord struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

// parseLines turns the lines of one source subtask into records. A line
// that does not parse fails the job with its number and the reason, unless
// bad is set: then it goes there as a BadRecord, is counted, and the job goes
// on. Line numbers need the lines in file order, so the parser runs with
// parallelism 1 right after a source of parallelism 1.
func parseLines[T any](lines topology.Stream[string], parse func(string) (T, error), bad connectors.Sink[BadRecord]) topology.Stream[T] {
	p := &lineParser[T]{parse: parse, dlq: bad != nil}
	parsed := topology.Process(lines, "parse", p).Parallelism(1)
	if bad != nil {
		topology.Sink(topology.SideOutput(parsed, badRecords), "bad-records", bad).Parallelism(1)
	}
	return parsed
}

var badRecords = topology.NewOutputTag[BadRecord]("bad-records")

type lineParser[T any] struct {
	parse func(string) (T, error)
	dlq   bool
	line  int64
	bad   int64
	// position keeps line and bad in checkpoints, so that line numbers go on
	// counting after a restore.
	position keyspace.ListState[int64]
}

// Open restores the line count from the checkpoint the run resumes from.
func (p *lineParser[T]) Open(ctx *topology.Context) (err error) {
	if p.position, err = keyspace.NewOperatorListState[int64](ctx.OperatorState(), "parser-position"); err != nil {
		return err
	}
	if v := p.position.Get(); len(v) == 2 {
		p.line, p.bad = v[0], v[1]
	}
	return nil
}

// SnapshotState records the line count for a checkpoint.
func (p *lineParser[T]) SnapshotState(int64) error {
	p.position.Update([]int64{p.line, p.bad})
	return nil
}

func (p *lineParser[T]) ProcessElement(ctx *topology.Context, line string, out topology.Collector[T]) error {
	p.line++
	v, err := p.parse(line)
	if err == nil {
		out.Collect(v)
		return nil
	}
	if !p.dlq {
		return fmt.Errorf("line %d: %v (pass --bad-records PATH to set bad lines aside and go on)", p.line, err)
	}
	p.bad++
	badRecords.Emit(ctx, BadRecord{Line: p.line, Reason: err.Error(), Raw: line})
	return nil
}

func (p *lineParser[T]) Close() error {
	if p.bad > 0 {
		slog.Warn("bad records set aside", "count", p.bad)
	}
	return nil
}

// jsonFields parses a JSON object into its raw fields.
func jsonFields(line string) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &fields); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	return fields, nil
}

func stringField(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok {
		return "", fmt.Errorf("missing field %q", name)
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("field %q must be a string, got %s", name, raw)
	}
	return s, nil
}

func intField(fields map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := fields[name]
	if !ok {
		return 0, fmt.Errorf("missing field %q", name)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %q must be an integer, got %s", name, raw)
	}
	return n, nil
}

func numberField(fields map[string]json.RawMessage, name string) (float64, error) {
	raw, ok := fields[name]
	if !ok {
		return 0, fmt.Errorf("missing field %q", name)
	}
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return 0, fmt.Errorf("field %q must be a number, got %s", name, raw)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("field %q must be a number, got %s", name, raw)
	}
	return f, nil
}

// badRecordSink returns the sink for --bad-records (a file or a NATS URL),
// or nil when not set.
func badRecordSink(path string) (connectors.Sink[BadRecord], error) {
	if path == "" {
		return nil, nil
	}
	return jsonOutput[BadRecord](path)
}
