// Package files owns floe's file connectors: LineSource reads UTF-8 text files
// line by line, splitting them by byte range so that parallel subtasks share
// the work; FileSink writes one line per record (formatted text or JSON
// Lines) to a file, or to a directory of part files when the sink runs with a
// parallelism above one or with checkpoints.
//
// Sources here assume their files do not change while a job reads them: every
// subtask computes the same split plan from the files' sizes independently.
// LineSource is restorable (connectors.RestorableSource): a checkpoint
// records each unfinished split as its file, byte range and the offset of
// the next line, and a restored run, at any parallelism, reads exactly the
// lines that followed.
//
// In runs without checkpoints a sink writes through an in-progress file that
// is renamed into place on Close, so a reader never sees a half-written
// output and a failed run leaves the previous output untouched. In runs with
// checkpoints FileSink is a connectors.TransactionalSink: each checkpoint's
// records are staged in a hidden file and published as a part file of their
// own when the checkpoint completes, so that the output holds every record
// exactly once across failures and restores (FileSink documents the layout).
//
// The package reads and writes the local file system only; it starts no
// goroutines.
package files
