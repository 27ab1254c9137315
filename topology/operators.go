package topology

import (
	"errors"
	"math"
	"reflect"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/exchange"
	"github.com/floestream/floe/keyspace"
)

// FromSource starts a stream from a source. Its parallelism is the job's
// default unless set on the returned stream.
func FromSource[T any](j *Job, name string, src connectors.Source[T]) Stream[T] {
	n := j.add(&Node{Kind: SourceNode, Name: name, Out: exchange.OpsFor[T]()})
	if src == nil {
		j.fail("source %q is nil", name)
	}
	if v, ok := src.(connectors.Validator); ok {
		n.validate = v.Validate
	}
	n.open = func(env *Env, out any) (Instance, error) {
		r, err := sourceCheckpointing(env, src)
		if err != nil {
			return nil, err
		}
		return &sourceOp[T]{reader: r, out: newEmitter(out.(Collector[T]))}, nil
	}
	return Stream[T]{node: n}
}

// sourceOp gathers what the reader emits in one poll and passes it on as
// one batch.
type sourceOp[T any] struct {
	stateless
	reader  connectors.SourceReader[T]
	out     *emitter[T]
	emitted uint64
}

func (s *sourceOp[T]) Input(i int) any { return noInput(i) }
func (s *sourceOp[T]) Poll(max int) (connectors.Status, error) {
	status, err := s.reader.Poll(s.out, max)
	s.emitted += uint64(len(s.out.buf))
	s.out.flush()
	return status, err
}
func (s *sourceOp[T]) Emitted() uint64  { return s.emitted }
func (s *sourceOp[T]) Close(bool) error { return s.reader.Close() }

// emitter collects what user code emits while the operator works through a
// batch, and passes it downstream as one batch when the operator is done.
// Handing a batch on costs one call however many records it holds.
type emitter[T any] struct {
	buf  []T
	next exchange.BatchCollector[T]
}

func newEmitter[T any](next Collector[T]) *emitter[T] {
	return &emitter[T]{next: exchange.AsBatch(next)}
}

// Collect buffers one record.
func (e *emitter[T]) Collect(v T) { e.buf = append(e.buf, v) }

// flush passes the buffered records on. The buffer is reused without
// clearing it, a memclr per batch saved: old records stay reachable until
// overwritten, at most the buffer's capacity of them, and a buffer a burst
// made large is dropped, so one burst does not pin memory for the run.
func (e *emitter[T]) flush() {
	if len(e.buf) == 0 {
		return
	}
	e.next.CollectBatch(e.buf)
	if cap(e.buf) > 1<<14 {
		e.buf = nil
	} else {
		e.buf = e.buf[:0]
	}
}

// Sink ends a stream in a sink and returns a handle to configure it.
func Sink[T any](s Stream[T], name string, sink connectors.Sink[T]) SinkStream {
	j := s.job()
	n := j.add(&Node{Kind: SinkNode, Name: name, In: []exchange.Ops{exchange.OpsFor[T]()}})
	if sink == nil {
		j.fail("sink %q is nil", name)
	}
	if v, ok := sink.(connectors.Validator); ok {
		n.validate = v.Validate
	}
	connect(s, n, 0)
	n.open = func(env *Env, _ any) (Instance, error) {
		if ts, ok := sink.(connectors.TransactionalSink[T]); ok && env.Checkpointing {
			t, err := openTransactional(env, ts)
			if err != nil {
				return nil, err
			}
			return &sinkOp[T]{call: newCall(env, n.ID), w: t.w, abort: t.w.Abort}, nil
		}
		w, err := sink.Writer(env.Info)
		if err != nil {
			return nil, err
		}
		op := &sinkOp[T]{call: newCall(env, n.ID), w: w}
		if a, ok := w.(connectors.Aborter); ok {
			op.abort = a.Abort
		}
		return op, nil
	}
	return SinkStream{node: n}
}

// SinkStream configures a sink operator.
type SinkStream struct{ node *Node }

// UID sets the sink's stable identifier.
func (s SinkStream) UID(uid string) SinkStream { s.node.uid = uid; return s }

// Parallelism sets the sink's parallelism.
func (s SinkStream) Parallelism(p int) SinkStream { s.node.want = p; return s }

// DisableChaining makes the sink a task of its own.
func (s SinkStream) DisableChaining() SinkStream { s.node.chaining = false; return s }

type sinkOp[T any] struct {
	call
	w     connectors.SinkWriter[T]
	abort func() error // discards what was staged, after a failure; nil if it cannot
}

func (s *sinkOp[T]) Input(int) any { return connectors.Collector[T](s) }
func (s *sinkOp[T]) Collect(v T) {
	p := s.enter()
	if err := s.w.Write(v); err != nil {
		raise(err)
	}
	s.leave(p)
}
func (s *sinkOp[T]) CollectBatch(records []T) {
	p := s.enter()
	for _, v := range records {
		if err := s.w.Write(v); err != nil {
			raise(err)
		}
	}
	s.leave(p)
}
func (s *sinkOp[T]) EndInput() error { return s.w.Flush() }
func (s *sinkOp[T]) Close(failed bool) error {
	if failed && s.abort != nil {
		return s.abort()
	}
	return s.w.Close()
}

// oneInput adds a one-input operator fed by s.
func oneInput[T, U any](s Stream[T], name string, keyed bool, open opener) Stream[U] {
	j := s.job()
	n := j.add(&Node{Kind: OperatorNode, Name: name, Keyed: keyed,
		Out: exchange.OpsFor[U](), In: []exchange.Ops{exchange.OpsFor[T]()}, open: open})
	connect(s, n, 0)
	return Stream[U]{node: n}
}

// perSubtask returns the function value one subtask uses. Flink gives every
// parallel instance its own copy of a function; here a pointer to a struct
// is copied shallowly, so that fields set in Open (state handles, buffers)
// belong to one subtask. Maps, slices and pointers inside stay shared, and
// closures are shared as they are: keep per-subtask data in fields set in Open.
func perSubtask[F any](fn F) F {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fn
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	return c.Interface().(F)
}

func checkFunc(j *Job, name string, fn any) {
	if fn == nil {
		j.fail("operator %q has a nil function", name)
		return
	}
	switch v := reflect.ValueOf(fn); v.Kind() {
	case reflect.Func, reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface:
		if v.IsNil() {
			j.fail("operator %q has a nil function", name)
		}
	}
}

// Map applies fn to every record.
func Map[T, U any](s Stream[T], name string, fn func(T) U) Stream[U] {
	checkFunc(s.job(), name, fn)
	var out Stream[U]
	out = oneInput[T, U](s, name, false, func(env *Env, o any) (Instance, error) {
		return &mapOp[T, U]{call: newCall(env, out.node.ID), fn: fn, out: o.(Collector[U]), batch: newEmitter(o.(Collector[U]))}, nil
	})
	return out
}

type mapOp[T, U any] struct {
	stateless
	call
	fn    func(T) U
	out   Collector[U]
	batch *emitter[U]
}

func (m *mapOp[T, U]) CollectBatch(records []T) {
	p := m.enter()
	buf := m.batch.buf
	for _, v := range records {
		buf = append(buf, m.fn(v))
	}
	m.batch.buf = buf
	m.leave(p)
	m.batch.flush()
}

func (m *mapOp[T, U]) Input(int) any { return Collector[T](m) }
func (m *mapOp[T, U]) Collect(v T) {
	p := m.enter()
	u := m.fn(v)
	m.leave(p)
	m.out.Collect(u)
}

// Filter keeps the records for which fn returns true.
func Filter[T any](s Stream[T], name string, fn func(T) bool) Stream[T] {
	checkFunc(s.job(), name, fn)
	var out Stream[T]
	out = oneInput[T, T](s, name, false, func(env *Env, o any) (Instance, error) {
		return &filterOp[T]{call: newCall(env, out.node.ID), fn: fn, out: o.(Collector[T]), batch: newEmitter(o.(Collector[T]))}, nil
	})
	return out
}

type filterOp[T any] struct {
	stateless
	call
	fn    func(T) bool
	out   Collector[T]
	batch *emitter[T]
}

func (f *filterOp[T]) CollectBatch(records []T) {
	p := f.enter()
	buf := f.batch.buf
	for _, v := range records {
		if f.fn(v) {
			buf = append(buf, v)
		}
	}
	f.batch.buf = buf
	f.leave(p)
	f.batch.flush()
}

func (f *filterOp[T]) Input(int) any { return Collector[T](f) }
func (f *filterOp[T]) Collect(v T) {
	p := f.enter()
	keep := f.fn(v)
	f.leave(p)
	if keep {
		f.out.Collect(v)
	}
}

// FlatMap calls fn for every record; fn emits any number of records to out.
func FlatMap[T, U any](s Stream[T], name string, fn func(in T, out Collector[U])) Stream[U] {
	checkFunc(s.job(), name, fn)
	var out Stream[U]
	out = oneInput[T, U](s, name, false, func(env *Env, o any) (Instance, error) {
		return &flatMapOp[T, U]{call: newCall(env, out.node.ID), fn: fn, out: o.(Collector[U]), batch: newEmitter(o.(Collector[U]))}, nil
	})
	return out
}

type flatMapOp[T, U any] struct {
	stateless
	call
	fn    func(T, Collector[U])
	out   Collector[U]
	batch *emitter[U]
}

func (f *flatMapOp[T, U]) CollectBatch(records []T) {
	p := f.enter()
	for _, v := range records {
		f.fn(v, f.batch)
	}
	f.leave(p)
	f.batch.flush()
}

func (f *flatMapOp[T, U]) Input(int) any { return Collector[T](f) }
func (f *flatMapOp[T, U]) Collect(v T) {
	p := f.enter()
	f.fn(v, f.out)
	f.leave(p)
}

// ProcessFunction processes records one at a time with a context. It may
// also implement Opener (called before the first record), Finisher (called
// when the input ended, to emit final records) and io.Closer-like
// Close() error.
type ProcessFunction[T, U any] interface {
	ProcessElement(ctx *Context, in T, out Collector[U]) error
}

// ProcessFunc adapts a function to a ProcessFunction.
type ProcessFunc[T, U any] func(ctx *Context, in T, out Collector[U]) error

// ProcessElement calls f.
func (f ProcessFunc[T, U]) ProcessElement(ctx *Context, in T, out Collector[U]) error {
	return f(ctx, in, out)
}

// Opener is implemented by functions that prepare themselves (open files,
// create state handles) before the first record. C is *Context or
// *KeyedContext[K].
type Opener[C any] interface{ Open(ctx C) error }

// Finisher is implemented by functions that emit final records once their
// input has ended (Flink's BoundedOneInput.endInput).
type Finisher[C, U any] interface {
	Finish(ctx C, out Collector[U]) error
}

// Closer is implemented by functions that release resources when the run ends.
type Closer interface{ Close() error }

// Process applies a ProcessFunction to every record.
func Process[T, U any](s Stream[T], name string, fn ProcessFunction[T, U]) Stream[U] {
	checkFunc(s.job(), name, fn)
	var out Stream[U]
	out = oneInput[T, U](s, name, false, func(env *Env, o any) (Instance, error) {
		fn := perSubtask(fn)
		op := &processOp[T, U]{call: newCall(env, out.node.ID), fn: fn, ctx: newContext(env),
			out: o.(Collector[U]), batch: newEmitter(o.(Collector[U]))}
		if err := lifecycleOpen(&op.call, fn, op.ctx); err != nil {
			return nil, err
		}
		return op, nil
	})
	return out
}

func lifecycleOpen[C any](c *call, fn any, ctx C) error {
	if e, ok := any(ctx).(interface{ environment() *Env }); ok {
		registerHook(e.environment(), fn)
	}
	if o, ok := fn.(Opener[C]); ok {
		p := c.enter()
		defer c.leave(p)
		return o.Open(ctx)
	}
	return nil
}

func lifecycleFinish[C, U any](c *call, fn any, ctx C, out Collector[U]) error {
	if f, ok := fn.(Finisher[C, U]); ok {
		p := c.enter()
		defer c.leave(p)
		return f.Finish(ctx, out)
	}
	return nil
}

func lifecycleClose(fn any) error {
	if c, ok := fn.(Closer); ok {
		return c.Close()
	}
	return nil
}

type processOp[T, U any] struct {
	call
	fn    ProcessFunction[T, U]
	ctx   *Context
	out   Collector[U]
	batch *emitter[U]
}

func (o *processOp[T, U]) CollectBatch(records []T) {
	p := o.enter()
	for _, v := range records {
		if err := o.fn.ProcessElement(o.ctx, v, o.batch); err != nil {
			raise(err)
		}
	}
	o.leave(p)
	o.batch.flush()
}

func (o *processOp[T, U]) Input(int) any { return Collector[T](o) }
func (o *processOp[T, U]) Collect(v T) {
	p := o.enter()
	if err := o.fn.ProcessElement(o.ctx, v, o.out); err != nil {
		raise(err)
	}
	o.leave(p)
}
func (o *processOp[T, U]) OnWatermark(t int64) (bool, error) {
	o.ctx.watermark = t
	return true, nil
}

func (o *processOp[T, U]) EndInput() error {
	return lifecycleFinish(&o.call, o.fn, o.ctx, o.out)
}
func (o *processOp[T, U]) Close(bool) error { return lifecycleClose(o.fn) }

// Union merges streams of the same type into one; records of each input keep
// their order, inputs interleave.
func Union[T any](first Stream[T], others ...Stream[T]) Stream[T] {
	j := first.job()
	n := j.add(&Node{Kind: OperatorNode, Name: "union",
		Out: exchange.OpsFor[T](), In: []exchange.Ops{exchange.OpsFor[T]()}})
	for _, s := range append([]Stream[T]{first}, others...) {
		if s.job() != j {
			j.fail("union of streams from different jobs")
		}
		connect(s, n, 0)
	}
	n.open = func(_ *Env, out any) (Instance, error) { return unionOp[T]{out: out.(Collector[T])}, nil }
	return Stream[T]{node: n}
}

type unionOp[T any] struct {
	stateless
	out Collector[T]
}

func (u unionOp[T]) Input(int) any { return u.out }

// Keyed is a stream partitioned by key: every record of one key goes to the
// subtask that owns the key's key group, where keyed state is scoped to it.
type Keyed[T any, K comparable] struct {
	stream Stream[T]
	key    func(T) K
	hash   func(K) uint64
}

// KeyBy partitions s by the key that key extracts. K must be a value type
// whose encoding is stable across processes (see keyspace.KeyHasher); a key
// type that is not is reported by Build.
func KeyBy[T any, K comparable](s Stream[T], key func(T) K) Keyed[T, K] {
	j := s.job()
	checkFunc(j, "key selector", key)
	hash, err := keyspace.KeyHasher[K]()
	if err != nil {
		j.fail("key by on the output of %q: %v", s.node.Name, err)
		hash = func(K) uint64 { return 0 }
	}
	s.keyHash = func(v T) uint64 { return hash(key(v)) }
	s.explicit = true
	return Keyed[T, K]{stream: s, key: key, hash: hash}
}

// KeyedProcessFunction processes the records of a keyed stream with keyed
// state. It may implement Opener[*KeyedContext[K]] to create state handles,
// Finisher[*KeyedContext[K], U] to emit final records when the input ended,
// and Closer.
type KeyedProcessFunction[K comparable, T, U any] interface {
	ProcessElement(ctx *KeyedContext[K], in T, out Collector[U]) error
}

// KeyedProcessFunc adapts a function to a KeyedProcessFunction.
type KeyedProcessFunc[K comparable, T, U any] func(ctx *KeyedContext[K], in T, out Collector[U]) error

// ProcessElement calls f.
func (f KeyedProcessFunc[K, T, U]) ProcessElement(ctx *KeyedContext[K], in T, out Collector[U]) error {
	return f(ctx, in, out)
}

// KeyedProcess applies fn to each record with the record's key current.
func KeyedProcess[K comparable, T, U any](k Keyed[T, K], name string, fn KeyedProcessFunction[K, T, U]) Stream[U] {
	checkFunc(k.stream.job(), name, fn)
	var out Stream[U]
	out = oneInput[T, U](k.stream, name, true, func(env *Env, o any) (Instance, error) {
		fn := perSubtask(fn)
		ctx, err := newKeyedContext(env, k.hash)
		if err != nil {
			return nil, err
		}
		op := &keyedOp[K, T, U]{call: newCall(env, out.node.ID), fn: fn, key: k.key,
			ctx: ctx, out: o.(Collector[U]), batch: newEmitter(o.(Collector[U]))}
		op.fire = timerFire(fn, op.ctx, op.out)
		if err := lifecycleOpen(&op.call, fn, op.ctx); err != nil {
			return nil, err
		}
		return op, nil
	})
	return out
}

func newKeyedContext[K comparable](env *Env, hash func(K) uint64) (*KeyedContext[K], error) {
	m := env.MaxParallelism
	group := func(h uint64) int { return keyspace.KeyGroupForHash(h, m) }
	if m&(m-1) == 0 {
		mask := uint64(m - 1) // the same key group without a division
		group = func(h uint64) int { return int(h & mask) }
	}
	var store *keyspace.KeyedStore[K]
	if env.Pebble != nil {
		var err error
		if store, err = keyspace.NewPebbleKeyedStore[K](env.Pebble, env.OperatorUID, m, env.KeyGroups); err != nil {
			return nil, err
		}
	} else {
		store = keyspace.NewHeapKeyedStore[K](m, env.KeyGroups)
	}
	c := &KeyedContext[K]{Context: *newContext(env), store: store, hash: hash, group: group}
	if err := c.checkpointed(); err != nil {
		store.Close()
		return nil, err
	}
	return c, nil
}

// checkpointed restores the context's keyed state and timers, when the run
// resumes from a snapshot, and makes them part of the node's snapshots.
func (c *KeyedContext[K]) checkpointed() error {
	env := c.env
	if err := restoreKeyed(env, c.store); err != nil {
		return err
	}
	var codecs timerCodecs[K, struct{}]
	if env.Restored != nil || env.Checkpointing {
		var err error
		if codecs, err = newTimerCodecs[K, struct{}](); err != nil {
			return err
		}
	}
	if env.Restored != nil {
		q := c.timerQueues()
		if err := codecs.restore(env, timersPart, q.event, q.processing); err != nil {
			return err
		}
		if next := q.processing.Next(); next != math.MaxInt64 && env.RequestProcessingTime != nil {
			env.RequestProcessingTime(next)
		}
	}
	env.onSnapshot(func(int64) ([]StatePart, error) {
		parts, err := snapshotKeyed(c.store)
		if err != nil || c.timers == nil {
			return parts, err
		}
		return append(parts, codecs.snapshot(timersPart, env.KeyGroups, c.timers.event, c.timers.processing)), nil
	})
	return nil
}

// StateStats reports the size of the keyed state.
func (c *KeyedContext[K]) StateStats() keyspace.Stats { return c.store.Stats() }

// CleanupExpired removes up to budget expired entries (state TTL).
func (c *KeyedContext[K]) CleanupExpired(budget int) int { return c.store.CleanupExpired(budget) }

// close releases the keyed store (flushing a Pebble store's writes).
func (c *KeyedContext[K]) close() error { return c.store.Close() }

// setKey makes k current in the keyed store.
func (c *KeyedContext[K]) setKey(k K) {
	c.store.SetCurrentKey(k, c.group(c.hash(k)))
}

type keyedOp[K comparable, T, U any] struct {
	call
	fire  func(ts int64) error
	fn    KeyedProcessFunction[K, T, U]
	key   func(T) K
	ctx   *KeyedContext[K]
	out   Collector[U]
	batch *emitter[U]
}

// CollectGroupedBatch takes a batch whose key groups the sender computed.
func (o *keyedOp[K, T, U]) CollectGroupedBatch(records []T, groups []uint16) {
	p := o.enter()
	store := o.ctx.store
	for i, v := range records {
		store.SetCurrentKey(o.key(v), int(groups[i]))
		if err := o.fn.ProcessElement(o.ctx, v, o.batch); err != nil {
			raise(err)
		}
	}
	o.leave(p)
	o.batch.flush()
}

func (o *keyedOp[K, T, U]) Input(int) any { return o }
func (o *keyedOp[K, T, U]) Collect(v T) {
	p := o.enter()
	o.ctx.setKey(o.key(v))
	o.process(v)
	o.leave(p)
}

// CollectInGroup takes a record whose key group the sender computed.
func (o *keyedOp[K, T, U]) CollectInGroup(v T, group int) {
	p := o.enter()
	o.ctx.store.SetCurrentKey(o.key(v), group)
	o.process(v)
	o.leave(p)
}

func (o *keyedOp[K, T, U]) process(v T) {
	if err := o.fn.ProcessElement(o.ctx, v, o.out); err != nil {
		raise(err)
	}
}
func (o *keyedOp[K, T, U]) OnWatermark(t int64) (bool, error) {
	p := o.enter()
	defer o.leave(p)
	return true, o.ctx.onWatermark(t, o.fire)
}

func (o *keyedOp[K, T, U]) OnProcessingTime(now int64) error {
	p := o.enter()
	defer o.leave(p)
	return o.ctx.onProcessingTime(now, o.fire)
}

func (o *keyedOp[K, T, U]) EndInput() error {
	return lifecycleFinish(&o.call, o.fn, o.ctx, o.out)
}
func (o *keyedOp[K, T, U]) Close(bool) error {
	return errors.Join(lifecycleClose(o.fn), o.ctx.close())
}

func (o *keyedOp[K, T, U]) StateStats() keyspace.Stats { return o.ctx.StateStats() }
func (o *keyedOp[K, T, U]) CleanupExpired(n int) int   { return o.ctx.CleanupExpired(n) }

// Reduce emits, for every record, the running reduction of all records of
// its key so far (Flink's rolling reduce).
func Reduce[K comparable, T any](k Keyed[T, K], name string, fn func(acc, in T) T) Stream[T] {
	checkFunc(k.stream.job(), name, fn)
	return KeyedProcess(k, name, &reducer[K, T]{fn: fn})
}

type reducer[K comparable, T any] struct {
	fn  func(acc, in T) T
	acc keyspace.ValueState[T]
}

func (r *reducer[K, T]) Open(ctx *KeyedContext[K]) (err error) {
	r.acc, err = keyspace.NewValueState[K, T](ctx.State(), "reduce")
	return err
}

func (r *reducer[K, T]) ProcessElement(_ *KeyedContext[K], in T, out Collector[T]) error {
	if acc, ok := r.acc.Value(); ok {
		in = r.fn(acc, in)
	}
	r.acc.Update(in)
	out.Collect(in)
	return nil
}

// Connected is a pair of streams processed together by one two-input
// function; records of each input keep their order.
type Connected[A, B any] struct {
	a Stream[A]
	b Stream[B]
}

// Connect pairs two streams for CoProcess.
func Connect[A, B any](a Stream[A], b Stream[B]) Connected[A, B] {
	if a.job() != b.job() {
		a.job().fail("connect of streams from different jobs")
	}
	return Connected[A, B]{a: a, b: b}
}

// CoProcessFunction processes the records of two inputs.
type CoProcessFunction[A, B, U any] interface {
	ProcessElement1(ctx *Context, in A, out Collector[U]) error
	ProcessElement2(ctx *Context, in B, out Collector[U]) error
}

// CoProcess applies fn to the two connected streams.
func CoProcess[A, B, U any](c Connected[A, B], name string, fn CoProcessFunction[A, B, U]) Stream[U] {
	j := c.a.job()
	checkFunc(j, name, fn)
	n := twoInput[A, B, U](c.a, c.b, name, false)
	n.open = func(env *Env, o any) (Instance, error) {
		fn := perSubtask(fn)
		op := &coOp[*Context, U]{call: newCall(env, n.ID), fn: fn, ctx: newContext(env), out: o.(Collector[U])}
		op.in1 = coInput[A]{op: &op.call, fn: func(v A) error { return fn.ProcessElement1(op.ctx, v, op.out) }}
		op.in2 = coInput[B]{op: &op.call, fn: func(v B) error { return fn.ProcessElement2(op.ctx, v, op.out) }}
		op.onWM = func(t int64) error { op.ctx.watermark = t; return nil }
		if err := lifecycleOpen(&op.call, fn, op.ctx); err != nil {
			return nil, err
		}
		return op, nil
	}
	return Stream[U]{node: n}
}

func twoInput[A, B, U any](a Stream[A], b Stream[B], name string, keyed bool) *Node {
	n := a.job().add(&Node{Kind: OperatorNode, Name: name, Keyed: keyed, Out: exchange.OpsFor[U](),
		In: []exchange.Ops{exchange.OpsFor[A](), exchange.OpsFor[B]()}})
	connect(a, n, 0)
	connect(b, n, 1)
	return n
}

// coOp is the instance of a two-input operator; C is its context type.
type coOp[C any, U any] struct {
	call
	fn       any
	ctx      C
	out      Collector[U]
	in1, in2 any
	onWM     func(t int64) error
	onPT     func(now int64) error
	state    interface { // keyed state, for keyed operators
		StateStats() keyspace.Stats
		CleanupExpired(int) int
		close() error
	}
}

func (o *coOp[C, U]) StateStats() keyspace.Stats {
	if o.state == nil {
		return keyspace.Stats{}
	}
	return o.state.StateStats()
}

func (o *coOp[C, U]) CleanupExpired(n int) int {
	if o.state == nil {
		return 0
	}
	return o.state.CleanupExpired(n)
}

func (o *coOp[C, U]) OnWatermark(t int64) (bool, error) {
	p := o.enter()
	defer o.leave(p)
	return true, o.onWM(t)
}

func (o *coOp[C, U]) OnProcessingTime(now int64) error {
	if o.onPT == nil {
		return nil
	}
	p := o.enter()
	defer o.leave(p)
	return o.onPT(now)
}

func (o *coOp[C, U]) Input(i int) any {
	if i == 0 {
		return o.in1
	}
	return o.in2
}
func (o *coOp[C, U]) EndInput() error { return lifecycleFinish(&o.call, o.fn, o.ctx, o.out) }
func (o *coOp[C, U]) Close(bool) error {
	err := lifecycleClose(o.fn)
	if o.state != nil {
		err = errors.Join(err, o.state.close())
	}
	return err
}

// coInput is one input of a two-input operator.
type coInput[T any] struct {
	op *call
	fn func(T) error
}

func (c coInput[T]) Collect(v T) {
	p := c.op.enter()
	if err := c.fn(v); err != nil {
		raise(err)
	}
	c.op.leave(p)
}

// keyedCoInput is one input of a keyed two-input operator.
type keyedCoInput[K comparable, T any] struct {
	coInput[T]
	ctx *KeyedContext[K]
	key func(T) K
}

func (c keyedCoInput[K, T]) Collect(v T) {
	p := c.op.enter()
	c.ctx.setKey(c.key(v))
	c.op.leave(p)
	c.coInput.Collect(v)
}

func (c keyedCoInput[K, T]) CollectInGroup(v T, group int) {
	p := c.op.enter()
	c.ctx.store.SetCurrentKey(c.key(v), group)
	c.op.leave(p)
	c.coInput.Collect(v)
}

// openKeyedCoOp finishes opening a keyed two-input operator: its timers fire
// through fn's OnTimer, its keyed state is reported and closed with it, and
// fn's Open runs.
func openKeyedCoOp[K comparable, U any](op *coOp[*KeyedContext[K], U], fn any, ctx *KeyedContext[K]) (Instance, error) {
	fire := timerFire(fn, ctx, op.out)
	op.onWM = func(t int64) error { return ctx.onWatermark(t, fire) }
	op.onPT = func(now int64) error { return ctx.onProcessingTime(now, fire) }
	op.state = ctx
	if err := lifecycleOpen(&op.call, fn, ctx); err != nil {
		return nil, err
	}
	return op, nil
}

// KeyedConnected is a pair of streams keyed by the same key type, processed
// together with keyed state shared by both inputs (the building block of
// joins).
type KeyedConnected[A, B any, K comparable] struct {
	a Keyed[A, K]
	b Keyed[B, K]
}

// ConnectKeyed pairs two keyed streams for KeyedCoProcess.
func ConnectKeyed[A, B any, K comparable](a Keyed[A, K], b Keyed[B, K]) KeyedConnected[A, B, K] {
	if a.stream.job() != b.stream.job() {
		a.stream.job().fail("connect of streams from different jobs")
	}
	return KeyedConnected[A, B, K]{a: a, b: b}
}

// KeyedCoProcessFunction processes the records of two keyed inputs with the
// record's key current.
type KeyedCoProcessFunction[K comparable, A, B, U any] interface {
	ProcessElement1(ctx *KeyedContext[K], in A, out Collector[U]) error
	ProcessElement2(ctx *KeyedContext[K], in B, out Collector[U]) error
}

// KeyedCoProcess applies fn to two keyed streams.
func KeyedCoProcess[K comparable, A, B, U any](c KeyedConnected[A, B, K], name string, fn KeyedCoProcessFunction[K, A, B, U]) Stream[U] {
	checkFunc(c.a.stream.job(), name, fn)
	n := twoInput[A, B, U](c.a.stream, c.b.stream, name, true)
	n.open = func(env *Env, o any) (Instance, error) {
		fn := perSubtask(fn)
		ctx, err := newKeyedContext(env, c.a.hash)
		if err != nil {
			return nil, err
		}
		op := &coOp[*KeyedContext[K], U]{call: newCall(env, n.ID), fn: fn, ctx: ctx, out: o.(Collector[U])}
		op.in1 = keyedCoInput[K, A]{ctx: ctx, key: c.a.key, coInput: coInput[A]{op: &op.call,
			fn: func(v A) error { return fn.ProcessElement1(ctx, v, op.out) }}}
		op.in2 = keyedCoInput[K, B]{ctx: ctx, key: c.b.key, coInput: coInput[B]{op: &op.call,
			fn: func(v B) error { return fn.ProcessElement2(ctx, v, op.out) }}}
		return openKeyedCoOp(op, fn, ctx)
	}
	return Stream[U]{node: n}
}
