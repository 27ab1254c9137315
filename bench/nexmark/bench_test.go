package nexmark

import (
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
)

// Run with: go test -run '^$' -bench . -benchmem -count 5 ./bench/nexmark/
// and take the median of each figure.

// sink keeps the compiler from dropping generated events.
var sink Event

// BenchmarkGenerator measures generating the default stream, one event per
// iteration, on one goroutine: through a reused generator (what Source and
// WriteJSONL do) and through Config.Event (a caller that derives nothing).
func BenchmarkGenerator(b *testing.B) {
	cfg := DefaultConfig()
	b.Run("reader", func(b *testing.B) {
		g := makeGenerator(cfg)
		b.ReportAllocs()
		start := time.Now()
		n := int64(0)
		for b.Loop() {
			sink = g.event(n)
			n++
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	})
	b.Run("Config.Event", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		n := int64(0)
		for b.Loop() {
			sink = cfg.Event(n)
			n++
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
	})
	b.Run("Source", func(b *testing.B) {
		r, err := Source(cfg).Reader(connectors.SubtaskInfo{Operator: "nexmark", Index: 0, Parallelism: 1})
		if err != nil {
			b.Fatal(err)
		}
		count := 0
		out := connectors.CollectorFunc[Event](func(e Event) { sink = e; count++ })
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if _, err := r.Poll(out, 1024); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(count)/time.Since(start).Seconds(), "events/s")
		b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(count), "ns/event")
	})
}

// countingWriter counts what it is given and drops it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkWriteJSONL measures generating and writing the JSON lines of
// b.N events to a writer that drops them.
func BenchmarkWriteJSONL(b *testing.B) {
	cfg := DefaultConfig()
	var w countingWriter
	b.ReportAllocs()
	start := time.Now()
	cfg.Events = int64(b.N)
	if err := WriteJSONL(&w, cfg); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(w.n)/1e6/elapsed, "MB/s")
	b.ReportMetric(float64(b.N)/elapsed, "events/s")
	b.ReportMetric(float64(w.n)/float64(b.N), "bytes/event")
}

// BenchmarkAppendJSON measures the JSON encoding alone, over pre-generated
// events.
func BenchmarkAppendJSON(b *testing.B) {
	evs := events(DefaultConfig(), 10_000)
	buf := make([]byte, 0, 4096)
	var bytes int64
	b.ReportAllocs()
	start := time.Now()
	i := 0
	for b.Loop() {
		buf, _ = evs[i%len(evs)].AppendJSON(buf[:0])
		bytes += int64(len(buf))
		i++
	}
	b.ReportMetric(float64(bytes)/1e6/time.Since(start).Seconds(), "MB/s")
}

// BenchmarkParseEvent measures reading JSON lines back, as a job reading an
// events file does.
func BenchmarkParseEvent(b *testing.B) {
	var lines [][]byte
	var total int64
	for _, e := range events(DefaultConfig(), 10_000) {
		l, _ := e.AppendJSON(nil)
		lines = append(lines, l)
		total += int64(len(l))
	}
	var bytes int64
	b.ReportAllocs()
	start := time.Now()
	i := 0
	for b.Loop() {
		l := lines[i%len(lines)]
		e, err := ParseEvent(l)
		if err != nil {
			b.Fatal(err)
		}
		sink = e
		bytes += int64(len(l))
		i++
	}
	b.ReportMetric(float64(bytes)/1e6/time.Since(start).Seconds(), "MB/s")
}
