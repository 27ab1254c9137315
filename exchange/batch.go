package exchange

import (
	"fmt"

	"github.com/floestream/floe/connectors"
)

// Message is a record batch of some element type, as it travels between two
// subtasks of the same process. It deliberately does not implement
// protoactor's MessageBatch (GetMessages): the mailbox would unroll it.
type Message interface {
	// Channel is the receiver's input channel the batch arrived on.
	Channel() int32
	// Len is the number of records in the batch.
	Len() int
}

// Batch carries records as Go values. The sender allocates it, the receiver
// processes it and hands it back with the credit it returns, so that a steady
// stream allocates no batches at all. A receiver must therefore not keep the
// Records slice once it has returned the credit.
type Batch[T any] struct {
	InputChannel int32 // the receiver's input channel
	Records      []T
	// KeyGroups holds each record's key group on hash edges (nil elsewhere),
	// so that the keyed receiver does not hash every key a second time.
	KeyGroups []uint16
	// Timestamps holds each record's event timestamp on streams that carry
	// them (nil elsewhere).
	Timestamps []int64
}

// Channel implements Message.
func (b *Batch[T]) Channel() int32 { return b.InputChannel }

// Len implements Message.
func (b *Batch[T]) Len() int { return len(b.Records) }

func (b *Batch[T]) String() string {
	return fmt.Sprintf("batch(channel=%d, records=%d)", b.InputChannel, len(b.Records))
}

// BatchCollector is implemented by operators and writers that take a run of
// records at once, so that a batch crosses a chain with one call per
// operator instead of one per record. The callee must not keep records
// after it returns: the slice is reused.
type BatchCollector[T any] interface {
	CollectBatch(records []T)
}

// AsBatch returns a BatchCollector for c: c itself when it takes batches,
// otherwise one that hands the records over one at a time.
func AsBatch[T any](c connectors.Collector[T]) BatchCollector[T] {
	if b, ok := c.(BatchCollector[T]); ok {
		return b
	}
	return recordByRecord[T]{c}
}

type recordByRecord[T any] struct{ c connectors.Collector[T] }

func (r recordByRecord[T]) CollectBatch(records []T) {
	for _, v := range records {
		r.c.Collect(v)
	}
}

// GroupedBatchCollector is implemented by keyed operators that take a run of
// records with their key groups at once.
type GroupedBatchCollector[T any] interface {
	CollectGroupedBatch(records []T, keyGroups []uint16)
}

// GroupedCollector is implemented by keyed operators: they take each record
// with the key group the sending writer computed for it.
type GroupedCollector[T any] interface {
	CollectInGroup(record T, keyGroup int)
}

// Credit returns credit for a channel to the sender: one unit per processed
// batch, handed back in Recycled for reuse. Output and Channel address the
// sender's writer and its channel. Receivers return credit a few batches at a
// time, which halves the messages on a busy channel.
type Credit struct {
	Output   int32
	Channel  int32
	Recycled []Message
}

// Partitioning says how an edge spreads records over the downstream subtasks.
type Partitioning int

const (
	// Forward sends subtask i's records to subtask i; both sides must have the
	// same parallelism.
	Forward Partitioning = iota
	// Rebalance deals records round-robin over every downstream subtask.
	Rebalance
	// Hash sends each record to the subtask that owns its key group.
	Hash
	// Broadcast sends every record to every downstream subtask.
	Broadcast
)

func (p Partitioning) String() string {
	switch p {
	case Forward:
		return "FORWARD"
	case Rebalance:
		return "REBALANCE"
	case Hash:
		return "HASH"
	case Broadcast:
		return "BROADCAST"
	}
	return fmt.Sprintf("Partitioning(%d)", int(p))
}
