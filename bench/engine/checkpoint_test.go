package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// BenchmarkCheckpointOverhead: the keyed count job (numbers hash-partitioned
// into a count per key in keyed state) with checkpoints off, every 10 s and
// every 1 s, in one run. Run it long enough for several checkpoints, e.g.
// -benchtime=30000000x (go tool task bench:checkpoint).
func BenchmarkCheckpointOverhead(b *testing.B) {
	for _, c := range []struct {
		name     string
		interval time.Duration
	}{{"off", 0}, {"10s", 10 * time.Second}, {"1s", time.Second}} {
		b.Run(c.name, func(b *testing.B) {
			var opts []actors.Option
			if c.interval > 0 {
				opts = append(opts, actors.WithCheckpointing(actors.Checkpointing{
					Config: snapshot.Config{Interval: c.interval}, Dir: b.TempDir()}))
			}
			var r atomic.Int64
			var stats actors.CheckpointStats
			measure(b, func() {
				stats = runKeyed(b, b.N, &keyCounter{result: &r}, opts...)
			})
			if got := r.Load(); got != int64(min(b.N, keys)) {
				b.Fatalf("counted %d keys, want %d", got, min(b.N, keys))
			}
			b.ReportMetric(float64(stats.Completed), "checkpoints")
		})
	}
}

// runKeyed runs numbers 0..n-1 through a hash exchange into fn at
// parallelism 2 and returns the run's checkpoint figures.
func runKeyed(b *testing.B, n int, fn topology.KeyedProcessFunction[int64, int64, int64], opts ...actors.Option) actors.CheckpointStats {
	j := topology.NewJob("keyed", topology.WithParallelism(2))
	src := topology.FromSource(j, "numbers", datagen.Sequence(0, int64(n)-1))
	out := topology.KeyedProcess(topology.KeyBy(src, keyOf), "consume", fn).UID("consume")
	topology.Sink(out, "discard", sumSink{new(atomic.Int64)})
	g, err := j.Build()
	if err != nil {
		b.Fatal(err)
	}
	r, err := actors.Start(context.Background(), g, opts...)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		b.Fatal(err)
	}
	return r.Checkpoints()
}

// payloadKeys is the state size of the snapshot benchmarks: a million keys
// of about 100 bytes each, about 100 MB of state.
const (
	payloadKeys = 1_000_000
	payloadSize = 96
)

// payloadWriter keeps a ~100-byte value for every key it sees.
type payloadWriter struct {
	value keyspace.ValueState[string]
	pad   string
}

func (p *payloadWriter) Open(ctx *topology.KeyedContext[int64]) (err error) {
	p.value, err = keyspace.NewValueState[int64, string](ctx.State(), "payload")
	p.pad = strings.Repeat("x", payloadSize)
	return err
}

func (p *payloadWriter) ProcessElement(_ *topology.KeyedContext[int64], _ int64, _ topology.Collector[int64]) error {
	p.value.Update(p.pad)
	return nil
}

// payloadJob writes a value for each of n keys at parallelism 1, so that
// one subtask holds the whole state.
func payloadJob(b *testing.B, n int64) *topology.JobGraph {
	j := topology.NewJob("payload", topology.WithParallelism(1))
	src := topology.FromSource(j, "numbers", datagen.Sequence(0, n-1)).UID("numbers")
	out := topology.KeyedProcess(topology.KeyBy(src, func(v int64) int64 { return v }), "payload",
		topology.KeyedProcessFunction[int64, int64, int64](&payloadWriter{})).UID("payload")
	topology.Sink(out, "discard", sumSink{new(atomic.Int64)}).UID("discard")
	g, err := j.Build()
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// BenchmarkSnapshotAndRestore: one subtask with a million keys (~100 MB of
// state) takes its final checkpoint — the synchronous pause and the
// asynchronous write are reported — and a second run restores it; the
// restore time is that run's deploy (its subtasks open and restore their
// state) minus the deploy of the same job started empty.
func BenchmarkSnapshotAndRestore(b *testing.B) {
	for _, backend := range []string{"heap", "pebble"} {
		b.Run(backend, func(b *testing.B) {
			var pause, write, restore time.Duration
			var bytes int64
			for range b.N {
				dir := b.TempDir()
				ck := actors.Checkpointing{Config: snapshot.Config{Interval: time.Hour}, Dir: dir}
				g := payloadJob(b, payloadKeys)
				r, err := actors.Start(context.Background(), g, actors.WithStateBackend(backend, ""), actors.WithCheckpointing(ck))
				if err != nil {
					b.Fatal(err)
				}
				if err := r.Wait(); err != nil {
					b.Fatal(err)
				}
				st := r.Checkpoints()
				latest, err := snapshot.LoadPath(st.LatestPath)
				if err != nil {
					b.Fatal(err)
				}
				pause += latest.Stats.MaxSyncPause
				write += latest.Stats.MaxAsyncWrite
				bytes += latest.Stats.Bytes

				empty := payloadJob(b, 1)
				fresh := deployTime(b, empty, backend, ck)
				ck.Restore = latest
				restore += deployTime(b, empty, backend, ck) - fresh
			}
			n := float64(b.N)
			b.ReportMetric(float64(pause.Milliseconds())/n, "sync-ms")
			b.ReportMetric(float64(write.Milliseconds())/n, "async-ms")
			b.ReportMetric(float64(restore.Milliseconds())/n, "restore-ms")
			b.ReportMetric(float64(bytes)/n/1e6, "MB")
		})
	}
}

// deployTime runs g and returns how long its subtasks took to open.
func deployTime(b *testing.B, g *topology.JobGraph, backend string, ck actors.Checkpointing) time.Duration {
	ck.Dir = b.TempDir()
	r, err := actors.Start(context.Background(), g, actors.WithStateBackend(backend, ""), actors.WithCheckpointing(ck))
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		b.Fatal(err)
	}
	return r.Checkpoints().Deploy
}
