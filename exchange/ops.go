package exchange

import (
	"fmt"

	"github.com/floestream/floe/connectors"
)

// Ops is the set of operations the untyped runtime needs for one record type.
// topology's generic constructors capture OpsFor[T]() for every stream, so the
// runtime never reflects on records.
type Ops interface {
	// TypeName is the Go type of the records, for graphs and errors.
	TypeName() string
	// NewWriter builds an edge's output writer for records of this type.
	NewWriter(cfg WriterConfig) (Writer, error)
	// Fanout combines collectors of this type (each a connectors.Collector[T])
	// into one that writes every record to all of them, in order.
	Fanout(outs []any) (any, error)
	// BindInput returns a function that delivers the records of a batch of
	// this type, from index from on, to the collector to, stopping early when
	// p is blocked; it returns the index of the first record not delivered.
	// Records that carry timestamps go one at a time, each with its
	// timestamp stored in *ts first.
	BindInput(to any, p *Pressure, ts *int64) (func(msg Message, from int) int, error)
}

// OpsFor returns the operations for records of type T.
func OpsFor[T any]() Ops { return ops[T]{} }

type ops[T any] struct{}

func (ops[T]) TypeName() string { return typeName[T]() }

func (ops[T]) NewWriter(cfg WriterConfig) (Writer, error) { return newWriter[T](cfg) }

func (o ops[T]) collector(v any) (connectors.Collector[T], error) {
	c, ok := v.(connectors.Collector[T])
	if !ok {
		return nil, fmt.Errorf("exchange: %T is not a collector of %s", v, o.TypeName())
	}
	return c, nil
}

func (o ops[T]) Fanout(outs []any) (any, error) {
	cs := make(fanout[T], len(outs))
	for i, out := range outs {
		c, err := o.collector(out)
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	return cs, nil
}

func (o ops[T]) BindInput(to any, p *Pressure, ts *int64) (func(Message, int) int, error) {
	c, err := o.collector(to)
	if err != nil {
		return nil, err
	}
	untimed, err := o.bindUntimed(c, to, p)
	if err != nil {
		return nil, err
	}
	gc, grouped := to.(GroupedCollector[T])
	return func(msg Message, from int) int {
		b := msg.(*Batch[T])
		if len(b.Timestamps) != len(b.Records) {
			return untimed(msg, from)
		}
		withGroups := grouped && len(b.KeyGroups) == len(b.Records)
		for i := from; i < len(b.Records); i++ {
			if p.Queued > 0 {
				return i
			}
			*ts = b.Timestamps[i]
			if withGroups {
				gc.CollectInGroup(b.Records[i], int(b.KeyGroups[i]))
			} else {
				c.Collect(b.Records[i])
			}
		}
		return len(b.Records)
	}, nil
}

// bindUntimed is BindInput for batches without timestamps: whole batches
// where the receiver takes them.
func (o ops[T]) bindUntimed(c connectors.Collector[T], to any, p *Pressure) (func(Message, int) int, error) {
	if gb, ok := to.(GroupedBatchCollector[T]); ok {
		// Whole batches: back-pressure is checked between batches only, so a
		// batch may add at most its own output beyond the credits.
		return func(msg Message, from int) int {
			b := msg.(*Batch[T])
			if p.Queued > 0 {
				return from
			}
			if len(b.KeyGroups) != len(b.Records) {
				AsBatch(c).CollectBatch(b.Records[from:])
			} else {
				gb.CollectGroupedBatch(b.Records[from:], b.KeyGroups[from:])
			}
			return len(b.Records)
		}, nil
	}
	if bc, ok := to.(BatchCollector[T]); ok {
		return func(msg Message, from int) int {
			recs := msg.(*Batch[T]).Records
			if p.Queued > 0 {
				return from
			}
			bc.CollectBatch(recs[from:])
			return len(recs)
		}, nil
	}
	if gc, ok := to.(GroupedCollector[T]); ok {
		return func(msg Message, from int) int {
			b := msg.(*Batch[T])
			if len(b.KeyGroups) != len(b.Records) {
				return deliver(c, b.Records, from, p)
			}
			for i := from; i < len(b.Records); i++ {
				if p.Queued > 0 {
					return i
				}
				gc.CollectInGroup(b.Records[i], int(b.KeyGroups[i]))
			}
			return len(b.Records)
		}, nil
	}
	return func(msg Message, from int) int {
		return deliver(c, msg.(*Batch[T]).Records, from, p)
	}, nil
}

// deliver hands records from index from on to c until p blocks.
func deliver[T any](c connectors.Collector[T], recs []T, from int, p *Pressure) int {
	for i := from; i < len(recs); i++ {
		if p.Queued > 0 {
			return i
		}
		c.Collect(recs[i])
	}
	return len(recs)
}

type fanout[T any] []connectors.Collector[T]

func (f fanout[T]) Collect(v T) {
	for _, c := range f {
		c.Collect(v)
	}
}

func (f fanout[T]) CollectBatch(records []T) {
	for _, c := range f {
		AsBatch(c).CollectBatch(records)
	}
}
