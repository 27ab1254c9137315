package topology

import (
	"fmt"
	"math"

	"github.com/floestream/floe/connectors"
	"github.com/floestream/floe/timers"
)

// AssignTimestamps gives the records of s event timestamps and generates
// watermarks from them by strategy, as Flink's assignTimestampsAndWatermarks.
// Chained right after a source it generates them per source subtask.
// Watermarks from upstream stop here, except the final one of a bounded
// input.
func AssignTimestamps[T any](s Stream[T], strategy timers.WatermarkStrategy[T]) Stream[T] {
	j := s.job()
	if err := strategy.Validate(); err != nil {
		j.fail("timestamps of %q: %v", s.node.Name, err)
	}
	var out Stream[T]
	out = oneInput[T, T](s, "timestamps", false, func(env *Env, o any) (Instance, error) {
		return &assignerOp[T]{call: newCall(env, out.node.ID), env: env, strategy: strategy,
			gen: strategy.Generator(), out: o.(Collector[T])}, nil
	})
	out.node.Timestamped = true
	return out
}

type assignerOp[T any] struct {
	stateless
	call
	env       *Env
	strategy  timers.WatermarkStrategy[T]
	gen       *timers.Generator
	out       Collector[T]
	scheduled bool
}

func (a *assignerOp[T]) Input(int) any { return Collector[T](a) }

func (a *assignerOp[T]) Collect(v T) {
	p := a.enter()
	ts := a.strategy.Timestamp(v)
	a.leave(p)
	var now int64
	if a.strategy.Idleness() > 0 {
		now = a.env.ProcessingTime()
	}
	wm, emit, resumed := a.gen.OnRecord(ts, now)
	if resumed {
		a.env.EmitIdle(false)
	}
	*a.env.Timestamp = ts
	a.out.Collect(v)
	if emit {
		a.env.EmitWatermark(wm)
	}
	if !a.scheduled && (a.strategy.Interval() > 0 || a.strategy.Idleness() > 0) {
		a.scheduled = true
		a.env.RequestProcessingTime(a.env.ProcessingTime() + a.period())
	}
}

// CollectBatch takes the records one by one: each gets its own timestamp.
func (a *assignerOp[T]) CollectBatch(records []T) {
	for _, v := range records {
		a.Collect(v)
	}
}

func (a *assignerOp[T]) period() int64 {
	if d := a.strategy.Interval().Milliseconds(); d > 0 {
		return d
	}
	return max(a.strategy.Idleness().Milliseconds()/2, 1)
}

// OnWatermark stops upstream watermarks; only the end of input passes.
func (a *assignerOp[T]) OnWatermark(t int64) (bool, error) { return t == math.MaxInt64, nil }

// OnProcessingTime emits the periodic watermark and detects idleness.
func (a *assignerOp[T]) OnProcessingTime(now int64) error {
	wm, emit, idled := a.gen.OnPeriodic(now)
	if idled {
		a.env.EmitIdle(true)
	}
	if emit {
		a.env.EmitWatermark(wm)
	}
	a.env.RequestProcessingTime(now + a.period())
	return nil
}

// TimeDomain says what kind of timer fired.
type TimeDomain int

const (
	EventTime TimeDomain = iota
	ProcessingTime
)

func (d TimeDomain) String() string { return [...]string{"event-time", "processing-time"}[d] }

// TimerFunction is implemented by keyed functions that use timers: OnTimer
// is called with the timer's key current, the timer's time as the
// timestamp of what it emits, and ctx.TimeDomain saying which kind fired.
type TimerFunction[K comparable, U any] interface {
	OnTimer(ctx *KeyedContext[K], timestamp int64, out Collector[U]) error
}

// keyedTimers are the event-time and processing-time timers of a keyed
// operator instance, per key (the namespace is unused here).
type keyedTimers[K comparable] struct {
	event, processing *timers.Queue[K, struct{}]
	domain            TimeDomain
}

func (c *KeyedContext[K]) timerQueues() *keyedTimers[K] {
	if c.timers == nil {
		c.timers = &keyedTimers[K]{event: timers.NewQueue[K, struct{}](), processing: timers.NewQueue[K, struct{}]()}
	}
	return c.timers
}

func (c *KeyedContext[K]) timer(t int64) timers.Timer[K, struct{}] {
	return timers.Timer[K, struct{}]{Time: t, Key: c.store.CurrentKey(), KeyGroup: c.store.CurrentKeyGroup()}
}

// RegisterEventTimeTimer asks for OnTimer for the current key once the
// watermark reaches t. Registering the same time again is a no-op.
func (c *KeyedContext[K]) RegisterEventTimeTimer(t int64) { c.timerQueues().event.Register(c.timer(t)) }

// DeleteEventTimeTimer removes the current key's event-time timer at t.
func (c *KeyedContext[K]) DeleteEventTimeTimer(t int64) { c.timerQueues().event.Delete(c.timer(t)) }

// RegisterProcessingTimeTimer asks for OnTimer for the current key once
// processing time reaches t.
func (c *KeyedContext[K]) RegisterProcessingTimeTimer(t int64) {
	q := c.timerQueues().processing
	q.Register(c.timer(t))
	c.env.RequestProcessingTime(q.Next())
}

// DeleteProcessingTimeTimer removes the current key's processing-time timer at t.
func (c *KeyedContext[K]) DeleteProcessingTimeTimer(t int64) {
	c.timerQueues().processing.Delete(c.timer(t))
}

// TimeDomain says which kind of timer is firing (valid in OnTimer).
func (c *KeyedContext[K]) TimeDomain() TimeDomain { return c.timerQueues().domain }

// fireTimers fires the timers of q due at or before t, each with its key
// current and its time as the timestamp of what fn emits.
func fireTimers[K comparable](c *KeyedContext[K], q *timers.Queue[K, struct{}], domain TimeDomain, t int64,
	fire func(ts int64) error) error {
	c.timerQueues().domain = domain
	for {
		tm, ok := q.PopDue(t)
		if !ok {
			return nil
		}
		c.store.SetCurrentKey(tm.Key, tm.KeyGroup)
		*c.env.Timestamp = tm.Time
		if err := fire(tm.Time); err != nil {
			return err
		}
	}
}

// onWatermark advances the context's watermark and fires due event-time
// timers through fire.
func (c *KeyedContext[K]) onWatermark(t int64, fire func(ts int64) error) error {
	c.watermark = t
	if c.timers == nil {
		return nil
	}
	return fireTimers(c, c.timers.event, EventTime, t, fire)
}

// onProcessingTime fires due processing-time timers and asks for the next.
func (c *KeyedContext[K]) onProcessingTime(now int64, fire func(ts int64) error) error {
	if c.timers == nil {
		return nil
	}
	q := c.timers.processing
	if err := fireTimers(c, q, ProcessingTime, now, fire); err != nil {
		return err
	}
	if next := q.Next(); next != math.MaxInt64 {
		c.env.RequestProcessingTime(next)
	}
	return nil
}

// timerFire returns the function that calls fn.OnTimer, or an error
// function if fn has none while timers were registered.
func timerFire[K comparable, U any](fn any, ctx *KeyedContext[K], out Collector[U]) func(int64) error {
	if tf, ok := fn.(TimerFunction[K, U]); ok {
		return func(ts int64) error { return tf.OnTimer(ctx, ts, out) }
	}
	return func(int64) error {
		return fmt.Errorf("a timer fired but the function has no OnTimer(ctx, timestamp, out) method")
	}
}

// FromSourceWithWatermarks starts a stream from a source that assigns
// event timestamps and generates watermarks itself, per split, as Flink's
// fromSource(source, watermarkStrategy, name): a reader that reads several
// splits (see connectors.SplitOutput) gets a watermark per split, and the
// source's watermark is the minimum over its unfinished, non-idle splits.
func FromSourceWithWatermarks[T any](j *Job, name string, src connectors.Source[T], strategy timers.WatermarkStrategy[T]) Stream[T] {
	s := FromSource(j, name, src)
	if err := strategy.Validate(); err != nil {
		j.fail("watermarks of source %q: %v", name, err)
	}
	n := s.node
	n.Timestamped = true
	open := n.open
	n.open = func(env *Env, out any) (Instance, error) {
		inst, err := open(env, out)
		if err != nil {
			return nil, err
		}
		src := inst.(*sourceOp[T])
		w := &watermarkedSource[T]{sourceOp: src, env: env, nodeID: n.ID, strategy: strategy, out: out.(Collector[T]),
			splits: map[string]*splitWatermark[T]{}, watermark: timers.MinWatermark}
		return w, nil
	}
	return s
}

// watermarkedSource is a source that stamps its records and tracks a
// watermark generator per split.
type watermarkedSource[T any] struct {
	*sourceOp[T]
	env       *Env
	nodeID    int
	strategy  timers.WatermarkStrategy[T]
	out       Collector[T]
	splits    map[string]*splitWatermark[T]
	watermark int64 // the last emitted
	idle      bool
	scheduled bool
}

// splitWatermark is the collector and generator of one split.
type splitWatermark[T any] struct {
	src      *watermarkedSource[T]
	gen      *timers.Generator
	finished bool
}

func (s *splitWatermark[T]) Collect(v T) {
	w := s.src
	p := w.enterSource()
	ts := w.strategy.Timestamp(v)
	*w.env.Current = p
	var now int64
	if w.strategy.Idleness() > 0 {
		now = w.env.ProcessingTime()
	}
	s.gen.OnRecord(ts, now)
	w.sourceOp.emitted++
	*w.env.Timestamp = ts
	w.out.Collect(v)
	if w.idle {
		w.idle = false
		w.env.EmitIdle(false)
	}
	if w.strategy.Interval() == 0 {
		w.advance()
	}
}

// enterSource marks the source's own code as running (for attribution of a
// panicking timestamp assigner) and returns what ran before.
func (w *watermarkedSource[T]) enterSource() int {
	prev := *w.env.Current
	*w.env.Current = w.nodeID
	return prev
}

func (w *watermarkedSource[T]) split(name string) *splitWatermark[T] {
	s := w.splits[name]
	if s == nil {
		s = &splitWatermark[T]{src: w, gen: w.strategy.Generator()}
		w.splits[name] = s
	}
	return s
}

// Collect takes records of readers that do not name splits: one split.
func (w *watermarkedSource[T]) Collect(v T) { w.split("").Collect(v) }

// ForSplit returns the collector of a split.
func (w *watermarkedSource[T]) ForSplit(name string) Collector[T] { return w.split(name) }

// FinishSplit stops the split from holding the watermark back.
func (w *watermarkedSource[T]) FinishSplit(name string) {
	if s := w.splits[name]; s != nil {
		s.finished = true
		delete(w.splits, name)
	}
}

func (w *watermarkedSource[T]) Poll(max int) (connectors.Status, error) {
	if !w.scheduled && (w.strategy.Interval() > 0 || w.strategy.Idleness() > 0) {
		w.scheduled = true
		w.env.RequestProcessingTime(w.env.ProcessingTime() + w.period())
	}
	return w.reader.Poll(w, max)
}

func (w *watermarkedSource[T]) Emitted() uint64 { return w.sourceOp.emitted }

func (w *watermarkedSource[T]) period() int64 {
	if d := w.strategy.Interval().Milliseconds(); d > 0 {
		return d
	}
	return max(w.strategy.Idleness().Milliseconds()/2, 1)
}

// advance emits the minimum watermark over active splits when it moved.
func (w *watermarkedSource[T]) advance() {
	wm, any := int64(math.MaxInt64), false
	for _, s := range w.splits {
		if !s.gen.Idle() {
			wm, any = min(wm, s.gen.Current()), true
		}
	}
	if any && wm > w.watermark {
		w.watermark = wm
		w.env.EmitWatermark(wm)
	}
}

// OnProcessingTime runs the periodic emission and idleness detection.
func (w *watermarkedSource[T]) OnProcessingTime(now int64) error {
	allIdle := len(w.splits) > 0
	for _, s := range w.splits {
		s.gen.OnPeriodic(now)
		if !s.gen.Idle() {
			allIdle = false
		}
	}
	if allIdle && !w.idle {
		w.idle = true
		w.env.EmitIdle(true)
	}
	w.advance()
	w.env.RequestProcessingTime(now + w.period())
	return nil
}
