// Package collection owns floe's in-memory connectors: Of, a bounded source
// over a fixed slice, and Sink, which collects every record written to it so
// that a test or a small program can read the result back.
//
// Of is restorable (connectors.RestorableSource): its readers report the
// position of each subtask's share of the items, so that a job restored from
// a checkpoint, at any parallelism, continues where the checkpoint was
// taken. Sink is not transactional: a restored run appends again what the
// failed one flushed after the checkpoint.
//
// Both exist for tests, examples and small local jobs. They keep everything in
// memory and must not be used for inputs or outputs that do not fit in it; they
// do no I/O and start no goroutines.
package collection
