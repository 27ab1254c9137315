// Package connectors owns the contracts between floe's runtime and the outside
// world: a Source describes where records come from and creates one reader per
// parallel source subtask; a Sink describes where they go and creates one writer
// per parallel sink subtask.
//
// The runtime drives each reader and writer from inside its subtask actor, one
// call at a time, so a reader or writer needs no locking of its own; state
// shared by the readers or writers of one Source or Sink value (a collecting
// sink's results, a shared io.Writer) is reached from several subtasks at
// once and must be synchronised. Readers must not
// block for long: a reader with nothing to hand over returns NothingAvailable
// and is polled again later. Concrete connectors live in sub-packages and depend
// on this package only.
package connectors
