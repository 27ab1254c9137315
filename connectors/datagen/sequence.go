package datagen

import (
	"fmt"

	"github.com/floestream/floe/connectors"
)

// Sequence returns a bounded source of the integers from, from+1, …, to
// (inclusive). An empty range (to < from) is valid and emits nothing.
//
// The range is cut into as many contiguous parts as the source has subtasks,
// their sizes differing by at most one; subtask i emits part i in ascending
// order, so subtask 0 holds the smallest numbers. Any range of int64 works,
// including the full one. The returned source also implements
// connectors.Validator, and is always valid, and
// connectors.RestorableSource[int64]: each part is a split, named
// share-<i>-of-<p>, and a restored reader emits the numbers left in its
// splits in ascending order.
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
	if s.to < s.from {
		return s.newReader(nil), nil
	}
	// Offsets from s.from; uint64 arithmetic wraps, so from+offset is exact
	// across the whole int64 range.
	first, last, ok := share(uint64(s.to)-uint64(s.from), info.Parallelism, info.Index)
	if !ok {
		return s.newReader(nil), nil
	}
	return s.newReader([]part{{name: partName(info.Index, info.Parallelism), next: first, last: last, step: 1}}), nil
}

// RestoreReader opens a reader that emits exactly the numbers left in
// splits, positions returned by SnapshotSplits of this sequence's readers at
// any parallelism, in ascending order. With no split it reports EndOfInput
// at once.
func (s sequence) RestoreReader(info connectors.SubtaskInfo, splits []connectors.SplitState) (connectors.SourceReader[int64], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if len(splits) == 0 {
		return s.newReader(nil), nil
	}
	if s.to < s.from {
		return nil, fmt.Errorf("datagen: %d splits to restore into the empty sequence %d..%d: restore the job with the source it was checkpointed with", len(splits), s.from, s.to)
	}
	parts, err := decodeParts(splits, uint64(s.to)-uint64(s.from))
	if err != nil {
		return nil, err
	}
	return s.newReader(parts), nil
}

func (s sequence) newReader(parts []part) *reader[int64] {
	from := uint64(s.from)
	return &reader[int64]{at: func(off uint64) int64 { return int64(from + off) }, parts: parts}
}
