package nats

import (
	"slices"
	"testing"
	"time"

	"github.com/floestream/floe/connectors"
)

func TestCoreSourceAndSink(t *testing.T) {
	url := testURL(t)
	subj := uniq("core")
	src := NewCoreSource(testConn(url), subj, JSON[event]())
	var readers []connectors.SourceReader[event]
	for i := range 2 {
		r, err := src.Reader(info(i, 2))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	w, err := NewCoreSink(testConn(url), subj, JSON[event]()).Writer(info(0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 200 {
		if err := w.Write(event{ID: i}); err != nil {
			t.Fatal(err)
		}
		want = append(want, i)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The queue group deals each message to one reader.
	var got []int
	out := connectors.CollectorFunc[event](func(e event) { got = append(got, e.ID) })
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 200 && time.Now().Before(deadline) {
		for _, r := range readers {
			if _, err := r.Poll(out, 50); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("readers got %d messages, want each of 200 once", len(got))
	}
}

func TestCoreBadMessages(t *testing.T) {
	url := testURL(t)
	nc, _ := client(t, url)
	subj, dlq := uniq("core"), uniq("dead")
	dead, err := nc.SubscribeSync(dlq)
	if err != nil {
		t.Fatal(err)
	}
	for _, policy := range []BadMessages{FailOnBadMessage, DeadLetter(dlq)} {
		r, err := NewCoreSource(testConn(url), subj, JSON[event]()).WithBadMessages(policy).Reader(info(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		nc.Publish(subj, []byte("{bad"))
		nc.Publish(subj, []byte(`{"id":7}`))
		nc.Flush()
		var got []event
		var perr error
		deadline := time.Now().Add(10 * time.Second)
		for len(got) < 1 && perr == nil && time.Now().Before(deadline) {
			_, perr = r.Poll(connectors.CollectorFunc[event](func(e event) { got = append(got, e) }), 10)
		}
		r.Close()
		if policy == FailOnBadMessage {
			mustContain(t, perr, subj, "dead-letter")
			continue
		}
		if perr != nil || len(got) != 1 || got[0].ID != 7 {
			t.Fatalf("dead-letter policy: got %v, %v; want record 7", got, perr)
		}
		m, err := dead.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != "{bad" || m.Header.Get(HeaderError) == "" || m.Header.Get(HeaderSubject) != subj {
			t.Fatalf("dead letter %q %v", m.Data, m.Header)
		}
	}
}
