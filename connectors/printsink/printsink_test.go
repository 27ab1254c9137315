package printsink

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/floestream/floe/connectors"
)

func subtask(i, p int) connectors.SubtaskInfo {
	return connectors.SubtaskInfo{Job: "job", Operator: "print", Index: i, Parallelism: p}
}

type point struct{ X, Y int }

func TestPrintFormatsOneLinePerRecord(t *testing.T) {
	tests := []struct {
		name    string
		index   int
		p       int
		records []any
		want    string
	}{
		{"parallelism 1 has no prefix", 0, 1, []any{1, "two", point{3, 4}, nil, []int{5}}, "1\ntwo\n{3 4}\n<nil>\n[5]\n"},
		{"first of three", 0, 3, []any{"a", "b"}, "1> a\n1> b\n"},
		{"third of three", 2, 3, []any{"c"}, "3> c\n"},
		{"twelfth of twelve", 11, 12, []any{7}, "12> 7\n"},
		{"nothing", 0, 2, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := New[any](&out).Writer(subtask(tc.index, tc.p))
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.records {
				if err := w.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("printed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPrintWritesOnFlushCloseAndFullBuffer(t *testing.T) {
	var out bytes.Buffer
	w, err := New[string](&out).Writer(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write("a"); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("before Flush: printed %q, want nothing", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\n" {
		t.Errorf("after Flush: printed %q, want %q", out.String(), "a\n")
	}

	line := strings.Repeat("x", 1023) // 1 KiB with its '\n'
	for range flushThreshold / 1024 {
		if err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() != 2 {
		t.Fatalf("with exactly 64 KiB buffered: printed %d bytes, want still 2", out.Len())
	}
	if err := w.Write(line); err != nil {
		t.Fatal(err)
	}
	if want := 2 + flushThreshold + 1024; out.Len() != want {
		t.Errorf("beyond 64 KiB: printed %d bytes, want %d", out.Len(), want)
	}

	if err := w.Write("z"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "\nz\n") {
		t.Errorf("after Close: output ends %q, want the last line", out.String()[out.Len()-10:])
	}
	if err := w.Write("late"); err == nil {
		t.Error("Write after Close: want an error")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// lineChecker is an io.Writer that fails the test if a Write call does not
// hold whole lines, and keeps every line. It is deliberately not safe for
// concurrent use: the sink must serialise its writers.
type lineChecker struct {
	t     *testing.T
	lines []string
	busy  bool
}

func (c *lineChecker) Write(b []byte) (int, error) {
	if c.busy {
		c.t.Error("concurrent Write calls")
	}
	c.busy = true
	defer func() { c.busy = false }()
	if len(b) == 0 || b[len(b)-1] != '\n' {
		c.t.Errorf("Write of %d bytes does not end a line", len(b))
	}
	c.lines = append(c.lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	return len(b), nil
}

func TestPrintConcurrentWritersNeverInterleave(t *testing.T) {
	const p, n = 6, 5000
	out := &lineChecker{t: t}
	s := New[string](out)
	var wg sync.WaitGroup
	for i := range p {
		w, err := s.Writer(subtask(i, p))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			pad := strings.Repeat("-", 10*i) // lines of different lengths
			for j := range n {
				if err := w.Write(fmt.Sprintf("%d/%d%s", i+1, j, pad)); err != nil {
					t.Error(err)
					return
				}
				if j%777 == 0 {
					if err := w.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := w.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(out.lines) != p*n {
		t.Fatalf("printed %d lines, want %d", len(out.lines), p*n)
	}
	next := make([]int, p) // each subtask's lines arrive in write order
	for _, line := range out.lines {
		prefix, rest, ok := strings.Cut(line, "> ")
		record := strings.TrimRight(rest, "-")
		pad := len(rest) - len(record)
		var k, k2, j int
		if !ok {
			t.Fatalf("line %q has no prefix", line)
		}
		if _, err := fmt.Sscanf(prefix+" "+record, "%d %d/%d", &k, &k2, &j); err != nil {
			t.Fatalf("malformed line %q: %v", line, err)
		}
		if k != k2 || k < 1 || k > p || j != next[k-1] || pad != 10*(k-1) {
			t.Fatalf("line %q: want subtask %d's prefix and its record %d", line, k2, next[max(min(k, p)-1, 0)])
		}
		next[k-1]++
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPrintReportsWriteErrors(t *testing.T) {
	w, err := New[int](failingWriter{}).Writer(subtask(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(1); err != nil {
		t.Fatalf("buffered Write: %v", err)
	}
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush: %v, want the writer's error", err)
	}
	if err := w.Write(2); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close: %v, want the writer's error", err)
	}
}

func TestPrintDefaultsToStdout(t *testing.T) {
	for _, w := range []*os.File{nil, os.Stdout} {
		var s *sink[int]
		if w == nil {
			s = New[int](nil).(*sink[int])
		} else {
			s = New[int](w).(*sink[int])
		}
		if s.w != os.Stdout || s.mu != &stdoutMu {
			t.Errorf("New(%v): writes to %v with its own mutex, want os.Stdout under the shared mutex", w, s.w)
		}
	}
	var buf bytes.Buffer
	a, b := New[int](&buf).(*sink[int]), New[int](&buf).(*sink[int])
	if a.mu == b.mu || a.mu == &stdoutMu {
		t.Error("two sinks on their own writer share a mutex, want one each")
	}
}

func TestInvalidSubtaskIsRejected(t *testing.T) {
	for _, info := range []connectors.SubtaskInfo{subtask(0, 0), subtask(2, 2), subtask(-1, 1)} {
		if _, err := New[int](nil).Writer(info); err == nil {
			t.Errorf("Writer(%+v): want an error", info)
		}
	}
}
