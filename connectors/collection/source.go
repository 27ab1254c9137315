package collection

import (
	"github.com/floestream/floe/connectors"
)

// Of returns a bounded source over items. Of copies the slice, so later
// changes to the caller's slice do not change the source.
//
// Subtask i of p emits items i, i+p, i+2p, … in that order; with parallelism 1
// the source emits the items in slice order. A reader emits at most max items
// per Poll and reports EndOfInput together with its last items. The source
// holds no per-run state and can be read by any number of runs.
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
	return &reader[T]{items: s.items, next: info.Index, step: info.Parallelism}, nil
}

// reader walks items[next], items[next+step], … . The items slice is shared
// with the source and with the other readers, and is only read.
type reader[T any] struct {
	items []T
	next  int
	step  int
}

func (r *reader[T]) Poll(out connectors.Collector[T], max int) (connectors.Status, error) {
	for n := 0; n < max && r.next < len(r.items); n++ {
		out.Collect(r.items[r.next])
		r.next += r.step
	}
	if r.next >= len(r.items) {
		return connectors.EndOfInput, nil
	}
	return connectors.MoreAvailable, nil
}

func (r *reader[T]) Close() error {
	r.items = nil
	return nil
}
