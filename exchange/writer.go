package exchange

import (
	"fmt"
	"reflect"

	"github.com/floestream/floe/connectors"
)

// Pressure counts the messages that the writers of one subtask hold back for
// lack of credit. While it is above zero the subtask must not take more input:
// that is what bounds memory to channels × credits × batch size whatever the
// speed of sources and sinks.
type Pressure struct {
	Queued int
}

// Blocked reports whether any writer of the subtask holds back a message.
func (p *Pressure) Blocked() bool { return p.Queued > 0 }

// WriterConfig configures the output writer of one edge in one subtask.
type WriterConfig struct {
	// TargetChannel holds, per downstream subtask, the input channel the
	// receiver knows this sender by. A Forward edge has exactly one channel:
	// to the downstream subtask with the sender's own index.
	TargetChannel []int32
	Partitioning  Partitioning
	// KeyHash is the edge's func(T) uint64 for Hash partitioning.
	KeyHash        any
	MaxParallelism int
	// BatchSize is the number of records a batch holds before it is sent.
	BatchSize int
	// Credits is the number of batches that may be in flight per channel.
	Credits int
	// FlushPerRecord sends every record as soon as it is written (a buffer
	// timeout of zero).
	FlushPerRecord bool
	// Send delivers a message to downstream subtask ch. It must not block.
	Send func(ch int, msg any)
	// Pressure is shared by every writer of the subtask.
	Pressure *Pressure
	// Timestamp, when set, points at the event timestamp of the record being
	// written; batches then carry it along with every record.
	Timestamp *int64
}

func (c *WriterConfig) validate() error {
	switch {
	case len(c.TargetChannel) == 0:
		return fmt.Errorf("exchange: writer has no downstream channel")
	case c.BatchSize < 1:
		return fmt.Errorf("exchange: batch size %d must be at least 1", c.BatchSize)
	case c.Credits < 1:
		return fmt.Errorf("exchange: credits %d must be at least 1", c.Credits)
	case c.Send == nil || c.Pressure == nil:
		return fmt.Errorf("exchange: writer needs Send and Pressure")
	case c.Partitioning == Forward && len(c.TargetChannel) != 1:
		return fmt.Errorf("exchange: a forward edge has one channel, not %d", len(c.TargetChannel))
	case c.Partitioning == Hash && c.MaxParallelism >= noGroup:
		return fmt.Errorf("exchange: max parallelism %d must be below %d", c.MaxParallelism, noGroup)
	case c.Partitioning == Hash && (c.MaxParallelism < len(c.TargetChannel)):
		return fmt.Errorf("exchange: hash edge to %d channels needs max parallelism ≥ that, got %d",
			len(c.TargetChannel), c.MaxParallelism)
	}
	return nil
}

// Writer is the erased view of an edge's output writer. All methods are called
// from the owning subtask's actor only.
type Writer interface {
	// Collector returns the connectors.Collector[T] that upstream operators
	// write records into.
	Collector() any
	// OnCredit adds one credit to a channel per processed batch handed back,
	// keeps the batches for reuse, and sends what was held back as far as the
	// credit allows.
	OnCredit(channel int, recycled []Message)
	// FlushPartial sends partially filled batches on channels that have credit
	// and nothing held back; it reports whether records are still buffered
	// (so that the caller schedules another flush).
	FlushPartial() (buffered bool)
	// Emit queues a control message for every channel behind the records
	// written so far, preserving order; make builds each channel's message.
	Emit(make func(targetChannel int32) any)
	// Buffered reports whether a partially filled batch waits for a flush.
	Buffered() bool
	// Records and Batches count what was written and sent.
	Records() uint64
	Batches() uint64
}

type outChannel[T any] struct {
	index   int
	target  int32
	buf     *Batch[T] // partially filled batch, nil when empty
	credits int
	queue   []any // held back: *Batch[T] (needs a credit) or control messages
	head    int
	free    []*Batch[T]
}

type writer[T any] struct {
	cfg       WriterConfig
	batchSize int // 1 when flushing per record
	channels  []outChannel[T]
	hash      func(T) uint64
	owner     []int32 // key group → channel, for Hash
	groupMask uint64  // max parallelism − 1 when it is a power of two, else 0
	next      int     // round-robin cursor, for Rebalance
	buffered  int     // channels whose buf is non-empty
	records   uint64
	batches   uint64
}

func newWriter[T any](cfg WriterConfig) (*writer[T], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &writer[T]{cfg: cfg, batchSize: cfg.BatchSize, channels: make([]outChannel[T], len(cfg.TargetChannel))}
	if cfg.FlushPerRecord {
		w.batchSize = 1
	}
	for i := range w.channels {
		w.channels[i].index = i
		w.channels[i].target = cfg.TargetChannel[i]
		w.channels[i].credits = cfg.Credits
	}
	if cfg.Partitioning == Hash {
		h, ok := cfg.KeyHash.(func(T) uint64)
		if !ok {
			return nil, fmt.Errorf("exchange: hash edge of %s records has key hash %T", typeName[T](), cfg.KeyHash)
		}
		w.hash = h
		// The owner of key group kg among p channels is kg*p/m, the same rule
		// as keyspace.SubtaskForKeyGroup; precomputed so a record costs one
		// hash, one modulo and one index.
		p, m := len(cfg.TargetChannel), cfg.MaxParallelism
		w.owner = make([]int32, m)
		for kg := range w.owner {
			w.owner[kg] = int32(kg * p / m)
		}
		if m&(m-1) == 0 {
			w.groupMask = uint64(m - 1) // hash mod m without a division
		}
	}
	return w, nil
}

func (w *writer[T]) Collector() any { return connectors.Collector[T](w) }

// Collect routes one record to its channel(s).
func (w *writer[T]) Collect(v T) {
	switch w.cfg.Partitioning {
	case Forward:
		w.add(0, v)
	case Rebalance:
		w.add(w.next, v)
		if w.next++; w.next == len(w.channels) {
			w.next = 0
		}
	case Hash:
		h := w.hash(v)
		if w.groupMask != 0 {
			h &= w.groupMask
		} else {
			h %= uint64(len(w.owner))
		}
		w.addInGroup(int(w.owner[h]), v, uint16(h))
	case Broadcast:
		for ch := range w.channels {
			w.add(ch, v)
		}
	}
}

// CollectBatch routes a run of records; on a forward edge it copies them
// into the channel's batches in bulk.
func (w *writer[T]) CollectBatch(records []T) {
	if w.cfg.Timestamp != nil {
		for _, v := range records {
			w.Collect(v)
		}
		return
	}
	switch w.cfg.Partitioning {
	case Hash:
		if w.groupMask != 0 {
			for _, v := range records {
				h := w.hash(v) & w.groupMask
				w.addInGroup(int(w.owner[h]), v, uint16(h))
			}
			return
		}
		fallthrough
	case Rebalance, Broadcast:
		for _, v := range records {
			w.Collect(v)
		}
		return
	}
	c := &w.channels[0]
	for len(records) > 0 {
		b := c.buf
		if b == nil {
			b = w.batch(c)
			c.buf = b
			w.buffered++
		}
		n := min(len(records), w.batchSize-len(b.Records))
		b.Records = append(b.Records, records[:n]...)
		records = records[n:]
		w.records += uint64(n)
		if len(b.Records) >= w.batchSize {
			w.flush(c)
		}
	}
}

func (w *writer[T]) add(ch int, v T) { w.addInGroup(ch, v, noGroup) }

// noGroup marks records of edges that do not carry key groups.
const noGroup = 1<<16 - 1

// addInGroup appends a record, with its key group on hash edges, to its
// channel's batch and sends the batch when full.
func (w *writer[T]) addInGroup(ch int, v T, group uint16) {
	c := &w.channels[ch]
	b := c.buf
	if b == nil {
		b = w.batch(c)
		c.buf = b
		w.buffered++
	}
	b.Records = append(b.Records, v)
	if group != noGroup {
		b.KeyGroups = append(b.KeyGroups, group)
	}
	if w.cfg.Timestamp != nil {
		b.Timestamps = append(b.Timestamps, *w.cfg.Timestamp)
	}
	w.records++
	if len(b.Records) >= w.batchSize {
		w.flush(c)
	}
}

func (w *writer[T]) batch(c *outChannel[T]) *Batch[T] {
	if n := len(c.free); n > 0 {
		b := c.free[n-1]
		c.free = c.free[:n-1]
		return b
	}
	b := &Batch[T]{InputChannel: c.target, Records: make([]T, 0, w.cfg.BatchSize)}
	if w.cfg.Partitioning == Hash {
		b.KeyGroups = make([]uint16, 0, w.cfg.BatchSize)
	}
	if w.cfg.Timestamp != nil {
		b.Timestamps = make([]int64, 0, w.cfg.BatchSize)
	}
	return b
}

// flush moves the channel's partial batch out: straight to the receiver when
// nothing is held back and a credit is free, behind the held-back messages
// otherwise.
func (w *writer[T]) flush(c *outChannel[T]) {
	b := c.buf
	if b == nil {
		return
	}
	c.buf = nil
	w.buffered--
	if c.head == len(c.queue) && c.credits > 0 {
		c.credits--
		w.send(c, b)
		return
	}
	w.hold(c, b)
}

func (w *writer[T]) send(c *outChannel[T], msg any) {
	if _, ok := msg.(*Batch[T]); ok {
		w.batches++
	}
	w.cfg.Send(c.index, msg)
}

func (w *writer[T]) hold(c *outChannel[T], msg any) {
	c.queue = append(c.queue, msg)
	w.cfg.Pressure.Queued++
}

// pump sends held-back messages in order while credit allows.
func (w *writer[T]) pump(c *outChannel[T]) {
	for c.head < len(c.queue) {
		msg := c.queue[c.head]
		if _, isBatch := msg.(*Batch[T]); isBatch {
			if c.credits == 0 {
				return
			}
			c.credits--
		}
		c.queue[c.head] = nil
		c.head++
		w.cfg.Pressure.Queued--
		w.send(c, msg)
	}
	c.queue, c.head = c.queue[:0], 0
}

func (w *writer[T]) OnCredit(ch int, recycled []Message) {
	c := &w.channels[ch]
	c.credits += len(recycled)
	for _, m := range recycled {
		if b, ok := m.(*Batch[T]); ok && len(c.free) < w.cfg.Credits {
			b.Records, b.KeyGroups, b.Timestamps = b.Records[:0], b.KeyGroups[:0], b.Timestamps[:0]
			c.free = append(c.free, b)
		}
	}
	w.pump(c)
}

func (w *writer[T]) FlushPartial() bool {
	if w.buffered == 0 {
		return false
	}
	for i := range w.channels {
		c := &w.channels[i]
		if c.buf != nil && c.head == len(c.queue) && c.credits > 0 {
			w.flush(c)
		}
	}
	return w.buffered > 0
}

func (w *writer[T]) Emit(make func(targetChannel int32) any) {
	for i := range w.channels {
		c := &w.channels[i]
		w.flush(c)
		w.hold(c, make(c.target))
		w.pump(c)
	}
}

func (w *writer[T]) Buffered() bool  { return w.buffered > 0 }
func (w *writer[T]) Records() uint64 { return w.records }
func (w *writer[T]) Batches() uint64 { return w.batches }

func typeName[T any]() string {
	t := reflect.TypeFor[T]()
	if t == nil {
		return "interface"
	}
	return t.String()
}
