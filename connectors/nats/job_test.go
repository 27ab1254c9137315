package nats

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floestream/floe/actors"
	"github.com/floestream/floe/snapshot"
	"github.com/floestream/floe/topology"
)

// pipeline is a job reading a bounded JetStream input of records and
// writing them upper-cased to a JetStream output, exactly once.
type pipeline struct {
	url, in, out string
	subjects     []string
	input        []string
}

func newPipeline(t *testing.T, url string, partitions, perPartition int) *pipeline {
	_, js := client(t, url)
	p := &pipeline{url: url, in: uniq("IN"), out: uniq("OUT")}
	inSubj, outSubj := uniq("in"), uniq("out")
	addStream(t, js, p.in, []string{inSubj + ".*"}, 0)
	addStream(t, js, p.out, []string{outSubj}, 0)
	p.subjects = Partitions(inSubj, partitions)
	for _, s := range p.subjects {
		recs := records(s, perPartition)
		publishAll(t, js, s, recs...)
		p.input = append(p.input, recs...)
	}
	p.out = p.out + "/" + outSubj
	return p
}

// job builds the topology; every slowEvery-th record sleeps a millisecond,
// so that the run lasts long enough for failures to hit it.
func (p *pipeline) job(par, slowEvery int) *topology.Job {
	j := topology.NewJob("nats-e2e", topology.WithParallelism(par))
	src := NewJetStreamSource(testConn(p.url), p.in, p.subjects, Lines()).Bounded()
	var n atomic.Int64
	upper := topology.Map(topology.FromSource(j, "in", src).UID("in"), "upper", func(s string) string {
		if slowEvery > 0 && n.Add(1)%int64(slowEvery) == 0 {
			time.Sleep(time.Millisecond)
		}
		return strings.ToUpper(s)
	}).UID("upper")
	stream, subject, _ := strings.Cut(p.out, "/")
	topology.Sink(upper, "out", NewJetStreamSink(testConn(p.url), stream, subject, Lines())).UID("out")
	return j
}

func (p *pipeline) check(t *testing.T) {
	t.Helper()
	_, js := client(t, p.url)
	stream, _, _ := strings.Cut(p.out, "/")
	got := payloads(readStream(t, js, stream))
	var want []string
	for _, s := range p.input {
		want = append(want, strings.ToUpper(s))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		missing, extra := diff(want, got)
		t.Fatalf("output holds %d records, want the %d inputs once each: %d missing, %d extra (e.g. %q %q)", len(got), len(want), len(missing), len(extra), first(missing), first(extra))
	}
}

func diff(want, got []string) (missing, extra []string) {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	for k, c := range count {
		for ; c > 0; c-- {
			missing = append(missing, k)
		}
		for ; c < 0; c++ {
			extra = append(extra, k)
		}
	}
	return
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func run(t *testing.T, j *topology.Job, cp actors.Checkpointing) actors.CheckpointStats {
	t.Helper()
	g, err := j.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	r, err := actors.Start(ctx, g, actors.WithCheckpointing(cp))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	return r.Checkpoints()
}

// TestJobExactlyOnceUnderInjectedFailures runs JetStream → map → JetStream
// through the runtime with checkpoints and injected failures: the output
// stream holds every input record exactly once.
func TestJobExactlyOnceUnderInjectedFailures(t *testing.T) {
	p := newPipeline(t, testURL(t), 4, 2000)
	st := run(t, p.job(2, 8), actors.Checkpointing{
		Config: snapshot.Config{Interval: 100 * time.Millisecond},
		Dir:    t.TempDir(), InjectFailures: 3, FailureSeed: 1,
		Restart: actors.RestartStrategy{Kind: "fixed-delay", MaxRestarts: 0, Delay: 10 * time.Millisecond},
	})
	if st.Restarts == 0 || st.Completed == 0 {
		t.Fatalf("restarts %d, completed checkpoints %d: the test needs both", st.Restarts, st.Completed)
	}
	p.check(t)
	t.Logf("%d restarts, %d checkpoints completed", st.Restarts, st.Completed)
}

// TestJobSurvivesServerRestart restarts the embedded server, on the same
// store, while the job runs: nothing is lost or duplicated.
func TestJobSurvivesServerRestart(t *testing.T) {
	srv := startEmbedded(t)
	p := newPipeline(t, srv.URL(), 4, 2000)
	done := make(chan struct{})
	var finished, midRun atomic.Bool
	go func() {
		defer close(done)
		time.Sleep(400 * time.Millisecond)
		midRun.Store(!finished.Load())
		srv.Restart()
	}()
	st := run(t, p.job(2, 8), actors.Checkpointing{
		Config:  snapshot.Config{Interval: 100 * time.Millisecond},
		Dir:     t.TempDir(),
		Restart: actors.RestartStrategy{Kind: "fixed-delay", MaxRestarts: 20, Delay: 200 * time.Millisecond},
	})
	finished.Store(true)
	<-done
	if !midRun.Load() {
		t.Fatal("the job ended before the server restarted: make the input larger")
	}
	p.check(t)
	t.Logf("%d restarts, %d checkpoints completed, %d aborted", st.Restarts, st.Completed, st.Aborted)
}
