// Package connectors owns the contracts between floe's runtime and the outside
// world: a Source describes where records come from and creates one reader per
// parallel source subtask; a Sink describes where they go and creates one writer
// per parallel sink subtask.
//
// The runtime drives readers and writers from inside a subtask actor, one call
// at a time, so implementations need no locking of their own. Readers must not
// block for long: a reader with nothing to hand over returns NothingAvailable
// and is polled again later. Concrete connectors live in sub-packages and depend
// on this package only.
package connectors
