// Package restoretest checks that a connectors.RestorableSource resumes
// exactly where its readers' snapshots say: the records read before a cut
// plus those a restored run reads after it equal one uninterrupted read,
// split by split, at any parallelism before and after. It is for the tests
// of the connector packages and must not be imported by anything else.
package restoretest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/floestream/floe/connectors"
)

// Options says which runs Check compares.
type Options struct {
	// Parallelisms are the parallelisms of the run that is cut.
	Parallelisms []int
	// Rescales are the parallelisms of the restored run.
	Rescales []int
	// Cuts are the numbers of Polls each reader gets before the cut.
	Cuts []int
	// Max is Poll's max.
	Max int
	// Limit, when above zero, makes the check work on an unbounded source:
	// every run reads until each split has Limit records, and only the first
	// Limit records of each split are compared.
	Limit int
}

// Check cuts runs of src and restores them as opts says, and fails t where
// the restored run does not continue exactly. Readers must emit through the
// split collectors of a connectors.SplitOutput and be
// connectors.CheckpointedReaders. Besides the records it checks that a
// finished split's state is never returned, that SnapshotSplits has no
// effect on what follows, that a restored reader's first snapshot is the
// splits it was given, and that a reader restored with no split reports
// EndOfInput at once.
func Check[T comparable](t *testing.T, src connectors.RestorableSource[T], opts Options) {
	t.Helper()
	for _, p := range opts.Parallelisms {
		ref := reference(t, src, p, opts)
		for _, k := range opts.Cuts {
			for _, q := range opts.Rescales {
				t.Run(fmt.Sprintf("p=%d/cut=%d/q=%d", p, k, q), func(t *testing.T) {
					cutAndRestore(t, src, p, k, q, ref, opts)
				})
			}
		}
	}
	r, err := src.RestoreReader(info(0, 1), nil)
	if err != nil {
		t.Fatalf("RestoreReader with no split: %v", err)
	}
	rec := newRecorder[T]()
	if st, err := r.Poll(rec, 10); err != nil || st != connectors.EndOfInput || rec.total() != 0 {
		t.Errorf("reader with no split: first Poll emitted %d records, %v, %v; want none, end-of-input", rec.total(), st, err)
	}
	r.Close()
}

func info(i, p int) connectors.SubtaskInfo {
	return connectors.SubtaskInfo{Job: "job", Operator: "source", Index: i, Parallelism: p}
}

// reference reads src uninterrupted at parallelism p.
func reference[T comparable](t *testing.T, src connectors.RestorableSource[T], p int, opts Options) *recorder[T] {
	t.Helper()
	rec := newRecorder[T]()
	for i := range p {
		r, err := src.Reader(info(i, p))
		if err != nil {
			t.Fatal(err)
		}
		names := splitNames(t, r)
		readToEnd(t, r, rec, names, opts)
		rec.planned = append(rec.planned, names...)
	}
	if opts.Limit == 0 {
		if f := slices.Sorted(func(yield func(string) bool) {
			for n := range rec.finished {
				if !yield(n) {
					return
				}
			}
		}); !slices.Equal(f, slices.Sorted(slices.Values(rec.planned))) {
			t.Fatalf("p=%d: uninterrupted read finished splits %q, want every split it started with: %q", p, f, rec.planned)
		}
	}
	return rec
}

func cutAndRestore[T comparable](t *testing.T, src connectors.RestorableSource[T], p, k, q int, ref *recorder[T], opts Options) {
	before := newRecorder[T]()
	var states []connectors.SplitState
	for i := range p {
		r, err := src.Reader(info(i, p))
		if err != nil {
			t.Fatal(err)
		}
		for range k {
			st, err := r.Poll(before, opts.Max)
			if err != nil {
				t.Fatal(err)
			}
			if st == connectors.EndOfInput {
				break
			}
		}
		s := snapshot(t, r)
		if again := snapshot(t, r); !equalStates(s, again) {
			t.Fatalf("subtask %d: a second SnapshotSplits returned %v, want the first again: %v", i, again, s)
		}
		for _, st := range s {
			if before.finished[st.Split] {
				t.Errorf("subtask %d: SnapshotSplits returned finished split %q", i, st.Split)
			}
		}
		states = append(states, s...)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, s := range states {
		if seen[s.Split] {
			t.Fatalf("split %q was snapshotted twice", s.Split)
		}
		seen[s.Split] = true
	}

	after := newRecorder[T]()
	for j := range q {
		var mine []connectors.SplitState
		for x := j; x < len(states); x += q {
			mine = append(mine, states[x])
		}
		r, err := src.RestoreReader(info(j, q), mine)
		if err != nil {
			t.Fatal(err)
		}
		if s := snapshot(t, r); !equalStates(s, mine) {
			t.Fatalf("restored subtask %d of %d: first SnapshotSplits = %v, want the splits it was given: %v", j, q, s, mine)
		}
		names := make([]string, len(mine))
		for x, s := range mine {
			names[x] = s.Split
		}
		readToEnd(t, r, after, names, opts, before)
	}

	for _, name := range ref.planned {
		got := slices.Concat(before.records[name], after.records[name])
		want := ref.records[name]
		if opts.Limit > 0 {
			got, want = got[:min(len(got), opts.Limit)], want[:opts.Limit]
		}
		if !slices.Equal(got, want) {
			t.Errorf("split %q: %d records before the cut and %d after, which differ from the %d of an uninterrupted read",
				name, len(before.records[name]), len(after.records[name]), len(want))
		}
		if opts.Limit == 0 && before.finished[name] == after.finished[name] {
			t.Errorf("split %q: finished before the cut %v and after it %v; want exactly once", name, before.finished[name], after.finished[name])
		}
	}
	for name := range before.records {
		if !slices.Contains(ref.planned, name) {
			t.Errorf("records came through split %q, which an uninterrupted read does not have", name)
		}
	}
	for name := range after.records {
		if !slices.Contains(ref.planned, name) {
			t.Errorf("records came through split %q, which an uninterrupted read does not have", name)
		}
	}
}

// readToEnd polls r into rec until EndOfInput, or with opts.Limit until
// every split in names holds Limit records (counting those in earlier).
func readToEnd[T comparable](t *testing.T, r connectors.SourceReader[T], rec *recorder[T], names []string, opts Options, earlier ...*recorder[T]) {
	t.Helper()
	enough := func() bool {
		if opts.Limit == 0 {
			return false
		}
		for _, n := range names {
			have := len(rec.records[n])
			for _, e := range earlier {
				have += len(e.records[n])
			}
			if have < opts.Limit {
				return false
			}
		}
		return true
	}
	for polls := 0; !enough(); polls++ {
		if polls > 1_000_000 {
			t.Fatal("the reader did not reach its end")
		}
		before := rec.total()
		st, err := r.Poll(rec, opts.Max)
		if err != nil {
			t.Fatal(err)
		}
		if n := rec.total() - before; n > opts.Max {
			t.Fatalf("Poll(max=%d) emitted %d records", opts.Max, n)
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
	if n := len(rec.records[""]); n > 0 {
		t.Fatalf("%d records came without a split", n)
	}
}

// snapshot returns r's split positions.
func snapshot[T any](t *testing.T, r connectors.SourceReader[T]) []connectors.SplitState {
	t.Helper()
	cr, ok := r.(connectors.CheckpointedReader)
	if !ok {
		t.Fatalf("reader %T is not a connectors.CheckpointedReader", r)
	}
	s, err := cr.SnapshotSplits()
	if err != nil {
		t.Fatalf("SnapshotSplits: %v", err)
	}
	return s
}

// splitNames returns the names of the splits r has not finished.
func splitNames[T any](t *testing.T, r connectors.SourceReader[T]) []string {
	t.Helper()
	var names []string
	for _, s := range snapshot(t, r) {
		names = append(names, s.Split)
	}
	return names
}

func equalStates(a, b []connectors.SplitState) bool {
	return slices.EqualFunc(a, b, func(x, y connectors.SplitState) bool {
		return x.Split == y.Split && string(x.State) == string(y.State)
	})
}

// recorder is a connectors.SplitOutput that keeps each split's records in
// the order they came, and which splits finished. Records collected
// without a split go under "".
type recorder[T any] struct {
	records  map[string][]T
	finished map[string]bool
	planned  []string // the splits the readers started with (reference runs)
}

func newRecorder[T any]() *recorder[T] {
	return &recorder[T]{records: map[string][]T{}, finished: map[string]bool{}}
}

func (r *recorder[T]) Collect(v T) { r.records[""] = append(r.records[""], v) }

func (r *recorder[T]) ForSplit(split string) connectors.Collector[T] {
	return connectors.CollectorFunc[T](func(v T) {
		if r.finished[split] {
			panic(fmt.Sprintf("a record came through split %q after FinishSplit", split))
		}
		r.records[split] = append(r.records[split], v)
	})
}

func (r *recorder[T]) FinishSplit(split string) {
	if r.finished[split] {
		panic(fmt.Sprintf("split %q finished twice", split))
	}
	r.finished[split] = true
}

func (r *recorder[T]) total() int {
	n := 0
	for _, recs := range r.records {
		n += len(recs)
	}
	return n
}
