package timers

// TriggerResult says what a trigger wants done with a window.
type TriggerResult int

const (
	Continue     TriggerResult = iota // nothing
	Fire                              // evaluate the window function, keep the contents
	Purge                             // drop the contents without evaluating
	FireAndPurge                      // evaluate, then drop the contents
)

// Fires reports whether the window function is to be evaluated.
func (r TriggerResult) Fires() bool { return r == Fire || r == FireAndPurge }

// Purges reports whether the window's contents are to be dropped.
func (r TriggerResult) Purges() bool { return r == Purge || r == FireAndPurge }

func (r TriggerResult) String() string {
	return [...]string{"CONTINUE", "FIRE", "PURGE", "FIRE_AND_PURGE"}[r]
}

// TriggerContext is what the window operator gives a trigger: time, timers
// scoped to the window and its key, and a counter kept per key and window.
type TriggerContext interface {
	CurrentWatermark() int64
	CurrentProcessingTime() int64
	RegisterEventTimeTimer(t int64)
	DeleteEventTimeTimer(t int64)
	RegisterProcessingTimeTimer(t int64)
	DeleteProcessingTimeTimer(t int64)
	// AddCount adds delta to the window's counter and returns the new value.
	AddCount(delta int64) int64
	// ClearCount resets the window's counter.
	ClearCount()
}

// Trigger decides when a window fires, as Flink's Trigger does. When windows
// merge, the operator adds up their counters before calling OnMerge.
type Trigger[W Window] interface {
	OnElement(ts int64, w W, ctx TriggerContext) TriggerResult
	OnEventTime(t int64, w W, ctx TriggerContext) TriggerResult
	OnProcessingTime(t int64, w W, ctx TriggerContext) TriggerResult
	OnMerge(w W, ctx TriggerContext)
	// Clear removes the timers and state the trigger keeps for w.
	Clear(w W, ctx TriggerContext)
}

type eventTimeTrigger[W Window] struct{}

// EventTimeTrigger fires a window once the watermark passes its end, and
// again for every late record within the allowed lateness.
func EventTimeTrigger[W Window]() Trigger[W] { return eventTimeTrigger[W]{} }

func (eventTimeTrigger[W]) OnElement(_ int64, w W, ctx TriggerContext) TriggerResult {
	if w.MaxTimestamp() <= ctx.CurrentWatermark() {
		return Fire // a late record: fire at once with it
	}
	ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	return Continue
}

func (eventTimeTrigger[W]) OnEventTime(t int64, w W, _ TriggerContext) TriggerResult {
	if t == w.MaxTimestamp() {
		return Fire
	}
	return Continue
}

func (eventTimeTrigger[W]) OnProcessingTime(int64, W, TriggerContext) TriggerResult { return Continue }

func (eventTimeTrigger[W]) OnMerge(w W, ctx TriggerContext) {
	if w.MaxTimestamp() > ctx.CurrentWatermark() {
		ctx.RegisterEventTimeTimer(w.MaxTimestamp())
	}
}

func (eventTimeTrigger[W]) Clear(w W, ctx TriggerContext) { ctx.DeleteEventTimeTimer(w.MaxTimestamp()) }

// IsEventTimeTrigger reports whether t is the trigger EventTimeTrigger
// returns, whose behaviour the window operator may rely on to skip work.
func IsEventTimeTrigger[W Window](t Trigger[W]) bool {
	_, ok := t.(eventTimeTrigger[W])
	return ok
}

type processingTimeTrigger[W Window] struct{}

// ProcessingTimeTrigger fires a window when processing time passes its end.
func ProcessingTimeTrigger[W Window]() Trigger[W] { return processingTimeTrigger[W]{} }

func (processingTimeTrigger[W]) OnElement(_ int64, w W, ctx TriggerContext) TriggerResult {
	ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	return Continue
}

func (processingTimeTrigger[W]) OnEventTime(int64, W, TriggerContext) TriggerResult { return Continue }

func (processingTimeTrigger[W]) OnProcessingTime(int64, W, TriggerContext) TriggerResult {
	return Fire
}

func (processingTimeTrigger[W]) OnMerge(w W, ctx TriggerContext) {
	if w.MaxTimestamp() > ctx.CurrentProcessingTime() {
		ctx.RegisterProcessingTimeTimer(w.MaxTimestamp())
	}
}

func (processingTimeTrigger[W]) Clear(w W, ctx TriggerContext) {
	ctx.DeleteProcessingTimeTimer(w.MaxTimestamp())
}

type countTrigger[W Window] struct{ n int64 }

// CountTrigger fires a window each time it has received n more records.
func CountTrigger[W Window](n int64) Trigger[W] { return countTrigger[W]{n: max(n, 1)} }

func (c countTrigger[W]) OnElement(_ int64, _ W, ctx TriggerContext) TriggerResult {
	if ctx.AddCount(1) >= c.n {
		ctx.ClearCount()
		return Fire
	}
	return Continue
}

func (countTrigger[W]) OnEventTime(int64, W, TriggerContext) TriggerResult      { return Continue }
func (countTrigger[W]) OnProcessingTime(int64, W, TriggerContext) TriggerResult { return Continue }
func (countTrigger[W]) OnMerge(W, TriggerContext)                               {}
func (countTrigger[W]) Clear(_ W, ctx TriggerContext)                           { ctx.ClearCount() }

type purging[W Window] struct{ Trigger[W] }

// Purging makes t purge the window's contents whenever it fires.
func Purging[W Window](t Trigger[W]) Trigger[W] { return purging[W]{t} }

func purge(r TriggerResult) TriggerResult {
	if r.Fires() {
		return FireAndPurge
	}
	return r
}

func (p purging[W]) OnElement(ts int64, w W, ctx TriggerContext) TriggerResult {
	return purge(p.Trigger.OnElement(ts, w, ctx))
}

func (p purging[W]) OnEventTime(t int64, w W, ctx TriggerContext) TriggerResult {
	return purge(p.Trigger.OnEventTime(t, w, ctx))
}

func (p purging[W]) OnProcessingTime(t int64, w W, ctx TriggerContext) TriggerResult {
	return purge(p.Trigger.OnProcessingTime(t, w, ctx))
}

type never[W Window] struct{}

// Never is a trigger that never fires (the default of global windows).
func Never[W Window]() Trigger[W] { return never[W]{} }

func (never[W]) OnElement(int64, W, TriggerContext) TriggerResult        { return Continue }
func (never[W]) OnEventTime(int64, W, TriggerContext) TriggerResult      { return Continue }
func (never[W]) OnProcessingTime(int64, W, TriggerContext) TriggerResult { return Continue }
func (never[W]) OnMerge(W, TriggerContext)                               {}
func (never[W]) Clear(W, TriggerContext)                                 {}
