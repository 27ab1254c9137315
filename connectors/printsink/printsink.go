package printsink

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"

	"github.com/floestream/floe/connectors"
)

// flushThreshold is the size at which a writer hands its buffered lines to
// the io.Writer without waiting for Flush.
const flushThreshold = 64 << 10

// stdoutMu serialises the print sinks that write to standard output, so that
// two sinks of one process do not interleave their lines either.
var stdoutMu sync.Mutex

// New returns a sink that prints each record with fmt's %v, one per line, to
// w, or to os.Stdout when w is nil. When the sink runs with a parallelism
// above one, each line starts with "<subtask>> ", the subtask numbered from 1
// (as in Flink's print sink).
//
// Each writer buffers its lines and writes them, whole, on Flush, on Close
// and whenever its buffer exceeds 64 KiB. The writers of one sink write under
// one mutex, so w needs no locking of its own and lines never interleave;
// sinks printing to os.Stdout share a mutex too. A failed write to w fails
// the Write, Flush or Close that made it; the lines it carried are dropped.
func New[T any](w io.Writer) connectors.Sink[T] {
	s := &sink[T]{w: w, mu: new(sync.Mutex)}
	if w == nil || w == io.Writer(os.Stdout) {
		s.w, s.mu = os.Stdout, &stdoutMu
	}
	return s
}

type sink[T any] struct {
	mu *sync.Mutex // guards writes to w
	w  io.Writer
}

// Writer opens the writer of subtask info.Index.
func (s *sink[T]) Writer(info connectors.SubtaskInfo) (connectors.SinkWriter[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	wr := &writer[T]{sink: s}
	if info.Parallelism > 1 {
		wr.prefix = strconv.AppendInt(nil, int64(info.Index+1), 10)
		wr.prefix = append(wr.prefix, "> "...)
	}
	return wr, nil
}

var errClosed = errors.New("printsink: write to a closed writer")

type writer[T any] struct {
	sink   *sink[T]
	prefix []byte // "<index+1>> " when the sink runs in parallel
	buf    []byte // whole lines not yet written
	closed bool
}

func (w *writer[T]) Write(record T) error {
	if w.closed {
		return errClosed
	}
	w.buf = append(w.buf, w.prefix...)
	w.buf = fmt.Appendf(w.buf, "%v", record)
	w.buf = append(w.buf, '\n')
	if len(w.buf) > flushThreshold {
		return w.flush()
	}
	return nil
}

func (w *writer[T]) Flush() error {
	if w.closed {
		return errClosed
	}
	return w.flush()
}

func (w *writer[T]) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flush()
	w.buf = nil
	return err
}

func (w *writer[T]) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	s := w.sink
	s.mu.Lock()
	_, err := s.w.Write(w.buf)
	s.mu.Unlock()
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("printsink: write: %w", err)
	}
	return nil
}
