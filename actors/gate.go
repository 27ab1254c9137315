package actors

import (
	"fmt"
	"math"

	"github.com/floestream/floe/exchange"
)

// EventKind says what a gate event asks the subtask to do.
type EventKind int

const (
	// EventRecords: process a batch of records from Channel.
	EventRecords EventKind = iota
	// EventWatermark: the combined watermark of the inputs advanced to Time.
	EventWatermark
	// EventEndOfInput: every input channel has ended.
	EventEndOfInput
	// EventIdle: every open channel is idle; EventActive: one is active again.
	EventIdle
	EventActive
	// EventCheckpoint: checkpoint Checkpoint's barrier arrived on every open
	// channel (aligned, in exactly-once mode): snapshot, then forward it.
	EventCheckpoint
	// EventCheckpointAborted: checkpoint Checkpoint will not complete here
	// (a newer barrier subsumed it, or it was cancelled).
	EventCheckpointAborted
)

func (k EventKind) String() string {
	return [...]string{"records", "watermark", "end-of-input", "idle", "active", "checkpoint", "checkpoint-aborted"}[k]
}

// Event is what the gate hands the subtask to process.
type Event struct {
	Kind       EventKind
	Channel    int
	Batch      exchange.Message
	Time       int64
	Checkpoint int64
}

// arrival is what a channel delivered, queued in arrival order.
type arrival struct {
	channel   int
	batch     exchange.Message // nil for a watermark, a status or end-of-stream
	watermark int64
	end       bool
	status    bool // a watermark status: idle says which
	idle      bool
	barrier   int64 // a checkpoint barrier (or, with cancel, its cancellation) when > 0
	cancel    bool
}

type channelState struct {
	closed    bool // its end-of-stream arrived: nothing more may
	ended     bool // its end-of-stream was handed out
	barrier   bool // it delivered the barrier being aligned
	idle      bool
	watermark int64
}

// InputGate merges a subtask's input channels into one sequence of events.
// It is a pure state machine — no actor, no clock, no goroutine — so that its
// rules can be tested as tables: records are handed out in arrival order; a
// channel's watermarks combine into the minimum over channels that have not
// ended, which is handed out only when it advances; end-of-stream of the last
// channel yields EventEndOfInput once. Its queue holds what arrived while the
// subtask could not process (no output credit); credits bound its length.
type InputGate struct {
	channels  []channelState
	queue     []arrival
	head      int
	open      int   // channels that have not ended
	combined  int64 // last combined watermark handed out
	idle      bool  // EventIdle handed out and no EventActive since
	pending   []Event
	endIssued bool

	// Barrier alignment. aligning is the checkpoint whose barriers are being
	// collected (0: none); barriers of checkpoints below floor are stale.
	// In exactly-once mode, what a channel delivers after its barrier waits
	// in held, in arrival order, until the alignment ends; credits are not
	// returned for it, so upstream stops sending and held stays small.
	atLeastOnce bool
	aligning    int64
	floor       int64
	held        []arrival
}

// NewAtLeastOnceInputGate returns a gate that does not align barriers:
// records behind a channel's barrier keep flowing, and the checkpoint event
// comes when the last channel's barrier arrives.
func NewAtLeastOnceInputGate(n int) *InputGate {
	g := NewInputGate(n)
	g.atLeastOnce = true
	return g
}

// NewInputGate returns a gate over n input channels that aligns checkpoint
// barriers (exactly-once).
func NewInputGate(n int) *InputGate {
	g := &InputGate{channels: make([]channelState, n), open: n, combined: math.MinInt64}
	for i := range g.channels {
		g.channels[i].watermark = math.MinInt64
	}
	return g
}

func (g *InputGate) check(ch int) error {
	if ch < 0 || ch >= len(g.channels) {
		return fmt.Errorf("input gate: channel %d out of range [0, %d)", ch, len(g.channels))
	}
	if g.channels[ch].closed {
		return fmt.Errorf("input gate: channel %d sent after its end-of-stream", ch)
	}
	return nil
}

// OfferBatch queues a batch that arrived on channel ch.
func (g *InputGate) OfferBatch(ch int, b exchange.Message) error {
	if err := g.check(ch); err != nil {
		return err
	}
	g.queue = append(g.queue, arrival{channel: ch, batch: b})
	return nil
}

// OfferWatermark queues a watermark that arrived on channel ch.
func (g *InputGate) OfferWatermark(ch int, t int64) error {
	if err := g.check(ch); err != nil {
		return err
	}
	g.queue = append(g.queue, arrival{channel: ch, watermark: t})
	return nil
}

// OfferEnd queues the end-of-stream of channel ch.
func (g *InputGate) OfferEnd(ch int) error {
	if err := g.check(ch); err != nil {
		return err
	}
	// Closed now, so that a later message on the channel is rejected at once;
	// the end takes effect on the watermark when it is handed out.
	g.channels[ch].closed = true
	g.queue = append(g.queue, arrival{channel: ch, end: true})
	return nil
}

// OfferBarrier queues checkpoint id's barrier from channel ch; with cancel,
// the barrier's cancellation (the checkpoint was aborted upstream).
func (g *InputGate) OfferBarrier(ch int, id int64, cancel bool) error {
	if err := g.check(ch); err != nil {
		return err
	}
	if id <= 0 {
		return fmt.Errorf("input gate: checkpoint id %d must be positive", id)
	}
	g.queue = append(g.queue, arrival{channel: ch, barrier: id, cancel: cancel})
	return nil
}

// OfferStatus queues a channel's change to idle or back to active.
func (g *InputGate) OfferStatus(ch int, idle bool) error {
	if err := g.check(ch); err != nil {
		return err
	}
	g.queue = append(g.queue, arrival{channel: ch, status: true, idle: idle})
	return nil
}

// Next returns the next event to process, or false when nothing is ready.
func (g *InputGate) Next() (Event, bool) {
	if len(g.pending) > 0 {
		ev := g.pending[0]
		g.pending = g.pending[1:]
		return ev, true
	}
	for g.head < len(g.queue) {
		a := g.queue[g.head]
		g.queue[g.head] = arrival{}
		g.head++
		if g.head == len(g.queue) {
			g.queue, g.head = g.queue[:0], 0
		}
		if g.aligning != 0 && !g.atLeastOnce && g.channels[a.channel].barrier {
			g.held = append(g.held, a) // behind this channel's barrier: wait
			continue
		}
		switch {
		case a.barrier > 0:
			if ev, ok := g.onBarrier(a.channel, a.barrier, a.cancel); ok {
				return ev, true
			}
		case a.batch != nil:
			return Event{Kind: EventRecords, Channel: a.channel, Batch: a.batch}, true
		case a.status:
			g.channels[a.channel].idle = a.idle
			if ev, ok := g.statusChange(a.channel); ok {
				return ev, true
			}
			if ev, ok := g.advance(a.channel); ok {
				return ev, true
			}
		case a.end:
			g.open--
			g.channels[a.channel].ended = true // it holds the watermark and the barriers back no more
			if g.aligning != 0 && g.aligned() {
				// An ended channel counts as aligned; the end follows the checkpoint.
				ev := g.completeAlignment()
				if g.open == 0 {
					g.endIssued = true
					g.pending = append(g.pending, Event{Kind: EventEndOfInput, Channel: a.channel})
				}
				return ev, true
			}
			if g.open == 0 {
				g.endIssued = true
				return Event{Kind: EventEndOfInput, Channel: a.channel}, true
			}
			if ev, ok := g.advance(a.channel); ok {
				return ev, true
			}
		default:
			var status Event
			var changed bool
			if c := &g.channels[a.channel]; c.idle {
				c.idle = false // a watermark means the channel is active
				status, changed = g.statusChange(a.channel)
			}
			if a.watermark > g.channels[a.channel].watermark {
				g.channels[a.channel].watermark = a.watermark
			}
			ev, advanced := g.advance(a.channel)
			switch {
			case changed && advanced:
				g.pending = append(g.pending, ev) // after the status
				return status, true
			case changed:
				return status, true
			case advanced:
				return ev, true
			}
		}
	}
	return Event{}, false
}

// onBarrier takes checkpoint id's barrier (or cancellation) from channel ch.
func (g *InputGate) onBarrier(ch int, id int64, cancel bool) (Event, bool) {
	if id < g.floor || (g.aligning != 0 && id < g.aligning) {
		return Event{}, false // subsumed or already done
	}
	if g.aligning != 0 && id > g.aligning {
		// A newer checkpoint subsumes the one being aligned.
		aborted := Event{Kind: EventCheckpointAborted, Channel: ch, Checkpoint: g.aligning}
		g.endAlignment()
		g.queue = append([]arrival{{channel: ch, barrier: id, cancel: cancel}}, g.queue[g.head:]...)
		g.head = 0
		return aborted, true
	}
	if cancel {
		g.floor = id + 1
		if g.aligning == id {
			g.endAlignment()
		}
		return Event{Kind: EventCheckpointAborted, Channel: ch, Checkpoint: id}, true
	}
	g.aligning = id
	g.channels[ch].barrier = true
	if g.aligned() {
		return g.completeAlignment(), true
	}
	return Event{}, false
}

// aligned reports whether every channel still open delivered the barrier.
func (g *InputGate) aligned() bool {
	for _, c := range g.channels {
		if !c.ended && !c.barrier {
			return false
		}
	}
	return true
}

func (g *InputGate) completeAlignment() Event {
	id := g.aligning
	g.floor = id + 1
	g.endAlignment()
	return Event{Kind: EventCheckpoint, Checkpoint: id}
}

// endAlignment stops aligning and puts what was held back in front of the
// queue, in the order it arrived.
func (g *InputGate) endAlignment() {
	g.aligning = 0
	for i := range g.channels {
		g.channels[i].barrier = false
	}
	if len(g.held) > 0 {
		g.queue = append(g.held, g.queue[g.head:]...)
		g.head, g.held = 0, nil
	}
}

// Abort gives up checkpoint id (the job master aborted it): an alignment
// of id ends, releasing what it held, and id's barriers still to come are
// ignored.
func (g *InputGate) Abort(id int64) {
	g.floor = max(g.floor, id+1)
	if g.aligning == id {
		g.endAlignment()
	}
}

// Aligning returns the checkpoint being aligned, 0 when none.
func (g *InputGate) Aligning() int64 { return g.aligning }

// statusChange reports the gate turning idle (every open channel idle) or
// active again.
func (g *InputGate) statusChange(ch int) (Event, bool) {
	allIdle := true
	for _, c := range g.channels {
		if !c.ended && !c.idle {
			allIdle = false
			break
		}
	}
	switch {
	case allIdle && !g.idle:
		g.idle = true
		return Event{Kind: EventIdle, Channel: ch}, true
	case !allIdle && g.idle:
		g.idle = false
		return Event{Kind: EventActive, Channel: ch}, true
	}
	return Event{}, false
}

// advance hands out the combined watermark — the minimum over channels that
// are neither ended nor idle — when it moved forward.
func (g *InputGate) advance(ch int) (Event, bool) {
	min, counted := int64(math.MaxInt64), false
	for _, c := range g.channels {
		if !c.idle && !c.ended {
			min, counted = minInt(min, c.watermark), true
		}
	}
	if counted && min > g.combined {
		g.combined = min
		return Event{Kind: EventWatermark, Channel: ch, Time: min}, true
	}
	return Event{}, false
}

// Queued returns the number of arrivals not yet handed out.
func (g *InputGate) Queued() int { return len(g.queue) - g.head + len(g.pending) + len(g.held) }

// Ended reports whether end of input was handed out.
func (g *InputGate) Ended() bool { return g.endIssued }

func minInt(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
