// Package datagen owns floe's generated sources: Sequence, a bounded range of
// int64, and Generator, which emits fn(index) for a bounded or unbounded
// range of indices, optionally at a fixed rate.
//
// They read nothing from the outside world, which makes them the inputs of
// choice for tests, examples and benchmarks. Every run emits the same records
// in the same order per subtask. A rate limit never sleeps: a reader that is
// ahead of its schedule returns NothingAvailable and the runtime polls it
// again later.
package datagen
