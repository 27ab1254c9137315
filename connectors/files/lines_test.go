package files

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/floestream/floe/connectors"
)

func subtask(i, p int) connectors.SubtaskInfo {
	return connectors.SubtaskInfo{Job: "job", Operator: "lines", Index: i, Parallelism: p}
}

// referenceLines reads data the simple way: split at '\n', keep the text
// after the last '\n' if it is not empty, drop one trailing '\r' per line.
func referenceLines(data []byte) []string {
	parts := strings.Split(string(data), "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	for i, p := range parts {
		parts[i] = strings.TrimSuffix(p, "\r")
	}
	return parts
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readSubtask reads subtask i of p of src to its end, polling with max.
func readSubtask(t testing.TB, src connectors.Source[string], i, p, max int) []string {
	t.Helper()
	r, err := src.Reader(subtask(i, p))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	out := connectors.CollectorFunc[string](func(s string) { lines = append(lines, s) })
	for {
		before := len(lines)
		st, err := r.Poll(out, max)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines)-before > max {
			t.Fatalf("Poll(max=%d) emitted %d lines", max, len(lines)-before)
		}
		if st == connectors.EndOfInput {
			break
		}
		if st != connectors.MoreAvailable {
			t.Fatalf("Poll returned %v", st)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// readSplitsInOrder reads every split of every subtask, in global split
// order, each on its own: the concatenation must be the file's lines in order.
func readSplitsInOrder(t testing.TB, src *LineSource, p int) []string {
	t.Helper()
	sizes, err := src.sizes()
	if err != nil {
		t.Fatal(err)
	}
	plans := make([][]split, p)
	for i := range p {
		plans[i] = src.plan(sizes, subtask(i, p))
	}
	var lines []string
	out := connectors.CollectorFunc[string](func(s string) { lines = append(lines, s) })
	for g := 0; ; g++ {
		i, k := g%p, g/p
		if k >= len(plans[i]) {
			break
		}
		r := newLineReader(plans[i][k:k+1], nil)
		for {
			st, err := r.Poll(out, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if st == connectors.EndOfInput {
				break
			}
		}
		r.Close()
	}
	return lines
}

// randomText returns a file's content: lines of random length (many empty,
// a few longer than the read buffer), "\n" or "\r\n" endings, stray '\r's and
// multi-byte UTF-8, and maybe no final newline.
func randomText(rng *rand.Rand, lines int, long bool) []byte {
	var b bytes.Buffer
	alphabet := []string{"a", "b", "z", " ", "é", "日", "\r", "\t"}
	for i := range lines {
		var n int
		switch k := rng.IntN(20); {
		case k < 4:
			n = 0
		case k < 15:
			n = rng.IntN(12)
		case k < 19:
			n = rng.IntN(300)
		case long:
			n = readBufferSize + rng.IntN(readBufferSize)
		default:
			n = rng.IntN(5000)
		}
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		last := i == lines-1
		switch {
		case last && rng.IntN(2) == 0: // no final newline
		case rng.IntN(4) == 0:
			b.WriteString("\r\n")
		default:
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestLineSourceSplitsReadEveryLineOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	var files [][]byte
	for range 25 {
		files = append(files, randomText(rng, 1+rng.IntN(200), false))
	}
	files = append(files,
		randomText(rng, 40, true), // lines longer than the read buffer
		[]byte(""), []byte("\n"), []byte("x"), []byte("\r\n\r\n"), []byte("\n\n\nlast"),
	)
	for f, data := range files {
		path := writeFile(t, dir, fmt.Sprintf("f%d.txt", f), data)
		want := referenceLines(data)
		for _, minSplit := range []int64{1, 2, 3, 7, 64, 1000, defaultMinSplit} {
			src := Lines(path)
			src.minSplit = minSplit
			for p := 1; p <= 8; p++ {
				if got := readSplitsInOrder(t, src, p); !slices.Equal(got, want) {
					t.Fatalf("file %d (%d bytes), minSplit %d, p=%d: splits read %d lines, want %d in file order",
						f, len(data), minSplit, p, len(got), len(want))
				}
				var got []string
				for i := range p {
					got = append(got, readSubtask(t, src, i, p, 1+rng.IntN(50))...)
				}
				slices.Sort(got)
				sorted := slices.Sorted(slices.Values(want))
				if !slices.Equal(got, sorted) {
					t.Fatalf("file %d (%d bytes), minSplit %d, p=%d: subtasks read %d lines, want the %d lines of the file",
						f, len(data), minSplit, p, len(got), len(want))
				}
			}
		}
	}
}

func TestLineSourceLineEndings(t *testing.T) {
	tests := []struct {
		data string
		want []string
	}{
		{"", nil},
		{"\n", []string{""}},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\r\n", []string{"a"}},
		{"a\r\nb\r", []string{"a", "b"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{"\n\n", []string{"", ""}},
		{"a\rb\n", []string{"a\rb"}},
		{"a\r\r\n", []string{"a\r"}},
		{"\r", []string{""}},
		{"héllo\nwörld\n", []string{"héllo", "wörld"}},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		path := writeFile(t, dir, fmt.Sprintf("%d.txt", i), []byte(tc.data))
		for _, p := range []int{1, 3} {
			src := Lines(path)
			src.minSplit = 1
			var got []string
			for k := range p {
				got = append(got, readSubtask(t, src, k, p, 10)...)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%q with p=%d: got %q, want %q", tc.data, p, got, tc.want)
			}
		}
	}
}

func TestLineSourceVeryLongLine(t *testing.T) {
	long := strings.Repeat("0123456789", 1<<20) // 10 MiB
	data := []byte("first\n" + long + "\r\nlast")
	path := writeFile(t, t.TempDir(), "long.txt", data)
	for _, p := range []int{1, 3} {
		src := Lines(path)
		src.minSplit = 1
		var got []string
		for i := range p {
			got = append(got, readSubtask(t, src, i, p, 2)...)
		}
		slices.Sort(got)
		want := []string{long, "first", "last"}
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("p=%d: got %d lines of lengths %v, want lengths 10485760, 5, 4", p, len(got), lineLengths(got))
		}
	}
}

func lineLengths(lines []string) []int {
	n := make([]int, len(lines))
	for i, l := range lines {
		n[i] = len(l)
	}
	return n
}

func TestLineSourcePlan(t *testing.T) {
	src := Lines("a", "b", "c")
	src.minSplit = 10
	sizes := []int64{100, 25, 5}
	// a: 100/10 ≥ 3 → 3 splits; b: 25/10 = 2 splits; c: smaller than a split → 1.
	// Global splits a0 a1 a2 b0 b1 c0, dealt round-robin to 3 subtasks.
	want := [][]split{
		{{"a", 0, 34}, {"b", 0, 13}},
		{{"a", 34, 67}, {"b", 13, 25}},
		{{"a", 67, 100}, {"c", 0, 5}},
	}
	for i := range 3 {
		if got := src.plan(sizes, subtask(i, 3)); !slices.Equal(got, want[i]) {
			t.Errorf("subtask %d: got %v, want %v", i, got, want[i])
		}
	}
	if got := src.plan([]int64{0, 0, 7}, subtask(0, 2)); !slices.Equal(got, []split{{"c", 0, 7}}) {
		t.Errorf("empty files: got %v, want only c's split", got)
	}
}

func TestLineSourceSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var paths, want []string
	for i := range 7 {
		data := randomText(rng, 50+rng.IntN(100), false)
		paths = append(paths, writeFile(t, dir, fmt.Sprintf("%d.txt", i), data))
		want = append(want, referenceLines(data)...)
	}
	slices.Sort(want)
	for p := 1; p <= 5; p++ {
		src := Lines(paths...)
		src.minSplit = 100
		var got []string
		for i := range p {
			got = append(got, readSubtask(t, src, i, p, 7)...)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("p=%d: got %d lines, want %d", p, len(got), len(want))
		}
	}
}

func TestLineSourcePollReportsEndWithLastLines(t *testing.T) {
	path := writeFile(t, t.TempDir(), "f.txt", []byte("a\nb\nc\n"))
	r, err := Lines(path).Reader(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	steps := []struct {
		want []string
		st   connectors.Status
	}{
		{[]string{"a", "b"}, connectors.MoreAvailable},
		{[]string{"c"}, connectors.EndOfInput},
	}
	for i, s := range steps {
		var got []string
		st, err := r.Poll(connectors.CollectorFunc[string](func(l string) { got = append(got, l) }), 2)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, s.want) || st != s.st {
			t.Errorf("poll %d: got %q %v, want %q %v", i, got, st, s.want, s.st)
		}
	}
}

func TestLineSourceValidate(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "ok.txt", []byte("x\n"))
	unreadable := writeFile(t, dir, "secret.txt", []byte("x\n"))
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.txt")
	tests := []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"one file", []string{file}, ""},
		{"no paths", nil, "no input files given: pass at least one file path"},
		{"empty path", []string{file, ""}, "an input file path is empty"},
		{"missing", []string{file, missing}, fmt.Sprintf("input file %q does not exist: check the input path", missing)},
		{"directory", []string{dir}, fmt.Sprintf("input %q is a directory: directories are not supported", dir)},
		{"device", []string{os.DevNull}, fmt.Sprintf("input %q is not a regular file", os.DevNull)},
		{"unreadable", []string{unreadable}, fmt.Sprintf("input file %q is not readable: check its permissions", unreadable)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unreadable" && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			src := Lines(tc.paths...)
			err := src.Validate()
			_, rerr := src.Reader(subtask(0, 1))
			if tc.wantErr == "" {
				if err != nil || rerr != nil {
					t.Fatalf("Validate: %v, Reader: %v; want no error", err, rerr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate: %v, want an error containing %q", err, tc.wantErr)
			}
			if rerr == nil || rerr.Error() != err.Error() {
				t.Errorf("Reader: %v, want the same error as Validate", rerr)
			}
		})
	}
}

func BenchmarkLineSource(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	var data bytes.Buffer
	for data.Len() < 20<<20 {
		n := 20 + rng.IntN(160) // ~100-byte lines, like logs or CSV
		for range n {
			data.WriteByte(byte('a' + rng.IntN(26)))
		}
		data.WriteByte('\n')
	}
	path := writeFile(b, b.TempDir(), "bench.txt", data.Bytes())
	for _, p := range []int{1, 4} {
		b.Run(fmt.Sprintf("p=%d", p), func(b *testing.B) {
			src := Lines(path)
			var lines, bytesRead int
			out := connectors.CollectorFunc[string](func(s string) { lines++; bytesRead += len(s) + 1 })
			b.SetBytes(int64(data.Len()))
			b.ReportAllocs()
			for b.Loop() {
				lines, bytesRead = 0, 0
				for i := range p {
					r, err := src.Reader(subtask(i, p))
					if err != nil {
						b.Fatal(err)
					}
					for {
						st, err := r.Poll(out, 256)
						if err != nil {
							b.Fatal(err)
						}
						if st == connectors.EndOfInput {
							break
						}
					}
					r.Close()
				}
				if bytesRead != data.Len() {
					b.Fatalf("read %d bytes of lines, want %d", bytesRead, data.Len())
				}
			}
			b.ReportMetric(float64(lines), "lines/op")
		})
	}
}

// splitRecorder is a connectors.SplitOutput that remembers which split
// each line came through and which splits finished.
type splitRecorder struct {
	lines    map[string][]string
	finished []string
}

func (r *splitRecorder) Collect(line string) { r.lines[""] = append(r.lines[""], line) }
func (r *splitRecorder) ForSplit(split string) connectors.Collector[string] {
	return connectors.CollectorFunc[string](func(line string) { r.lines[split] = append(r.lines[split], line) })
}
func (r *splitRecorder) FinishSplit(split string) { r.finished = append(r.finished, split) }

func TestLineSourceNamesSplitsForPerSplitWatermarks(t *testing.T) {
	dir := t.TempDir()
	var want, paths []string
	for f := range 3 { // one split per file at parallelism 1
		var b strings.Builder
		for i := range 100 {
			line := fmt.Sprintf("file %d line %03d", f, i)
			want = append(want, line)
			b.WriteString(line + "\n")
		}
		path := filepath.Join(dir, fmt.Sprintf("in%d.txt", f))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	src := Lines(paths...)
	r, err := src.Reader(connectors.SubtaskInfo{Index: 0, Parallelism: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := &splitRecorder{lines: map[string][]string{}}
	for {
		st, err := r.Poll(out, 64)
		if err != nil {
			t.Fatal(err)
		}
		if st == connectors.EndOfInput {
			break
		}
	}
	if len(out.lines[""]) != 0 {
		t.Fatalf("%d lines came without a split", len(out.lines[""]))
	}
	var got []string
	for _, split := range out.finished {
		got = append(got, out.lines[split]...)
	}
	if len(out.finished) != 3 || !slices.Equal(got, want) {
		t.Fatalf("%d splits finished, lines in split order equal the file: %v", len(out.finished), slices.Equal(got, want))
	}
}
