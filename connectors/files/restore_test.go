package files

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/internal/restoretest"
)

// The runtime looks for these interfaces.
var (
	_ connectors.RestorableSource[string] = (*LineSource)(nil)
	_ connectors.CheckpointedReader       = (*lineReader)(nil)
)

func TestLineSourceRestoreContinuesExactly(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	tests := []struct {
		name     string
		files    [][]byte
		minSplit int64
		max      int
	}{
		{"several files, many splits", [][]byte{randomText(rng, 120, false), []byte(""), randomText(rng, 80, false), []byte("x")}, 50, 5},
		{"splits inside lines", [][]byte{[]byte(strings.Repeat("a", 300) + "\n" + strings.Repeat("b", 300)), []byte("\n\n\n\r\n")}, 1, 2},
		{"lines longer than the read buffer", [][]byte{randomText(rng, 12, true)}, 64, 1},
		{"one split per file", [][]byte{randomText(rng, 30, false), randomText(rng, 30, false)}, defaultMinSplit, 4},
	}
	for n, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for f, data := range tc.files {
				paths = append(paths, writeFile(t, dir, fmt.Sprintf("%d-%d.txt", n, f), data))
			}
			src := Lines(paths...)
			src.minSplit = tc.minSplit
			restoretest.Check(t, src, restoretest.Options{
				Parallelisms: []int{1, 3}, Rescales: []int{1, 2, 4}, Cuts: []int{0, 1, 2, 7, 1000}, Max: tc.max,
			})
		})
	}
}

func TestLineSourceSnapshotPositionsAreLineStarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	data := randomText(rng, 200, false)
	path := writeFile(t, t.TempDir(), "in.txt", data)
	src := Lines(path)
	src.minSplit = 100
	sizes, err := src.sizes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{1, 3} {
		for polls := range 30 {
			for i := range p {
				r, err := src.Reader(subtask(i, p))
				if err != nil {
					t.Fatal(err)
				}
				plan := src.plan(sizes, subtask(i, p))
				var lines int
				out := &splitRecorder{lines: map[string][]string{}}
				for range polls {
					if _, err := r.Poll(out, 3); err != nil {
						t.Fatal(err)
					}
				}
				states, err := r.(connectors.CheckpointedReader).SnapshotSplits()
				if err != nil {
					t.Fatal(err)
				}
				for _, ls := range out.lines {
					lines += len(ls)
				}
				// The splits not finished, in plan order, the first maybe started.
				want := plan[len(out.finished):]
				if len(states) != len(want) {
					t.Fatalf("p=%d subtask %d after %d polls (%d lines, %d splits finished): %d states, want %d",
						p, i, polls, lines, len(out.finished), len(states), len(want))
				}
				for k, st := range states {
					sp, off, err := decodeSplitState(st)
					if err != nil {
						t.Fatal(err)
					}
					if sp != want[k] || st.Split != want[k].String() {
						t.Errorf("state %d is of split %v named %q, want %v", k, sp, st.Split, want[k])
					}
					switch {
					case k > 0 && off != sp.start:
						t.Errorf("unstarted split %v resumes at %d, want its start", sp, off)
					case off != sp.start && data[off-1] != '\n':
						t.Errorf("split %v resumes at %d, which is not a line start", sp, off)
					case len(out.lines[sp.String()]) > 0 && off == sp.start:
						t.Errorf("split %v read %d lines but resumes at its start", sp, len(out.lines[sp.String()]))
					}
				}
				r.Close()
			}
		}
	}
}

func TestLineSourceSnapshotDoesNoIO(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.txt", []byte("1\n2\n3\n"))
	b := writeFile(t, dir, "b.txt", []byte("4\n5\n"))
	r, err := Lines(a, b).Reader(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Poll(&splitRecorder{lines: map[string][]string{}}, 2); err != nil {
		t.Fatal(err)
	}
	before, err := r.(connectors.CheckpointedReader).SnapshotSplits()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	after, err := r.(connectors.CheckpointedReader).SnapshotSplits()
	if err != nil {
		t.Fatalf("SnapshotSplits with the input files removed: %v", err)
	}
	if fmt.Sprint(after) != fmt.Sprint(before) || len(after) != 2 {
		t.Errorf("SnapshotSplits with the files removed = %v, want %v (both files' splits)", after, before)
	}
	if _, off, _ := decodeSplitState(after[0]); off != 4 {
		t.Errorf("a.txt resumes at byte %d, want 4 (line \"3\")", off)
	}
}

func TestLineSourceRestoreRejects(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.txt", []byte("1\n2\n3\n"))
	other := writeFile(t, dir, "other.txt", []byte("1\n2\n3\n"))
	tests := []struct {
		name    string
		state   connectors.SplitState
		wantErr string
	}{
		{"garbage", connectors.SplitState{Split: "s", State: []byte("zzz")}, `restore split "s": the position is not one of a files.Lines source`},
		{"empty", connectors.SplitState{Split: "s"}, "the position is not one of a files.Lines source"},
		{"offset at the end", encodeSplitState(split{a, 0, 6}, 6), "the position is not one of a files.Lines source"},
		{"another file", encodeSplitState(split{other, 0, 6}, 0), fmt.Sprintf("file %q is not an input of this source", other)},
		{"file shrank", encodeSplitState(split{a, 0, 60}, 2), fmt.Sprintf("input file %q has 6 bytes, fewer than when the checkpoint was taken", a)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lines(a).RestoreReader(subtask(0, 1), []connectors.SplitState{tc.state})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("RestoreReader: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	_, err := Lines(filepath.Join(dir, "missing.txt")).RestoreReader(subtask(0, 1), nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("RestoreReader of a missing file: %v, want the error of Validate", err)
	}
}
