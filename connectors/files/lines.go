package files

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"

	"github.com/floestream/floe/connectors"
)

const (
	// defaultMinSplit is the smallest byte range worth a split of its own.
	defaultMinSplit = 64 << 10
	// readBufferSize is the size of a reader's buffer; longer lines are
	// assembled from several reads.
	readBufferSize = 256 << 10
	// maxRetainedLine caps the line-assembly buffer a reader keeps between
	// long lines, so that one huge line does not pin its memory for the run.
	maxRetainedLine = 1 << 20
)

// LineSource is a bounded source of the lines of UTF-8 text files. It
// implements connectors.Source[string], connectors.RestorableSource[string]
// and connectors.Validator; its readers are connectors.CheckpointedReaders.
// Build one with Lines.
//
// A line is the text between two '\n' bytes, with one trailing '\r' removed
// (so "\r\n" files read the same as "\n" files); the text after the last '\n'
// is a line too when it is not empty. Empty lines elsewhere are emitted as "".
// The bytes are not checked for valid UTF-8.
//
// Parallel subtasks share the files by byte range: each file is cut into up
// to p contiguous splits of near-equal size, none smaller than 64 KiB unless
// the file itself is, and the splits of all files, in path order, are dealt
// round-robin to the subtasks. A split [a, b) holds every line whose first
// byte lies in [a, b), so each line is read exactly once, by one subtask; a
// subtask emits its splits in order, each in file order. Every subtask plans
// the splits from the files' sizes on its own, so the files must not change
// while a job reads them, nor between a checkpoint and a restore from it.
//
// A split is named path[start,end) (the name a reader gives
// connectors.SplitOutput.ForSplit), and it is finished together with its
// last line. Its position in a checkpoint is self-contained: a version byte,
// start, end and the offset to resume at as uvarints, then the path's bytes.
// The offset is the start of the next line to read once the split has been
// opened, and the split's start before; a restored reader resumes at the
// first line that starts at or after it, which is the same line in both
// cases.
type LineSource struct {
	paths    []string
	minSplit int64 // smallest split in bytes; tests lower it to force many splits
}

// Lines returns a source of the lines of the files at paths, read in the
// order given. It does not touch the files: Validate and Reader check them.
func Lines(paths ...string) *LineSource {
	return &LineSource{paths: append([]string(nil), paths...), minSplit: defaultMinSplit}
}

// Validate checks that at least one path is given and that every path names
// an existing, readable regular file. The error names the first bad path and
// says what to do.
func (s *LineSource) Validate() error {
	_, err := s.sizes()
	return err
}

// Reader opens subtask info.Index's splits. It fails if Validate would, and
// opens each file only when its split is read.
func (s *LineSource) Reader(info connectors.SubtaskInfo) (connectors.SourceReader[string], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	sizes, err := s.sizes()
	if err != nil {
		return nil, err
	}
	return newLineReader(s.plan(sizes, info), nil), nil
}

// RestoreReader opens a reader of exactly splits, positions that
// SnapshotSplits of this source's readers returned at any parallelism. It
// reads them one after the other in the order given, each from the first
// line that starts at or after its offset to its end. It fails if Validate
// would, if a split names a file that is not among the source's paths, or if
// a file is now shorter than the split: the files must not change between
// a checkpoint and the restore. With no split the reader reports EndOfInput
// at once.
func (s *LineSource) RestoreReader(info connectors.SubtaskInfo, splits []connectors.SplitState) (connectors.SourceReader[string], error) {
	if err := info.Validate(); err != nil {
		return nil, err
	}
	sizes, err := s.sizes()
	if err != nil {
		return nil, err
	}
	mine := make([]split, len(splits))
	offsets := make([]int64, len(splits))
	for i, st := range splits {
		sp, off, err := decodeSplitState(st)
		if err != nil {
			return nil, err
		}
		k := slices.Index(s.paths, sp.path)
		if k < 0 {
			return nil, fmt.Errorf("restore split %q: file %q is not an input of this source: restore the job with the files it was checkpointed with", st.Split, sp.path)
		}
		if sp.end > sizes[k] {
			return nil, fmt.Errorf("restore split %q: input file %q has %d bytes, fewer than when the checkpoint was taken: the files must not change while a job reads them", st.Split, sp.path, sizes[k])
		}
		mine[i], offsets[i] = sp, off
	}
	return newLineReader(mine, offsets), nil
}

// sizes checks every input and returns the size of each.
func (s *LineSource) sizes() ([]int64, error) {
	if len(s.paths) == 0 {
		return nil, errors.New("no input files given: pass at least one file path to files.Lines")
	}
	sizes := make([]int64, len(s.paths))
	for i, path := range s.paths {
		size, err := inputSize(path)
		if err != nil {
			return nil, err
		}
		sizes[i] = size
	}
	return sizes, nil
}

// inputSize returns the size of the input file at path, or an error a user
// can act on if it cannot be read.
func inputSize(path string) (int64, error) {
	if path == "" {
		return 0, errors.New("an input file path is empty: pass the path of a text file")
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("input file %q does not exist: check the input path", path)
	case errors.Is(err, fs.ErrPermission):
		return 0, fmt.Errorf("input file %q cannot be accessed: check the permissions of its directories", path)
	case err != nil:
		return 0, fmt.Errorf("input file %q cannot be read: %v", path, err)
	case fi.IsDir():
		return 0, fmt.Errorf("input %q is a directory: directories are not supported, pass the files in it instead", path)
	case !fi.Mode().IsRegular():
		return 0, fmt.Errorf("input %q is not a regular file (%s): pass the path of a text file", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrPermission) {
		return 0, fmt.Errorf("input file %q is not readable: check its permissions", path)
	} else if err != nil {
		return 0, fmt.Errorf("input file %q cannot be opened: %v", path, err)
	}
	f.Close()
	return fi.Size(), nil
}

// split is a byte range [start, end) of one file.
type split struct {
	path       string
	start, end int64
}

// String names the split: its file and byte range.
func (s split) String() string { return fmt.Sprintf("%s[%d,%d)", s.path, s.start, s.end) }

// plan returns the splits of subtask info.Index, in the order it reads them.
// It depends only on the paths, their sizes, minSplit and info, so every
// subtask computes the same cut and the same assignment.
func (s *LineSource) plan(sizes []int64, info connectors.SubtaskInfo) []split {
	p := int64(info.Parallelism)
	var mine []split
	var global int64 // index of the next split over all files
	for i, size := range sizes {
		if size == 0 {
			continue
		}
		k := min(max(size/max(s.minSplit, 1), 1), p)
		q, r := size/k, size%k
		var start int64
		for j := range k {
			end := start + q
			if j < r {
				end++
			}
			if global%p == int64(info.Index) {
				mine = append(mine, split{path: s.paths[i], start: start, end: end})
			}
			global++
			start = end
		}
	}
	return mine
}

// splitStateVersion is the first byte of an encoded split position.
const splitStateVersion = 1

// encodeSplitState returns the position of sp, resuming at offset: a version
// byte, start, end and offset as uvarints, then the path's bytes.
func encodeSplitState(sp split, offset int64) connectors.SplitState {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(sp.path))
	b = append(b, splitStateVersion)
	b = binary.AppendUvarint(b, uint64(sp.start))
	b = binary.AppendUvarint(b, uint64(sp.end))
	b = binary.AppendUvarint(b, uint64(offset))
	b = append(b, sp.path...)
	return connectors.SplitState{Split: sp.String(), State: b}
}

func decodeSplitState(st connectors.SplitState) (sp split, offset int64, err error) {
	bad := func() (split, int64, error) {
		return split{}, 0, fmt.Errorf("restore split %q: the position is not one of a files.Lines source: restore the job with the source it was checkpointed with", st.Split)
	}
	b := st.State
	if len(b) == 0 || b[0] != splitStateVersion {
		return bad()
	}
	b = b[1:]
	var v [3]uint64
	for i := range v {
		x, n := binary.Uvarint(b)
		if n <= 0 || x > math.MaxInt64 {
			return bad()
		}
		v[i], b = x, b[n:]
	}
	sp = split{path: string(b), start: int64(v[0]), end: int64(v[1])}
	offset = int64(v[2])
	if sp.path == "" || sp.start >= sp.end || offset < sp.start || offset >= sp.end {
		return bad()
	}
	return sp, offset, nil
}

// lineReader reads its splits one after the other. It holds the current
// split's file open; pos is the file offset of the next byte br returns.
type lineReader struct {
	splits []split
	// from[i] is where split i resumes: its first line is the first that
	// starts at or after from[i]. It is the split's start in a fresh run.
	from []int64
	cur  int // index of the split being read; len(splits) when done
	f    *os.File
	br   *bufio.Reader
	pos  int64
	long []byte // assembles lines longer than br's buffer
	// splitOut is the output that tracks splits, once a Poll got one; the
	// reader finishes its splits there.
	splitOut connectors.SplitOutput[string]
}

// newLineReader returns a reader of splits, resuming each at from (nil: at
// their starts).
func newLineReader(splits []split, from []int64) *lineReader {
	if from == nil {
		from = make([]int64, len(splits))
		for i, sp := range splits {
			from[i] = sp.start
		}
	}
	return &lineReader{splits: splits, from: from}
}

func (r *lineReader) Poll(out connectors.Collector[string], max int) (connectors.Status, error) {
	so, _ := out.(connectors.SplitOutput[string])
	if so != nil && r.splitOut == nil {
		// Every split holds the watermark back from the start, not only
		// once it is read.
		for _, sp := range r.splits[r.cur:] {
			so.ForSplit(sp.String())
		}
	}
	if so != nil {
		r.splitOut = so
	}
	for n := 0; n < max; {
		if r.cur == len(r.splits) {
			return connectors.EndOfInput, nil
		}
		if r.f == nil {
			if err := r.open(); err != nil {
				return connectors.MoreAvailable, err
			}
		}
		if r.pos >= r.splits[r.cur].end {
			if err := r.next(); err != nil {
				return connectors.MoreAvailable, err
			}
			continue
		}
		line, ok, err := r.readLine()
		if err != nil {
			return connectors.MoreAvailable, err
		}
		if !ok { // the file ended before the split did: it shrank since planning
			if err := r.next(); err != nil {
				return connectors.MoreAvailable, err
			}
			continue
		}
		r.emit(out, so, string(line))
		n++
	}
	// Finish a split together with its last line, so that it stops holding
	// the watermark back and a snapshot does not return it; the last split
	// then reports the end together with its last lines.
	if r.cur < len(r.splits) && r.f != nil && r.pos >= r.splits[r.cur].end {
		if err := r.next(); err != nil {
			return connectors.MoreAvailable, err
		}
	}
	if r.cur == len(r.splits) {
		return connectors.EndOfInput, nil
	}
	return connectors.MoreAvailable, nil
}

// open opens split r.cur and positions r.pos at the first line that starts
// at or after a = r.from[r.cur]: when a > 0 it skips through the first '\n'
// at or after a-1. At the split's start this skips the line that holds byte
// a-1, which belongs to the split before; at a line start (a resumed split)
// it skips only the '\n' before it.
func (r *lineReader) open() error {
	sp := r.splits[r.cur]
	from := r.from[r.cur]
	f, err := os.Open(sp.path)
	if err != nil {
		return fmt.Errorf("open input file %q: %w", sp.path, err)
	}
	r.f = f
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, readBufferSize)
	} else {
		r.br.Reset(f)
	}
	r.pos = 0
	if from == 0 {
		return nil
	}
	if _, err := f.Seek(from-1, io.SeekStart); err != nil {
		return fmt.Errorf("seek input file %q to byte %d: %w", sp.path, from-1, err)
	}
	r.pos = from - 1
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.pos += int64(len(chunk))
		switch {
		case err == nil, err == io.EOF:
			return nil
		case err != bufio.ErrBufferFull:
			return fmt.Errorf("read input file %q at byte %d: %w", sp.path, r.pos, err)
		}
	}
}

// readLine reads the line at r.pos without its line ending. ok is false at
// the end of the file. The line is valid until the next call.
func (r *lineReader) readLine() (line []byte, ok bool, err error) {
	chunk, err := r.br.ReadSlice('\n')
	r.pos += int64(len(chunk))
	if err == bufio.ErrBufferFull {
		r.long = append(r.long[:0], chunk...)
		for err == bufio.ErrBufferFull {
			chunk, err = r.br.ReadSlice('\n')
			r.pos += int64(len(chunk))
			r.long = append(r.long, chunk...)
		}
		line = r.long
		if cap(r.long) > maxRetainedLine {
			r.long = nil // line still refers to the array; the caller copies it
		}
	} else {
		line = chunk
	}
	switch {
	case err == io.EOF && len(line) == 0:
		return nil, false, nil
	case err != nil && err != io.EOF:
		return nil, false, fmt.Errorf("read input file %q at byte %d: %w", r.splits[r.cur].path, r.pos, err)
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, true, nil
}

// emit hands a line to out, through its split's collector when out tracks
// splits (for per-split watermarks).
func (r *lineReader) emit(out connectors.Collector[string], so connectors.SplitOutput[string], line string) {
	if so == nil {
		out.Collect(line)
		return
	}
	so.ForSplit(r.splits[r.cur].String()).Collect(line)
}

// next closes the current split's file, finishes the split and moves on to
// the next split.
func (r *lineReader) next() error {
	if r.splitOut != nil {
		r.splitOut.FinishSplit(r.splits[r.cur].String())
	}
	err := r.f.Close()
	r.f = nil
	r.cur++
	if err != nil {
		return fmt.Errorf("close input file %q: %w", r.splits[r.cur-1].path, err)
	}
	return nil
}

// SnapshotSplits returns the position of every split not finished: the
// split (path, start, end) and the offset to resume at — the start of the
// next line once the split is open, where it would resume before. It does
// no I/O.
func (r *lineReader) SnapshotSplits() ([]connectors.SplitState, error) {
	states := make([]connectors.SplitState, 0, len(r.splits)-r.cur)
	for i := r.cur; i < len(r.splits); i++ {
		off := r.from[i]
		if i == r.cur && r.f != nil {
			off = r.pos
		}
		if off >= r.splits[i].end {
			continue // read to its end, finished on the next Poll
		}
		states = append(states, encodeSplitState(r.splits[i], off))
	}
	return states, nil
}

func (r *lineReader) Close() error {
	r.cur = len(r.splits)
	r.long = nil
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
