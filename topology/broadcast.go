package topology

import (
	"github.com/floestream/floe/exchange"
	"github.com/floestream/floe/keyspace"
)

// BroadcastConnected is a keyed stream connected with a broadcast stream, as
// in Flink's broadcast state pattern: every subtask of the keyed side gets
// every broadcast record and keeps the broadcast state in full.
type BroadcastConnected[A any, K comparable, B any] struct {
	keyed     Keyed[A, K]
	broadcast Stream[B]
}

// ConnectBroadcast connects keyed with broadcast, which is sent to every
// subtask of the operator that processes them (KeyedBroadcastProcess).
func ConnectBroadcast[A any, K comparable, B any](keyed Keyed[A, K], broadcast Stream[B]) BroadcastConnected[A, K, B] {
	if keyed.stream.job() != broadcast.job() {
		keyed.stream.job().fail("connect of streams from different jobs")
	}
	return BroadcastConnected[A, K, B]{keyed: keyed, broadcast: broadcast.Broadcast()}
}

// BroadcastContext is the context of ProcessBroadcastElement: it has no
// current key, and may write broadcast state.
type BroadcastContext struct{ *Context }

// KeyedBroadcastProcessFunction processes a keyed stream with keyed state
// and read-only broadcast state (ProcessElement), and the broadcast stream
// with writable broadcast state (ProcessBroadcastElement). Broadcast updates
// must be deterministic so that every subtask's copy stays the same. It may
// implement Opener[*KeyedContext[K]], Finisher, Closer and TimerFunction.
type KeyedBroadcastProcessFunction[K comparable, A, B, OUT any] interface {
	ProcessElement(ctx *KeyedContext[K], in A, out Collector[OUT]) error
	ProcessBroadcastElement(ctx *BroadcastContext, in B, out Collector[OUT]) error
}

// ReadOnlyBroadcast returns the broadcast state name, read-only, for the
// keyed side.
func ReadOnlyBroadcast[BK comparable, BV any, K comparable](ctx *KeyedContext[K], name string,
	opts ...keyspace.StateOption) (keyspace.ReadOnlyBroadcastState[BK, BV], error) {
	b, err := keyspace.NewBroadcastState[BK, BV](ctx.OperatorState(), name, opts...)
	if err != nil {
		return nil, err
	}
	return b.ReadOnly(), nil
}

// WritableBroadcast returns the broadcast state name for the broadcast side.
func WritableBroadcast[BK comparable, BV any](ctx *BroadcastContext, name string,
	opts ...keyspace.StateOption) (*keyspace.BroadcastState[BK, BV], error) {
	return keyspace.NewBroadcastState[BK, BV](ctx.OperatorState(), name, opts...)
}

// KeyedBroadcastProcess applies fn to a keyed stream connected with a
// broadcast stream.
func KeyedBroadcastProcess[K comparable, A, B, OUT any](c BroadcastConnected[A, K, B], name string,
	fn KeyedBroadcastProcessFunction[K, A, B, OUT]) Stream[OUT] {
	checkFunc(c.keyed.stream.job(), name, fn)
	n := twoInput[A, B, OUT](c.keyed.stream, c.broadcast, name, true)
	if n.Inputs[1].Partitioning != exchange.Broadcast {
		n.owner.fail("the second input of %q must be broadcast", name)
	}
	n.open = func(env *Env, o any) (Instance, error) {
		fn := perSubtask(fn)
		ctx, err := newKeyedContext(env, c.keyed.hash)
		if err != nil {
			return nil, err
		}
		bctx := &BroadcastContext{Context: &ctx.Context} // shares the operator state
		op := &coOp[*KeyedContext[K], OUT]{call: newCall(env, n.ID), fn: fn, ctx: ctx, out: o.(Collector[OUT])}
		op.in1 = keyedCoInput[K, A]{ctx: ctx, key: c.keyed.key, coInput: coInput[A]{op: &op.call,
			fn: func(v A) error { return fn.ProcessElement(ctx, v, op.out) }}}
		op.in2 = coInput[B]{op: &op.call, fn: func(v B) error { return fn.ProcessBroadcastElement(bctx, v, op.out) }}
		return openKeyedCoOp(op, fn, ctx)
	}
	return Stream[OUT]{node: n}
}
