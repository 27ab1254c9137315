// Package snapshot owns checkpoints: the coordinator's rules (when to
// trigger, when a checkpoint is complete, aborted or timed out, which to
// keep), and checkpoint storage, with the local directory as its first
// implementation.
//
// The coordinator is a pure state machine: the job master feeds it the
// time, acknowledgements and declines, and carries out what it returns
// (send barriers, write metadata, notify completion, delete old
// checkpoints). Storage is an interface so that a shared or object store can
// replace the local directory, and so that tests can inject faults. Nothing
// here starts goroutines or talks to actors.
//
// Metadata says which files each subtask of each operator wrote; Load and
// LoadPath open a complete checkpoint or savepoint for a restore, whose
// Match checks it against the job (max parallelism, operators by UID) and
// whose OperatorState redistributes operator state to a new parallelism.
package snapshot
