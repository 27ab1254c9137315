package actors_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// txnStore is an exactly-once sink for tests: writers stage records per
// transaction in "durable" staging (this map outlives failed attempts),
// Commit moves a transaction into the committed output once.
type txnStore struct {
	mu        sync.Mutex
	staged    map[string][]string
	committed map[string][]string
	next      atomic.Int64
}

func newTxnStore() *txnStore {
	return &txnStore{staged: map[string][]string{}, committed: map[string][]string{}}
}

func (s *txnStore) output() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, recs := range s.committed {
		out = append(out, recs...)
	}
	slices.Sort(out)
	return out
}

func (s *txnStore) Writer(connectors.SubtaskInfo) (connectors.SinkWriter[string], error) {
	return nil, errors.New("txnStore is only used in runs with checkpoints")
}

func (s *txnStore) TransactionalWriter(info connectors.SubtaskInfo, pending [][]byte) (connectors.TransactionalSinkWriter[string], error) {
	return &txnWriter{s: s}, nil
}

type txnWriter struct {
	s    *txnStore
	open []string
}

func (w *txnWriter) Write(r string) error { w.open = append(w.open, r); return nil }
func (w *txnWriter) Flush() error         { return nil }
func (w *txnWriter) Close() error {
	if len(w.open) > 0 {
		return fmt.Errorf("close with %d uncommitted records", len(w.open))
	}
	return nil
}
func (w *txnWriter) Abort() error { w.open = nil; return nil }
func (w *txnWriter) PreCommit(int64) ([]byte, error) {
	if len(w.open) == 0 {
		return nil, nil
	}
	h := fmt.Sprint("txn-", w.s.next.Add(1))
	w.s.mu.Lock()
	w.s.staged[h] = w.open
	w.s.mu.Unlock()
	w.open = nil
	return []byte(h), nil
}
func (w *txnWriter) Commit(h []byte) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if _, done := w.s.committed[string(h)]; done {
		return nil
	}
	recs, ok := w.s.staged[string(h)]
	if !ok {
		return fmt.Errorf("commit of unknown transaction %s", h)
	}
	w.s.committed[string(h)] = recs
	delete(w.s.staged, string(h))
	return nil
}

type seqEvent struct {
	Key int64
	Seq int64
}

// sequenceCheck is a keyed counter in the style of Flink's fault-tolerance
// tests: each key's records carry 1, 2, 3, … and the counter in state must
// see exactly the next one, in every attempt, whatever failed before.
type sequenceCheck struct {
	last       keyspace.ValueState[int64]
	violations *atomic.Int64
}

func (c *sequenceCheck) Open(ctx *topology.KeyedContext[int64]) (err error) {
	c.last, err = keyspace.NewValueState[int64, int64](ctx.State(), "last")
	return err
}

func (c *sequenceCheck) ProcessElement(ctx *topology.KeyedContext[int64], e seqEvent, out topology.Collector[string]) error {
	last, _ := c.last.Value()
	if e.Seq != last+1 {
		c.violations.Add(1)
	}
	c.last.Update(e.Seq)
	out.Collect(fmt.Sprintf("%03d:%06d", e.Key, e.Seq))
	return nil
}

func sequenceJob(par int, records, keys int64, rate float64, violations *atomic.Int64, sink *txnStore) *topology.Job {
	j := topology.NewJob("sequence", topology.WithParallelism(par))
	// Interleaved with an even number of keys: every key comes from one
	// source subtask, in order.
	src := datagen.Generate(records, func(i int64) seqEvent { return seqEvent{Key: i % keys, Seq: i/keys + 1} }).Interleaved()
	if rate > 0 {
		src = src.WithRate(rate)
	}
	events := topology.FromSource(j, "events", src).UID("events")
	counted := topology.KeyedProcess(topology.KeyBy(events, func(e seqEvent) int64 { return e.Key }), "check",
		topology.KeyedProcessFunction[int64, seqEvent, string](&sequenceCheck{violations: violations})).UID("check")
	topology.Sink(counted, "out", sink).UID("out")
	return j
}

func wantSequence(records, keys int64) []string {
	var want []string
	for i := range records {
		want = append(want, fmt.Sprintf("%03d:%06d", i%keys, i/keys+1))
	}
	slices.Sort(want)
	return want
}

func TestKeyedSequenceUnderRandomFailures(t *testing.T) {
	const records, keys = 30000, 16
	for _, backend := range []string{"heap", "pebble"} {
		t.Run(backend, func(t *testing.T) {
			var violations atomic.Int64
			sink := newTxnStore()
			g := build(t, sequenceJob(2, records, keys, 40000, &violations, sink))
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			r, err := actors.Start(ctx, g, actors.WithStateBackend(backend, ""), actors.WithCheckpointing(actors.Checkpointing{
				Config:         snapshot.Config{Interval: 40 * time.Millisecond},
				Dir:            t.TempDir(),
				InjectFailures: 6, FailureSeed: 7,
				Restart: actors.RestartStrategy{Kind: "fixed-delay", MaxRestarts: 0, Delay: 10 * time.Millisecond},
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Wait(); err != nil {
				t.Fatal(err)
			}
			st := r.Checkpoints()
			if st.Restarts == 0 || st.Completed == 0 {
				t.Fatalf("restarts %d, completed checkpoints %d: the test needs both", st.Restarts, st.Completed)
			}
			if n := violations.Load(); n != 0 {
				t.Fatalf("%d records broke their key's sequence (skipped or repeated) after %d restarts", n, st.Restarts)
			}
			if got, want := sink.output(), wantSequence(records, keys); !slices.Equal(got, want) {
				t.Fatalf("committed output has %d records, want %d exactly once (%d restarts)", len(got), len(want), st.Restarts)
			}
			t.Logf("%d restarts, %d checkpoints completed, %d aborted", st.Restarts, st.Completed, st.Aborted)
		})
	}
}

// failingStorage fails every write of the checkpoints listed in fail.
type failingStorage struct {
	snapshot.LocalStorage
	mu   sync.Mutex
	fail map[int64]bool
	seen []int64
}

func (f *failingStorage) Create(job string, id int64, uid string, subtask int, name string) (io.WriteCloser, error) {
	f.mu.Lock()
	bad := f.fail[id]
	f.seen = append(f.seen, id)
	f.mu.Unlock()
	if bad {
		return nil, fmt.Errorf("write checkpoint %d: no space left on device", id)
	}
	return f.LocalStorage.Create(job, id, uid, subtask, name)
}

func TestFailingStorageAbortsTheCheckpointAndTheJobGoesOn(t *testing.T) {
	const records, keys = 20000, 8
	var violations atomic.Int64
	sink := newTxnStore()
	dir := t.TempDir()
	st := &failingStorage{LocalStorage: snapshot.LocalStorage{Root: dir}, fail: map[int64]bool{2: true, 3: true}}
	r, err := actors.Start(context.Background(), build(t, sequenceJob(2, records, keys, 40000, &violations, sink)),
		actors.WithCheckpointing(actors.Checkpointing{Config: snapshot.Config{Interval: 40 * time.Millisecond, Retained: 100}, Storage: st}))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	stats := r.Checkpoints()
	if stats.Aborted < 2 || stats.Completed < 2 || stats.Restarts != 0 {
		t.Fatalf("stats %+v: want checkpoints 2 and 3 aborted, others complete, no restart", stats)
	}
	done, err := st.Completed("sequence")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(done, 2) || slices.Contains(done, 3) || !slices.Contains(done, 1) {
		t.Fatalf("complete checkpoints %v: want 1 kept and 2, 3 absent", done)
	}
	if _, err := os.Stat(filepath.Join(dir, "sequence", "chk-2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("aborted checkpoint 2 left files behind: %v", err)
	}
	if got, want := sink.output(), wantSequence(records, keys); !slices.Equal(got, want) {
		t.Fatalf("output has %d records, want %d", len(got), len(want))
	}
}

func TestStopWithSavepointAndResumeAtAnotherParallelism(t *testing.T) {
	const records, keys = 40000, 16
	var violations atomic.Int64
	sink := newTxnStore()
	spDir := t.TempDir()
	cfg := actors.Checkpointing{Config: snapshot.Config{Interval: 50 * time.Millisecond}, Dir: t.TempDir(), SavepointDir: spDir}
	r, err := actors.Start(context.Background(), build(t, sequenceJob(2, records, keys, 40000, &violations, sink)), actors.WithCheckpointing(cfg))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	path, err := r.StopWithSavepoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); !errors.Is(err, actors.ErrStopped) {
		t.Fatalf("stopped run: %v, want ErrStopped", err)
	}
	part := len(sink.output())
	if part == 0 || part >= records {
		t.Fatalf("%d records committed when stopped, want part of %d", part, records)
	}
	ck, err := snapshot.LoadPath(path)
	if err != nil {
		t.Fatal(err)
	}
	// Resume at another parallelism: key groups are re-split, source
	// splits dealt out again.
	g := build(t, sequenceJob(3, records, keys, 0, &violations, sink))
	cfg.Restore = ck
	if err := actors.Execute(context.Background(), g, actors.WithCheckpointing(cfg)); err != nil {
		t.Fatal(err)
	}
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d sequence violations across the stop and the resume", n)
	}
	if got, want := sink.output(), wantSequence(records, keys); !slices.Equal(got, want) {
		t.Fatalf("output has %d records after the resume, want %d exactly once", len(got), len(want))
	}
}

func TestParseRestartStrategy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"none", "none", false},
		{"fixed-delay", "fixed-delay (10 restarts, 200ms apart)", false},
		{"fixed-delay:3:1s", "fixed-delay (3 restarts, 1s apart)", false},
		{"exponential:5:100ms:2s", "exponential (5 restarts, 100ms doubling to 2s)", false},
		{"fixed-delay:3:1s:5s", "", true},
		{"fixed-delay:-1", "", true},
		{"none:3", "", true},
		{"sometimes", "", true},
		{"exponential:2:soon", "", true},
	} {
		r, err := actors.ParseRestartStrategy(tc.in)
		if (err != nil) != tc.err || (err == nil && r.String() != tc.want) {
			t.Errorf("%q: %v, %v; want %q (error %v)", tc.in, r, err, tc.want, tc.err)
		}
	}
}

// alwaysFails fails at one record, every time it sees it: restarts cannot help.
type alwaysFails struct{}

func (alwaysFails) ProcessElement(_ *topology.KeyedContext[int64], e seqEvent, out topology.Collector[string]) error {
	if e.Key == 3 && e.Seq == 100 {
		return errors.New("record 3/100 is poison")
	}
	out.Collect("ok")
	return nil
}

func TestRestartsGiveUpWithTheLastCause(t *testing.T) {
	j := topology.NewJob("poison", topology.WithParallelism(2))
	src := datagen.Generate(20000, func(i int64) seqEvent { return seqEvent{Key: i % 8, Seq: i/8 + 1} }).Interleaved()
	out := topology.KeyedProcess(topology.KeyBy(topology.FromSource(j, "events", src), func(e seqEvent) int64 { return e.Key }),
		"poisoned", topology.KeyedProcessFunction[int64, seqEvent, string](alwaysFails{}))
	topology.Sink(out, "out", newTxnStore())
	r, err := actors.Start(context.Background(), build(t, j), actors.WithCheckpointing(actors.Checkpointing{
		Config: snapshot.Config{Interval: 20 * time.Millisecond}, Dir: t.TempDir(),
		Restart: actors.RestartStrategy{Kind: "exponential", MaxRestarts: 2, Delay: time.Millisecond, MaxDelay: 5 * time.Millisecond}}))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Wait()
	var opErr *actors.OperatorError
	if !errors.As(err, &opErr) || !strings.Contains(err.Error(), "poison") || !strings.Contains(err.Error(), "after 2 restarts") {
		t.Fatalf("run = %v: want the operator's error and that 2 restarts were tried", err)
	}
	if n := r.Checkpoints().Restarts; n != 2 {
		t.Fatalf("%d restarts, want 2", n)
	}
}

func TestSavepointNeedsADirectoryAndRestoreMatchesOperators(t *testing.T) {
	var violations atomic.Int64
	r, err := actors.Start(context.Background(), build(t, sequenceJob(2, 20000, 8, 20000, &violations, newTxnStore())),
		actors.WithCheckpointing(actors.Checkpointing{Config: snapshot.Config{Interval: time.Second}, Dir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Savepoint(context.Background()); err == nil || !strings.Contains(err.Error(), "--savepoint-dir") {
		t.Fatalf("savepoint without a directory: %v", err)
	}
	r.Cancel("test")
	r.Wait()

	sp, sink := t.TempDir(), newTxnStore()
	r, err = actors.Start(context.Background(), build(t, sequenceJob(2, 20000, 8, 20000, &violations, sink)),
		actors.WithCheckpointing(actors.Checkpointing{Dir: t.TempDir(), SavepointDir: sp}))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	path, err := r.Savepoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil { // a savepoint does not stop the run
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, filepath.Join(sp, "sequence", "savepoint-")) {
		t.Fatalf("savepoint path %q is not under %s", path, sp)
	}
	ck, err := snapshot.LoadPath(path)
	if err != nil {
		t.Fatal(err)
	}
	// A job without the "check" operator cannot take its state silently.
	other := topology.NewJob("sequence", topology.WithParallelism(2))
	src := datagen.Generate(20000, func(i int64) seqEvent { return seqEvent{Key: i % 8, Seq: i/8 + 1} }).Interleaved()
	topology.Sink(topology.Map(topology.FromSource(other, "events", src).UID("events"), "fmt", func(e seqEvent) string { return fmt.Sprint(e) }),
		"out", sink).UID("out")
	err = actors.Execute(context.Background(), build(t, other), actors.WithCheckpointing(actors.Checkpointing{Dir: t.TempDir(), Restore: ck}))
	if err == nil || !strings.Contains(err.Error(), `"check"`) || !strings.Contains(err.Error(), "--allow-non-restored-state") {
		t.Fatalf("restore into a job without the operator: %v", err)
	}
	err = actors.Execute(context.Background(), build(t, other), actors.WithCheckpointing(actors.Checkpointing{Dir: t.TempDir(), Restore: ck, AllowNonRestoredState: true}))
	if err != nil {
		t.Fatalf("restore allowing non-restored state: %v", err)
	}
}

func TestAtLeastOnceModeLosesNothing(t *testing.T) {
	const records, keys = 20000, 8
	var violations atomic.Int64
	sink := newTxnStore()
	err := actors.Execute(context.Background(), build(t, sequenceJob(2, records, keys, 40000, &violations, sink)),
		actors.WithCheckpointing(actors.Checkpointing{Config: snapshot.Config{Interval: 30 * time.Millisecond}, Dir: t.TempDir(),
			Mode: actors.AtLeastOnce, InjectFailures: 3, FailureSeed: 3}))
	if err != nil {
		t.Fatal(err)
	}
	got := sink.output()
	seen := map[string]bool{}
	for _, r := range got {
		seen[r] = true
	}
	for _, w := range wantSequence(records, keys) {
		if !seen[w] {
			t.Fatalf("record %s lost in at-least-once mode", w)
		}
	}
}

// A savepoint asked for while the job is still starting is taken as soon as
// it runs.
func TestSavepointAskedForWhileStarting(t *testing.T) {
	var violations atomic.Int64
	r, err := actors.Start(context.Background(), build(t, sequenceJob(2, 20000, 8, 20000, &violations, newTxnStore())),
		actors.WithCheckpointing(actors.Checkpointing{Dir: t.TempDir(), SavepointDir: t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	path, err := r.Savepoint(context.Background()) // at once: the subtasks are still being deployed
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.LoadPath(path); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
}
