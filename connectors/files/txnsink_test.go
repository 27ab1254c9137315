package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/floestream/floe/connectors"
)

// The runtime looks for this interface.
var _ connectors.TransactionalSink[int] = (*FileSink[int])(nil)

// txnWriter opens subtask i of p of a transactional line sink at dir.
func txnWriter(t *testing.T, dir string, i, p int, pending ...[]byte) *TransactionalFileWriter[int] {
	t.Helper()
	w, err := LineSink(dir, strconv.Itoa).TransactionalWriter(subtask(i, p), pending)
	if err != nil {
		t.Fatal(err)
	}
	return w.(*TransactionalFileWriter[int])
}

func writeInts(t *testing.T, w connectors.SinkWriter[int], from, to int) {
	t.Helper()
	for r := from; r < to; r++ {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
}

func preCommit(t *testing.T, w *TransactionalFileWriter[int], checkpoint int64) []byte {
	t.Helper()
	h, err := w.PreCommit(checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func commit(t *testing.T, w *TransactionalFileWriter[int], h []byte) {
	t.Helper()
	if err := w.Commit(h); err != nil {
		t.Fatal(err)
	}
}

// visible returns the content of every part file a consumer reads (the
// names not starting with '.'), by name.
func visible(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range dirEntries(t, dir) {
		if !strings.HasPrefix(name, ".") {
			out[name] = readFile(t, filepath.Join(dir, name))
		}
	}
	return out
}

// hidden returns the names starting with '.' in dir.
func hidden(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, name := range dirEntries(t, dir) {
		if strings.HasPrefix(name, ".") {
			names = append(names, name)
		}
	}
	return names
}

// visibleRecords returns every record in dir's part files, sorted.
func visibleRecords(t *testing.T, dir string) []int {
	t.Helper()
	var all []int
	for name, content := range visible(t, dir) {
		for _, line := range strings.Split(strings.TrimSuffix(content, "\n"), "\n") {
			if line == "" {
				continue
			}
			n, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("%s: line %q", name, line)
			}
			all = append(all, n)
		}
	}
	slices.Sort(all)
	return all
}

func ints(from, to int) []int {
	var r []int
	for i := from; i < to; i++ {
		r = append(r, i)
	}
	return r
}

var partName = regexp.MustCompile(`^part-00000-00000007-[0-9a-f]{8}$`)

func TestTransactionalCommitVisibility(t *testing.T) {
	for _, p := range []int{1, 2} { // a directory whatever the parallelism
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			w := txnWriter(t, dir, 0, p)
			writeInts(t, w, 0, 3)
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if got := visible(t, dir); len(got) != 0 {
				t.Fatalf("after Flush consumers see %v, want nothing", got)
			}
			h := preCommit(t, w, 7)
			if got := visible(t, dir); len(got) != 0 {
				t.Fatalf("after PreCommit consumers see %v, want nothing", got)
			}
			if got := hidden(t, dir); len(got) != 1 || !partName.MatchString(strings.TrimSuffix(strings.TrimPrefix(got[0], "."), ".inprogress")) {
				t.Fatalf("after PreCommit the hidden files are %q, want one staged .part-00000-00000007-<token>.inprogress", got)
			}
			writeInts(t, w, 3, 5) // the next transaction
			commit(t, w, h)
			got := visible(t, dir)
			if len(got) != 1 {
				t.Fatalf("after Commit consumers see %v, want one part file", got)
			}
			for name, content := range got {
				if !partName.MatchString(name) || content != "0\n1\n2\n" {
					t.Errorf("after Commit: %s = %q, want part-00000-00000007-<token> = %q", name, content, "0\n1\n2\n")
				}
			}
			h = preCommit(t, w, 8)
			commit(t, w, h)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := visibleRecords(t, dir); !slices.Equal(got, ints(0, 5)) {
				t.Errorf("after two checkpoints consumers see %v, want 0..4", got)
			}
			if got := hidden(t, dir); len(got) != 0 {
				t.Errorf("after Close hidden files %q remain", got)
			}
		})
	}
}

func TestTransactionalEmptyTransactionLeavesNoFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	w := txnWriter(t, dir, 0, 1)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if h := preCommit(t, w, 1); h != nil {
		t.Errorf("PreCommit of an empty transaction: handle %q, want nil", h)
	}
	writeInts(t, w, 0, 1)
	commit(t, w, preCommit(t, w, 2))
	if h := preCommit(t, w, 3); h != nil {
		t.Errorf("PreCommit of an empty transaction after a full one: handle %q, want nil", h)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %q, want the one part file", got)
	}
}

func TestTransactionalCommitIsIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	w := txnWriter(t, dir, 1, 2)
	writeInts(t, w, 0, 3)
	h := preCommit(t, w, 1)
	commit(t, w, h)
	before := snapshotTree(t, dir)
	commit(t, w, h)                          // the same writer again
	commit(t, txnWriter(t, dir, 0, 3, h), h) // another subtask's writer of a restored run
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	commit(t, w, h) // after Close
	if after := snapshotTree(t, dir); !mapsEqual(before, after) {
		t.Errorf("committing again changed the output from %v to %v", before, after)
	}
	for name := range visible(t, dir) {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	err := w.Commit(h)
	if err == nil || !strings.Contains(err.Error(), "neither it nor its staged file") || !strings.Contains(err.Error(), ".part-00001-00000001-") {
		t.Errorf("Commit with both files gone: %v, want an error naming them", err)
	}
	if err := w.Commit([]byte("junk")); err == nil || !strings.Contains(err.Error(), "is not one of a files sink") {
		t.Errorf("Commit of a foreign handle: %v", err)
	}
}

func TestTransactionalAbortKeepsStaged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	w := txnWriter(t, dir, 0, 1)
	writeInts(t, w, 0, 2)
	h := preCommit(t, w, 1)
	writeInts(t, w, 2, 1000)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Abort: %v", err)
	}
	if got := hidden(t, dir); len(got) != 1 || !strings.Contains(got[0], "-00000001-") {
		t.Fatalf("after Abort the hidden files are %q, want only the staged one", got)
	}
	if err := w.Write(1); err == nil {
		t.Error("Write after Abort: want an error")
	}
	commit(t, w, h)
	if got := visibleRecords(t, dir); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("after committing the staged transaction consumers see %v, want [0 1]", got)
	}
}

func TestTransactionalCloseWithUncommittedRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	w := txnWriter(t, dir, 0, 1)
	writeInts(t, w, 0, 2)
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "2 records written after the last PreCommit are discarded: with checkpoints only Commit publishes") {
		t.Errorf("Close: %v, want an error saying only Commit publishes", err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("after Close the directory holds %q, want nothing", got)
	}
}

func TestTransactionalPreCommitCheckpointsIncrease(t *testing.T) {
	w := txnWriter(t, filepath.Join(t.TempDir(), "out"), 0, 1)
	preCommit(t, w, 5)
	for _, c := range []int64{5, 4, -1} {
		if _, err := w.PreCommit(c); err == nil || !strings.Contains(err.Error(), "checkpoint ids must increase") {
			t.Errorf("PreCommit(%d) after 5: %v, want an error", c, err)
		}
	}
}

func TestTransactionalWriterRejectsAFile(t *testing.T) {
	file := writeFile(t, t.TempDir(), "out", []byte("x"))
	for _, p := range []int{1, 3} {
		_, err := LineSink(file, strconv.Itoa).TransactionalWriter(subtask(0, p), nil)
		if err == nil || !strings.Contains(err.Error(), "is a file, but with checkpoints the output is a directory of part files: remove it or choose another output path") {
			t.Errorf("p=%d: %v, want an error saying the output is a directory", p, err)
		}
	}
	if _, err := LineSink("", strconv.Itoa).TransactionalWriter(subtask(0, 1), nil); err == nil {
		t.Error("empty path: want an error")
	}
	if _, err := LineSink(t.TempDir(), strconv.Itoa).TransactionalWriter(subtask(0, 1), [][]byte{{9, 9}}); err == nil ||
		!strings.Contains(err.Error(), "is not one of a files sink") {
		t.Errorf("foreign pending handle: %v", err)
	}
}

func TestTransactionalWriterCleansUpEarlierAttempts(t *testing.T) {
	// A directory as earlier attempts at parallelism 4 left it. The run being
	// opened has parallelism 2 and restores a checkpoint whose pending
	// transactions are the "kept" staged files.
	files := []string{
		"part-00000-00000004-aaaaaaaa",             // committed
		"part-00003-00000004-cccccccc",             // committed, of an index ≥ 2
		".part-00000-00000005-aaaaaaaa.inprogress", // staged, pending
		".part-00000-00000006-aaaaaaaa.inprogress", // staged after the checkpoint
		".part-00000-aaaaaaaa.inprogress",          // open
		".part-00001-00000005-bbbbbbbb.inprogress", // staged, pending
		".part-00001-00000006-bbbbbbbb.inprogress", // staged after the checkpoint
		".part-00001-bbbbbbbb.inprogress",          // open
		".part-00003-00000005-cccccccc.inprogress", // staged, pending, index ≥ 2
		".part-00003-00000006-cccccccc.inprogress", // staged after the checkpoint, index ≥ 2
		".part-00002-dddddddd.inprogress",          // open, index ≥ 2
		".part-00001.inprogress",                   // a run without checkpoints
		".part-x-1.inprogress",                     // not a part file
		"notes.txt",
	}
	pending := []string{".part-00000-00000005-aaaaaaaa.inprogress", ".part-00001-00000005-bbbbbbbb.inprogress", ".part-00003-00000005-cccccccc.inprogress"}
	common := []string{"part-00000-00000004-aaaaaaaa", "part-00003-00000004-cccccccc", ".part-00001.inprogress", ".part-x-1.inprogress", "notes.txt"}
	tests := []struct {
		name    string
		index   int
		pending bool
		removed []string
	}{
		{"subtask 0 removes its own and those of indexes ≥ p", 0, true, []string{
			".part-00000-00000006-aaaaaaaa.inprogress", ".part-00000-aaaaaaaa.inprogress",
			".part-00003-00000006-cccccccc.inprogress", ".part-00002-dddddddd.inprogress"}},
		{"subtask 1 removes its own", 1, true, []string{".part-00001-00000006-bbbbbbbb.inprogress", ".part-00001-bbbbbbbb.inprogress"}},
		{"a fresh start removes every staged file of the index", 1, false, []string{
			".part-00001-00000005-bbbbbbbb.inprogress", ".part-00001-00000006-bbbbbbbb.inprogress", ".part-00001-bbbbbbbb.inprogress"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range files {
				writeFile(t, dir, f, []byte(f))
			}
			var handles [][]byte
			if tc.pending {
				for _, name := range pending {
					handles = append(handles, encodeHandle(filepath.Join(dir, name), filepath.Join(dir, strings.TrimSuffix(name[1:], ".inprogress"))))
				}
			}
			w := txnWriter(t, dir, tc.index, 2, handles...)
			defer w.Close()
			var want []string
			for _, f := range files {
				if !slices.Contains(tc.removed, f) {
					want = append(want, f)
				}
			}
			slices.Sort(want)
			if got := dirEntries(t, dir); !slices.Equal(got, want) {
				t.Errorf("directory holds\n%q\nwant\n%q", got, want)
			}
			for _, f := range common {
				if got := readFile(t, filepath.Join(dir, f)); got != f {
					t.Errorf("%s was changed to %q", f, got)
				}
			}
			for _, h := range handles {
				commit(t, w, h) // the pending ones are still committable
			}
			for _, f := range pending {
				if !tc.pending {
					break
				}
				if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: still there after Commit (%v)", f, err)
				}
			}
		})
	}
}

func TestTransactionalCrashAndRestore(t *testing.T) {
	// Two subtasks write records i*1000+r; a checkpoint every 10 records.
	// The first attempt crashes after staging checkpoint 2 but before
	// committing it, with records of a third transaction open. The restored
	// run, at parallelism 3, commits checkpoint 2's handles and replays from
	// it. Consumers must see every record exactly once.
	dir := filepath.Join(t.TempDir(), "out")
	const p = 2
	first := make([]*TransactionalFileWriter[int], p)
	var pending [][]byte
	for i := range p {
		first[i] = txnWriter(t, dir, i, p)
		writeInts(t, first[i], i*1000, i*1000+10)
		commit(t, first[i], preCommit(t, first[i], 1))
		writeInts(t, first[i], i*1000+10, i*1000+20)
		pending = append(pending, preCommit(t, first[i], 2))
		writeInts(t, first[i], i*1000+20, i*1000+25)
		if err := first[i].Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// The crash: first's writers are dropped without Close or Abort.
	if got := visibleRecords(t, dir); len(got) != 20 {
		t.Fatalf("before the restore consumers see %d records, want checkpoint 1's 20", len(got))
	}

	second := make([]*TransactionalFileWriter[int], 3)
	for i := range second {
		second[i] = txnWriter(t, dir, i, 3, pending...)
	}
	for k, h := range pending { // dealt out among the new subtasks
		commit(t, second[k%3], h)
	}
	// Replay what followed checkpoint 2: each old subtask's records from 20,
	// now spread over the new subtasks.
	for i := range p {
		writeInts(t, second[i+1], i*1000+20, i*1000+30)
	}
	var handles [][]byte
	for _, w := range second {
		if h := preCommit(t, w, 3); h != nil {
			handles = append(handles, h)
		}
	}
	for _, h := range handles {
		commit(t, second[0], h)
	}
	for _, w := range second {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := slices.Concat(ints(0, 30), ints(1000, 1030))
	if got := visibleRecords(t, dir); !slices.Equal(got, want) {
		t.Errorf("after the restore consumers see %v, want 0..29 and 1000..1029 once each", got)
	}
	if got := hidden(t, dir); len(got) != 0 {
		t.Errorf("hidden files %q remain", got)
	}
	tokens := map[string]bool{}
	for name := range visible(t, dir) {
		tokens[name[len(name)-8:]] = true
	}
	if len(tokens) != 4 { // the first run's two writers, and the two restored ones that wrote
		t.Errorf("part files carry %d tokens, want one per writer instance that wrote (4): %v", len(tokens), tokens)
	}
}

func TestStagedIndex(t *testing.T) {
	tests := []struct {
		name  string
		index int
		ok    bool
	}{
		{".part-00003-00000005-abcdef01.inprogress", 3, true},
		{".part-00012-abcdef01.inprogress", 12, true},
		{".part-123456-x.inprogress", 123456, true},
		{"part-00003-00000005-abcdef01", 0, false},
		{".part-00003.inprogress", 0, false},
		{".part--1-x.inprogress", 0, false},
		{".part-+1-x.inprogress", 0, false},
		{".part-00003-x.tmp", 0, false},
		{".other-00003-x.inprogress", 0, false},
	}
	for _, tc := range tests {
		if index, ok := stagedIndex(tc.name); index != tc.index || ok != tc.ok {
			t.Errorf("stagedIndex(%q) = %d, %v; want %d, %v", tc.name, index, ok, tc.index, tc.ok)
		}
	}
}
