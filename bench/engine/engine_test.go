package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/datagen"
	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/topology"
)

const (
	batchSize = actors.DefaultBatchSize
	credits   = actors.DefaultCredits
	keys      = 10_000
)

func triple(v int64) int64 { return v * 3 }
func even(v int64) bool    { return v%2 == 0 }
func keyOf(v int64) int64  { return v % keys }

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// variant is one side of a comparison: it processes n records and returns
// a checksum of what it computed.
type variant struct {
	name string
	run  func(b *testing.B, n int) int64
}

// compare runs every variant as a sub-benchmark, measuring it, and fails
// when its checksum differs from want(b.N).
func compare(b *testing.B, want func(n int) int64, variants ...variant) {
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			expected := want(b.N)
			var got int64
			measure(b, func() { got = v.run(b, b.N) })
			if got != expected {
				b.Fatalf("%s computed %d, want %d", v.name, got, expected)
			}
		})
	}
}

// measure runs fn and reports wall and CPU nanoseconds per record.
func measure(b *testing.B, fn func()) {
	cpu := cpuTime()
	b.ResetTimer()
	fn()
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/record")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/record")
}

// sumSink adds up what it receives, so the work cannot be optimised away.
type sumSink struct{ sum *atomic.Int64 }

func (s sumSink) Writer(connectors.SubtaskInfo) (connectors.SinkWriter[int64], error) {
	return &sumWriter{total: s.sum}, nil
}

type sumWriter struct {
	local int64
	total *atomic.Int64
}

func (w *sumWriter) Write(v int64) error { w.local += v; return nil }
func (w *sumWriter) Flush() error        { return nil }
func (w *sumWriter) Close() error        { w.total.Add(w.local); return nil }

// expectedSum is what the pipeline sums over 0..n-1.
func expectedSum(n int) int64 {
	var s int64
	for i := int64(0); i < int64(n); i++ {
		if v := triple(i); even(v) {
			s += v
		}
	}
	return s
}

// chanPipeline is the hand-written baseline: one goroutine per stage,
// connected by buffered channels of batches, credits deep.
func chanPipeline(n int) int64 {
	src := make(chan []int64, credits)
	mapped := make(chan []int64, credits)
	filtered := make(chan []int64, credits)
	go func() {
		buf := make([]int64, 0, batchSize)
		for i := int64(0); i < int64(n); i++ {
			if buf = append(buf, i); len(buf) == batchSize {
				src <- buf
				buf = make([]int64, 0, batchSize)
			}
		}
		src <- buf
		close(src)
	}()
	go func() {
		for in := range src {
			out := make([]int64, 0, batchSize)
			for _, v := range in {
				out = append(out, triple(v))
			}
			mapped <- out
		}
		close(mapped)
	}()
	go func() {
		for in := range mapped {
			out := make([]int64, 0, batchSize)
			for _, v := range in {
				if even(v) {
					out = append(out, v)
				}
			}
			filtered <- out
		}
		close(filtered)
	}()
	var sum int64
	for in := range filtered {
		for _, v := range in {
			sum += v
		}
	}
	return sum
}

func floePipeline(b *testing.B, n int, chaining bool) int64 {
	var sum atomic.Int64
	opts := []topology.JobOption{}
	if !chaining {
		opts = append(opts, topology.WithoutChaining())
	}
	j := topology.NewJob("pipeline", opts...)
	src := topology.FromSource(j, "numbers", datagen.Sequence(0, int64(n)-1))
	f := topology.Filter(topology.Map(src, "triple", triple), "even", even)
	topology.Sink(f, "sum", sumSink{&sum})
	g, err := j.Build()
	if err != nil {
		b.Fatal(err)
	}
	if err := actors.Execute(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	return sum.Load()
}

// BenchmarkPipeline: source → map → filter → sink at parallelism 1.
func BenchmarkPipeline(b *testing.B) {
	compare(b, expectedSum,
		variant{"chan", func(_ *testing.B, n int) int64 { return chanPipeline(n) }},
		variant{"floe-chained", func(b *testing.B, n int) int64 { return floePipeline(b, n, true) }},
		variant{"floe-unchained", func(b *testing.B, n int) int64 { return floePipeline(b, n, false) }})
}

// chanKeyed is the baseline of the keyed exchange: two producers route each
// record to the consumer that owns its key group, through one channel per
// consumer, and each consumer applies consume to the records it receives.
// It returns what the consumers' finish functions return, added up.
func chanKeyed(n int, hash func(int64) uint64, consumer func() (consume func(int64), finish func() int64)) int64 {
	const p = 2
	ins := [p]chan []int64{make(chan []int64, credits*p), make(chan []int64, credits*p)}
	var producers sync.WaitGroup
	for s := range p {
		producers.Add(1)
		go func() {
			defer producers.Done()
			lo, hi := int64(s*n/p), int64((s+1)*n/p)
			var bufs [p][]int64
			for i := lo; i < hi; i++ {
				c := keyspace.SubtaskForKeyGroup(keyspace.DefaultMaxParallelism, p,
					keyspace.KeyGroupForHash(hash(keyOf(i)), keyspace.DefaultMaxParallelism))
				if bufs[c] = append(bufs[c], i); len(bufs[c]) == batchSize {
					ins[c] <- bufs[c]
					bufs[c] = make([]int64, 0, batchSize)
				}
			}
			for c := range p {
				ins[c] <- bufs[c]
			}
		}()
	}
	go func() {
		producers.Wait()
		for _, c := range ins {
			close(c)
		}
	}()
	var total atomic.Int64
	var consumers sync.WaitGroup
	for c := range p {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			consume, finish := consumer()
			for batch := range ins[c] {
				for _, v := range batch {
					consume(v)
				}
			}
			total.Add(finish())
		}()
	}
	consumers.Wait()
	return total.Load()
}

// keyedJob runs numbers 0..n-1 through a hash exchange into fn at
// parallelism 2 and returns what fn's finish reported.
func keyedJob(b *testing.B, n int, fn topology.KeyedProcessFunction[int64, int64, int64], result *atomic.Int64) int64 {
	j := topology.NewJob("keyed", topology.WithParallelism(2))
	src := topology.FromSource(j, "numbers", datagen.Sequence(0, int64(n)-1))
	out := topology.KeyedProcess(topology.KeyBy(src, keyOf), "consume", fn)
	topology.Sink(out, "discard", sumSink{new(atomic.Int64)})
	g, err := j.Build()
	if err != nil {
		b.Fatal(err)
	}
	if err := actors.Execute(context.Background(), g); err != nil {
		b.Fatal(err)
	}
	return result.Load()
}

// keySummer adds up the records it receives, touching no state: what is
// measured is the exchange.
type keySummer struct {
	sum    int64
	result *atomic.Int64
}

func (s *keySummer) ProcessElement(_ *topology.KeyedContext[int64], v int64, _ topology.Collector[int64]) error {
	s.sum += v
	return nil
}

func (s *keySummer) Finish(*topology.KeyedContext[int64], topology.Collector[int64]) error {
	s.result.Add(s.sum)
	return nil
}

// keyCounter counts records per key in keyed state and reports how many keys
// it saw when its input ends.
type keyCounter struct {
	count  keyspace.ValueState[int64]
	result *atomic.Int64
}

func (c *keyCounter) Open(ctx *topology.KeyedContext[int64]) (err error) {
	c.count, err = keyspace.NewValueState[int64, int64](ctx.State(), "count")
	return err
}

func (c *keyCounter) ProcessElement(_ *topology.KeyedContext[int64], _ int64, _ topology.Collector[int64]) error {
	n, _ := c.count.Value()
	c.count.Update(n + 1)
	return nil
}

func (c *keyCounter) Finish(ctx *topology.KeyedContext[int64], _ topology.Collector[int64]) error {
	c.result.Add(int64(ctx.State().Stats().Keys))
	return nil
}

// BenchmarkKeyedExchange: two sources hash-partition into two subtasks that
// add up what they receive.
func BenchmarkKeyedExchange(b *testing.B) {
	hash, err := keyspace.KeyHasher[int64]()
	if err != nil {
		b.Fatal(err)
	}
	summer := func() (func(int64), func() int64) {
		var sum int64
		return func(v int64) { sum += v }, func() int64 { return sum }
	}
	compare(b, func(n int) int64 { return int64(n) * int64(n-1) / 2 },
		variant{"chan", func(_ *testing.B, n int) int64 { return chanKeyed(n, hash, summer) }},
		variant{"floe", func(b *testing.B, n int) int64 {
			var r atomic.Int64
			return keyedJob(b, n, &keySummer{result: &r}, &r)
		}})
}

// BenchmarkKeyedCount: the same exchange into a count per key, kept in a Go
// map by the baseline and in keyed value state by floe.
func BenchmarkKeyedCount(b *testing.B) {
	hash, err := keyspace.KeyHasher[int64]()
	if err != nil {
		b.Fatal(err)
	}
	counter := func() (func(int64), func() int64) {
		counts := map[int64]int64{}
		return func(v int64) { counts[keyOf(v)]++ }, func() int64 { return int64(len(counts)) }
	}
	compare(b, func(n int) int64 { return int64(min(n, keys)) },
		variant{"chan", func(_ *testing.B, n int) int64 { return chanKeyed(n, hash, counter) }},
		variant{"floe", func(b *testing.B, n int) int64 {
			var r atomic.Int64
			return keyedJob(b, n, &keyCounter{result: &r}, &r)
		}})
}
