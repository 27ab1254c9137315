package actors

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/floestream/floe/exchange"
)

// gateStep is one line of a gate scenario: an arrival ("b0" batch on channel
// 0, "w1:15" watermark 15 on channel 1, "e2" end of channel 2, "i1" channel 1
// idle, "a1" channel 1 active) or "next", which drains the gate and expects
// the listed events ("r0" records from channel 0, "W15" watermark 15, "END",
// "IDLE", "ACTIVE").
type gateStep struct {
	do   string
	want string // for next: events separated by spaces; for arrivals: "" or "error"
}

func runGate(t *testing.T, channels int, steps []gateStep) {
	t.Helper()
	runGateOn(t, NewInputGate(channels), steps)
}

// runGateOn runs a scenario on g. Besides runGate's steps it knows "x1:5"
// (checkpoint 5's barrier on channel 1) and "c1:5" (its cancellation), and
// the events "CP5" and "ABORT5".
func runGateOn(t *testing.T, g *InputGate, steps []gateStep) {
	t.Helper()
	for i, s := range steps {
		if s.do == "next" {
			var got []string
			for {
				ev, ok := g.Next()
				if !ok {
					break
				}
				switch ev.Kind {
				case EventRecords:
					got = append(got, fmt.Sprintf("r%d", ev.Channel))
				case EventWatermark:
					got = append(got, fmt.Sprintf("W%d", ev.Time))
				case EventEndOfInput:
					got = append(got, "END")
				case EventIdle:
					got = append(got, "IDLE")
				case EventActive:
					got = append(got, "ACTIVE")
				case EventCheckpoint:
					got = append(got, fmt.Sprintf("CP%d", ev.Checkpoint))
				case EventCheckpointAborted:
					got = append(got, fmt.Sprintf("ABORT%d", ev.Checkpoint))
				}
			}
			if g := strings.Join(got, " "); g != s.want {
				t.Fatalf("step %d: next = %q, want %q", i, g, s.want)
			}
			continue
		}
		var ch int
		var wm int64
		var err error
		switch s.do[0] {
		case 'b':
			fmt.Sscanf(s.do, "b%d", &ch)
			err = g.OfferBatch(ch, &exchange.Batch[int]{InputChannel: int32(ch), Records: []int{1}})
		case 'w':
			fmt.Sscanf(s.do, "w%d:%d", &ch, &wm)
			err = g.OfferWatermark(ch, wm)
		case 'e':
			fmt.Sscanf(s.do, "e%d", &ch)
			err = g.OfferEnd(ch)
		case 'i', 'a':
			fmt.Sscanf(s.do[1:], "%d", &ch)
			err = g.OfferStatus(ch, s.do[0] == 'i')
		case 'x', 'c':
			var id int64
			fmt.Sscanf(s.do[1:], "%d:%d", &ch, &id)
			err = g.OfferBarrier(ch, id, s.do[0] == 'c')
		case 'A':
			var id int64
			fmt.Sscanf(s.do, "A%d", &id)
			g.Abort(id)
		}
		if (err != nil) != (s.want == "error") {
			t.Fatalf("step %d (%s): error = %v, want %s", i, s.do, err, s.want)
		}
	}
}

func TestInputGate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		channels int
		steps    []gateStep
	}{
		{"records in arrival order across channels", 2, []gateStep{
			{"b1", ""}, {"b0", ""}, {"b1", ""}, {"next", "r1 r0 r1"}, {"next", ""},
		}},
		{"end of input only after every channel ended", 3, []gateStep{
			{"b0", ""}, {"e0", ""}, {"b1", ""}, {"e1", ""}, {"next", "r0 r1"},
			{"b2", ""}, {"e2", ""}, {"next", "r2 END"}, {"next", ""},
		}},
		{"no channels ends at once", 0, []gateStep{{"next", ""}}},
		{"single channel watermark passes through", 1, []gateStep{
			{"w0:5", ""}, {"b0", ""}, {"w0:9", ""}, {"next", "W5 r0 W9"},
		}},
		{"combined watermark is the minimum and only advances", 2, []gateStep{
			{"w0:10", ""}, {"next", ""}, {"w1:7", ""}, {"next", "W7"},
			{"w1:12", ""}, {"next", "W10"}, {"w0:11", ""}, {"next", "W11"}, {"w0:20", ""}, {"next", "W12"},
		}},
		{"watermarks never go backwards", 1, []gateStep{
			{"w0:10", ""}, {"w0:8", ""}, {"w0:10", ""}, {"next", "W10"}, {"w0:11", ""}, {"next", "W11"},
		}},
		{"an ended channel stops holding the watermark back", 2, []gateStep{
			{"w0:30", ""}, {"w1:5", ""}, {"next", "W5"}, {"e1", ""}, {"next", "W30"},
		}},
		{"records keep their place around watermarks", 2, []gateStep{
			{"b0", ""}, {"w0:1", ""}, {"w1:1", ""}, {"b1", ""}, {"next", "r0 W1 r1"},
		}},
		{"arrivals after end-of-stream are refused", 2, []gateStep{
			{"e0", ""}, {"b0", "error"}, {"w0:3", "error"}, {"e0", "error"}, {"b1", ""}, {"next", "r1"},
		}},
		{"the final watermark passes", 2, []gateStep{
			{"w0:9223372036854775807", ""}, {"w1:9223372036854775807", ""}, {"next", "W9223372036854775807"},
			{"e0", ""}, {"e1", ""}, {"next", "END"},
		}},
		{"unknown channels are refused", 2, []gateStep{{"b2", "error"}, {"w7:1", "error"}}},
		{"an idle channel does not hold the watermark back", 2, []gateStep{
			{"w0:10", ""}, {"next", ""}, {"i1", ""}, {"next", "W10"}, {"w0:12", ""}, {"next", "W12"},
		}},
		{"idle when every open channel is idle, active again on any", 2, []gateStep{
			{"i0", ""}, {"next", ""}, {"i1", ""}, {"next", "IDLE"}, {"a0", ""}, {"next", "ACTIVE"},
		}},
		{"a watermark reactivates its channel before it counts", 2, []gateStep{
			{"w1:3", ""}, {"i0", ""}, {"i1", ""}, {"next", "W3 IDLE"}, {"w0:8", ""}, {"next", "ACTIVE W8"},
			{"w1:20", ""}, {"next", ""},
		}},
		{"an ended channel does not keep the gate from idling", 2, []gateStep{
			{"e0", ""}, {"i1", ""}, {"next", "IDLE"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { runGate(t, tc.channels, tc.steps) })
	}
}

func TestInputGateQueueAndEnded(t *testing.T) {
	g := NewInputGate(1)
	for range 3 {
		if err := g.OfferBatch(0, &exchange.Batch[int]{}); err != nil {
			t.Fatal(err)
		}
	}
	if g.Queued() != 3 {
		t.Fatalf("Queued = %d, want 3", g.Queued())
	}
	g.Next()
	if g.Queued() != 2 || g.Ended() {
		t.Fatalf("Queued = %d, Ended = %v after one Next", g.Queued(), g.Ended())
	}
	_ = g.OfferEnd(0)
	g.Next()
	g.Next()
	if ev, ok := g.Next(); !ok || ev.Kind != EventEndOfInput || !g.Ended() {
		t.Fatalf("Next = %v, %v, want end of input", ev, ok)
	}
	if g.combined != math.MinInt64 {
		t.Fatalf("no watermark arrived, combined = %d", g.combined)
	}
}

func TestInputGateBarriers(t *testing.T) {
	for _, tc := range []struct {
		name        string
		channels    int
		atLeastOnce bool
		steps       []gateStep
	}{
		{"a single channel's barrier is the checkpoint", 1, false, []gateStep{
			{"b0", ""}, {"x0:1", ""}, {"b0", ""}, {"next", "r0 CP1 r0"},
		}},
		{"aligned: a channel is held behind its barrier until all have it", 2, false, []gateStep{
			{"b0", ""}, {"x0:1", ""}, {"b0", ""}, {"w0:7", ""}, {"b1", ""}, {"next", "r0 r1"},
			{"x1:1", ""}, {"next", "CP1 r0"}, {"w1:9", ""}, {"next", "W7"},
		}},
		{"an aborted alignment releases what it held and ignores late barriers", 2, false, []gateStep{
			{"x0:5", ""}, {"b0", ""}, {"b1", ""}, {"next", "r1"}, {"A5", ""}, {"next", "r0"},
			{"x1:5", ""}, {"b1", ""}, {"next", "r1"}, {"x0:6", ""}, {"x1:6", ""}, {"next", "CP6"},
		}},
		{"aborting a checkpoint before its barriers come skips them", 2, false, []gateStep{
			{"A3", ""}, {"x0:3", ""}, {"b0", ""}, {"x1:3", ""}, {"next", "r0"},
		}},
		{"at least once: records flow past barriers", 2, true, []gateStep{
			{"x0:1", ""}, {"b0", ""}, {"b1", ""}, {"x1:1", ""}, {"next", "r0 r1 CP1"},
		}},
		{"a newer barrier subsumes the alignment", 2, false, []gateStep{
			{"x0:1", ""}, {"b0", ""}, {"x1:2", ""}, {"next", "ABORT1 r0"}, {"x0:2", ""}, {"next", "CP2"},
			{"x0:1", ""}, {"x1:1", ""}, {"next", ""}, // stale
		}},
		{"an ended channel counts as aligned", 2, false, []gateStep{
			{"x0:3", ""}, {"b0", ""}, {"e1", ""}, {"next", "CP3 r0"},
		}},
		{"the final checkpoint comes before the end of input", 2, false, []gateStep{
			{"e0", ""}, {"x1:4", ""}, {"e1", ""}, {"next", "CP4 END"},
		}},
		{"a cancelled barrier aborts the alignment and releases the held input", 2, false, []gateStep{
			{"x0:4", ""}, {"b0", ""}, {"c1:4", ""}, {"next", "ABORT4 r0"}, {"x1:4", ""}, {"next", ""},
			{"x0:5", ""}, {"x1:5", ""}, {"next", "CP5"},
		}},
		{"barrier ids must be positive", 1, false, []gateStep{{"x0:0", "error"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewInputGate(tc.channels)
			if tc.atLeastOnce {
				g = NewAtLeastOnceInputGate(tc.channels)
			}
			runGateOn(t, g, tc.steps)
		})
	}
}
