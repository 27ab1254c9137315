// Package exchange owns the typed unit of data exchange between subtasks: the
// record batch, the per-edge output writer that fills batches per channel and
// sends them under credit-based flow control, and the erased per-type
// operations (Ops) that let the untyped runtime move records of any Go type
// without reflection on the hot path.
//
// It sits below both topology (whose generic constructors capture an Ops for
// each stream type) and actors (which drives writers from inside subtask
// actors). It must not import either, must not start goroutines, and must not
// block: a writer with no credit queues at most what the current record
// produced and raises the shared Pressure count so the subtask stops pulling
// input until credit returns.
package exchange
