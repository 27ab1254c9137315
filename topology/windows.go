package topology

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/floestream/floe/keyspace"
	"github.com/floestream/floe/timers"
)

// Windowed is a keyed stream grouped into windows. Configure it with
// Trigger, AllowedLateness and SideOutputLateData, then apply a window
// function: WindowReduce, WindowAggregate, WindowProcess or their
// combinations with a ProcessWindowFunction. Semantics follow Flink's
// WindowOperator.
type Windowed[T any, K comparable, W timers.Window] struct {
	keyed    Keyed[T, K]
	assigner timers.Assigner[W]
	trigger  timers.Trigger[W]
	lateness int64
	lateTag  string
}

// Window groups the records of each key into windows by assigner.
func Window[T any, K comparable, W timers.Window](k Keyed[T, K], assigner timers.Assigner[W]) Windowed[T, K, W] {
	if assigner == nil {
		k.stream.job().fail("window on %q has no assigner", k.stream.node.Name)
	}
	return Windowed[T, K, W]{keyed: k, assigner: assigner}
}

// Trigger replaces the assigner's default trigger.
func (w Windowed[T, K, W]) Trigger(t timers.Trigger[W]) Windowed[T, K, W] {
	w.trigger = t
	return w
}

// AllowedLateness keeps a window's contents for d after the watermark passed
// its end; a late record within it fires the window again.
func (w Windowed[T, K, W]) AllowedLateness(d time.Duration) Windowed[T, K, W] {
	w.lateness = d.Milliseconds()
	return w
}

// SideOutputLateData sends records too late for every window they belong to
// to the side output tag (read it with SideOutput on the window's result).
func (w Windowed[T, K, W]) SideOutputLateData(tag OutputTag[T]) Windowed[T, K, W] {
	w.lateTag = tag.name
	return w
}

// WindowContext is what a ProcessWindowFunction learns: the key (through the
// embedded KeyedContext, with watermark, processing time and side outputs)
// and the window being evaluated.
type WindowContext[K comparable, W timers.Window] struct {
	*KeyedContext[K]
	window W
}

// Window returns the window being evaluated.
func (c *WindowContext[K, W]) Window() W { return c.window }

// ProcessWindowFunction evaluates a window: elements are its contents (the
// records for WindowProcess, the single pre-aggregated value when combined
// with a reduce or aggregate function). It must not keep elements.
type ProcessWindowFunction[IN, OUT any, K comparable, W timers.Window] interface {
	Process(ctx *WindowContext[K, W], elements []IN, out Collector[OUT]) error
}

// ProcessWindowFunc adapts a function to a ProcessWindowFunction.
type ProcessWindowFunc[IN, OUT any, K comparable, W timers.Window] func(ctx *WindowContext[K, W], elements []IN, out Collector[OUT]) error

// Process calls f.
func (f ProcessWindowFunc[IN, OUT, K, W]) Process(ctx *WindowContext[K, W], elements []IN, out Collector[OUT]) error {
	return f(ctx, elements, out)
}

// contents says how a window keeps what it was given: an accumulator of type
// ACC built record by record, merged when windows merge, and turned into the
// window's output by emit.
type contents[T, ACC, OUT any, K comparable, W timers.Window] struct {
	create func() ACC
	add    func(v T, acc ACC) ACC
	merge  func(a, b ACC) ACC
	emit   func(ctx *WindowContext[K, W], acc ACC, out Collector[OUT]) error
}

// reduced is the accumulator of a reduce: the value so far, if any.
type reduced[T any] struct {
	V  T
	OK bool
}

func reduceContents[T, OUT any, K comparable, W timers.Window](reduce func(a, b T) T,
	emit func(*WindowContext[K, W], T, Collector[OUT]) error) contents[T, reduced[T], OUT, K, W] {
	add := func(v T, acc reduced[T]) reduced[T] {
		if acc.OK {
			v = reduce(acc.V, v)
		}
		return reduced[T]{v, true}
	}
	return contents[T, reduced[T], OUT, K, W]{
		create: func() reduced[T] { return reduced[T]{} },
		add:    add,
		merge: func(a, b reduced[T]) reduced[T] {
			if !b.OK {
				return a
			}
			return add(b.V, a)
		},
		emit: func(ctx *WindowContext[K, W], acc reduced[T], out Collector[OUT]) error {
			if !acc.OK {
				return nil
			}
			return emit(ctx, acc.V, out)
		},
	}
}

// WindowReduce folds each window's records with reduce and emits the result
// when the window fires.
func WindowReduce[T any, K comparable, W timers.Window](w Windowed[T, K, W], name string, reduce func(a, b T) T) Stream[T] {
	checkFunc(w.keyed.stream.job(), name, reduce)
	return windowOperator(w, name, reduceContents(reduce,
		func(_ *WindowContext[K, W], v T, out Collector[T]) error { out.Collect(v); return nil }))
}

// WindowReduceProcess folds each window's records with reduce and hands the
// result, with the window, to fn when the window fires.
func WindowReduceProcess[T, OUT any, K comparable, W timers.Window](w Windowed[T, K, W], name string,
	reduce func(a, b T) T, fn ProcessWindowFunction[T, OUT, K, W]) Stream[OUT] {
	checkFunc(w.keyed.stream.job(), name, reduce)
	checkFunc(w.keyed.stream.job(), name, fn)
	return windowOperator(w, name, reduceContents(reduce,
		func(ctx *WindowContext[K, W], v T, out Collector[OUT]) error {
			return fn.Process(ctx, []T{v}, out)
		}))
}

func aggregateContents[T, ACC, V, OUT any, K comparable, W timers.Window](agg keyspace.AggregateFunction[T, ACC, V],
	emit func(*WindowContext[K, W], V, Collector[OUT]) error) contents[T, ACC, OUT, K, W] {
	return contents[T, ACC, OUT, K, W]{
		create: agg.CreateAccumulator,
		add:    agg.Add,
		merge:  agg.Merge,
		emit: func(ctx *WindowContext[K, W], acc ACC, out Collector[OUT]) error {
			return emit(ctx, agg.Result(acc), out)
		},
	}
}

// WindowAggregate aggregates each window's records incrementally with agg
// and emits agg's result when the window fires.
func WindowAggregate[T, ACC, V any, K comparable, W timers.Window](w Windowed[T, K, W], name string,
	agg keyspace.AggregateFunction[T, ACC, V]) Stream[V] {
	checkFunc(w.keyed.stream.job(), name, agg)
	return windowOperator(w, name, aggregateContents(agg,
		func(_ *WindowContext[K, W], v V, out Collector[V]) error { out.Collect(v); return nil }))
}

// WindowAggregateProcess aggregates each window's records incrementally with
// agg and hands the result, with the window, to fn when the window fires.
func WindowAggregateProcess[T, ACC, V, OUT any, K comparable, W timers.Window](w Windowed[T, K, W], name string,
	agg keyspace.AggregateFunction[T, ACC, V], fn ProcessWindowFunction[V, OUT, K, W]) Stream[OUT] {
	checkFunc(w.keyed.stream.job(), name, agg)
	checkFunc(w.keyed.stream.job(), name, fn)
	return windowOperator(w, name, aggregateContents(agg,
		func(ctx *WindowContext[K, W], v V, out Collector[OUT]) error {
			return fn.Process(ctx, []V{v}, out)
		}))
}

// WindowProcess keeps each window's records and hands them all to fn when
// the window fires.
func WindowProcess[T, OUT any, K comparable, W timers.Window](w Windowed[T, K, W], name string,
	fn ProcessWindowFunction[T, OUT, K, W]) Stream[OUT] {
	checkFunc(w.keyed.stream.job(), name, fn)
	return windowOperator(w, name, contents[T, []T, OUT, K, W]{
		create: func() []T { return nil },
		add:    func(v T, acc []T) []T { return append(acc, v) },
		merge:  func(a, b []T) []T { return append(a, b...) },
		emit: func(ctx *WindowContext[K, W], acc []T, out Collector[OUT]) error {
			return fn.Process(ctx, acc, out)
		},
	})
}

func windowOperator[T, ACC, OUT any, K comparable, W timers.Window](w Windowed[T, K, W], name string,
	c contents[T, ACC, OUT, K, W]) Stream[OUT] {
	k := w.keyed
	trigger := w.trigger
	if trigger == nil && w.assigner != nil {
		trigger = w.assigner.DefaultTrigger()
	}
	var out Stream[OUT]
	out = oneInput[T, OUT](k.stream, name, true, func(env *Env, o any) (Instance, error) {
		ctx, err := newKeyedContext(env, k.hash)
		if err != nil {
			return nil, err
		}
		op := &windowOp[T, ACC, OUT, K, W]{
			call: newCall(env, out.node.ID), env: env, key: k.key, ctx: ctx,
			wctx: &WindowContext[K, W]{KeyedContext: ctx}, out: o.(Collector[OUT]),
			assigner: w.assigner, trigger: trigger, lateness: w.lateness, contents: c,
			eventTimers: timers.NewQueue[K, W](), procTimers: timers.NewQueue[K, W](),
		}
		op.merging, _ = w.assigner.(timers.MergingAssigner[W])
		op.plainEventTime = timers.IsEventTimeTrigger(trigger)
		if w.lateTag != "" {
			op.late, _ = env.Sides[w.lateTag].(Collector[T])
		}
		if op.merging != nil || ctx.store.Backend() != "heap" {
			// Key-major tables in keyed state: what merging windows need,
			// and what lets windows live in a backend other than the heap.
			state, err := keyspace.NewMapState[K, W, ACC](ctx.store, "window-contents")
			if err != nil {
				return nil, err
			}
			counts, err := keyspace.NewMapState[K, W, int64](ctx.store, "window-trigger-counts")
			if err != nil {
				return nil, err
			}
			op.state, op.counts = keyMajor[K, W, ACC]{state}, keyMajor[K, W, int64]{counts}
		} else {
			op.fast = newWindowMajor[K, W, ACC]()
			op.state = op.fast
			counts, err := keyspace.NewMapState[K, W, int64](ctx.store, "window-trigger-counts")
			if err != nil {
				return nil, err
			}
			op.counts = keyMajor[K, W, int64]{counts}
			// The default event-time trigger on windows that do not merge
			// fires every key of a window at the same watermark: the
			// watermark fires and drops whole windows, no timers needed.
			op.byWatermark = op.plainEventTime && w.assigner.EventTime()
			op.enableSlicing()
			op.sliceIndex = map[K]int{}
		}
		op.tctx = &triggerContext[T, ACC, OUT, K, W]{op: op}
		if err := op.checkpointed(); err != nil {
			return nil, err
		}
		return op, nil
	})
	if w.lateTag != "" {
		SideOutput(out, OutputTag[T]{name: w.lateTag})
	}
	out.node.Timestamped = true
	return out
}

// windowOp is Flink's WindowOperator: it assigns each record to windows,
// keeps their contents per key and window, asks the trigger what to do, and
// clears a window's state once the watermark passes its end plus the allowed
// lateness.
type windowOp[T, ACC, OUT any, K comparable, W timers.Window] struct {
	call
	env      *Env
	key      func(T) K
	ctx      *KeyedContext[K]
	wctx     *WindowContext[K, W]
	out      Collector[OUT]
	late     Collector[T]
	assigner timers.Assigner[W]
	merging  timers.MergingAssigner[W]
	trigger  timers.Trigger[W]
	lateness int64
	contents contents[T, ACC, OUT, K, W]
	state    windowTable[K, W, ACC]
	fast     *windowMajor[K, W, ACC] // state, when it is window-major
	counts   windowTable[K, W, int64]
	tctx     *triggerContext[T, ACC, OUT, K, W]

	plainEventTime bool // the trigger is timers.EventTimeTrigger
	byWatermark    bool // windows fire and go by the watermark; see fireWindows

	eventTimers *timers.Queue[K, W]
	procTimers  *timers.Queue[K, W]
	windows     []W // reused by Assign

	// slices is set in slice mode (see slicing); sliceIndex and sliceAccs
	// are reused while a window fires.
	slices     *slicing
	sliceIndex map[K]int
	sliceAccs  []slicedAcc[K, ACC]
}

func (o *windowOp[T, ACC, OUT, K, W]) Input(int) any { return o }

func (o *windowOp[T, ACC, OUT, K, W]) Collect(v T) {
	p := o.enter()
	o.ctx.setKey(o.key(v))
	o.process(v)
	o.leave(p)
}

func (o *windowOp[T, ACC, OUT, K, W]) CollectInGroup(v T, group int) {
	p := o.enter()
	o.ctx.store.SetCurrentKey(o.key(v), group)
	o.process(v)
	o.leave(p)
}

func (o *windowOp[T, ACC, OUT, K, W]) CollectBatch(records []T) {
	for _, v := range records {
		o.Collect(v)
	}
}

var errNoTimestamp = errors.New("an event-time window got a record without a timestamp: " +
	"give the stream timestamps with topology.AssignTimestamps before the window")

func (o *windowOp[T, ACC, OUT, K, W]) process(v T) {
	ts := *o.env.Timestamp
	eventTime := o.assigner.EventTime()
	if eventTime && ts == NoTimestamp {
		raise(errNoTimestamp)
	}
	var now int64
	if !eventTime {
		now = o.env.ProcessingTime()
	}
	if o.slices != nil {
		o.processSliced(v, ts)
		return
	}
	windows := o.assigner.Assign(o.windows[:0], ts, now)
	o.windows = windows
	if o.merging != nil {
		windows = o.mergeInto(windows)
	}
	skipped := true
	for _, w := range windows {
		if o.windowLate(w) {
			continue
		}
		skipped = false
		acc, existed := o.addTo(w, v)
		o.tctx.window = w
		var res timers.TriggerResult
		if (existed || o.byWatermark) && o.plainEventTime && w.MaxTimestamp() > o.ctx.watermark {
			// The event-time trigger registered its timer when the window's
			// state was created; asking it again would only find the timer
			// there (a map look-up per record) and say Continue.
			res = timers.Continue
		} else {
			res = o.trigger.OnElement(ts, w, o.tctx)
		}
		if res.Fires() {
			o.emit(w, acc)
		}
		if res.Purges() {
			o.state.remove(o.curKey(), w)
		}
		if !existed && !o.byWatermark {
			// The cleanup timer goes with the window's state: registered
			// when the state is created, and still in place while it lives.
			o.registerCleanup(w)
		}
	}
	if skipped && eventTime && ts+o.lateness <= o.ctx.watermark && o.late != nil {
		o.late.Collect(v) // keeps its timestamp
	}
}

// addTo adds v to the contents of window w of the current key, and says
// whether the window had contents before.
func (o *windowOp[T, ACC, OUT, K, W]) addTo(w W, v T) (ACC, bool) {
	k := o.curKey()
	if o.fast != nil {
		p, existed := o.fast.ref(k, o.ctx.store.CurrentKeyGroup(), w)
		if !existed {
			*p = o.contents.create()
		}
		*p = o.contents.add(v, *p)
		return *p, existed
	}
	acc, existed := o.state.get(k, w)
	if !existed {
		acc = o.contents.create()
	}
	acc = o.contents.add(v, acc)
	o.state.put(k, w, acc)
	return acc, existed
}

// mergeInto merges the new windows with the key's existing ones (sessions)
// and returns the windows the record goes to.
func (o *windowOp[T, ACC, OUT, K, W]) mergeInto(fresh []W) []W {
	existing := map[W]bool{}
	var all []W
	for w := range o.state.windows(o.curKey()) {
		existing[w] = true
		all = append(all, w)
	}
	for _, w := range fresh {
		if !existing[w] {
			all = append(all, w)
		}
	}
	target := make(map[W]W, len(fresh)) // fresh window → window it went into
	for _, w := range fresh {
		target[w] = w
	}
	for _, m := range o.merging.Merge(all) {
		var acc ACC
		have, count := false, int64(0)
		for _, part := range m.Parts {
			if target[part] == part {
				target[part] = m.Result
			}
			if !existing[part] {
				continue
			}
			a, _ := o.state.get(o.curKey(), part)
			if have {
				acc = o.contents.merge(acc, a)
			} else {
				acc, have = a, true
			}
			n, _ := o.counts.get(o.curKey(), part)
			count += n
			if part != m.Result {
				o.tctx.window = part
				o.trigger.Clear(part, o.tctx)
				o.deleteCleanup(part)
				o.state.remove(o.curKey(), part)
				o.counts.remove(o.curKey(), part)
			}
		}
		if have {
			o.state.put(o.curKey(), m.Result, acc)
			o.registerCleanup(m.Result)
		}
		if count > 0 {
			o.counts.put(o.curKey(), m.Result, count)
		}
		o.tctx.window = m.Result
		o.trigger.OnMerge(m.Result, o.tctx)
	}
	out := fresh[:0]
	for w := range target {
		out = append(out, target[w])
	}
	return out
}

// cleanupTime is when a window's state goes: the end of its allowed
// lateness in event time, its end in processing time.
func (o *windowOp[T, ACC, OUT, K, W]) cleanupTime(w W) int64 {
	t := w.MaxTimestamp()
	if !o.assigner.EventTime() {
		return t
	}
	if t > math.MaxInt64-o.lateness {
		return math.MaxInt64
	}
	return t + o.lateness
}

func (o *windowOp[T, ACC, OUT, K, W]) windowLate(w W) bool {
	return o.assigner.EventTime() && o.cleanupTime(w) <= o.ctx.watermark
}

func (o *windowOp[T, ACC, OUT, K, W]) curKey() K { return o.ctx.store.CurrentKey() }

func (o *windowOp[T, ACC, OUT, K, W]) timer(t int64, w W) timers.Timer[K, W] {
	return timers.Timer[K, W]{Time: t, Key: o.ctx.store.CurrentKey(), Namespace: w, KeyGroup: o.ctx.store.CurrentKeyGroup()}
}

func (o *windowOp[T, ACC, OUT, K, W]) registerCleanup(w W) {
	t := o.cleanupTime(w)
	if t == math.MaxInt64 {
		return // global windows live for ever
	}
	if o.assigner.EventTime() {
		o.eventTimers.Register(o.timer(t, w))
	} else {
		o.registerProcessingTimer(o.timer(t, w))
	}
}

func (o *windowOp[T, ACC, OUT, K, W]) deleteCleanup(w W) {
	t := o.cleanupTime(w)
	if o.assigner.EventTime() {
		o.eventTimers.Delete(o.timer(t, w))
	} else {
		o.procTimers.Delete(o.timer(t, w))
	}
}

func (o *windowOp[T, ACC, OUT, K, W]) registerProcessingTimer(t timers.Timer[K, W]) {
	if o.procTimers.Register(t) {
		o.env.RequestProcessingTime(o.procTimers.Next())
	}
}

// emit evaluates window w with its contents; what it emits carries the
// window's last timestamp, as in Flink.
func (o *windowOp[T, ACC, OUT, K, W]) emit(w W, acc ACC) {
	*o.env.Timestamp = w.MaxTimestamp()
	o.wctx.window = w
	if err := o.contents.emit(o.wctx, acc, o.out); err != nil {
		raise(err)
	}
}

// onTimer runs a window timer with its key current: the trigger decides on
// firing, and the window's state goes once its cleanup time is reached.
func (o *windowOp[T, ACC, OUT, K, W]) onTimer(t timers.Timer[K, W], domain TimeDomain) {
	o.ctx.store.SetCurrentKey(t.Key, t.KeyGroup)
	w := t.Namespace
	o.tctx.window = w
	if acc, ok := o.state.get(o.curKey(), w); ok {
		var res timers.TriggerResult
		if domain == EventTime {
			res = o.trigger.OnEventTime(t.Time, w, o.tctx)
		} else {
			res = o.trigger.OnProcessingTime(t.Time, w, o.tctx)
		}
		if res.Fires() {
			o.emit(w, acc)
		}
		if res.Purges() {
			o.state.remove(o.curKey(), w)
		}
	}
	if (domain == EventTime) == o.assigner.EventTime() && t.Time == o.cleanupTime(w) {
		o.state.remove(o.curKey(), w)
		o.counts.remove(o.curKey(), w)
		o.tctx.window = w
		o.trigger.Clear(w, o.tctx)
	}
}

// OnWatermark fires the event-time timers the watermark passed.
func (o *windowOp[T, ACC, OUT, K, W]) OnWatermark(wm int64) (bool, error) {
	p := o.enter()
	defer o.leave(p)
	o.ctx.watermark = wm
	switch {
	case o.slices != nil:
		o.fireSliced(wm)
	case o.byWatermark:
		o.fireWindows(wm)
	}
	for {
		t, ok := o.eventTimers.PopDue(wm)
		if !ok {
			return true, nil
		}
		o.onTimer(t, EventTime)
	}
}

// fireWindows does for window-major state what the event-time trigger and
// the cleanup timers would do per key: windows whose end the watermark
// reached fire for every key, in the order of their ends, and windows whose
// allowed lateness is over are dropped whole.
func (o *windowOp[T, ACC, OUT, K, W]) fireWindows(wm int64) {
	var due []W
	for w, wk := range o.fast.byWindow {
		if (!wk.fired && w.MaxTimestamp() <= wm) || o.cleanupTime(w) <= wm {
			due = append(due, w)
		}
	}
	slices.SortFunc(due, func(a, b W) int { return cmp.Compare(a.MaxTimestamp(), b.MaxTimestamp()) })
	for _, w := range due {
		wk := o.fast.byWindow[w]
		if !wk.fired && w.MaxTimestamp() <= wm {
			wk.fired = true
			for s := range wk.live() {
				o.ctx.store.SetCurrentKey(s.key, int(s.group))
				o.emit(w, s.v)
			}
		}
		if o.cleanupTime(w) <= wm {
			o.fast.drop(w)
		}
	}
}

// OnProcessingTime fires the processing-time timers that are due.
func (o *windowOp[T, ACC, OUT, K, W]) OnProcessingTime(now int64) error {
	p := o.enter()
	defer o.leave(p)
	for {
		t, ok := o.procTimers.PopDue(now)
		if !ok {
			break
		}
		o.onTimer(t, ProcessingTime)
	}
	if next := o.procTimers.Next(); next != math.MaxInt64 {
		o.env.RequestProcessingTime(next)
	}
	return nil
}

func (o *windowOp[T, ACC, OUT, K, W]) EndInput() error { return nil }

// Close releases the keyed store (a Pebble store gives its key groups back).
func (o *windowOp[T, ACC, OUT, K, W]) Close(_ bool) error { return o.ctx.close() }

// triggerContext gives a trigger the timers and counter of one key and
// window.
type triggerContext[T, ACC, OUT any, K comparable, W timers.Window] struct {
	op     *windowOp[T, ACC, OUT, K, W]
	window W
}

func (c *triggerContext[T, ACC, OUT, K, W]) CurrentWatermark() int64 { return c.op.ctx.watermark }
func (c *triggerContext[T, ACC, OUT, K, W]) CurrentProcessingTime() int64 {
	return c.op.env.ProcessingTime()
}
func (c *triggerContext[T, ACC, OUT, K, W]) RegisterEventTimeTimer(t int64) {
	c.op.eventTimers.Register(c.op.timer(t, c.window))
}
func (c *triggerContext[T, ACC, OUT, K, W]) DeleteEventTimeTimer(t int64) {
	c.op.eventTimers.Delete(c.op.timer(t, c.window))
}
func (c *triggerContext[T, ACC, OUT, K, W]) RegisterProcessingTimeTimer(t int64) {
	c.op.registerProcessingTimer(c.op.timer(t, c.window))
}
func (c *triggerContext[T, ACC, OUT, K, W]) DeleteProcessingTimeTimer(t int64) {
	c.op.procTimers.Delete(c.op.timer(t, c.window))
}
func (c *triggerContext[T, ACC, OUT, K, W]) AddCount(delta int64) int64 {
	k := c.op.curKey()
	n, _ := c.op.counts.get(k, c.window)
	n += delta
	c.op.counts.put(k, c.window, n)
	return n
}
func (c *triggerContext[T, ACC, OUT, K, W]) ClearCount() { c.op.counts.remove(c.op.curKey(), c.window) }

// windowTimersPart is the part holding a window operator's timers.
const windowTimersPart = "window-timers"

// checkpointed restores the operator's timers and window-major table when
// the run resumes from a snapshot, and makes them part of its snapshots
// (keyed state is the keyed context's).
func (o *windowOp[T, ACC, OUT, K, W]) checkpointed() error {
	env := o.env
	if env.Restored == nil && !env.Checkpointing {
		return nil
	}
	codecs, err := newTimerCodecs[K, W]()
	if err != nil {
		return err
	}
	var table windowTableCodec[K, W, ACC]
	if o.fast != nil {
		if table, err = newWindowTableCodec[K, W, ACC](); err != nil {
			return err
		}
	}
	if env.Restored != nil {
		if err := o.checkRestoredLayout(); err != nil {
			return err
		}
		if err := codecs.restore(env, windowTimersPart, o.eventTimers, o.procTimers); err != nil {
			return err
		}
		if next := o.procTimers.Next(); next != math.MaxInt64 && env.RequestProcessingTime != nil {
			env.RequestProcessingTime(next)
		}
		switch {
		case o.slices != nil:
			if err := o.restoreSlices(table); err != nil {
				return err
			}
		case o.fast != nil:
			if err := table.restore(env, o.fast); err != nil {
				return err
			}
		}
	}
	env.onSnapshot(func(int64) ([]StatePart, error) {
		parts := []StatePart{codecs.snapshot(windowTimersPart, env.KeyGroups, o.eventTimers, o.procTimers)}
		switch {
		case o.slices != nil:
			parts = append(parts, o.snapshotSlices(table))
		case o.fast != nil:
			parts = append(parts, table.snapshot(o.fast))
		}
		return parts, nil
	})
	return nil
}

// checkRestoredLayout refuses a snapshot whose window contents are laid out
// for another table: window-major tables (heap state, windows that do not
// merge) write a "windows" part, sliced ones a "slices" part, key-major
// ones keep contents in keyed state; restoring one into another would lose
// the windows.
func (o *windowOp[T, ACC, OUT, K, W]) checkRestoredLayout() error {
	windows, sliced := o.env.hasPart(windowsPart), o.env.hasPart(slicesPart)
	var took string
	switch {
	case windows:
		took = "in heap tables (taken with --state heap)"
	case sliced:
		took = "in heap slices (taken with --state heap)"
	default:
		took = "in keyed state (taken with --state pebble or merging windows)"
	}
	if (o.slices != nil) != sliced || (o.slices == nil && o.fast != nil) != windows {
		return fmt.Errorf("window operator %q: the snapshot keeps its windows %s; restore it with the same state backend and the same window settings", o.env.OperatorUID, took)
	}
	return nil
}

// windowTableCodec encodes a window-major table's values per key group.
type windowTableCodec[K comparable, W comparable, V any] struct {
	key keyspace.Codec[K]
	win keyspace.Codec[W]
	val keyspace.Codec[V]
}

func newWindowTableCodec[K comparable, W comparable, V any]() (windowTableCodec[K, W, V], error) {
	var c windowTableCodec[K, W, V]
	var err error
	if c.key, err = keyspace.CodecFor[K](); err == nil {
		if c.win, err = keyspace.CodecFor[W](); err == nil {
			c.val, err = keyspace.CodecFor[V]()
		}
	}
	if err != nil {
		return c, fmt.Errorf("window contents cannot be checkpointed: %w", err)
	}
	return c, nil
}

// snapshot encodes every live value of t, with its window's fired flag.
func (c windowTableCodec[K, W, V]) snapshot(t *windowMajor[K, W, V]) StatePart {
	g := keyspace.NewGroupedEntries(4)
	c.addEntries(g, t)
	return bytesPart(windowsPart, g.Bytes())
}

// addEntries adds an entry per live value of t: key, window, value, and
// its window's fired flag (0 or 1).
func (c windowTableCodec[K, W, V]) addEntries(g *keyspace.GroupedEntries, t *windowMajor[K, W, V]) {
	var key, win, val []byte
	for w, wk := range t.byWindow {
		win = c.win.Append(win[:0], w)
		fired := []byte{0}
		if wk.fired {
			fired[0] = 1
		}
		for sl := range wk.live() {
			key = c.key.Append(key[:0], sl.key)
			val = c.val.Append(val[:0], sl.v)
			g.Add(int(sl.group), key, win, val, fired)
		}
	}
}

// decodeEntry decodes the key, window and value of an entry addEntries
// wrote.
func (c windowTableCodec[K, W, V]) decodeEntry(f [][]byte) (k K, w W, v V, err error) {
	if k, err = c.key.Decode(f[0]); err != nil {
		return
	}
	if w, err = c.win.Decode(f[1]); err != nil {
		return
	}
	v, err = c.val.Decode(f[2])
	return
}

// restore loads the values of the env's key groups into t.
func (c windowTableCodec[K, W, V]) restore(env *Env, t *windowMajor[K, W, V]) error {
	return env.readParts(windowsPart, func(r io.Reader) error {
		return keyspace.ReadGroupedEntries(r, env.KeyGroups, func(kg int, f [][]byte) error {
			k, w, v, err := c.decodeEntry(f)
			if err != nil {
				return err
			}
			p, _ := t.ref(k, kg, w)
			*p = v
			if f[3][0] == 1 {
				t.window(w, false).fired = true
			}
			return nil
		})
	})
}
