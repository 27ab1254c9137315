// Package keyspace owns how keys map to key groups and how keyed state is
// held per key group.
//
// Key groups are the unit of state ownership, snapshot, placement and
// rescale. A keyed operator has maxParallelism key groups (DefaultMaxParallelism
// unless the job says otherwise); a key's group is the xxhash64 of its
// canonical encoding modulo maxParallelism (KeyEncoder, KeyHasher,
// KeyGroupForHash), and subtask i of p owns the contiguous range
// [ceil(i*m/p), ceil((i+1)*m/p)) (RangeForSubtask, SubtaskForKeyGroup).
// KeyGroupMoves says which groups change owner when parallelism changes. The
// encoding, the hash and the range formula are part of the savepoint format:
// a change to any of them strands existing savepoints, and the tests pin them.
//
// Keyed state is reached through handles (ValueState, ListState, MapState,
// ReducingState, AggregatingState), created once per operator instance when
// it opens and scoped dynamically to the current key: every call reads or
// writes the entry of the key the runtime last passed to
// KeyedStore.SetCurrentKey, which it does before every call into user code.
// A state with no entry for the current key reads as absent (the zero value
// and false, a nil list, an empty map). Clearing a key's state, or emptying
// its list or map, removes the entry altogether, so it no longer counts in
// Stats or appears in Keys.
//
// The handle interfaces are backend-neutral. KeyedStore is the heap backend:
// Go maps, one per state and key group, so that whole key-group ranges can be
// snapshotted and restored; a Pebble backend will implement the same
// contracts. Code meant for every backend must not rely on the aliasing the
// heap backend allows, such as modifying a slice returned by ListState.Get.
//
// What the package must not do: route records, talk to actors, start
// goroutines, or do I/O. The runtime (actors) decides which key is current and
// when to snapshot; this package only answers "which key group" and "what
// state does this key have". A store and its handles belong to one subtask and
// are not safe for concurrent use; the functions returned by KeyHasher and
// KeyEncoder are.
package keyspace
