package exchange

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/keyspace"
)

// wire stands for the receivers of one writer: it records what arrived per
// channel and fails the test when a channel has more batches in flight than
// its credits allow.
type wire struct {
	t        *testing.T
	credits  int
	inflight []int
	got      [][]any // per channel, in arrival order
}

func newWire(t *testing.T, channels, credits int) *wire {
	return &wire{t: t, credits: credits, inflight: make([]int, channels), got: make([][]any, channels)}
}

func (w *wire) send(ch int, msg any) {
	if b, ok := msg.(*Batch[int]); ok {
		w.inflight[ch]++
		if w.inflight[ch] > w.credits {
			w.t.Fatalf("channel %d has %d batches in flight, credits are %d", ch, w.inflight[ch], w.credits)
		}
		// A copy: the writer refills the original once it is handed back.
		msg = &Batch[int]{InputChannel: b.InputChannel, Records: slices.Clone(b.Records)}
	}
	w.got[ch] = append(w.got[ch], msg)
}

// records flattens the records channel ch received.
func (w *wire) records(ch int) []int {
	var out []int
	for _, m := range w.got[ch] {
		if b, ok := m.(*Batch[int]); ok {
			out = append(out, b.Records...)
		}
	}
	return out
}

func newTestWriter(t *testing.T, cfg WriterConfig, w *wire) (*writer[int], *Pressure) {
	t.Helper()
	p := &Pressure{}
	cfg.Send, cfg.Pressure = w.send, p
	if cfg.Credits == 0 {
		cfg.Credits = w.credits
	}
	wr, err := newWriter[int](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return wr, p
}

func targets(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(10 + i)
	}
	return out
}

func TestWriterHoldsBackWithoutCreditAndResumes(t *testing.T) {
	net := newWire(t, 1, 2)
	w, p := newTestWriter(t, WriterConfig{TargetChannel: targets(1), Partitioning: Forward, BatchSize: 10}, net)
	for i := range 20 {
		w.Collect(i)
	}
	if len(net.got[0]) != 2 || p.Blocked() {
		t.Fatalf("after two full batches: sent %d, blocked %v; want 2 sent, not blocked", len(net.got[0]), p.Blocked())
	}
	for i := 20; i < 30; i++ {
		w.Collect(i)
	}
	if len(net.got[0]) != 2 || !p.Blocked() {
		t.Fatalf("third batch without credit: sent %d, blocked %v; want it held back", len(net.got[0]), p.Blocked())
	}
	net.inflight[0]--
	w.OnCredit(0, []Message{nil})
	if len(net.got[0]) != 3 || p.Blocked() {
		t.Fatalf("after a credit: sent %d, blocked %v; want 3 sent, not blocked", len(net.got[0]), p.Blocked())
	}
	if got := net.records(0); !slices.Equal(got, seq(0, 30)) {
		t.Fatalf("records %v out of order", got)
	}
	if net.got[0][0].(*Batch[int]).InputChannel != 10 {
		t.Fatalf("batch addressed to channel %d, want 10", net.got[0][0].(*Batch[int]).InputChannel)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestWriterPartitioning(t *testing.T) {
	const m = 128
	hash, err := keyspace.KeyHasher[int]()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		part  Partitioning
		check func(t *testing.T, net *wire)
	}{
		{"rebalance deals round robin", Rebalance, func(t *testing.T, net *wire) {
			for ch := range 3 {
				for _, v := range net.records(ch) {
					if v%3 != ch {
						t.Fatalf("record %d on channel %d", v, ch)
					}
				}
			}
		}},
		{"hash sends each key to its key group's owner", Hash, func(t *testing.T, net *wire) {
			for ch := range 3 {
				for _, v := range net.records(ch) {
					kg := keyspace.KeyGroupForHash(hash(v), m)
					if owner := keyspace.SubtaskForKeyGroup(m, 3, kg); owner != ch {
						t.Fatalf("record %d (key group %d) on channel %d, owner is %d", v, kg, ch, owner)
					}
				}
			}
		}},
		{"broadcast sends everything everywhere", Broadcast, func(t *testing.T, net *wire) {
			for ch := range 3 {
				if got := net.records(ch); !slices.Equal(got, seq(0, 300)) {
					t.Fatalf("channel %d got %d records", ch, len(got))
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newWire(t, 3, 1000)
			w, _ := newTestWriter(t, WriterConfig{TargetChannel: targets(3), Partitioning: tc.part,
				KeyHash: hash, MaxParallelism: m, BatchSize: 7}, net)
			for i := range 300 {
				w.Collect(i)
			}
			for w.FlushPartial() {
			}
			total := 0
			for ch := range 3 {
				total += len(net.records(ch))
			}
			if want := 300; tc.part == Broadcast {
				want = 900
				if total != want {
					t.Fatalf("delivered %d records, want %d", total, want)
				}
			} else if total != want {
				t.Fatalf("delivered %d records, want %d", total, want)
			}
			tc.check(t, net)
		})
	}
}

func TestWriterControlMessagesKeepOrderAndNeedNoCredit(t *testing.T) {
	net := newWire(t, 2, 1)
	w, p := newTestWriter(t, WriterConfig{TargetChannel: targets(2), Partitioning: Broadcast, BatchSize: 4}, net)
	for i := range 6 { // one full batch sent per channel, a partial one buffered
		w.Collect(i)
	}
	w.Emit(func(ch int32) any { return ch })
	// The partial batch must precede the control message, and with the single
	// credit in use both wait.
	if !p.Blocked() || len(net.got[0]) != 1 {
		t.Fatalf("blocked %v, sent %d; want the partial batch and the control held back", p.Blocked(), len(net.got[0]))
	}
	for ch := range 2 {
		net.inflight[ch]--
		w.OnCredit(ch, []Message{nil})
	}
	if p.Blocked() {
		t.Fatal("still blocked after credit")
	}
	for ch := range 2 {
		got := net.got[ch]
		if len(got) != 3 {
			t.Fatalf("channel %d received %d messages, want batch, batch, control", ch, len(got))
		}
		if c, ok := got[2].(int32); !ok || c != int32(10+ch) {
			t.Fatalf("channel %d: last message %v, want control %d", ch, got[2], 10+ch)
		}
		if r := net.records(ch); !slices.Equal(r, seq(0, 6)) {
			t.Fatalf("channel %d records %v", ch, r)
		}
	}
}

func TestWriterFlushPerRecordAndPartialFlush(t *testing.T) {
	net := newWire(t, 1, 100)
	w, _ := newTestWriter(t, WriterConfig{TargetChannel: targets(1), Partitioning: Forward, BatchSize: 50, FlushPerRecord: true}, net)
	for i := range 5 {
		w.Collect(i)
	}
	if len(net.got[0]) != 5 || w.Buffered() {
		t.Fatalf("per-record flush sent %d batches, buffered %v", len(net.got[0]), w.Buffered())
	}

	net = newWire(t, 1, 1)
	w, _ = newTestWriter(t, WriterConfig{TargetChannel: targets(1), Partitioning: Forward, BatchSize: 50}, net)
	w.Collect(1)
	if still := w.FlushPartial(); still || len(net.got[0]) != 1 {
		t.Fatalf("FlushPartial sent %d, buffered %v", len(net.got[0]), w.Buffered())
	}
	w.Collect(2)
	if still := w.FlushPartial(); !still || len(net.got[0]) != 1 {
		t.Fatalf("without credit FlushPartial must keep the batch: buffered %v, sent %d", still, len(net.got[0]))
	}
}

func TestWriterRecyclesBatches(t *testing.T) {
	var sent []*Batch[int]
	p := &Pressure{}
	w, err := newWriter[int](WriterConfig{TargetChannel: targets(1), Partitioning: Forward, BatchSize: 2, Credits: 1,
		Send: func(_ int, msg any) { sent = append(sent, msg.(*Batch[int])) }, Pressure: p})
	if err != nil {
		t.Fatal(err)
	}
	w.Collect(1)
	w.Collect(2)
	w.OnCredit(0, []Message{sent[0]})
	w.Collect(3)
	w.Collect(4)
	if len(sent) != 2 || sent[1] != sent[0] {
		t.Fatal("the batch handed back with the credit was not reused")
	}
	if !slices.Equal(sent[1].Records, []int{3, 4}) {
		t.Fatalf("reused batch holds %v", sent[1].Records)
	}
}

// TestWriterRandomisedCredits interleaves writes, controls and credits at
// random: no channel ever exceeds its credits and every channel receives its
// records and controls in the order written.
func TestWriterRandomisedCredits(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		channels, credits := 1+r.IntN(4), 1+r.IntN(3)
		net := newWire(t, channels, credits)
		w, p := newTestWriter(t, WriterConfig{TargetChannel: targets(channels), Partitioning: Rebalance,
			BatchSize: 1 + r.IntN(8)}, net)
		acked := make([]int, channels) // messages of net.got[ch] already credited
		next := 0
		for step := 0; step < 2000; step++ {
			switch x := r.IntN(10); {
			case x < 6 && !p.Blocked():
				w.Collect(next)
				next++
			case x == 6 && !p.Blocked():
				w.Emit(func(ch int32) any { return ch })
			default:
				ch := r.IntN(channels)
				for acked[ch] < len(net.got[ch]) {
					m := net.got[ch][acked[ch]]
					acked[ch]++
					if b, ok := m.(*Batch[int]); ok {
						net.inflight[ch]--
						w.OnCredit(ch, []Message{&Batch[int]{InputChannel: b.InputChannel, Records: make([]int, 0, 8)}})
						break
					}
				}
			}
		}
		// Drain: return every credit and flush until nothing is held back.
		for p.Blocked() || w.Buffered() {
			for ch := range channels {
				for ; acked[ch] < len(net.got[ch]); acked[ch]++ {
					if _, ok := net.got[ch][acked[ch]].(*Batch[int]); ok {
						net.inflight[ch]--
						w.OnCredit(ch, []Message{nil})
					}
				}
			}
			w.FlushPartial()
		}
		var all []int
		for ch := range channels {
			rec := net.records(ch)
			if !slices.IsSorted(rec) {
				t.Fatalf("seed %d: channel %d out of order", seed, ch)
			}
			all = append(all, rec...)
		}
		slices.Sort(all)
		if !slices.Equal(all, seq(0, next)) {
			t.Fatalf("seed %d: delivered %d records, wrote %d", seed, len(all), next)
		}
	}
}

func TestWriterConfigErrors(t *testing.T) {
	ok := WriterConfig{TargetChannel: targets(1), BatchSize: 1, Credits: 1, Send: func(int, any) {}, Pressure: &Pressure{}}
	for name, mut := range map[string]func(*WriterConfig){
		"no channel":           func(c *WriterConfig) { c.TargetChannel = nil },
		"batch size 0":         func(c *WriterConfig) { c.BatchSize = 0 },
		"no credits":           func(c *WriterConfig) { c.Credits = 0 },
		"forward to two":       func(c *WriterConfig) { c.TargetChannel = targets(2) },
		"hash without hash fn": func(c *WriterConfig) { c.Partitioning = Hash; c.MaxParallelism = 128 },
		"hash above max par":   func(c *WriterConfig) { c.Partitioning = Hash; c.TargetChannel = targets(3); c.MaxParallelism = 2 },
	} {
		cfg := ok
		mut(&cfg)
		if _, err := newWriter[int](cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestOpsFanoutAndBindInput(t *testing.T) {
	o := OpsFor[int]()
	var a, b []int
	f, err := o.Fanout([]any{connectors.CollectorFunc[int](func(v int) { a = append(a, v) }),
		connectors.CollectorFunc[int](func(v int) { b = append(b, v) })})
	if err != nil {
		t.Fatal(err)
	}
	p := &Pressure{}
	var ts int64
	deliver, err := o.BindInput(f, p, &ts)
	if err != nil {
		t.Fatal(err)
	}
	if n := deliver(&Batch[int]{Records: []int{1, 2, 3}}, 1); n != 3 || !slices.Equal(a, []int{2, 3}) || !slices.Equal(b, a) {
		t.Fatalf("delivered %d, a %v, b %v", n, a, b)
	}
	p.Queued = 1
	if n := deliver(&Batch[int]{Records: []int{4}}, 0); n != 0 {
		t.Fatalf("delivered %d records while blocked", n)
	}
	if _, err := o.Fanout([]any{"not a collector"}); err == nil {
		t.Fatal("Fanout accepted a non-collector")
	}
	if o.TypeName() != "int" {
		t.Fatalf("TypeName = %q", o.TypeName())
	}
}
