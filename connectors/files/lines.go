package files

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

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
// implements connectors.Source[string] and connectors.Validator. Build one
// with Lines.
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
// while a job reads them.
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
	return &lineReader{splits: s.plan(sizes, info)}, nil
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

// lineReader reads its splits one after the other. It holds the current
// split's file open; pos is the file offset of the next byte br returns.
type lineReader struct {
	splits []split
	cur    int // index of the split being read; len(splits) when done
	f      *os.File
	br     *bufio.Reader
	pos    int64
	long   []byte // assembles lines longer than br's buffer
	// splitOut is the output that tracks splits, once a line went to it.
	splitOut connectors.SplitOutput[string]
}

func (r *lineReader) Poll(out connectors.Collector[string], max int) (connectors.Status, error) {
	so, _ := out.(connectors.SplitOutput[string])
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
	// Report the end together with the last lines when the last split is done.
	if r.cur == len(r.splits)-1 && r.f != nil && r.pos >= r.splits[r.cur].end {
		if err := r.next(); err != nil {
			return connectors.MoreAvailable, err
		}
	}
	if r.cur == len(r.splits) {
		return connectors.EndOfInput, nil
	}
	return connectors.MoreAvailable, nil
}

// open opens split r.cur and positions r.pos at its first line: when the
// split starts at a > 0 it skips through the first '\n' at or after a-1, as
// the line that holds byte a-1 belongs to the split before.
func (r *lineReader) open() error {
	sp := r.splits[r.cur]
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
	if sp.start == 0 {
		return nil
	}
	if _, err := f.Seek(sp.start-1, io.SeekStart); err != nil {
		return fmt.Errorf("seek input file %q to byte %d: %w", sp.path, sp.start-1, err)
	}
	r.pos = sp.start - 1
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

// next closes the current split's file and moves on to the next split.
// emit hands a line to out, through its split's collector when out tracks
// splits (for per-split watermarks).
func (r *lineReader) emit(out connectors.Collector[string], so connectors.SplitOutput[string], line string) {
	if so == nil {
		out.Collect(line)
		return
	}
	so.ForSplit(r.splits[r.cur].String()).Collect(line)
	r.splitOut = so
}

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
