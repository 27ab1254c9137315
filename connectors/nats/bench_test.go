package nats

import (
	"bytes"
	"context"
	"os"
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
