package datagen

import "github.com/floestream/floe/connectors"

// Sequence returns a bounded source of the integers from, from+1, …, to
// (inclusive). An empty range (to < from) is valid and emits nothing.
//
// The range is cut into as many contiguous parts as the source has subtasks,
// their sizes differing by at most one; subtask i emits part i in ascending
// order, so subtask 0 holds the smallest numbers. Any range of int64 works,
// including the full one. The returned source also implements
// connectors.Validator, and is always valid.
func Sequence(from, to int64) connectors.Source[int64] {
	return sequence{from: from, to: to}
}

type sequence struct {
	from, to int64
}

// Validate reports nil: every range, empty ones included, is valid.
func (s sequence) Validate() error { return nil }

// Reader opens subtask info.Index's contiguous part of the range.
func (s sequence) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[int64], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	r := &reader[int64]{step: 1, done: true}
	if s.to < s.from {
		return r, nil
	}
	// Offsets from s.from; uint64 arithmetic wraps, so from+offset is exact
	// across the whole int64 range.
	first, last, ok := share(uint64(s.to)-uint64(s.from), info.Parallelism, info.Index)
	if !ok {
		return r, nil
	}
	from := uint64(s.from)
	r.at = func(off uint64) int64 { return int64(from + off) }
	r.next, r.last, r.done = first, last, false
	return r, nil
}
