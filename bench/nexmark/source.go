package nexmark

import (
	"math"
	"time"

	"github.com/floestream/floe/connectors"
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
func Source(cfg Config) connectors.Source[Event] {
	return &eventSource{cfg: cfg, now: time.Now}
}

type eventSource struct {
	cfg Config
	now func() time.Time // the clock of the rate limit; tests replace it
}

// Validate reports the config's errors (Config.Validate).
func (s *eventSource) Validate() error { return s.cfg.Validate() }

// Reader opens subtask info.Index's share: the event numbers congruent to
// Index modulo Parallelism.
func (s *eventSource) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[Event], error) {
	if err := s.cfg.Validate(); err != nil {
		return nil, err
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	last := int64(MaxEventNumber - 1)
	if s.cfg.Events > 0 {
		last = s.cfg.Events - 1
	}
	r := &eventReader{
		gen:  makeGenerator(s.cfg),
		next: int64(info.Index),
		step: int64(info.Parallelism),
		last: last,
	}
	r.done = r.next > r.last
	if rate := s.cfg.Rate; rate > 0 && !math.IsInf(rate, 1) {
		r.schedule = &schedule{perSecond: rate / float64(info.Parallelism), now: s.now}
	}
	return r, nil
}

// eventReader emits events next, next+step, … up to last inclusive.
type eventReader struct {
	gen      generator
	next     int64
	step     int64
	last     int64
	done     bool
	schedule *schedule // nil: no rate limit
}

// Poll emits up to limit events, fewer when the rate limit holds it back.
func (r *eventReader) Poll(out connectors.Collector[Event], limit int) (connectors.Status, error) {
	limit = max(limit, 0)
	n, limited := limit, false
	if r.schedule != nil {
		if allowed := r.schedule.allowance(); allowed < uint64(limit) {
			n, limited = int(allowed), true
		}
	}
	emitted := 0
	for ; emitted < n && !r.done; emitted++ {
		out.Collect(r.gen.event(r.next))
		if r.last-r.next < r.step {
			r.done = true
		} else {
			r.next += r.step
		}
	}
	if r.schedule != nil {
		r.schedule.emitted += uint64(emitted)
	}
	switch {
	case r.done:
		return connectors.EndOfInput, nil
	case limited:
		return connectors.NothingAvailable, nil
	}
	return connectors.MoreAvailable, nil
}

// Close ends the reader; it holds no resources.
func (r *eventReader) Close() error {
	r.done = true
	return nil
}

// schedule is one reader's rate limit: its event k (counting from 0) is due
// k/perSecond seconds after the first call to allowance.
type schedule struct {
	perSecond float64
	now       func() time.Time
	start     time.Time
	started   bool
	emitted   uint64 // events emitted so far; the reader keeps it current
}

// allowance returns how many events may be emitted now.
func (s *schedule) allowance() uint64 {
	now := s.now()
	if !s.started {
		s.start, s.started = now, true
	}
	due := math.Floor(now.Sub(s.start).Seconds()*s.perSecond) + 1 // events 0…⌊elapsed·rate⌋
	if due >= 1<<62 {
		return 1 << 62
	}
	d := uint64(max(due, 1))
	if d <= s.emitted {
		return 0
	}
	return d - s.emitted
}
