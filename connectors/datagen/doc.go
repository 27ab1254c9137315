// Package datagen owns floe's generated sources: Sequence, a bounded range of
// int64, and Generator, which emits fn(index) for a bounded or unbounded
// range of indices, optionally at a fixed rate.
//
// They read nothing from the outside world, which makes them the inputs of
// choice for tests, examples and benchmarks. Every run emits the same records
// in the same order per subtask. A rate limit never sleeps: a reader that is
// ahead of its schedule returns NothingAvailable and the runtime polls it
// again later.
//
// Both sources are restorable (connectors.RestorableSource) and their
// readers checkpointed (connectors.CheckpointedReader). Subtask i of p of a
// fresh run reads one split, share-<i>-of-<p>: its contiguous part, or its
// interleaved or unbounded progression. A split's position is the next index
// (offset from the start, for Sequence), the last and the step, 25 bytes: a
// version byte and three big-endian uint64s. A restored reader emits the
// indices left in its splits merged in ascending order, through each split's
// collector when the output is a connectors.SplitOutput; it finishes a split
// when it emitted its last index. A restored rate-limited generator divides
// the rate by its new parallelism, as a fresh one does.
package datagen
