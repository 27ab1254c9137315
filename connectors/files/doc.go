// Package files owns floe's file connectors: LineSource reads UTF-8 text files
// line by line, splitting them by byte range so that parallel subtasks share
// the work; FileSink writes one line per record (formatted text or JSON
// Lines) to a file, or to a directory of part files when the sink runs with a
// parallelism above one.
//
// Sources here assume their files do not change while a job reads them: every
// subtask computes the same split plan from the files' sizes independently.
// Sinks write through an in-progress file that is renamed into place on Close,
// so a reader never sees a half-written output and a failed run leaves the
// previous output untouched. The package reads and writes the local file
// system only; it starts no goroutines.
package files
