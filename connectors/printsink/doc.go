// Package printsink owns floe's print sink, which writes every record as a
// line of text to an io.Writer (standard output by default), like Flink's
// print sink: for watching a job's results while developing it, not for
// production output.
//
// Lines written by the parallel subtasks of one sink never interleave within
// a line, but their relative order is not defined. The package does no
// formatting beyond fmt's %v.
//
// The print sink is not transactional: a job restored from a checkpoint
// prints again the records that followed the checkpoint.
package printsink
