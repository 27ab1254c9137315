package connectors

import "fmt"

// Collector receives the records an operator, a source reader or a user
// function emits. A Collector is owned by one subtask and must only be called
// from the goroutine the runtime called into user code on.
type Collector[T any] interface {
	Collect(record T)
}

// SplitOutput is the collector a reader gets when the job generates
// watermarks at the source (topology.FromSourceWithWatermarks). A reader of
// several splits (files, partitions) emits each split's records through
// that split's collector, so that every split gets a watermark of its own
// and the source's watermark is the minimum over its unfinished splits; it
// calls FinishSplit when a split is done, so that the split stops holding
// the watermark back. Readers that ignore it have a single implicit split.
//
// The runtime learns of a split when ForSplit is first called for it, so a
// reader calls ForSplit for each of its splits on its first Poll (and for
// splits it is given later, when it gets them): a split not yet read then
// holds the watermark back until it produces records or, with a strategy
// that has an idleness timeout, is marked idle — rather than letting the
// watermark run ahead of records it has not read yet.
type SplitOutput[T any] interface {
	Collector[T]
	// ForSplit returns the collector of the split named split.
	ForSplit(split string) Collector[T]
	// FinishSplit says that split has no more records.
	FinishSplit(split string)
}

// CollectorFunc adapts a function to a Collector.
type CollectorFunc[T any] func(T)

// Collect calls f(record).
func (f CollectorFunc[T]) Collect(record T) { f(record) }

// SubtaskInfo identifies the parallel instance that a reader or a writer serves.
type SubtaskInfo struct {
	Job         string // name of the job
	Operator    string // name of the source or sink operator
	Index       int    // this subtask's index, 0 ≤ Index < Parallelism
	Parallelism int    // number of parallel subtasks of the operator
}

// Validate reports an index outside [0, Parallelism). The runtime only hands
// out valid infos; connectors call it to fail clearly when used by hand.
func (s SubtaskInfo) Validate() error {
	if s.Parallelism < 1 || s.Index < 0 || s.Index >= s.Parallelism {
		return fmt.Errorf("invalid subtask %d of %d for operator %q: the index must be in [0, parallelism)",
			s.Index, s.Parallelism, s.Operator)
	}
	return nil
}

func (s SubtaskInfo) String() string {
	return fmt.Sprintf("%s (%d/%d)", s.Operator, s.Index+1, s.Parallelism)
}

// Status says what a SourceReader can do next.
type Status int

const (
	// MoreAvailable: the reader has more records right now; poll again soon.
	MoreAvailable Status = iota
	// NothingAvailable: the reader has nothing right now (an unbounded source
	// waiting for data); the runtime polls again after a short back-off.
	NothingAvailable
	// EndOfInput: the reader's share of a bounded input is exhausted; it is not
	// polled again, only closed.
	EndOfInput
)

func (s Status) String() string {
	switch s {
	case MoreAvailable:
		return "more-available"
	case NothingAvailable:
		return "nothing-available"
	case EndOfInput:
		return "end-of-input"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Source describes an input. It is part of a topology and may be shared by
// several runs, so it must not hold per-run state: that belongs to the readers
// it creates. Each parallel subtask of the source operator gets its own reader,
// and together the readers of one run read the whole input exactly once.
type Source[T any] interface {
	// Reader opens the share of the input that subtask info.Index of
	// info.Parallelism reads. An error fails the job before any record flows;
	// it should say what was wrong (a missing file, a bad address) and what to do.
	Reader(info SubtaskInfo) (SourceReader[T], error)
}

// SourceReader emits one subtask's share of a source.
type SourceReader[T any] interface {
	// Poll emits at most max records to out and says what comes next. It must
	// not block for long; a reader waiting for data returns NothingAvailable.
	// Every record emitted is delivered, whatever the status returned. An
	// error fails the job.
	Poll(out Collector[T], max int) (Status, error)
	// Close releases the reader's resources. It is called once, after the last
	// Poll, whether the input ended, the job failed or it was cancelled.
	Close() error
}

// Sink describes an output. Like a Source it holds no per-run state; each
// parallel subtask of the sink operator gets its own writer.
type Sink[T any] interface {
	// Writer opens the output of subtask info.Index of info.Parallelism.
	Writer(info SubtaskInfo) (SinkWriter[T], error)
}

// SinkWriter writes one subtask's records.
type SinkWriter[T any] interface {
	// Write hands one record to the writer, which may buffer it.
	Write(record T) error
	// Flush hands every record written so far on to the destination, or to
	// the staging form from which Close publishes it (an in-progress file).
	Flush() error
	// Close flushes, publishes and releases the writer after a successful run.
	// After a failed or cancelled run the runtime calls Abort instead when the
	// writer implements Aborter, and Close otherwise.
	Close() error
}

// Aborter is implemented by sink writers that can discard what they staged,
// so that a failed or cancelled run publishes nothing (a file sink removes its
// in-progress file and leaves an earlier output in place). The runtime calls
// exactly one of Close and Abort.
type Aborter interface {
	Abort() error
}

// Validator is implemented by sources and sinks that can check their
// configuration before a job starts (a file that must exist, a directory that
// must be writable). The topology builder calls Validate when the job graph is
// built, so that a bad input is reported before any actor is spawned.
type Validator interface {
	Validate() error
}
