package actors_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/topology"
)

// slowSink takes a while over every record, like a sink behind a slow
// network.
type slowSink struct {
	delay   time.Duration
	written *atomic.Int64
}

func (s slowSink) Writer(connectors.SubtaskInfo) (connectors.SinkWriter[[]byte], error) {
	return s, nil
}
func (s slowSink) Write([]byte) error {
	time.Sleep(s.delay)
	s.written.Add(1)
	return nil
}
func (s slowSink) Flush() error { return nil }
func (s slowSink) Close() error { return nil }

// TestBackPressureBoundsRecordsInFlight runs an unbounded fast source into a
// deliberately slow sink: the records between them never exceed what credits
// allow, and the heap does not grow with the source's speed.
func TestBackPressureBoundsRecordsInFlight(t *testing.T) {
	const (
		batch   = 16
		credits = 2
		size    = 16 << 10 // bytes per record
	)
	var emitted, written atomic.Int64
	j := topology.NewJob("backpressure", topology.WithoutChaining())
	src := topology.FromSource(j, "fast", datagen.Generate(-1, func(int64) []byte {
		emitted.Add(1)
		return make([]byte, size)
	}))
	topology.Sink(src, "slow", slowSink{delay: 200 * time.Microsecond, written: &written})
	g := build(t, j)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := actors.Start(ctx, g, actors.WithBatchSize(batch), actors.WithCredits(credits))
	if err != nil {
		t.Fatal(err)
	}
	// In flight at most: the credited batches, the partial batch being filled,
	// one batch held back for lack of credit, and what one poll emits.
	bound := int64((credits + 3) * batch)
	var maxInFlight int64
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		// Read the sink first: a record counted written was emitted before.
		w := written.Load()
		e := emitted.Load()
		if d := e - w; d > maxInFlight {
			maxInFlight = d
		}
		time.Sleep(time.Millisecond)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	snapshots := r.Metrics()
	cancel()
	_ = r.Wait()

	if written.Load() < 100 {
		t.Fatalf("the sink wrote only %d records", written.Load())
	}
	if maxInFlight > bound {
		t.Fatalf("%d records in flight, flow control allows %d", maxInFlight, bound)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB under back-pressure", grown>>20)
	}
	var sourceBlocked time.Duration
	for _, s := range snapshots {
		if s.TaskID == 0 {
			sourceBlocked += s.BackPressured
		}
	}
	if sourceBlocked < 100*time.Millisecond {
		t.Fatalf("the source was back-pressured for %s only; the sink is the bottleneck", sourceBlocked)
	}
	t.Logf("max in flight %d records (bound %d), sink wrote %d, source back-pressured %s",
		maxInFlight, bound, written.Load(), sourceBlocked)
}
