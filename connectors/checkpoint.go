package connectors

// This file holds the contracts between connectors and checkpoints: sources
// that can say where they are and resume there, and sinks that publish
// output in two phases, so that a job restored from a checkpoint neither
// loses nor duplicates a record (exactly-once, end to end).

// SplitState is the position of one split of a source (a byte range of a
// file, a share of a generator's indices, a stream partition) as a
// checkpoint records it. It is self-contained: a reader of any subtask, at
// any parallelism, resumes the split from it alone.
type SplitState struct {
	// Split names the split, unique within the source and stable across runs.
	Split string
	// State is the position, in the reader's own encoding.
	State []byte
}

// CheckpointedReader is implemented by readers that can say where they are.
type CheckpointedReader interface {
	// SnapshotSplits returns the position of every split the reader has not
	// finished, those it has not started included (at their beginning). A
	// reader whose splits are all finished returns none. The runtime calls it
	// between Polls, on the goroutine that polls; it must not block for long.
	SnapshotSplits() ([]SplitState, error)
}

// RestorableSource is implemented by sources whose readers resume from split
// positions. A job whose sources are all restorable (and whose readers are
// CheckpointedReaders) replays, after a failure, exactly what followed the
// checkpoint it restores.
type RestorableSource[T any] interface {
	Source[T]
	// RestoreReader opens the reader of subtask info that reads exactly
	// splits, each from its position, and nothing else. The splits were
	// returned by SnapshotSplits of readers at any parallelism; the runtime
	// deals them out to the new subtasks, so a subtask may get several or
	// none (a reader with none reports EndOfInput, or waits if the source is
	// unbounded and can discover new splits).
	RestoreReader(info SubtaskInfo, splits []SplitState) (SourceReader[T], error)
}

// TransactionalSinkWriter is a sink writer that publishes in two phases
// (two-phase commit, as Flink's TwoPhaseCommitSinkFunction): records go into
// an open transaction that readers do not see; at a checkpoint's barrier
// PreCommit stages the transaction durably and opens the next; when the
// checkpoint is complete the runtime calls Commit, which publishes it.
type TransactionalSinkWriter[T any] interface {
	SinkWriter[T]
	// PreCommit flushes everything written since the last PreCommit, stages
	// it durably (it survives a crash, still invisible), starts a new
	// transaction and returns the staged one's handle: everything Commit
	// needs, in the writer's own encoding. The checkpoint stores the handle.
	// A transaction that holds no record may return a nil handle, which is
	// never committed.
	PreCommit(checkpoint int64) (handle []byte, err error)
	// Commit publishes a staged transaction atomically. It is called when
	// the checkpoint that staged it is complete, and again after a restore
	// from that checkpoint — possibly by another subtask's writer of the same
	// sink, possibly for a transaction already published — so it must be
	// idempotent: a handle whose data is already visible commits as a no-op.
	Commit(handle []byte) error
	// Abort discards the open transaction (not the staged ones). The runtime
	// calls it instead of Close when the run fails or is cancelled.
	Abort() error
}

// TransactionalSink is implemented by sinks that give exactly-once output in
// runs with checkpoints. The runtime uses TransactionalWriter instead of
// Writer whenever the run takes checkpoints or savepoints; Close then only
// releases the writer (the final checkpoint has committed everything).
type TransactionalSink[T any] interface {
	Sink[T]
	// TransactionalWriter opens the writer of subtask info. pending holds the
	// handles of every transaction staged in the checkpoint the run restores
	// from, by all subtasks of the sink (nil on a fresh start); the runtime
	// commits them itself, dealt out among the new subtasks. The writer must
	// leave them in place, and may discard staged data of its own that is not
	// among them (left by an attempt that failed after staging it).
	TransactionalWriter(info SubtaskInfo, pending [][]byte) (TransactionalSinkWriter[T], error)
}
