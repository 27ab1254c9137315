package nexmark

import (
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/datagen"
)

// Source returns a floe source of the events of cfg. Subtask i of p emits
// events i, i+p, i+2p, … (cfg.Event of each), so the subtasks together emit
// every event exactly once, each subtask in event-time order, and subtasks
// polled at the same pace stay within a few events of each other in event
// time, so that no subtask's watermark runs far ahead of another's. With cfg.Events > 0 the source is bounded and a reader
// returns EndOfInput after its last event; with 0 it is unbounded (up to
// MaxEventNumber).
//
// With cfg.Rate > 0 (and finite) each reader emits at most cfg.Rate/p events
// per wall-clock second: its schedule starts at its first Poll and lets its
// k-th event out k·p/cfg.Rate seconds later. A reader ahead of its schedule
// returns NothingAvailable instead of sleeping; one behind catches up in
// batches of up to Poll's max.
//
// The source implements connectors.Validator; Reader fails on an invalid
// cfg or subtask. Readers generate on the polling goroutine and share
// nothing but read-only tables, so subtasks run in parallel freely.
func Source(cfg Config) connectors.Source[Event] { return sourceWithClock(cfg, time.Now) }

// sourceWithClock is Source with the rate limit reading now.
func sourceWithClock(cfg Config, now func() time.Time) connectors.Source[Event] {
	count := cfg.Events
	if count == 0 {
		count = MaxEventNumber // unbounded: as many events as there are numbers
	}
	g := datagen.GenerateWith(count, func(connectors.SubtaskInfo) func(int64) Event {
		gen := makeGenerator(cfg) // per reader: it reuses its buffers
		return gen.event
	}).Interleaved().WithClock(now)
	if cfg.Rate > 0 {
		g = g.WithRate(cfg.Rate)
	}
	return eventSource{Generator: g, cfg: cfg}
}

// eventSource is the datagen generator of cfg's events, validating cfg.
type eventSource struct {
	*datagen.Generator[Event]
	cfg Config
}

// Validate reports the config's errors (Config.Validate).
func (s eventSource) Validate() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	return s.Generator.Validate()
}

// Reader opens subtask info.Index's share: the event numbers congruent to
// Index modulo Parallelism.
func (s eventSource) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[Event], error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.Generator.Reader(info)
}
