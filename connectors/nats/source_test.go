package nats

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/connectors/internal/restoretest"
)

// TestSourceCutAndRestoreAcrossParallelism reads a stream partitioned into
// eight subjects at one parallelism, cuts, and restores the split
// positions into readers at another: every split continues exactly where
// it stopped.
func TestSourceCutAndRestoreAcrossParallelism(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream := uniq("EVENTS")
	subj := uniq("events")
	addStream(t, js, stream, []string{subj + ".*"}, 0)
	subjects := Partitions(subj, 8)
	for i := range 40 { // interleaved, uneven: subject k gets 40-k*3 messages
		for k, s := range subjects {
			if i < 40-k*3 {
				publishAll(t, js, s, s+"#"+strconv.Itoa(i))
			}
		}
	}
	src := NewJetStreamSource(testConn(url), stream, subjects, Lines()).Bounded()
	restoretest.Check(t, src, restoretest.Options{
		Parallelisms: []int{1, 3},
		Rescales:     []int{2, 5},
		Cuts:         []int{1, 4},
		Max:          7,
	})
}

// TestSourceUnboundedResumesAfterSequence restores an unbounded reader
// after messages were added while it was gone.
func TestSourceUnboundedResumesAfterSequence(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("S"), uniq("s")
	addStream(t, js, stream, []string{subj}, 0)
	publishAll(t, js, subj, records("a", 100)...)
	src := NewJetStreamSource(testConn(url), stream, []string{subj}, Lines())
	r, err := src.Reader(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	out := newCollect[string]()
	pollUntil(t, r, out, func() bool { return out.total() >= 60 })
	states, err := r.(connectors.CheckpointedReader).SnapshotSplits()
	if err != nil {
		t.Fatal(err)
	}
	before := out.all()
	r.Close()
	publishAll(t, js, subj, records("b", 50)...)

	r2, err := src.RestoreReader(info(0, 1), states)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	out2 := newCollect[string]()
	pollUntil(t, r2, out2, func() bool { return len(before)+out2.total() >= 150 })
	// Nothing more comes: the reader waits without blocking.
	start := time.Now()
	st, err := r2.Poll(out2, 100)
	if err != nil || st != connectors.NothingAvailable || time.Since(start) > time.Second {
		t.Fatalf("idle Poll: %v, %v after %v; want nothing-available at once", st, err, time.Since(start))
	}
	got := append(before, out2.all()...)
	if want := append(records("a", 100), records("b", 50)...); !slices.Equal(got, want) {
		t.Fatalf("read %d records before and %d after the restore, want %d in order, each once", len(before), out2.total(), len(want))
	}
}

// TestSourceBoundedEndsAtOpen reads only what a subject held when the
// reader opened, and finishes the split.
func TestSourceBoundedEndsAtOpen(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("B"), uniq("b")
	addStream(t, js, stream, []string{subj + ".*"}, 0)
	publishAll(t, js, subj+".full", records("x", 25)...)
	src := NewJetStreamSource(testConn(url), stream, []string{subj + ".full", subj + ".empty"}, Lines()).Bounded()
	r, err := src.Reader(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	publishAll(t, js, subj+".full", records("late", 5)...)
	publishAll(t, js, subj+".empty", records("late", 5)...)
	out := newCollect[string]()
	if st := pollUntil(t, r, out, func() bool { return false }); st != connectors.EndOfInput {
		t.Fatalf("status %v, want end-of-input", st)
	}
	if got := out.bySplit[subj+".full"]; !slices.Equal(got, records("x", 25)) {
		t.Fatalf("bounded read got %d records, want the 25 present at open", len(got))
	}
	if len(out.bySplit[subj+".empty"]) != 0 {
		t.Fatalf("empty subject delivered %d records", len(out.bySplit[subj+".empty"]))
	}
	slices.Sort(out.finished)
	if want := []string{subj + ".empty", subj + ".full"}; !slices.Equal(out.finished, want) {
		t.Fatalf("finished splits %q, want %q", out.finished, want)
	}
}

type event struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Envelopes carry the stream's metadata, the stream timestamp for event
// time among it.
func TestEnvelopeSourceCarriesStreamMetadata(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("E"), uniq("e")
	addStream(t, js, stream, []string{subj}, 0)
	before := time.Now().Add(-time.Second).UnixMilli()
	publishAll(t, js, subj, records("m", 3)...)
	after := time.Now().Add(time.Second).UnixMilli()
	r, err := NewJetStreamEnvelopeSource(testConn(url), stream, []string{subj}, Lines()).Bounded().Reader(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := newCollect[Envelope[string]]()
	pollUntil(t, r, out, func() bool { return false })
	got := out.bySplit[subj]
	if len(got) != 3 {
		t.Fatalf("%d envelopes, want 3", len(got))
	}
	for i, e := range got {
		if e.Value != records("m", 3)[i] || e.Subject != subj || e.Sequence != uint64(i+1) || e.Timestamp < before || e.Timestamp > after {
			t.Fatalf("envelope %d = %+v: want value %q, subject %q, sequence %d and a stream timestamp near now", i, e, records("m", 3)[i], subj, i+1)
		}
	}
}

func TestSourceBadMessages(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("IN"), uniq("in")
	dlqStream, dlq := uniq("DLQ"), uniq("dlq")
	addStream(t, js, stream, []string{subj}, 0)
	addStream(t, js, dlqStream, []string{dlq}, 0)
	publishAll(t, js, subj, `{"id":1,"name":"a"}`, `not json`, `{"id":3,"name":"c"}`)

	t.Run("fail", func(t *testing.T) {
		src := NewJetStreamSource(testConn(url), stream, []string{subj}, JSON[event]()).Bounded()
		r, err := src.Reader(info(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		out := newCollect[event]()
		var perr error
		for range 10000 {
			if _, perr = r.Poll(out, 10); perr != nil {
				break
			}
		}
		mustContain(t, perr, "sequence 2", stream, "dead-letter")
		if got := out.all(); len(got) != 1 || got[0].ID != 1 {
			t.Fatalf("before the bad message the reader emitted %v, want record 1", got)
		}
		// The position stays before the bad message: a restore meets it again.
		s, _ := r.(connectors.CheckpointedReader).SnapshotSplits()
		if sp, err := decodeSplit(s[0], stream); err != nil || sp.last != 1 {
			t.Fatalf("position after the failure %+v, %v; want last=1", sp, err)
		}
	})

	t.Run("dead-letter", func(t *testing.T) {
		src := NewJetStreamSource(testConn(url), stream, []string{subj}, JSON[event]()).Bounded().WithBadMessages(DeadLetter(dlq))
		for range 2 { // twice: a replay adds no second dead letter
			r, err := src.Reader(connectors.SubtaskInfo{Job: "jobx", Operator: "read", Index: 0, Parallelism: 1})
			if err != nil {
				t.Fatal(err)
			}
			out := newCollect[event]()
			pollUntil(t, r, out, func() bool { return false })
			r.Close()
			if got := out.all(); len(got) != 2 || got[0].ID != 1 || got[1].ID != 3 {
				t.Fatalf("good records %v, want 1 and 3", got)
			}
		}
		dead := readStream(t, js, dlqStream)
		if len(dead) != 1 {
			t.Fatalf("dead-letter stream holds %d messages, want 1", len(dead))
		}
		d := dead[0]
		if d.Data != "not json" || d.Header.Get(HeaderJob) != "jobx" || d.Header.Get(HeaderOperator) != "read" ||
			d.Header.Get(HeaderSequence) != "2" || d.Header.Get(HeaderStream) != stream || d.Header.Get(HeaderSubject) != subj ||
			d.Header.Get(HeaderError) == "" {
			t.Fatalf("dead letter %+v lacks the payload or the headers", d)
		}
		var e event
		if json.Unmarshal([]byte(d.Data), &e) == nil {
			t.Fatal("dead letter decodes")
		}
	})
}

func TestSourceMissingStream(t *testing.T) {
	url := testURL(t)
	src := NewJetStreamSource(testConn(url), "NOPE", []string{"nope.0", "nope.1"}, Lines())
	mustContain(t, src.Validate(), `"NOPE"`, "nope.0", "stream add NOPE", `--subjects "nope.*"`)
	_, err := src.Reader(info(0, 1))
	mustContain(t, err, "stream add NOPE")
}
