package files

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/floestream/floe/connectors"
)

// The runtime looks for this optional interface on a writer.
var _ interface{ Abort() error } = (*FileWriter[int])(nil)

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// dirEntries lists the names in dir, hidden ones included.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// writeAll opens subtask i of p of sink, writes records and closes it.
func writeAll[T any](t *testing.T, sink connectors.Sink[T], i, p int, records ...T) {
	t.Helper()
	w, err := sink.Writer(subtask(i, p))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLineSinkParallelismOneWritesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nested", "deeper", "out.txt") // parents are created
	sink := LineSink(path, strconv.Itoa)
	if err := sink.Validate(); err != nil {
		t.Fatal(err)
	}
	w, err := sink.Writer(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Write(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("before Close: stat %q = %v, want not to exist", path, err)
	}
	if got := readFile(t, filepath.Join(filepath.Dir(path), ".out.txt.inprogress")); got != "0\n1\n2\n" {
		t.Errorf("in-progress file after Flush = %q, want the flushed lines", got)
	}
	if err := w.Write(3); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "0\n1\n2\n3\n" {
		t.Errorf("output = %q, want %q", got, "0\n1\n2\n3\n")
	}
	if got := dirEntries(t, filepath.Dir(path)); !slices.Equal(got, []string{"out.txt"}) {
		t.Errorf("directory holds %q, want only out.txt", got)
	}
	if err := w.Write(4); err == nil {
		t.Error("Write after Close: want an error")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLineSinkParallelismThreeWritesPartFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	sink := LineSink(path, func(s string) string { return strings.ToUpper(s) })
	for i := range 3 {
		writeAll(t, sink, i, 3, fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i))
	}
	want := []string{"part-00000", "part-00001", "part-00002"}
	if got := dirEntries(t, path); !slices.Equal(got, want) {
		t.Fatalf("%s holds %q, want %q", path, got, want)
	}
	for i, name := range want {
		if got, want := readFile(t, filepath.Join(path, name)), fmt.Sprintf("A%d\nB%d\n", i, i); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestLineSinkReplacesEarlierOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	sink := LineSink(path, strconv.Itoa)
	writeAll(t, sink, 0, 1, 1, 2, 3)
	writeAll(t, sink, 0, 1, 9)
	if got := readFile(t, path); got != "9\n" {
		t.Errorf("output = %q, want %q", got, "9\n")
	}
}

func TestFileWriterAbortKeepsEarlierOutput(t *testing.T) {
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("p=%d", p), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			sink := LineSink(path, strconv.Itoa)
			for i := range p {
				writeAll(t, sink, i, p, 100+i)
			}
			before := snapshotTree(t, dir)

			for i := range p {
				w, err := sink.Writer(subtask(i, p))
				if err != nil {
					t.Fatal(err)
				}
				for r := range 1000 {
					if err := w.Write(r); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				if err := w.(*FileWriter[int]).Abort(); err != nil {
					t.Fatal(err)
				}
				if err := w.(*FileWriter[int]).Abort(); err != nil {
					t.Errorf("second Abort: %v", err)
				}
				if err := w.Close(); err != nil {
					t.Errorf("Close after Abort: %v", err)
				}
			}
			if after := snapshotTree(t, dir); !mapsEqual(before, after) {
				t.Errorf("after Abort the output is %v, want it unchanged: %v", after, before)
			}
		})
	}
}

func TestFileWriterAbortLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	w, err := LineSink(path, strconv.Itoa).Writer(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(1); err != nil {
		t.Fatal(err)
	}
	if err := w.(*FileWriter[int]).Abort(); err != nil {
		t.Fatal(err)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("after Abort the directory holds %q, want nothing", got)
	}
}

// snapshotTree maps every file under dir to its content.
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

type event struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

func TestJSONLinesRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	events := []event{
		{ID: 1, Name: "a <b> & c"},
		{ID: 2, Name: "line\nbreak", Tags: []string{"x", "y"}},
		{ID: 3, Name: "ünï", Attrs: map[string]string{"k": "v"}},
	}
	writeAll(t, connectors.Sink[event](JSONLines[event](path)), 0, 1, events...)

	data := readFile(t, path)
	if !strings.Contains(data, "a <b> & c") {
		t.Errorf("output %q escapes HTML characters, want them as they are", data)
	}
	var got []event
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, e)
	}
	if len(got) != len(events) {
		t.Fatalf("read %d lines, want %d: %q", len(got), len(events), data)
	}
	for i := range events {
		if fmt.Sprint(got[i]) != fmt.Sprint(events[i]) {
			t.Errorf("record %d: got %+v, want %+v", i, got[i], events[i])
		}
	}
}

type unencodable struct {
	C chan int
}

func TestJSONLinesEncodeErrorNamesType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	w, err := JSONLines[unencodable](path).Writer(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	err = w.Write(unencodable{C: make(chan int)})
	if err == nil || !strings.Contains(err.Error(), "cannot encode a record of type files.unencodable as JSON") {
		t.Fatalf("Write: %v, want an error naming files.unencodable", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "" {
		t.Errorf("output = %q, want nothing of the failed record", got)
	}
}

func TestFileSinkWriterRejectsWrongKindOfOutput(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "file.txt", []byte("x"))
	tests := []struct {
		name    string
		path    string
		p       int
		wantErr string
	}{
		{"directory for p=1", dir, 1, "is a directory, but with parallelism 1 the output is a single file: remove it or choose another output path"},
		{"file for p=2", file, 2, "is a file, but with parallelism 2 the output is a directory of part files"},
		{"parent is a file", filepath.Join(file, "out"), 1, "cannot create output directory"},
		{"empty path", "", 1, "the output path is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LineSink(tc.path, strconv.Itoa).Writer(subtask(0, tc.p))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Writer: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	if got := readFile(t, file); got != "x" {
		t.Errorf("the existing file was changed to %q", got)
	}
}

func TestFileSinkValidate(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "file.txt", []byte("x"))
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"new file", filepath.Join(dir, "out.txt"), ""},
		{"new nested file", filepath.Join(dir, "a", "b", "out.txt"), ""},
		{"existing file", file, ""},
		{"existing directory", dir, ""},
		{"empty", "", "the output path is empty: pass the path of the file to write"},
		{"parent is a file", filepath.Join(file, "a", "out.txt"), fmt.Sprintf("%q is a file, not a directory", file)},
		{"device", os.DevNull, "exists and is not a regular file or directory"},
		{"read-only directory", filepath.Join(readOnly, "out.txt"), fmt.Sprintf("directory %q is not writable", readOnly)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "read-only directory" && os.Geteuid() == 0 {
				t.Skip("root writes anywhere")
			}
			err := LineSink(tc.path, strconv.Itoa).Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate: %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	if got := dirEntries(t, dir); !slices.Equal(got, []string{"file.txt", "ro"}) {
		t.Errorf("Validate left %q in the directory, want only what was there", got)
	}
}
