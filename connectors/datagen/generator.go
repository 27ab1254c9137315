package datagen

import (
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/throttle"
)

// Generator is a source that emits fn(index) for a range of indices,
// optionally at a fixed total rate. It implements connectors.Source,
// connectors.RestorableSource (its readers are connectors.CheckpointedReaders)
// and connectors.Validator. Build one with Generate; a Generator holds no per-run
// state and is not changed by reading it, so it can serve any number of runs.
type Generator[T any] struct {
	count       int64
	fn          func(index int64) T
	perReader   func(info connectors.SubtaskInfo) func(index int64) T // set by GenerateWith
	interleaved bool
	rate        float64          // records per second across all subtasks; 0: no limit
	now         func() time.Time // the clock of the rate schedule; tests replace it
}

// Generate returns a source that emits fn(i) for each index i.
//
// With count ≥ 0 the source is bounded: the indices [0, count) are cut into as
// many contiguous parts as the source has subtasks, sizes differing by at most
// one, and subtask i emits part i in ascending order. With count < 0 the
// source is unbounded: subtask i of p emits i, i+p, i+2p, … and ends only
// when the next index would exceed math.MaxInt64.
//
// fn is called on the reading subtask's goroutine, by several subtasks
// concurrently when the parallelism is above one, so it must be safe for
// concurrent use; it should be a pure function of its index so that every run
// emits the same records.
func Generate[T any](count int64, fn func(index int64) T) *Generator[T] {
	return &Generator[T]{count: count, fn: fn, now: time.Now}
}

// GenerateWith is Generate with a function made for each reader: every
// reading subtask calls newFn once and emits what the function it returns
// gives for its indices, so that function may keep state it does not share
// (a generator that reuses buffers, for example).
func GenerateWith[T any](count int64, newFn func(info connectors.SubtaskInfo) func(index int64) T) *Generator[T] {
	return &Generator[T]{count: count, perReader: newFn, now: time.Now}
}

// Interleaved returns a copy of g whose bounded indices are dealt
// round-robin, as unbounded ones are: subtask i of p emits i, i+p, i+2p, …
// below count. Subtasks then move through the index range together, which
// keeps their event times close when the index orders time.
func (g *Generator[T]) Interleaved() *Generator[T] {
	c := *g
	c.interleaved = true
	return &c
}

// WithClock returns a copy of g whose rate schedule reads now instead of
// time.Now, for tests of rate-limited sources.
func (g *Generator[T]) WithClock(now func() time.Time) *Generator[T] {
	c := *g
	c.now = now
	return &c
}

// WithRate returns a copy of g that emits at most recordsPerSecond records per
// second in total: each of the p subtasks emits at most recordsPerSecond/p.
// A reader's schedule starts at its first Poll and lets record k go out k/rate
// seconds after it; a reader ahead of its schedule emits nothing and returns
// NothingAvailable rather than sleeping, and one behind it catches up in
// batches of up to Poll's max. A rate of 0 (the default) or +Inf means no
// limit; a negative or NaN rate is rejected by Validate and Reader.
func (g *Generator[T]) WithRate(recordsPerSecond float64) *Generator[T] {
	c := *g
	c.rate = recordsPerSecond
	return &c
}

// Validate reports a nil function or a negative or NaN rate.
func (g *Generator[T]) Validate() error {
	if g.fn == nil && g.perReader == nil {
		return fmt.Errorf("datagen: the generator function is nil: pass a func(index int64) %s to Generate", reflect.TypeFor[T]())
	}
	if g.rate < 0 || math.IsNaN(g.rate) {
		return fmt.Errorf("datagen: rate %v records/s is not valid: pass a rate above 0 to WithRate, or 0 for no limit", g.rate)
	}
	return nil
}

// Reader opens subtask info.Index's share of the indices: one split, named
// share-<index>-of-<parallelism>. It fails if the generator is not valid.
func (g *Generator[T]) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[T], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	var parts []part
	name := partName(info.Index, info.Parallelism)
	switch {
	case g.count < 0:
		parts = []part{{name: name, next: uint64(info.Index), last: maxIndex, step: uint64(info.Parallelism)}}
	case g.count == 0:
	case g.interleaved:
		if uint64(info.Index) < uint64(g.count) {
			parts = []part{{name: name, next: uint64(info.Index), last: uint64(g.count) - 1, step: uint64(info.Parallelism)}}
		}
	default:
		if first, last, ok := share(uint64(g.count)-1, info.Parallelism, info.Index); ok {
			parts = []part{{name: name, next: first, last: last, step: 1}}
		}
	}
	return g.newReader(info, parts)
}

// RestoreReader opens a reader of subtask info that emits exactly the
// indices left in splits, positions that SnapshotSplits of this generator's
// readers returned at any parallelism. It merges the splits in index order,
// so that splits of interleaved and unbounded generators advance together.
// With no split the reader reports EndOfInput at once, even for an unbounded
// generator: its splits are fixed when the job first starts, and they all
// went to other subtasks. A rate limit applies as in Reader: the rate divided
// by info.Parallelism, with a schedule that starts at the first Poll.
func (g *Generator[T]) RestoreReader(info connectors.SubtaskInfo, splits []connectors.SplitState) (connectors.SourceReader[T], error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := info.Validate(); err != nil {
		return nil, err
	}
	maxLast := maxIndex
	if g.count >= 0 {
		if g.count == 0 && len(splits) > 0 {
			return nil, fmt.Errorf("datagen: %d splits to restore into a generator of no index: restore the job with the source it was checkpointed with", len(splits))
		}
		maxLast = uint64(g.count) - 1
	}
	parts, err := decodeParts(splits, maxLast)
	if err != nil {
		return nil, err
	}
	return g.newReader(info, parts)
}

// newReader returns the reader of subtask info for parts, with the
// subtask's function and share of the rate.
func (g *Generator[T]) newReader(info connectors.SubtaskInfo, parts []part) (*reader[T], error) {
	fn := g.fn
	if g.perReader != nil {
		if fn = g.perReader(info); fn == nil {
			return nil, fmt.Errorf("datagen: the function made for subtask %s is nil", info)
		}
	}
	r := &reader[T]{at: func(off uint64) T { return fn(int64(off)) }, parts: parts}
	if g.rate > 0 && !math.IsInf(g.rate, 1) {
		r.rate = &throttle.Schedule{PerSecond: g.rate / float64(info.Parallelism), Now: g.now}
	}
	return r, nil
}
