// Package timers owns time: watermark strategies and the generator that turns
// record timestamps into watermarks, the timer queue behind event-time and
// processing-time timers, and window assigners and triggers with Flink's
// semantics.
//
// Everything here is a pure core: no actor, no goroutine, no clock of its
// own. Time comes in as arguments (record timestamps, watermarks, the
// processing time the runtime read), and what should happen comes out as
// return values, so every rule is tested as a table of events in and
// firings out. All times are epoch milliseconds.
package timers
