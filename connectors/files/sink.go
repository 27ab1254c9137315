package files

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/floestream/floe/connectors"
)

// writeBufferSize is the size of a writer's buffer.
const writeBufferSize = 256 << 10

// FileSink writes one '\n'-terminated line per record. It implements
// connectors.Sink, connectors.TransactionalSink and connectors.Validator.
// Build one with LineSink or JSONLines.
//
// In runs without checkpoints (Writer), with a sink parallelism of 1 the output is the file at path. With a
// parallelism p > 1, path is a directory that holds one file per subtask,
// part-00000 to part-<p-1> (as Flink's file sinks do); part files left by an
// earlier run with a higher parallelism are not removed. Missing parent
// directories are created.
//
// Each writer writes to a hidden in-progress file next to its destination,
// ".<name>.inprogress", and renames it into place on Close, replacing any
// earlier file there. Until then the destination keeps its earlier content:
// Flush moves buffered records to the in-progress file, not to the
// destination. A writer also implements Abort, which the runtime calls
// instead of Close when a run failed or was cancelled: it removes the
// in-progress file and leaves the destination untouched.
//
// In runs with checkpoints (TransactionalWriter) the output is exactly-once:
// path is always a directory, whatever the parallelism, and each checkpoint
// adds at most one part file per subtask:
//
//	part-<subtask:05d>-<checkpoint:08d>-<token>              committed: the output
//	.part-<subtask:05d>-<checkpoint:08d>-<token>.inprogress  staged, awaiting Commit
//	.part-<subtask:05d>-<token>.inprogress                   the open transaction
//
// token is 8 random hex digits drawn by each writer instance, so that a
// restored or rescaled run never reuses an earlier attempt's names. Records
// go to the open transaction's file, created by the first Write after a
// PreCommit; PreCommit syncs it and renames it to its staged name; Commit
// renames the staged file to its part file name. Consumers must read only
// the names that do not start with '.'. A run that does not restore from a
// checkpoint adds its part files to those already in the directory: clear it
// first for an output of that run alone.
type FileSink[T any] struct {
	path string
	// encode appends record, as one '\n'-terminated line, to buf. It must
	// leave buf as it was when it fails.
	encode func(buf *bytes.Buffer, record T) error
}

// LineSink returns a sink that writes format(record) followed by '\n' for
// each record. format is called by several writers concurrently when the sink
// runs in parallel, so it must be safe for concurrent use; its result should
// not contain '\n', or a record spans several lines.
func LineSink[T any](path string, format func(T) string) *FileSink[T] {
	return &FileSink[T]{
		path: path,
		encode: func(buf *bytes.Buffer, record T) error {
			buf.WriteString(format(record))
			buf.WriteByte('\n')
			return nil
		},
	}
}

// JSONLines returns a sink that writes each record as one JSON value per line
// (JSON Lines), encoded by encoding/json without HTML escaping. A record that
// encoding/json cannot encode fails its Write with an error naming the record
// type; nothing of it is written.
func JSONLines[T any](path string) *FileSink[T] {
	return &FileSink[T]{
		path: path,
		encode: func(buf *bytes.Buffer, record T) error {
			// An Encoder writes nothing when encoding fails, and ends each
			// value with '\n'.
			enc := json.NewEncoder(buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(record); err != nil {
				return fmt.Errorf("cannot encode a record of type %s as JSON: %w: make the type encodable by encoding/json",
					reflect.TypeFor[T](), err)
			}
			return nil
		},
	}
}

// Validate checks that the output path is not empty, that whatever exists at
// path is a file or a directory, and that the directory it would be created
// in can be created and written. It cannot know the parallelism, so a path
// that is a file when p > 1 (or a directory when p = 1) is reported by Writer.
func (s *FileSink[T]) Validate() error {
	if s.path == "" {
		return errors.New("the output path is empty: pass the path of the file to write")
	}
	fi, err := os.Stat(s.path)
	switch {
	case err == nil && fi.IsDir():
		return checkWritable(s.path, s.path)
	case err == nil && !fi.Mode().IsRegular():
		return fmt.Errorf("output %q exists and is not a regular file or directory: choose another output path", s.path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("output %q cannot be accessed: check the permissions of its directories", s.path)
	}
	// Walk up to the nearest directory that exists: the writers create the
	// rest, and write into it. Missing (ENOENT) and blocked (ENOTDIR)
	// ancestors both lead further up, to the file in the way if there is one.
	for dir := filepath.Dir(s.path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		switch {
		case err == nil && fi.IsDir():
			return checkWritable(s.path, dir)
		case err == nil:
			return fmt.Errorf("output %q cannot be created: %q is a file, not a directory: choose another output path", s.path, dir)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("output %q cannot be created: %q cannot be accessed: check its permissions", s.path, dir)
		case filepath.Dir(dir) == dir:
			return fmt.Errorf("output %q cannot be created: %v: check the path", s.path, err)
		}
	}
}

// checkWritable reports whether a file can be created in dir, by creating
// and removing one: permission bits alone do not tell (read-only mounts,
// ACLs, running as root).
func checkWritable(output, dir string) error {
	f, err := os.CreateTemp(dir, ".floe-validate-*")
	if err != nil {
		return fmt.Errorf("output %q cannot be written: directory %q is not writable: check its permissions or choose another output path", output, dir)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// Writer opens the in-progress file of subtask info.Index: path itself with
// parallelism 1, path/part-<index> otherwise. It creates missing directories.
func (s *FileSink[T]) Writer(info connectors.SubtaskInfo) (connectors.SinkWriter[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if s.path == "" {
		return nil, errors.New("the output path is empty: pass the path of the file to write")
	}
	dest := s.path
	if info.Parallelism == 1 {
		if fi, err := os.Stat(s.path); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("output %q is a directory, but with parallelism 1 the output is a single file: remove it or choose another output path", s.path)
		}
	} else {
		if fi, err := os.Stat(s.path); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("output %q is a file, but with parallelism %d the output is a directory of part files: remove it or choose another output path",
				s.path, info.Parallelism)
		}
		dest = filepath.Join(s.path, fmt.Sprintf("part-%05d", info.Index))
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create output directory %q: %v: check the path and its permissions", dir, err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(dest)+".inprogress")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot create output file %q: %v: check the directory's permissions", tmp, err)
	}
	return &FileWriter[T]{dest: dest, tmp: tmp, f: f, bw: bufio.NewWriterSize(f, writeBufferSize), encode: s.encode}, nil
}

// FileWriter writes one subtask's records to an in-progress file and, on
// Close, renames it to its destination. It implements connectors.SinkWriter
// and, beyond it, Abort. Like every SinkWriter it is used by one goroutine at
// a time.
type FileWriter[T any] struct {
	dest   string // where the output lands on Close
	tmp    string // the in-progress file being written
	f      *os.File
	bw     *bufio.Writer
	encode func(buf *bytes.Buffer, record T) error
	line   bytes.Buffer // the record being written, reused
	done   bool         // closed or aborted
}

// Write appends record as one line. The line reaches the in-progress file
// when the buffer fills, on Flush or on Close.
func (w *FileWriter[T]) Write(record T) error {
	if w.done {
		return fmt.Errorf("write to %q after the writer was closed", w.dest)
	}
	w.line.Reset()
	if err := w.encode(&w.line, record); err != nil {
		return err
	}
	if _, err := w.bw.Write(w.line.Bytes()); err != nil {
		return fmt.Errorf("write %q: %w", w.tmp, err)
	}
	return nil
}

// Flush writes the buffered lines to the in-progress file. They appear at the
// destination only when Close renames the file into place.
func (w *FileWriter[T]) Flush() error {
	if w.done {
		return fmt.Errorf("flush %q after the writer was closed", w.dest)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write %q: %w", w.tmp, err)
	}
	return nil
}

// Close flushes the in-progress file, syncs it to disk and renames it to the
// destination, replacing any file there. If any step fails the in-progress
// file is removed and the destination keeps its earlier content. Calling
// Close again, or after Abort, does nothing.
func (w *FileWriter[T]) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.dest)
	}
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("finish output file %q: %w", w.dest, err)
	}
	return nil
}

// Abort discards the writer's output: it closes and removes the in-progress
// file and leaves the destination untouched. The runtime calls Abort instead
// of Close when a run failed or was cancelled. Calling Abort again, or after
// Close, does nothing.
func (w *FileWriter[T]) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.f.Close()
	if rerr := os.Remove(w.tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("abort output file %q: %w", w.dest, err)
	}
	return nil
}
