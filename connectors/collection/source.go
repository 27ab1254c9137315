package collection

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/floestream/floe/connectors"
)

// Of returns a bounded source over items. Of copies the slice, so later
// changes to the caller's slice do not change the source.
//
// Subtask i of p emits items i, i+p, i+2p, … in that order; with parallelism 1
// the source emits the items in slice order. A reader emits at most max items
// per Poll and reports EndOfInput together with its last items. The source
// holds no per-run state and can be read by any number of runs.
//
// The source is a connectors.RestorableSource and its readers are
// connectors.CheckpointedReaders: the items of subtask i of p form the split
// items-<i>-of-<p>, whose position is the index of its next item and its
// step. A restored reader emits the items left in its splits in ascending
// index order, each through its split's collector when the output is a
// connectors.SplitOutput.
func Of[T any](items ...T) connectors.Source[T] {
	return source[T]{items: append([]T(nil), items...)}
}

type source[T any] struct {
	items []T
}

// Reader opens the items of subtask info.Index of info.Parallelism.
func (s source[T]) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	r := &reader[T]{items: s.items}
	if info.Index < len(s.items) {
		r.splits = []split{{name: fmt.Sprintf("items-%d-of-%d", info.Index, info.Parallelism), next: info.Index, step: info.Parallelism}}
	}
	return r, nil
}

// RestoreReader opens a reader of exactly the items left in splits,
// positions that SnapshotSplits of this source's readers returned at any
// parallelism. With no split it reports EndOfInput at once.
func (s source[T]) RestoreReader(info connectors.SubtaskInfo, splits []connectors.SplitState) (connectors.SourceReader[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	r := &reader[T]{items: s.items, splits: make([]split, 0, len(splits))}
	for _, st := range splits {
		sp, err := decodeSplit(st)
		if err != nil {
			return nil, err
		}
		if sp.next >= len(s.items) {
			return nil, fmt.Errorf("collection: split %q resumes at item %d of a source of %d items: restore the job with the source it was checkpointed with",
				st.Split, sp.next, len(s.items))
		}
		r.splits = append(r.splits, sp)
	}
	return r, nil
}

// split is the items next, next+step, … of a source. A reader drops a
// split once it emitted the last of them, so a split is never empty.
type split struct {
	name       string
	next, step int
}

// encode returns the split's position: next and step as big-endian uint64s.
func (s split) encode() connectors.SplitState {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(s.next))
	binary.BigEndian.PutUint64(b[8:], uint64(s.step))
	return connectors.SplitState{Split: s.name, State: b}
}

func decodeSplit(st connectors.SplitState) (split, error) {
	if len(st.State) != 16 {
		return split{}, fmt.Errorf("collection: split %q: the position is not one of collection.Of (%d bytes): restore the job with the source it was checkpointed with", st.Split, len(st.State))
	}
	next, step := binary.BigEndian.Uint64(st.State), binary.BigEndian.Uint64(st.State[8:])
	if step == 0 || next > uint64(1<<62) || step > uint64(1<<62) {
		return split{}, fmt.Errorf("collection: split %q: position next=%d step=%d is not valid: restore the job with the source it was checkpointed with", st.Split, next, step)
	}
	return split{name: st.Split, next: int(next), step: int(step)}, nil
}

// reader emits the items of its splits, always the lowest index left
// next. The items slice is shared with the source and with the other
// readers, and is only read.
type reader[T any] struct {
	items  []T
	splits []split // unfinished, in the order given
}

func (r *reader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	so, _ := out.(connectors.SplitOutput[T])
	for n := 0; n < max && len(r.splits) > 0; n++ {
		m := 0
		for i := 1; i < len(r.splits); i++ {
			if r.splits[i].next < r.splits[m].next {
				m = i
			}
		}
		sp := &r.splits[m]
		if so != nil {
			so.ForSplit(sp.name).Collect(r.items[sp.next])
		} else {
			out.Collect(r.items[sp.next])
		}
		sp.next += sp.step
		if sp.next >= len(r.items) {
			if so != nil {
				so.FinishSplit(sp.name)
			}
			r.splits = slices.Delete(r.splits, m, m+1)
		}
	}
	if len(r.splits) == 0 {
		return connectors.EndOfInput, nil
	}
	return connectors.MoreAvailable, nil
}

// SnapshotSplits returns the position of every unfinished split.
func (r *reader[T]) SnapshotSplits() ([]connectors.SplitState, error) {
	states := make([]connectors.SplitState, len(r.splits))
	for i, sp := range r.splits {
		states[i] = sp.encode()
	}
	return states, nil
}

func (r *reader[T]) Close() error {
	r.items, r.splits = nil, nil
	return nil
}
