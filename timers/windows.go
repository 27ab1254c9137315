package timers

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Window is a group of records that a window function sees together.
// MaxTimestamp is the last event time that belongs to it; event-time
// triggers fire when the watermark passes it.
type Window interface {
	comparable
	MaxTimestamp() int64
}

// TimeWindow is the half-open interval [Start, End) in epoch milliseconds.
type TimeWindow struct {
	Start, End int64
}

// MaxTimestamp is End − 1.
func (w TimeWindow) MaxTimestamp() int64 { return w.End - 1 }

// Intersects reports whether w and o overlap or touch (Flink's rule, used to
// merge session windows).
func (w TimeWindow) Intersects(o TimeWindow) bool { return w.Start <= o.End && w.End >= o.Start }

// Cover returns the smallest window spanning w and o.
func (w TimeWindow) Cover(o TimeWindow) TimeWindow {
	return TimeWindow{Start: min(w.Start, o.Start), End: max(w.End, o.End)}
}

func (w TimeWindow) String() string { return fmt.Sprintf("[%d, %d)", w.Start, w.End) }

// GlobalWindow is the single window of a global window assigner.
type GlobalWindow struct{}

// MaxTimestamp is the end of time.
func (GlobalWindow) MaxTimestamp() int64 { return math.MaxInt64 }

// Assigner puts each record into windows.
type Assigner[W Window] interface {
	// Assign appends to dst the windows of a record with event timestamp ts,
	// at processing time now (processing-time assigners use now), and
	// returns the extended slice; passing a reused dst avoids allocation.
	Assign(dst []W, ts, now int64) []W
	// DefaultTrigger is the trigger used when the job sets none.
	DefaultTrigger() Trigger[W]
	// EventTime says whether windows follow event time (late records,
	// watermark-driven cleanup) or processing time.
	EventTime() bool
}

// MergingAssigner is an assigner whose windows merge, such as sessions.
type MergingAssigner[W Window] interface {
	Assigner[W]
	// Merge groups windows that must become one: it returns each resulting
	// window with the windows it covers (groups of one are left out).
	Merge(windows []W) []Merge[W]
}

// Merge is one result of merging windows.
type Merge[W Window] struct {
	Result W
	Parts  []W
}

// windowStart is the start of the window of size size (aligned to offset)
// that holds ts, also for negative timestamps.
func windowStart(ts, offset, size int64) int64 {
	r := (ts - offset) % size
	if r < 0 {
		return ts - (r + size)
	}
	return ts - r
}

func millis(d time.Duration) int64 { return d.Milliseconds() }

type tumbling struct {
	size, offset int64
	eventTime    bool
}

// TumblingEventTime assigns each record to the one window of the given size
// (aligned to the epoch plus offset) that holds its timestamp.
func TumblingEventTime(size, offset time.Duration) Assigner[TimeWindow] {
	return tumbling{size: millis(size), offset: millis(offset), eventTime: true}
}

// TumblingProcessingTime is TumblingEventTime on processing time.
func TumblingProcessingTime(size, offset time.Duration) Assigner[TimeWindow] {
	return tumbling{size: millis(size), offset: millis(offset)}
}

func (t tumbling) Assign(dst []TimeWindow, ts, now int64) []TimeWindow {
	if !t.eventTime {
		ts = now
	}
	start := windowStart(ts, t.offset, t.size)
	return append(dst, TimeWindow{start, start + t.size})
}

func (t tumbling) DefaultTrigger() Trigger[TimeWindow] { return defaultTrigger(t.eventTime) }
func (t tumbling) EventTime() bool                     { return t.eventTime }

type sliding struct {
	size, slide, offset int64
	eventTime           bool
}

// SlidingEventTime assigns each record to every window of the given size
// that holds its timestamp; windows start every slide.
func SlidingEventTime(size, slide, offset time.Duration) Assigner[TimeWindow] {
	return sliding{size: millis(size), slide: millis(slide), offset: millis(offset), eventTime: true}
}

// SlidingProcessingTime is SlidingEventTime on processing time.
func SlidingProcessingTime(size, slide, offset time.Duration) Assigner[TimeWindow] {
	return sliding{size: millis(size), slide: millis(slide), offset: millis(offset)}
}

func (s sliding) Assign(dst []TimeWindow, ts, now int64) []TimeWindow {
	if !s.eventTime {
		ts = now
	}
	for start := windowStart(ts, s.offset, s.slide); start > ts-s.size; start -= s.slide {
		dst = append(dst, TimeWindow{start, start + s.size})
	}
	return dst
}

func (s sliding) DefaultTrigger() Trigger[TimeWindow] { return defaultTrigger(s.eventTime) }

// Sliced is implemented by assigners whose windows are unions of equal,
// aligned slices: a window operator can keep one accumulator per key and
// slice, and merge a window's slices when it fires, instead of adding every
// record to every window it belongs to.
type Sliced interface {
	// Slices returns the slice length, the window size and slide, and the
	// offset windows are aligned to (milliseconds); ok is false when the
	// windows do not slice (processing time, or windows that do not overlap).
	Slices() (slice, size, slide, offset int64, ok bool)
}

// Slices cuts sliding event-time windows into slices of gcd(size, slide).
func (s sliding) Slices() (slice, size, slide, offset int64, ok bool) {
	if !s.eventTime || s.size <= s.slide || s.slide <= 0 {
		return 0, 0, 0, 0, false
	}
	a, b := s.size, s.slide
	for b != 0 {
		a, b = b, a%b
	}
	return a, s.size, s.slide, s.offset, true
}

// WindowStart is the start of the window of length size, aligned to
// offset, that holds ts (also for negative timestamps).
func WindowStart(ts, offset, size int64) int64 { return windowStart(ts, offset, size) }
func (s sliding) EventTime() bool              { return s.eventTime }

type session struct {
	gap       int64
	eventTime bool
}

// EventTimeSession groups a key's records into sessions: a record opens the
// window [ts, ts+gap), and windows that overlap merge.
func EventTimeSession(gap time.Duration) MergingAssigner[TimeWindow] {
	return session{gap: millis(gap), eventTime: true}
}

// ProcessingTimeSession is EventTimeSession on processing time.
func ProcessingTimeSession(gap time.Duration) MergingAssigner[TimeWindow] {
	return session{gap: millis(gap)}
}

func (s session) Assign(dst []TimeWindow, ts, now int64) []TimeWindow {
	if !s.eventTime {
		ts = now
	}
	return append(dst, TimeWindow{ts, ts + s.gap})
}

func (s session) DefaultTrigger() Trigger[TimeWindow] { return defaultTrigger(s.eventTime) }
func (s session) EventTime() bool                     { return s.eventTime }

// Merge merges overlapping windows as Flink's TimeWindow.mergeWindows does:
// sorted by start, each window joins the current group while it intersects
// the group's cover.
func (s session) Merge(windows []TimeWindow) []Merge[TimeWindow] {
	sorted := slices.Clone(windows)
	slices.SortFunc(sorted, func(a, b TimeWindow) int {
		if a.Start != b.Start {
			return cmpInt(a.Start, b.Start)
		}
		return cmpInt(a.End, b.End)
	})
	var out []Merge[TimeWindow]
	var cur *Merge[TimeWindow]
	for _, w := range sorted {
		if cur != nil && cur.Result.Intersects(w) {
			cur.Result = cur.Result.Cover(w)
			cur.Parts = append(cur.Parts, w)
			continue
		}
		out = append(out, Merge[TimeWindow]{Result: w, Parts: []TimeWindow{w}})
		cur = &out[len(out)-1]
	}
	return slices.DeleteFunc(out, func(m Merge[TimeWindow]) bool { return len(m.Parts) < 2 })
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type global struct{}

// Global puts every record of a key into one window that never ends; it
// fires only through a trigger set by the job, such as CountTrigger.
func Global() Assigner[GlobalWindow] { return global{} }

func (global) Assign(dst []GlobalWindow, _, _ int64) []GlobalWindow {
	return append(dst, GlobalWindow{})
}
func (global) DefaultTrigger() Trigger[GlobalWindow] { return Never[GlobalWindow]() }
func (global) EventTime() bool                       { return false }

func defaultTrigger(eventTime bool) Trigger[TimeWindow] {
	if eventTime {
		return EventTimeTrigger[TimeWindow]()
	}
	return ProcessingTimeTrigger[TimeWindow]()
}
