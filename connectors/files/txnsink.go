package files

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/floestream/floe/connectors"
)

// The names of the files of a transactional sink's directory. A writer
// instance draws a token of its own, so the files of a restored or rescaled
// run never collide with those of earlier attempts.
const (
	// stagedPrefix and stagedSuffix frame the hidden files of open and
	// staged transactions, which consumers of the output never read.
	stagedPrefix = ".part-"
	stagedSuffix = ".inprogress"
	tokenBytes   = 4 // 8 hex digits
)

// openName is the file of writer token's open transaction.
func openName(index int, token string) string {
	return fmt.Sprintf(".part-%05d-%s.inprogress", index, token)
}

// committedName is the part file of the transaction that checkpoint staged.
func committedName(index int, checkpoint int64, token string) string {
	return fmt.Sprintf("part-%05d-%08d-%s", index, checkpoint, token)
}

// stagedName is where a transaction waits, durably and hidden, for its commit.
func stagedName(index int, checkpoint int64, token string) string {
	return "." + committedName(index, checkpoint, token) + stagedSuffix
}

// stagedIndex returns the subtask index of a hidden open or staged file of
// a transactional sink, and false for every other name (committed part
// files, the in-progress files of runs without checkpoints, foreign files).
func stagedIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, stagedPrefix)
	if !ok || !strings.HasSuffix(rest, stagedSuffix) {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok || digits == "" {
		return 0, false
	}
	if strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	index, err := strconv.Atoi(digits)
	if err != nil {
		return 0, false
	}
	return index, true
}

// handleVersion is the first byte of a transaction handle.
const handleVersion = 1

// encodeHandle returns a transaction's handle (see PreCommit).
func encodeHandle(staged, final string) []byte {
	h := make([]byte, 0, 1+binary.MaxVarintLen64+len(staged)+len(final))
	h = append(h, handleVersion)
	h = binary.AppendUvarint(h, uint64(len(staged)))
	h = append(h, staged...)
	return append(h, final...)
}

func decodeHandle(h []byte) (staged, final string, err error) {
	if len(h) > 0 && h[0] == handleVersion {
		n, k := binary.Uvarint(h[1:])
		if rest := h[1+max(k, 0):]; k > 0 && n > 0 && n < uint64(len(rest)) {
			return string(rest[:n]), string(rest[n:]), nil
		}
	}
	return "", "", fmt.Errorf("transaction handle of %d bytes is not one of a files sink: restore the job with the sink it was checkpointed with", len(h))
}

// TransactionalWriter opens the writer of subtask info for runs with
// checkpoints (see FileSink). The output path is a directory whatever the
// parallelism; it is created if missing. Before it returns, the writer
// removes the hidden open and staged files that earlier attempts left for
// its subtask index — subtask 0 also those of indexes at or above
// info.Parallelism, which no subtask of this run has — except the staged
// files of pending, which the runtime commits. Committed part files are
// never touched.
func (s *FileSink[T]) TransactionalWriter(info connectors.SubtaskInfo, pending [][]byte) (connectors.TransactionalSinkWriter[T], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	if s.path == "" {
		return nil, errors.New("the output path is empty: pass the path of the directory to write")
	}
	dir, err := filepath.Abs(s.path)
	if err != nil {
		return nil, fmt.Errorf("output %q: %v: check the path", s.path, err)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("output %q is a file, but with checkpoints the output is a directory of part files: remove it or choose another output path", s.path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create output directory %q: %v: check the path and its permissions", dir, err)
	}
	keep := map[string]bool{}
	for _, h := range pending {
		staged, _, err := decodeHandle(h)
		if err != nil {
			return nil, fmt.Errorf("output %q: pending transaction: %w", s.path, err)
		}
		keep[filepath.Base(staged)] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list output directory %q: %v: check its permissions", dir, err)
	}
	for _, e := range entries {
		index, ok := stagedIndex(e.Name())
		mine := index == info.Index || (info.Index == 0 && index >= info.Parallelism)
		if !ok || !mine || keep[e.Name()] || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("cannot remove %q, left by an earlier attempt: %v: check the directory's permissions", e.Name(), err)
		}
	}
	token, err := newToken(entries)
	if err != nil {
		return nil, err
	}
	return &TransactionalFileWriter[T]{dir: dir, index: info.Index, token: token, encode: s.encode, last: -1}, nil
}

// newToken draws a token that no file in entries uses.
func newToken(entries []os.DirEntry) (string, error) {
	for {
		b := make([]byte, tokenBytes)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("draw a file token: %w", err)
		}
		token := hex.EncodeToString(b)
		used := false
		for _, e := range entries {
			used = used || strings.Contains(e.Name(), "-"+token)
		}
		if !used {
			return token, nil
		}
	}
}

// TransactionalFileWriter writes one subtask's records in transactions, one
// per checkpoint, and publishes each as a part file when it is committed. It
// implements connectors.TransactionalSinkWriter. Like every SinkWriter it is
// used by one goroutine at a time; Commit touches only the files its handle
// names, so any writer of the sink may commit any handle.
type TransactionalFileWriter[T any] struct {
	dir    string // absolute
	index  int
	token  string
	encode func(buf *bytes.Buffer, record T) error
	line   bytes.Buffer // the record being written, reused
	// f is the open transaction's file, opened by the first Write after a
	// PreCommit; nil when the open transaction holds no record.
	f       *os.File
	bw      *bufio.Writer
	records int   // records in the open transaction
	last    int64 // the last checkpoint passed to PreCommit; -1 before
	done    bool  // closed or aborted
}

// Write appends record as one line to the open transaction, creating its
// hidden file if the record is the transaction's first.
func (w *TransactionalFileWriter[T]) Write(record T) error {
	if w.done {
		return fmt.Errorf("write to output %q after the writer was closed", w.dir)
	}
	w.line.Reset()
	if err := w.encode(&w.line, record); err != nil {
		return err
	}
	if w.f == nil {
		path := filepath.Join(w.dir, openName(w.index, w.token))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("cannot create output file %q: %v: check the directory's permissions", path, err)
		}
		w.f = f
		if w.bw == nil {
			w.bw = bufio.NewWriterSize(f, writeBufferSize)
		} else {
			w.bw.Reset(f)
		}
	}
	if _, err := w.bw.Write(w.line.Bytes()); err != nil {
		return fmt.Errorf("write %q: %w", w.f.Name(), err)
	}
	w.records++
	return nil
}

// Flush writes the buffered lines to the open transaction's file. Nobody
// reads them there: they are published only by Commit.
func (w *TransactionalFileWriter[T]) Flush() error {
	if w.done {
		return fmt.Errorf("flush output %q after the writer was closed", w.dir)
	}
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write %q: %w", w.f.Name(), err)
	}
	return nil
}

// PreCommit stages the open transaction for checkpoint: it flushes and syncs
// its file, closes it, renames it to
// .part-<index>-<checkpoint>-<token>.inprogress and syncs the directory, so
// that the staged file survives a crash. It returns the handle Commit needs,
// or nil when the transaction holds no record (no file is left then): a
// version byte, the length of the staged file's absolute path as a uvarint,
// that path, then the part file's absolute path. The
// next transaction opens with the next Write. Checkpoints must increase from
// one PreCommit to the next. If staging fails, the transaction's file is
// removed and its records are lost to this attempt; the runtime then fails
// the checkpoint and restores from an earlier one.
func (w *TransactionalFileWriter[T]) PreCommit(checkpoint int64) ([]byte, error) {
	if w.done {
		return nil, fmt.Errorf("pre-commit output %q after the writer was closed", w.dir)
	}
	if checkpoint < 0 || checkpoint <= w.last {
		return nil, fmt.Errorf("pre-commit output %q for checkpoint %d after checkpoint %d: checkpoint ids must increase", w.dir, checkpoint, w.last)
	}
	w.last = checkpoint
	if w.f == nil {
		return nil, nil
	}
	open := w.f.Name()
	staged := filepath.Join(w.dir, stagedName(w.index, checkpoint, w.token))
	final := filepath.Join(w.dir, committedName(w.index, checkpoint, w.token))
	err := w.bw.Flush()
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.records = nil, 0
	if err == nil {
		err = os.Rename(open, staged)
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	if err != nil {
		os.Remove(open)
		os.Remove(staged)
		return nil, fmt.Errorf("stage output file %q for checkpoint %d: %w", final, checkpoint, err)
	}
	return encodeHandle(staged, final), nil
}

// Commit publishes the transaction of handle: it renames the staged file to
// its part file name and syncs the directory. A transaction already
// committed (its staged file gone, its part file there) commits as a no-op;
// one whose files are both missing is an error that names them. Commit
// needs nothing of the writer but the handle: it works after Close or Abort
// and for handles of other writers of the sink.
func (w *TransactionalFileWriter[T]) Commit(handle []byte) error {
	staged, final, err := decodeHandle(handle)
	if err != nil {
		return fmt.Errorf("commit to output %q: %w", w.dir, err)
	}
	err = os.Rename(staged, final)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(final); serr != nil {
			return fmt.Errorf("commit output file %q: neither it nor its staged file %q exists: the transaction's records are lost (were the files removed by hand?)", final, staged)
		}
		err = nil // committed before; sync again, as the first commit may have crashed before its sync
	}
	if err == nil {
		err = syncDir(filepath.Dir(final))
	}
	if err != nil {
		return fmt.Errorf("commit output file %q: %w", final, err)
	}
	return nil
}

// Abort discards the open transaction: it closes and removes its file.
// Staged transactions stay, for a restored run to commit. Calling Abort
// again, or after Close, does nothing.
func (w *TransactionalFileWriter[T]) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := w.discard(); err != nil {
		return fmt.Errorf("abort output %q: %w", w.dir, err)
	}
	return nil
}

// Close releases the writer. The runtime calls it after the final
// checkpoint committed everything, so the open transaction is empty; if it
// holds records, Close removes them too, and says so in its error: in runs
// with checkpoints only Commit publishes, and nothing commits records
// written after the last PreCommit. Calling Close again, or after Abort,
// does nothing.
func (w *TransactionalFileWriter[T]) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	n := w.records
	err := w.discard()
	if n > 0 {
		return errors.Join(fmt.Errorf("close output %q: %d records written after the last PreCommit are discarded: with checkpoints only Commit publishes, so the run must end with a checkpoint that stages and commits them", w.dir, n), err)
	}
	if err != nil {
		return fmt.Errorf("close output %q: %w", w.dir, err)
	}
	return nil
}

// discard closes and removes the open transaction's file, if any.
func (w *TransactionalFileWriter[T]) discard() error {
	if w.f == nil {
		return nil
	}
	name := w.f.Name()
	err := w.f.Close()
	w.f, w.records = nil, 0
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// syncDir makes the entries of dir (files created, renamed or removed in
// it) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
