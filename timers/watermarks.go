package timers

import (
	"fmt"
	"math"
	"time"
)

// Watermarks that mean "nothing yet" and "nothing more".
const (
	MinWatermark int64 = math.MinInt64
	MaxWatermark int64 = math.MaxInt64
)

// DefaultWatermarkInterval is how often a periodic strategy emits, as in Flink.
const DefaultWatermarkInterval = 200 * time.Millisecond

// WatermarkStrategy says how a stream's records get event timestamps and how
// watermarks follow from them: watermark = highest timestamp seen − bound −
// 1 ms (Flink's bounded out-of-orderness; a bound of 0 is Flink's monotonous
// timestamps). Build one with BoundedOutOfOrderness or Monotonous.
type WatermarkStrategy[T any] struct {
	timestamp func(T) int64
	bound     time.Duration
	idleness  time.Duration
	interval  time.Duration
}

// BoundedOutOfOrderness returns a strategy for records that arrive at most
// bound later than records with higher timestamps. It emits periodically
// (DefaultWatermarkInterval) and never marks the stream idle.
func BoundedOutOfOrderness[T any](bound time.Duration, timestamp func(T) int64) WatermarkStrategy[T] {
	return WatermarkStrategy[T]{timestamp: timestamp, bound: bound, interval: DefaultWatermarkInterval}
}

// Monotonous returns a strategy for records whose timestamps never decrease.
func Monotonous[T any](timestamp func(T) int64) WatermarkStrategy[T] {
	return BoundedOutOfOrderness(0, timestamp)
}

// WithIdleness marks the stream idle after d without records, so that it
// does not hold back the watermark of operators downstream; 0 turns it off.
func (s WatermarkStrategy[T]) WithIdleness(d time.Duration) WatermarkStrategy[T] {
	s.idleness = d
	return s
}

// WithInterval sets the periodic emission interval; 0 emits a watermark
// after every record that advances it.
func (s WatermarkStrategy[T]) WithInterval(d time.Duration) WatermarkStrategy[T] {
	s.interval = d
	return s
}

// Timestamp returns the event timestamp of v.
func (s WatermarkStrategy[T]) Timestamp(v T) int64 { return s.timestamp(v) }

// Idleness returns the idleness timeout (0: never idle).
func (s WatermarkStrategy[T]) Idleness() time.Duration { return s.idleness }

// Interval returns the periodic emission interval (0: after every record).
func (s WatermarkStrategy[T]) Interval() time.Duration { return s.interval }

// Validate reports a strategy that cannot work.
func (s WatermarkStrategy[T]) Validate() error {
	switch {
	case s.timestamp == nil:
		return fmt.Errorf("watermark strategy has no timestamp assigner: build it with timers.BoundedOutOfOrderness or timers.Monotonous")
	case s.bound < 0 || s.idleness < 0 || s.interval < 0:
		return fmt.Errorf("watermark strategy: bound %s, idleness %s and interval %s must not be negative", s.bound, s.idleness, s.interval)
	}
	return nil
}

// Generator returns a fresh generator for one source subtask.
func (s WatermarkStrategy[T]) Generator() *Generator {
	bound := s.bound.Milliseconds()
	return &Generator{bound: bound, max: MinWatermark + bound + 1, emitted: MinWatermark,
		perRecord: s.interval == 0, idleness: s.idleness.Milliseconds(), lastActive: MinWatermark}
}

// Generator turns timestamps into watermarks for one stream. It is a pure
// state machine: the caller passes the processing time.
type Generator struct {
	bound      int64
	max        int64
	emitted    int64
	perRecord  bool
	idleness   int64
	lastActive int64
	idle       bool
}

// Current is the watermark the timestamps seen so far allow.
func (g *Generator) Current() int64 { return g.max - g.bound - 1 }

// OnRecord takes a record's timestamp at processing time now. It returns the
// watermark to emit (emit false when none is due), and whether the stream
// was idle until this record (so that the caller marks it active again).
func (g *Generator) OnRecord(ts, now int64) (wm int64, emit, resumed bool) {
	resumed = g.idle
	g.idle = false
	g.lastActive = now
	if ts > g.max {
		g.max = ts
	}
	if g.perRecord {
		wm, emit = g.advance()
	}
	return wm, emit, resumed
}

// OnPeriodic runs the periodic emission at processing time now: it returns a
// watermark to emit if one is due, and whether the stream just became idle.
func (g *Generator) OnPeriodic(now int64) (wm int64, emit, idled bool) {
	if g.idleness > 0 && !g.idle && g.lastActive != MinWatermark && now-g.lastActive >= g.idleness {
		g.idle = true
		return 0, false, true
	}
	if g.lastActive == MinWatermark && g.idleness > 0 && !g.idle {
		g.lastActive = now // idleness counts from the first look, not from 1970
	}
	if g.perRecord || g.idle {
		return 0, false, false
	}
	wm, emit = g.advance()
	return wm, emit, false
}

// Idle reports whether the stream is marked idle.
func (g *Generator) Idle() bool { return g.idle }

func (g *Generator) advance() (int64, bool) {
	if wm := g.Current(); wm > g.emitted {
		g.emitted = wm
		return wm, true
	}
	return 0, false
}
