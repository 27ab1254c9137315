package collection

import (
	"errors"
	"slices"
	"sync"

	"github.com/floestream/floe/connectors"
)

// Sink collects every record written to it, in memory. It implements
// connectors.Sink.
//
// Each writer buffers its records and appends them to the sink on Flush and
// on Close, so a record becomes visible to Records and BySubtask only once its
// writer has flushed or closed. The writers of one Sink may run concurrently;
// Records, BySubtask and Reset may be called at any time from any goroutine.
//
// Unlike other sinks, a Sink holds the result of its runs: it keeps
// collecting across runs (a restarted attempt appends to what the failed one
// flushed) until Reset is called. The zero value is an empty Sink ready to
// use; a Sink must not be copied after first use.
type Sink[T any] struct {
	mu struct {
		sync.Mutex
		// bySubtask[i] holds the records flushed by writers of subtask i, in
		// flush order. It grows to the largest subtask index seen.
		bySubtask [][]T
	}
}

// NewSink returns an empty Sink.
func NewSink[T any]() *Sink[T] {
	return &Sink[T]{}
}

// Writer opens a writer for subtask info.Index. Its records are appended to
// that subtask's records on Flush and Close.
func (s *Sink[T]) Writer(info connectors.SubtaskInfo) (connectors.SinkWriter[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.appendLocked(info.Index, nil)
	s.mu.Unlock()
	return &writer[T]{sink: s, index: info.Index}, nil
}

// Records returns a copy of every record flushed so far: each subtask's
// records in write order, subtasks concatenated in subtask-index order.
func (s *Sink[T]) Records() []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int
	for _, part := range s.mu.bySubtask {
		n += len(part)
	}
	all := make([]T, 0, n)
	for _, part := range s.mu.bySubtask {
		all = append(all, part...)
	}
	return all
}

// BySubtask returns a copy of the records flushed so far, one slice per
// subtask index, each in write order. Its length is one more than the largest
// subtask index that opened a writer or flushed since the last Reset; a
// subtask that flushed nothing has an empty slice.
func (s *Sink[T]) BySubtask() [][]T {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make([][]T, len(s.mu.bySubtask))
	for i, part := range s.mu.bySubtask {
		parts[i] = slices.Clone(part)
		if parts[i] == nil {
			parts[i] = []T{}
		}
	}
	return parts
}

// Reset discards every record collected so far. Records a writer buffered but
// has not flushed yet are not affected: they are appended on its next Flush or
// Close.
func (s *Sink[T]) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.bySubtask = nil
}

// appendLocked adds records to subtask index. s.mu must be held.
func (s *Sink[T]) appendLocked(index int, records []T) {
	if index >= len(s.mu.bySubtask) {
		s.mu.bySubtask = append(s.mu.bySubtask, make([][]T, index+1-len(s.mu.bySubtask))...)
	}
	s.mu.bySubtask[index] = append(s.mu.bySubtask[index], records...)
}

var errClosed = errors.New("collection: write to a closed sink writer")

type writer[T any] struct {
	sink   *Sink[T]
	index  int
	buf    []T
	closed bool
}

func (w *writer[T]) Write(record T) error {
	if w.closed {
		return errClosed
	}
	w.buf = append(w.buf, record)
	return nil
}

func (w *writer[T]) Flush() error {
	if w.closed {
		return errClosed
	}
	w.flush()
	return nil
}

func (w *writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.flush()
	w.closed = true
	w.buf = nil
	return nil
}

func (w *writer[T]) flush() {
	s := w.sink
	s.mu.Lock()
	s.appendLocked(w.index, w.buf)
	s.mu.Unlock()
	// The sink copied the records; reuse the buffer, clearing it so that it
	// does not keep pointers alive.
	clear(w.buf)
	w.buf = w.buf[:0]
}
