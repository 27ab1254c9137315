package nats

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// BenchmarkPipeline moves benchMessages messages from one JetStream stream
// to another, upper-cased, three ways: floe (a job at parallelism 1 with
// checkpoints every 100 ms) with the exactly-once and the at-least-once
// sink, and a hand-written nats.go loop (ordered consumer, async publish).
// Each iteration is one full pass; the figure is msgs/s. Compare with
//
//	go test -run '^$' -bench Pipeline -benchtime 1x -count 5 ./connectors/nats/
const benchMessages = 50000

func BenchmarkPipeline(b *testing.B) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = startEmbeddedSync(b, false).URL()
	}
	_, js := client(b, url)
	in, out := uniq("BIN"), uniq("BOUT")
	inSubj, outSubj := uniq("bin"), uniq("bout")
	addStream(b, js, in, []string{inSubj}, 0)
	addStream(b, js, out, []string{outSubj}, 0)
	recs := records("record-payload", benchMessages)
	publishAll(b, js, inSubj, recs...)
	ctx := context.Background()
	outStream, err := js.Stream(ctx, out)
	if err != nil {
		b.Fatal(err)
	}
	pass := func(b *testing.B, fn func()) {
		for b.Loop() {
			b.StopTimer()
			if err := outStream.Purge(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			fn()
			b.ReportMetric(benchMessages/time.Since(start).Seconds(), "msgs/s")
		}
		b.StopTimer()
		info, err := outStream.Info(ctx)
		if err != nil || info.State.Msgs != benchMessages {
			b.Fatalf("output holds %d messages (%v), want %d", info.State.Msgs, err, benchMessages)
		}
	}
	floe := func(b *testing.B, sink *JetStreamSink[string]) {
		pass(b, func() {
			j := topology.NewJob("bench", topology.WithParallelism(1))
			src := NewJetStreamSource(Connection{URL: url}, in, []string{inSubj}, Lines()).Bounded()
			m := topology.Map(topology.FromSource(j, "in", src).UID("in"), "upper", strings.ToUpper).UID("upper")
			topology.Sink(m, "out", sink).UID("out")
			g, err := j.Build()
			if err != nil {
				b.Fatal(err)
			}
			if err := actors.Execute(ctx, g, actors.WithCheckpointing(actors.Checkpointing{
				Config: snapshot.Config{Interval: 100 * time.Millisecond}, Dir: b.TempDir(),
			})); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.Run("floe-exactly-once", func(b *testing.B) {
		floe(b, NewJetStreamSink(Connection{URL: url}, out, outSubj, Lines()))
	})
	b.Run("floe-at-least-once", func(b *testing.B) {
		floe(b, NewJetStreamSink(Connection{URL: url}, out, outSubj, Lines()).AtLeastOnce())
	})
	b.Run("hand-written", func(b *testing.B) {
		pass(b, func() {
			pub, err := jetstream.New(js.Conn(), jetstream.WithPublishAsyncMaxPending(maxInFlight))
			if err != nil {
				b.Fatal(err)
			}
			c, err := js.OrderedConsumer(ctx, in, jetstream.OrderedConsumerConfig{FilterSubjects: []string{inSubj}})
			if err != nil {
				b.Fatal(err)
			}
			it, err := c.Messages(jetstream.PullMaxMessages(pullBatch))
			if err != nil {
				b.Fatal(err)
			}
			for range benchMessages {
				m, err := it.Next()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pub.PublishAsync(outSubj, bytes.ToUpper(m.Data())); err != nil {
					b.Fatal(err)
				}
			}
			it.Stop()
			<-pub.PublishAsyncComplete()
		})
	})
}

// BenchmarkSinkLatency measures how long a message takes from its publish
// to the input stream until it appears on the output subject, through a
// running (unbounded) floe job: with the at-least-once sink, and with the
// exactly-once sink, whose output waits for the checkpoint, at two
// checkpoint intervals. Reported: median and 99th percentile, in ms.
//
//	go test -run '^$' -bench SinkLatency -benchtime 1x ./connectors/nats/
func BenchmarkSinkLatency(b *testing.B) {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = startEmbeddedSync(b, false).URL()
	}
	nc, js := client(b, url)
	for _, c := range []struct {
		name     string
		interval time.Duration
		exactly  bool
	}{{"at-least-once/100ms", 100 * time.Millisecond, false}, {"exactly-once/100ms", 100 * time.Millisecond, true}, {"exactly-once/1s", time.Second, true}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				in, out := uniq("LIN"), uniq("LOUT")
				inSubj, outSubj := uniq("lin"), uniq("lout")
				addStream(b, js, in, []string{inSubj}, 0)
				addStream(b, js, out, []string{outSubj}, 0)
				sink := NewJetStreamSink(Connection{URL: url}, out, outSubj, Lines())
				if !c.exactly {
					sink = sink.AtLeastOnce()
				}
				j := topology.NewJob("latency", topology.WithParallelism(1))
				topology.Sink(topology.FromSource(j, "in", NewJetStreamSource(Connection{URL: url}, in, []string{inSubj}, Lines())).UID("in"), "out", sink).UID("out")
				g, err := j.Build()
				if err != nil {
					b.Fatal(err)
				}
				r, err := actors.Start(context.Background(), g, actors.WithCheckpointing(actors.Checkpointing{
					Config: snapshot.Config{Interval: c.interval}, Dir: b.TempDir()}))
				if err != nil {
					b.Fatal(err)
				}
				sub, err := nc.SubscribeSync(outSubj)
				if err != nil {
					b.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond) // the job is running
				const n = 300
				go func() {
					for range n {
						js.Publish(context.Background(), inSubj, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
						time.Sleep(5 * time.Millisecond)
					}
				}()
				lat := make([]time.Duration, 0, n)
				for len(lat) < n {
					m, err := sub.NextMsg(10 * time.Second)
					if err != nil {
						b.Fatalf("after %d messages: %v", len(lat), err)
					}
					sent, _ := strconv.ParseInt(string(m.Data), 10, 64)
					lat = append(lat, time.Since(time.Unix(0, sent)))
				}
				sub.Unsubscribe()
				r.Cancel("benchmark done")
				r.Wait()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[n/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[n*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}
