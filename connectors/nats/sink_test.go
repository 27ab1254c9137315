package nats

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
)

// TestSinkExactlyOnceAcrossCrash stages two transactions, commits the
// first, crashes, and lets writers of a rescaled run commit both restored
// handles, one of them twice: the stream holds each record once, and
// nothing of a transaction before its commit.
func TestSinkExactlyOnceAcrossCrash(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("OUT"), uniq("out")
	addStream(t, js, stream, []string{subj}, time.Minute)
	sink := NewJetStreamSink(testConn(url), stream, subj, Lines()).WithDuplicateWindow(time.Minute)

	w, err := sink.TransactionalWriter(info(0, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	write := func(w connectors.TransactionalSinkWriter[string], recs []string) {
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(w, records("one", 300))
	h1, err := w.PreCommit(1)
	if err != nil || h1 == nil {
		t.Fatalf("PreCommit: %v, %v", h1, err)
	}
	write(w, records("two", 200))
	h2, err := w.PreCommit(2)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := w.PreCommit(3); h != nil || err != nil {
		t.Fatalf("empty transaction: handle %v, %v; want none", h, err)
	}
	if n := len(readStream(t, js, stream)); n != 0 {
		t.Fatalf("%d messages visible before any commit", n)
	}
	if err := w.Commit(h1); err != nil {
		t.Fatal(err)
	}
	write(w, records("lost", 10)) // the open transaction dies with the crash
	w.Abort()

	var ws []connectors.TransactionalSinkWriter[string]
	for i := range 3 {
		w, err := sink.TransactionalWriter(info(i, 3), [][]byte{h1, h2})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ws = append(ws, w)
	}
	for i, h := range [][]byte{h1, h2, h2} {
		if err := ws[i].Commit(h); err != nil {
			t.Fatal(err)
		}
	}
	got := readStream(t, js, stream)
	want := append(records("one", 300), records("two", 200)...)
	data := make([]string, len(got))
	for i, m := range got {
		data[i] = m.Data
	}
	if !slices.Equal(data, want) {
		t.Fatalf("stream holds %d messages, want the %d committed records once, in order", len(data), len(want))
	}
	if id := got[0].Header.Get("Nats-Msg-Id"); !strings.HasPrefix(id, "job/op/0/") || !strings.HasSuffix(id, "/1/0") {
		t.Fatalf("message id %q, want job/op/0/<token>/1/0", id)
	}
}

func TestSinkRefusesShortDuplicateWindow(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("OUT"), uniq("out")
	addStream(t, js, stream, []string{subj}, 5*time.Second)
	sink := NewJetStreamSink(testConn(url), stream, subj, Lines())
	_, err := sink.TransactionalWriter(info(0, 1), nil)
	mustContain(t, err, stream, "5s", "2m0s", "--dupe-window")
	mustContain(t, sink.Validate(), "--dupe-window")
	if err := sink.AtLeastOnce().Validate(); err != nil {
		t.Fatalf("at-least-once needs no window: %v", err)
	}
	_, err = NewJetStreamSink(testConn(url), "", uniq("nowhere"), Lines()).Writer(info(0, 1))
	mustContain(t, err, "no JetStream stream stores subject", "stream add")
}

func TestSinkTransactionLimit(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("OUT"), uniq("out")
	addStream(t, js, stream, []string{subj}, 0)
	w, err := NewJetStreamSink(testConn(url), stream, subj, Lines()).WithMaxTransactionBytes(100).TransactionalWriter(info(0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	var werr error
	for i := 0; i < 100 && werr == nil; i++ {
		werr = w.Write("0123456789")
	}
	mustContain(t, werr, "more than 100 bytes", "checkpoints more often")
}

// TestSinkAtLeastOnce publishes at once and waits for acks at PreCommit.
func TestSinkAtLeastOnce(t *testing.T) {
	url := testURL(t)
	_, js := client(t, url)
	stream, subj := uniq("OUT"), uniq("out")
	addStream(t, js, stream, []string{subj}, 0)
	w, err := NewJetStreamSink(testConn(url), stream, subj, Lines()).AtLeastOnce().TransactionalWriter(info(0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records("r", 500) {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := w.PreCommit(1); h != nil || err != nil {
		t.Fatalf("PreCommit: %v, %v; want no handle", h, err)
	}
	if got := payloads(readStream(t, js, stream)); !slices.Equal(got, records("r", 500)) {
		t.Fatalf("stream holds %d messages after PreCommit, want 500", len(got))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
